//! What was said on the consent screen.

use leptos::prelude::*;

use super::message_list::MessageList;
use crate::state::ChatState;

/// The messages a patient sent from the consent screen, before accepting,
/// and the clinic's answers: emergency guidance (an escalated reply,
/// announced assertively, then the emergency card with its call buttons) for
/// a crisis, else a one-line hint that the notice must be accepted first.
/// Empty until the patient writes. The same lines stay in the transcript
/// after they accept.
#[component]
pub fn ConsentExchange() -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let i18n = ui.i18n;
    view! {
        <MessageList consent_only=true/>
        <p class="cc-notice cc-notice-error cc-consent-hint" role="status">
            {move || ui.consent_hint.get().then(|| i18n.t("consent-first"))}
        </p>
    }
}
