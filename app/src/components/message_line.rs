//! One line of the transcript.

use leptos::prelude::*;

use super::linked_text::LinkedText;
use super::reply_feedback::attach;
use crate::state::{ChatState, Delivery, Entry, EntryKind, Tone};

/// How a line's text is shown.
enum Words {
    /// As typed (the patient's own words).
    Plain,
    /// With phone numbers as tap-to-call links (the clinic's words).
    Linked,
    /// A catalog key, shown in the current language.
    Catalog(&'static str),
}

/// A patient message, a clinic reply, a message from a person at the clinic
/// (`.cc-msg-staff`, headed by their name and role: "Sam Rivera · Nurse"),
/// or a notice, as one `<li>` whose class and attributes say which. Escalated replies (emergency guidance, staff
/// handoff) look different and are announced assertively (`role="alert"`).
/// Lines from a session that has ended are marked `.cc-msg-previous`. Text
/// is always rendered as text, never as HTML; in the clinic's lines and in
/// notices, phone numbers are tap-to-call links.
#[component]
pub fn MessageLine(
    /// The line to show.
    entry: Entry,
) -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let i18n = ui.i18n;
    let epoch = entry.epoch;
    let previous = move || epoch < ui.session_epoch.get();

    // A staff message's visible heading, in place of the screen-reader
    // prefix.
    let mut from = None;
    // The reply's id, for a reply that takes thumbs up or down.
    let mut vote_on = None;
    // (classes, screen-reader prefix key, text, intent, escalated, status,
    // how the text is shown)
    let (base, who, text, intent, escalated, status, how) = match entry.kind {
        EntryKind::Patient { text, status } => (
            "cc-msg cc-msg-patient",
            "msg-you",
            text,
            None,
            None,
            Some(status),
            Words::Plain,
        ),
        EntryKind::Clinic {
            text,
            intent,
            escalated: true,
            feedback,
        } => {
            vote_on = feedback;
            (
                "cc-msg cc-msg-clinic cc-msg-escalated",
                "msg-urgent",
                text,
                Some(intent),
                Some("true"),
                None,
                Words::Linked,
            )
        }
        EntryKind::Clinic {
            text,
            intent,
            feedback,
            ..
        } => {
            vote_on = feedback;
            (
                "cc-msg cc-msg-clinic",
                "msg-clinic",
                text,
                Some(intent),
                Some("false"),
                None,
                Words::Linked,
            )
        }
        EntryKind::Staff { name, role, text } => {
            let role = i18n.t_or(&("staff-role-".to_owned() + &role), "");
            from = Some(if role.is_empty() {
                name
            } else {
                name + " · " + &role
            });
            (
                "cc-msg cc-msg-staff",
                "",
                text,
                None,
                None,
                None,
                Words::Linked,
            )
        }
        EntryKind::Notice {
            text,
            tone: Tone::Info,
        } => ("cc-notice", "", text, None, None, None, Words::Linked),
        EntryKind::Notice {
            text,
            tone: Tone::Status,
        } => (
            "cc-notice cc-notice-status",
            "",
            text,
            None,
            None,
            None,
            Words::Linked,
        ),
        EntryKind::Notice { text, .. } => (
            "cc-notice cc-notice-error",
            "",
            text,
            None,
            None,
            None,
            Words::Linked,
        ),
        // The widget's own notices follow the language switch.
        EntryKind::Local { key } => (
            "cc-notice",
            "",
            String::new(),
            None,
            None,
            None,
            Words::Catalog(key),
        ),
        // Rendered by `CardLine`; never reaches here.
        EntryKind::Card { title, .. } => ("cc-notice", "", title, None, None, None, Words::Plain),
    };
    let status_text = status.clone();
    let class = move || {
        if previous() {
            format!("{base} cc-msg-previous")
        } else {
            base.to_owned()
        }
    };
    let meta = move || {
        let delivery = match status_text.as_ref().map(|s| s.get()) {
            Some(Delivery::Sending) => i18n.t("msg-sending"),
            Some(Delivery::Failed) => i18n.t("msg-failed"),
            Some(Delivery::Answered) | None => String::new(),
        };
        match (previous(), delivery.is_empty()) {
            (false, _) => delivery,
            (true, true) => i18n.t("msg-previous"),
            (true, false) => delivery + " " + &i18n.t("msg-previous"),
        }
    };
    // A line stays in the language it was said in (as the clinic's words
    // do): its prefix and label are not re-rendered on a language switch.
    let who_class = if from.is_some() {
        "cc-from"
    } else {
        "cc-sr-only"
    };
    let who = from.or_else(|| (!who.is_empty()).then(|| i18n.t(who) + " "));
    let important = (escalated == Some("true")).then(|| i18n.t("msg-important"));
    let plain = matches!(how, Words::Plain);
    let key = match how {
        Words::Catalog(key) => key,
        Words::Linked | Words::Plain => "",
    };

    view! {
        <li
            class=class
            data-status=move || status.as_ref().map(|s| s.get().as_str())
            data-intent=intent
            data-escalated=escalated
            data-important=important
            use:attach=(vote_on, i18n)
        >
            // The alert role sits inside the item: on the <li> itself it
            // would replace the list-item role the <ol> requires.
            <div class="cc-said" role=(escalated == Some("true")).then_some("alert")>
                <span class=who_class>{who}</span>
                <p class="cc-text">
                    <LinkedText text=text key=key plain=plain/>
                </p>
            </div>
            <p class="cc-meta">{meta}</p>
        </li>
    }
}
