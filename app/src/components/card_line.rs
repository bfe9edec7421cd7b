//! A card in the transcript: appointments, free times, a confirmation,
//! emergency numbers.

use leptos::either::EitherOf3;
use leptos::prelude::*;
use protocol::vocab::CardKind;
use protocol::{CardAction, CardItem};

use super::linked_text::LinkedText;
use crate::connection::ChatHandle;
use crate::phone;
use crate::state::ChatState;

/// A card from the server as one `<li class="cc-card" data-card=kind>`: a
/// heading, its lines, and buttons. A button sends `choose` with its action
/// id; once one is pressed the card's buttons are disabled, so a booking
/// cannot be sent twice. Buttons on a line are labelled with the line too
/// ("Choose: Tue, Dec 1 · 2:30 PM"), so each is distinct to screen readers.
///
/// An action with an `href` is a link, not a `choose`: `tel:` and `sms:`
/// ones are large call buttons (`a.cc-call`: "Call 988"), anything else
/// its label as plain text. An `emergency` card (`.cc-card-emergency`, after an
/// escalated reply) is announced assertively (`role="alert"`), and its call
/// buttons never go inert: a number to call stays usable after the session
/// ends.
#[component]
pub fn CardLine(
    /// What the card shows (`data-card`).
    kind: String,
    /// On emergency cards, what the safety screen found (`data-category`).
    category: Option<String>,
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
    let emergency = kind == CardKind::Emergency.as_str();
    // A pressed button disables itself, and the browser drops focus to the
    // page: a keyboard user who just pressed one lands on this card's first
    // button, or back in the message box when it has none. Someone typing
    // keeps their focus.
    let focus_dropped = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.active_element())
        .is_none_or(|e| e.tag_name() == "BODY");
    if focus_dropped {
        let choosable = |a: &CardAction| a.href.is_none();
        let has_buttons = actions.iter().any(choosable)
            || items.iter().any(|item| item.actions.iter().any(choosable));
        super::focus_soon(if has_buttons {
            ".cc-messages > li.cc-card:last-child .cc-card-action"
        } else {
            ".cc-input"
        });
    }
    let inert = move || used.get() || epoch < ui.session_epoch.get();
    let button = move |action: CardAction, context: Option<String>| match action.href {
        Some(href) if phone::is_call_href(&href) => EitherOf3::A(view! {
            <a class="cc-call" href=href>
                {action.label}
            </a>
        }),
        Some(_) => EitherOf3::B(action.label),
        None => {
            let aria = context.map(|c| format!("{}: {c}", action.label));
            let label = action.label.clone();
            EitherOf3::C(view! {
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
            })
        }
    };
    let lines = items
        .into_iter()
        .map(|item| {
            let context = item.title.clone();
            view! {
                <li class="cc-card-item">
                    <p class="cc-card-when">{item.title}</p>
                    <p class="cc-card-detail">
                        <LinkedText text=item.detail/>
                    </p>
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
        <li
            class=if emergency { "cc-card cc-card-emergency" } else { "cc-card" }
            data-card=kind
            data-category=category
        >
            <div role=emergency.then_some("alert")>
                <p class="cc-card-title">{title}</p>
                <ul class="cc-card-items">{lines}</ul>
                <div class="cc-card-actions">
                    {actions.into_iter().map(|a| button(a, None)).collect_view()}
                </div>
            </div>
        </li>
    }
}
