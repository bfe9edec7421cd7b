//! The connecting screen.

use leptos::prelude::*;

use crate::state::ChatState;

/// Shown while the widget makes a secure session with the server, and while
/// it retries if the server cannot be reached.
#[component]
pub fn ConnectingScreen() -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let i18n = ui.i18n;
    view! {
        <section class="cc-screen cc-connecting" aria-labelledby="cc-connecting-title">
            <div class="cc-spinner cc-spinner-large" aria-hidden="true"></div>
            <h2 id="cc-connecting-title" class="cc-title">{i18n.text("connecting-title")}</h2>
            <div role="status">
                {move || {
                    ui.connect_trouble
                        .get()
                        .then(|| view! { <p class="cc-notice">{i18n.t("connecting-trouble")}</p> })
                }}
            </div>
        </section>
    }
}
