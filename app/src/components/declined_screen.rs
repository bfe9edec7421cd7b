//! The screen after the patient declined.

use leptos::prelude::*;

use super::linked_text::LinkedText;
use crate::state::{ChatState, Screen};

/// Shows the server's answer to a declined consent (it tells the patient how
/// else to reach the clinic, its number a tap-to-call link) and offers the
/// notice again. Nothing more is sent in this state.
#[component]
pub fn DeclinedScreen() -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let i18n = ui.i18n;
    super::focus_soon(".cc-declined [data-autofocus]");
    view! {
        <section class="cc-screen cc-declined" aria-labelledby="cc-declined-title">
            <h2 id="cc-declined-title" class="cc-title" tabindex="-1" data-autofocus="">
                {i18n.text("declined-title")}
            </h2>
            <p class="cc-notice">
                <LinkedText text=ui.declined_text.get_untracked().unwrap_or_default()/>
            </p>
            <div class="cc-actions">
                <button
                    type="button"
                    class="cc-review cc-secondary"
                    on:click=move |_| ui.screen.set(Screen::Consent)
                >
                    {i18n.text("declined-review")}
                </button>
            </div>
        </section>
    }
}
