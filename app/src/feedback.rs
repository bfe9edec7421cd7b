//! The patient's thumbs up or down on the assistant's replies: which
//! replies get the buttons and what a press changes, pure (no DOM), so it
//! is tested natively. [`crate::components::reply_feedback`] shows them and
//! [`crate::connection`] sends `feedback`.
//!
//! The server counts one vote per reply (a later one replaces it), so the
//! widget may send a changed mind; it never sends the same vote twice.

use protocol::vocab::{takes_feedback, FeedbackReason, Vote};

/// A vote as the patient gave it: up or down, and for down an optional
/// reason.
pub type Given = (Vote, Option<FeedbackReason>);

/// The reasons offered after a thumbs down, with their catalog keys, in the
/// order shown.
pub const REASONS: [(FeedbackReason, &str); 4] = [
    (FeedbackReason::NotWhatIAsked, "feedback-not-what-i-asked"),
    (
        FeedbackReason::HardToUnderstand,
        "feedback-hard-to-understand",
    ),
    (
        FeedbackReason::WrongOrOutOfDate,
        "feedback-wrong-or-out-of-date",
    ),
    (FeedbackReason::Other, "feedback-other"),
];

/// The reply id to vote on for a reply that arrived `in_chat` (after
/// consent, on the chat screen) under `intent`; `None` when it gets no
/// buttons: before consent (the server keeps nothing then), crisis or
/// emergency guidance, a message delivered to a person.
#[must_use]
pub fn target(in_chat: bool, intent: &str, in_reply_to: &str) -> Option<String> {
    (in_chat && takes_feedback(intent)).then(|| in_reply_to.to_owned())
}

/// What pressing `vote` (with `reason`, for a reason button) sends, given
/// what was `given` before; `None` when it would say nothing new: the thumb
/// already pressed, or the reason already chosen.
#[must_use]
pub fn press(given: Option<Given>, vote: Vote, reason: Option<FeedbackReason>) -> Option<Given> {
    match given {
        Some((was, _)) if was == vote && reason.is_none() => None,
        Some(was) if was == (vote, reason) => None,
        _ => Some((vote, reason)),
    }
}

/// Whether the button for `vote` (and `reason`, for a reason button)
/// shows as pressed.
#[must_use]
pub fn pressed(given: Option<Given>, vote: Vote, reason: Option<FeedbackReason>) -> bool {
    given.is_some_and(|(v, r)| v == vote && (reason.is_none() || r == reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_in_the_chat_get_buttons_but_not_guidance_or_anything_before_consent() {
        assert_eq!(target(true, "faq.hours", "m3").as_deref(), Some("m3"));
        assert_eq!(
            target(true, "safety.medical_advice", "m4").as_deref(),
            Some("m4")
        );
        assert_eq!(target(false, "faq.hours", "m3"), None);
        assert_eq!(target(true, "safety.crisis", "m5"), None);
        assert_eq!(target(true, "safety.emergency", "m5"), None);
        assert_eq!(target(true, "handoff.delivered", "m6"), None);
    }

    #[test]
    fn a_press_sends_only_what_changes() {
        use FeedbackReason::{HardToUnderstand, Other};
        use Vote::{Down, Up};
        assert_eq!(press(None, Up, None), Some((Up, None)));
        assert_eq!(press(Some((Up, None)), Up, None), None);
        assert_eq!(press(Some((Up, None)), Down, None), Some((Down, None)));
        // A reason after the thumbs down; another reason replaces it.
        assert_eq!(
            press(Some((Down, None)), Down, Some(Other)),
            Some((Down, Some(Other)))
        );
        assert_eq!(press(Some((Down, Some(Other))), Down, Some(Other)), None);
        assert_eq!(
            press(Some((Down, Some(Other))), Down, Some(HardToUnderstand)),
            Some((Down, Some(HardToUnderstand)))
        );
        // Thumbs down again keeps the reason; thumbs up drops it.
        assert_eq!(press(Some((Down, Some(Other))), Down, None), None);
        assert_eq!(press(Some((Down, Some(Other))), Up, None), Some((Up, None)));
    }

    #[test]
    fn pressed_buttons_follow_what_was_given() {
        use FeedbackReason::{HardToUnderstand, Other};
        use Vote::{Down, Up};
        assert!(!pressed(None, Up, None));
        let given = Some((Down, Some(Other)));
        assert!(pressed(given, Down, None));
        assert!(!pressed(given, Up, None));
        assert!(pressed(given, Down, Some(Other)));
        assert!(!pressed(given, Down, Some(HardToUnderstand)));
        assert!(!pressed(Some((Down, None)), Down, Some(Other)));
    }

    #[test]
    fn every_reason_is_offered_once() {
        let offered: Vec<_> = REASONS.iter().map(|(r, _)| *r).collect();
        assert_eq!(offered, FeedbackReason::ALL);
    }
}
