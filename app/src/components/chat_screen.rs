//! The conversation screen.

use leptos::prelude::*;

use super::composer::Composer;
use super::transcript::Transcript;
use crate::i18n::I18n;

/// The transcript above the message box.
#[component]
pub fn ChatScreen() -> impl IntoView {
    let i18n = expect_context::<I18n>();
    super::focus_soon(".cc-chat [data-autofocus]");
    view! {
        <section class="cc-screen cc-chat" aria-label=i18n.text("chat-label")>
            <Transcript/>
            <Composer label="composer-label"/>
        </section>
    }
}
