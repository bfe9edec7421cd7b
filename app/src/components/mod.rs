//! The widget's components, one per file. [`app::App`] is the root; it reads
//! the embed page, makes the connection, and switches between the screens.
//!
//! Components read [`crate::state::ChatState`], [`crate::connection::ChatHandle`]
//! and [`crate::host::HostBridge`] from context. Every word a component
//! shows is looked up by key through `ChatState::i18n` ([`crate::i18n::I18n`];
//! none is in the code), inside a closure or a [`linked_text::LinkedText`],
//! so a language switch re-renders it; a transcript line keeps the language
//! it was said in. No component decides anything about the conversation:
//! they show what the server sent and pass the patient's actions to the
//! connection. No inline `style` anywhere (the embed page's CSP forbids it):
//! looks come from classes in `style/widget.css`.

pub mod app;
pub mod card_line;
pub mod chat_screen;
pub mod composer;
pub mod connecting_screen;
pub mod consent_exchange;
pub mod consent_screen;
pub mod declined_screen;
pub mod ended_screen;
pub mod failure_screen;
pub mod header;
pub mod language_button;
pub mod link_status;
pub mod linked_text;
pub mod message_line;
pub mod message_list;
pub mod reply_feedback;
pub mod safety_line;
pub mod transcript;

use wasm_bindgen::JsCast as _;

/// Moves keyboard focus to the first element matching `selector`, once the
/// current render has reached the DOM. Screens call it when they appear, so
/// keyboard and screen-reader users land where the next step is.
pub(crate) fn focus_soon(selector: &'static str) {
    leptos::prelude::request_animation_frame(move || focus_now(selector));
}

/// Moves keyboard focus to the first element matching `selector` now.
pub(crate) fn focus_now(selector: &str) {
    let element = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector(selector).ok().flatten())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(element) = element {
        let _ = element.focus();
    }
}
