//! The handoff to a person from the clinic: the bookkeeping behind `staff`
//! and `typing` messages, pure (no DOM, no clock of its own), so it is
//! tested natively. [`crate::connection`] holds one of each per session.

/// The least time between two `typing` messages the widget sends.
pub const TYPING_EVERY_MS: f64 = 3000.0;

/// How long "… is typing…" stays up after the server's `typing`, unless a
/// `staff` message clears it first.
pub const TYPING_SHOWN_MS: u32 = 4000;

/// The ids of the `staff` messages shown in this session: a message the
/// server sends again (after a reconnect) is shown once. Ids are unique per
/// session, so a new session starts with a new set.
#[derive(Debug, Default)]
pub struct SeenIds(Vec<String>);

impl SeenIds {
    /// Records `id`; true the first time, false for every repeat.
    pub fn first_time(&mut self, id: &str) -> bool {
        if self.0.iter().any(|seen| seen == id) {
            return false;
        }
        self.0.push(id.to_owned());
        true
    }
}

/// Lets a `typing` message through at most once every [`TYPING_EVERY_MS`].
#[derive(Debug, Default)]
pub struct TypingThrottle {
    last_sent: Option<f64>,
}

impl TypingThrottle {
    /// Whether to send `typing` at `now_ms` (milliseconds on any clock that
    /// moves forward); if so, counts it as sent. A clock that went back
    /// (the system time was changed) lets the next one through.
    pub fn should_send(&mut self, now_ms: f64) -> bool {
        let wait = self
            .last_sent
            .is_some_and(|last| (last..last + TYPING_EVERY_MS).contains(&now_ms));
        if !wait {
            self.last_sent = Some(now_ms);
        }
        !wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staff_message_sent_again_is_seen_once() {
        let mut seen = SeenIds::default();
        assert!(seen.first_time("s1"));
        assert!(seen.first_time("s2"));
        assert!(!seen.first_time("s1"));
        assert!(!seen.first_time("s2"));
        assert!(seen.first_time("s3"));
        assert!(!seen.first_time("s3"));
        // A new session starts afresh: its ids may be the same strings.
        let mut next = SeenIds::default();
        assert!(next.first_time("s1"));
    }

    #[test]
    fn typing_goes_out_at_most_once_every_three_seconds() {
        let mut throttle = TypingThrottle::default();
        assert!(throttle.should_send(10_000.0));
        assert!(!throttle.should_send(10_001.0));
        assert!(!throttle.should_send(12_999.0));
        assert!(throttle.should_send(13_000.0));
        assert!(!throttle.should_send(15_500.0));
        assert!(throttle.should_send(16_000.5));
        // Keystrokes held back do not push the next send further away.
        let sent: Vec<f64> = (0..100)
            .map(|i| f64::from(i) * 100.0)
            .filter(|&t| throttle.should_send(20_000.0 + t))
            .collect();
        assert_eq!(sent, [0.0, 3000.0, 6000.0, 9000.0]);
    }

    #[test]
    fn a_clock_that_went_back_does_not_silence_typing() {
        let mut throttle = TypingThrottle::default();
        assert!(throttle.should_send(50_000.0));
        assert!(throttle.should_send(1_000.0));
        assert!(!throttle.should_send(2_000.0));
    }
}
