//! The conversation screen.

use leptos::prelude::*;

use super::composer::Composer;
use super::transcript::Transcript;

/// The transcript above the message box.
#[component]
pub fn ChatScreen() -> impl IntoView {
    super::focus_soon(".cc-chat [data-autofocus]");
    view! {
        <section class="cc-screen cc-chat" aria-label="Conversation">
            <Transcript/>
            <Composer/>
        </section>
    }
}
