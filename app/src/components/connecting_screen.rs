//! The connecting screen.

use leptos::prelude::*;

use crate::state::ChatState;

/// Shown while the widget makes a secure session with the server, and while
/// it retries if the server cannot be reached.
#[component]
pub fn ConnectingScreen() -> impl IntoView {
    let ui = expect_context::<ChatState>();
    view! {
        <section class="cc-screen cc-connecting" aria-labelledby="cc-connecting-title">
            <div class="cc-spinner cc-spinner-large" aria-hidden="true"></div>
            <h2 id="cc-connecting-title" class="cc-title">"Connecting securely…"</h2>
            <div role="status">
                {move || {
                    ui.connect_trouble
                        .get()
                        .then(|| {
                            view! {
                                <p class="cc-notice">
                                    "Still trying to reach the clinic's chat. If you need help now, please call the clinic."
                                </p>
                            }
                        })
                }}
            </div>
        </section>
    }
}
