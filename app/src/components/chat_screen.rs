//! The conversation screen.

use leptos::prelude::*;

use super::transcript::Transcript;
use crate::state::ChatState;

/// The transcript, above the message box (which [`super::app::App`] keeps
/// below the consent and chat screens, so a draft survives accepting).
#[component]
pub fn ChatScreen() -> impl IntoView {
    let i18n = expect_context::<ChatState>().i18n;
    super::focus_soon(".cc-input");
    view! {
        <section class="cc-screen cc-chat" aria-label=i18n.text("chat-label")>
            <Transcript/>
        </section>
    }
}
