//! The disclaimer and consent screen.

use leptos::prelude::*;

use super::consent_exchange::ConsentExchange;
use crate::connection::ChatHandle;
use crate::state::ChatState;

/// The server's disclaimer (from `welcome`, or from `locale` after a
/// language switch) with Accept and Decline. Below the screen the message
/// box is already there, for a patient who is in trouble now ("In an
/// emergency? Tell us here, or call 911"): the server answers a crisis
/// before any consent, and that answer shows here, above the buttons
/// ([`ConsentExchange`]). Anything else the patient types waits for their
/// consent. If a previous session just ended, says so above the notice.
/// Focus starts on the heading so a screen reader reads the notice from the
/// top.
#[component]
pub fn ConsentScreen() -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let i18n = ui.i18n;
    let chat = expect_context::<ChatHandle>();
    let busy = move || ui.consent_sent.get();
    super::focus_soon(".cc-consent [data-autofocus]");

    view! {
        <section class="cc-screen cc-consent" aria-labelledby="cc-consent-title">
            {move || {
                ui.session_replaced
                    .get()
                    .then(|| view! { <p class="cc-notice" role="status">{i18n.t("session-replaced")}</p> })
            }}
            <h2 id="cc-consent-title" class="cc-title" tabindex="-1" data-autofocus="">
                {i18n.text("consent-title")}
            </h2>
            <div class="cc-disclaimer" tabindex="0" aria-label=i18n.text("consent-notice-label")>
                {move || ui.disclaimer.get().unwrap_or_default()}
            </div>
            <ConsentExchange/>
            <p class="cc-question">{i18n.text("consent-question")}</p>
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
                    {i18n.text("consent-accept")}
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
                    {i18n.text("consent-decline")}
                </button>
            </div>
            <p class="cc-hint" role="status">
                {move || busy().then(|| i18n.t("consent-sending"))}
            </p>
        </section>
    }
}
