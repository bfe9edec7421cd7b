//! The disclaimer and consent screen.

use leptos::prelude::*;

use crate::connection::ChatHandle;
use crate::state::ChatState;

/// The server's disclaimer (from `welcome`) with Accept and Decline. Nothing
/// the patient types is sent before they accept. If a previous session just
/// ended, says so above the notice. Focus starts on the heading so a screen
/// reader reads the notice from the top.
#[component]
pub fn ConsentScreen() -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let chat = expect_context::<ChatHandle>();
    let busy = move || ui.consent_sent.get();
    super::focus_soon(".cc-consent [data-autofocus]");

    view! {
        <section class="cc-screen cc-consent" aria-labelledby="cc-consent-title">
            {move || {
                ui.session_notice
                    .get()
                    .map(|text| view! { <p class="cc-notice" role="status">{text}</p> })
            }}
            <h2 id="cc-consent-title" class="cc-title" tabindex="-1" data-autofocus="">
                "Before we start"
            </h2>
            <div class="cc-disclaimer" tabindex="0" aria-label="Notice">
                {move || ui.disclaimer.get().unwrap_or_default()}
            </div>
            <p class="cc-question">"Do you agree to chat on these terms?"</p>
            <div class="cc-actions">
                <button
                    type="button"
                    class="cc-accept cc-primary"
                    aria-disabled=move || busy().to_string()
                    on:click=move |_| {
                        if !busy() {
                            chat.consent(true);
                        }
                    }
                >
                    "Accept"
                </button>
                <button
                    type="button"
                    class="cc-decline cc-secondary"
                    aria-disabled=move || busy().to_string()
                    on:click=move |_| {
                        if !busy() {
                            chat.consent(false);
                        }
                    }
                >
                    "Decline"
                </button>
            </div>
            <p class="cc-hint" role="status">
                {move || if busy() { "Sending your answer…" } else { "" }}
            </p>
        </section>
    }
}
