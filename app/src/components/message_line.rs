//! One line of the transcript.

use leptos::prelude::*;

use crate::state::{ChatState, Delivery, Entry, EntryKind, Tone};

/// A patient message, a clinic reply, or a notice, as one `<li>` whose class
/// and attributes say which. Escalated replies (emergency guidance, staff
/// handoff) look different and are announced assertively (`role="alert"`).
/// Lines from a session that has ended are marked `.cc-msg-previous`. Text
/// is always rendered as text, never as HTML.
#[component]
pub fn MessageLine(
    /// The line to show.
    entry: Entry,
) -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let epoch = entry.epoch;
    let previous = move || epoch < ui.session_epoch.get();

    let (base, who, text, intent, escalated, status) = match entry.kind {
        EntryKind::Patient { text, status } => (
            "cc-msg cc-msg-patient",
            "You: ",
            text,
            None,
            None,
            Some(status),
        ),
        EntryKind::Clinic {
            text,
            intent,
            escalated: true,
        } => (
            "cc-msg cc-msg-clinic cc-msg-escalated",
            "Urgent, clinic: ",
            text,
            Some(intent),
            Some("true"),
            None,
        ),
        EntryKind::Clinic { text, intent, .. } => (
            "cc-msg cc-msg-clinic",
            "Clinic: ",
            text,
            Some(intent),
            Some("false"),
            None,
        ),
        EntryKind::Notice {
            text,
            tone: Tone::Info,
        } => ("cc-notice", "", text, None, None, None),
        EntryKind::Notice { text, .. } => ("cc-notice cc-notice-error", "", text, None, None, None),
        // Rendered by `CardLine`; never reaches here.
        EntryKind::Card { title, .. } => ("cc-notice", "", title, None, None, None),
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
            Some(Delivery::Sending) => "Sending…",
            Some(Delivery::Failed) => "Not delivered",
            Some(Delivery::Answered) | None => "",
        };
        let session = if previous() {
            " (previous session)"
        } else {
            ""
        };
        format!("{delivery}{session}")
    };

    view! {
        <li
            class=class
            data-status=move || status.as_ref().map(|s| s.get().as_str())
            data-intent=intent
            data-escalated=escalated
        >
            // The alert role sits inside the item: on the <li> itself it
            // would replace the list-item role the <ol> requires.
            <div class="cc-said" role=(escalated == Some("true")).then_some("alert")>
                <span class="cc-sr-only">{who}</span>
                <p class="cc-text">{text}</p>
            </div>
            <p class="cc-meta">{meta}</p>
        </li>
    }
}
