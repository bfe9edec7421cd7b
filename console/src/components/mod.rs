//! The console's components, one per file. [`app::App`] is the root: it
//! asks who is signed in and shows the sign-in screen, the queue (front
//! desk and nurse), the compliance page or the admin page.
//!
//! Components read [`crate::state::ConsoleState`] from context and change
//! it only through its actions. No inline `style` anywhere (the page's CSP
//! forbids it): looks come from classes in `console/style/console.css`.

pub mod admin_page;
pub mod app;
pub mod audit_log;
pub mod canned_picker;
pub mod canned_response_form;
pub mod canned_responses_editor;
pub mod chat_composer;
pub mod chat_line;
pub mod compliance_page;
pub mod conversation_panel;
pub mod faq_editor;
pub mod feedback_counts;
pub mod new_staff_form;
pub mod queue_item;
pub mod queue_list;
pub mod queue_page;
pub mod second_factor_notice;
pub mod sign_in_screen;
pub mod sign_out_button;
pub mod sound_toggle;
pub mod staff_account_row;
pub mod staff_accounts;
pub mod staffed_hours_form;
pub mod top_bar;
pub mod transcript_list;
pub mod unlock_form;

use wasm_bindgen::JsCast as _;

/// Moves keyboard focus to the first element matching `selector` once the
/// current render has reached the DOM, so keyboard and screen-reader users
/// land where the next step is.
pub(crate) fn focus_soon(selector: &'static str) {
    leptos::prelude::request_animation_frame(move || {
        let element = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector(selector).ok().flatten())
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(element) = element {
            let _ = element.focus();
        }
    });
}
