//! The header bar.

use leptos::prelude::*;

use crate::connection::ChatHandle;
use crate::host::{HostBridge, HostEvent};
use crate::state::ChatState;

/// The clinic's name, "End chat" (while there is a session to end) and the
/// minimize button, which asks the host page to hide the iframe.
#[component]
pub fn Header(
    /// The clinic's display name from the embed page.
    clinic_name: String,
) -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let chat = expect_context::<ChatHandle>();
    let bridge = expect_context::<HostBridge>();
    let can_end = move || ui.screen.get().has_session();

    view! {
        <header class="cc-header">
            <div class="cc-heading">
                <h1 class="cc-clinic">{clinic_name}</h1>
                <p class="cc-subtitle">"Secure chat"</p>
            </div>
            {move || {
                can_end()
                    .then(|| {
                        view! {
                            <button type="button" class="cc-end" on:click=move |_| chat.end()>
                                "End chat"
                            </button>
                        }
                    })
            }}
            <button
                type="button"
                class="cc-minimize"
                aria-label="Minimize chat"
                title="Minimize chat"
                on:click=move |_| bridge.post(HostEvent::Close)
            >
                <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                    <path d="M5 11h14v2H5z"></path>
                </svg>
            </button>
        </header>
    }
}
