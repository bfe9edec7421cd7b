//! A card in the transcript: appointments, free times, a confirmation.

use leptos::prelude::*;
use protocol::{CardAction, CardItem};

use crate::connection::ChatHandle;
use crate::state::ChatState;

/// A card from the server as one `<li class="cc-card" data-card=kind>`: a
/// heading, its lines, and buttons. A button sends `choose` with its action
/// id; once one is pressed the card's buttons are disabled, so a booking
/// cannot be sent twice. Buttons on a line are labelled with the line too
/// ("Choose: Tue, Dec 1 · 2:30 PM"), so each is distinct to screen readers.
#[component]
pub fn CardLine(
    /// What the card shows (`data-card`).
    kind: String,
    /// The heading.
    title: String,
    /// The lines.
    items: Vec<CardItem>,
    /// Buttons for the whole card.
    actions: Vec<CardAction>,
    /// The session the card belongs to; a card of an ended session is inert.
    epoch: u32,
) -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let chat = expect_context::<ChatHandle>();
    let used = RwSignal::new(false);
    // A pressed button disables itself, and the browser drops focus to the
    // page: a keyboard user who just pressed one lands on this card's first
    // button, or back in the message box when it has none. Someone typing
    // keeps their focus.
    let focus_dropped = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.active_element())
        .is_none_or(|e| e.tag_name() == "BODY");
    if focus_dropped {
        let has_buttons = !actions.is_empty() || items.iter().any(|item| !item.actions.is_empty());
        super::focus_soon(if has_buttons {
            ".cc-messages > li.cc-card:last-child .cc-card-action"
        } else {
            ".cc-input"
        });
    }
    let inert = move || used.get() || epoch < ui.session_epoch.get();
    let button = move |action: CardAction, context: Option<String>| {
        let aria = context.map(|c| format!("{}: {c}", action.label));
        let label = action.label.clone();
        view! {
            <button
                type="button"
                class="cc-card-action"
                aria-label=aria
                disabled=inert
                on:click=move |_| {
                    if !used.get_untracked() && chat.choose(&action.id, &action.label).is_ok() {
                        used.set(true);
                    }
                }
            >
                {label}
            </button>
        }
    };
    let lines = items
        .into_iter()
        .map(|item| {
            let context = item.title.clone();
            view! {
                <li class="cc-card-item">
                    <p class="cc-card-when">{item.title}</p>
                    <p class="cc-card-detail">{item.detail}</p>
                    {item
                        .actions
                        .into_iter()
                        .map(|a| button(a, Some(context.clone())))
                        .collect_view()}
                </li>
            }
        })
        .collect_view();
    view! {
        <li class="cc-card" data-card=kind>
            <p class="cc-card-title">{title}</p>
            <ul class="cc-card-items">{lines}</ul>
            {actions.into_iter().map(|a| button(a, None)).collect_view()}
        </li>
    }
}
