//! The header bar.

use leptos::prelude::*;

use super::language_button::LanguageButton;
use crate::connection::ChatHandle;
use crate::host::{HostBridge, HostEvent};
use crate::state::ChatState;

/// The clinic's name, the language button, "End chat" (while there is a
/// session to end) and the minimize button, which asks the host page to
/// hide the iframe.
#[component]
pub fn Header(
    /// The clinic's display name from the embed page; empty for none.
    clinic_name: String,
) -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let i18n = ui.i18n;
    let chat = expect_context::<ChatHandle>();
    let bridge = expect_context::<HostBridge>();
    let can_end = move || ui.screen.get().has_session();
    let minimize = i18n.text("header-minimize");
    let name = move || {
        if clinic_name.is_empty() {
            i18n.t("clinic-fallback")
        } else {
            clinic_name.clone()
        }
    };

    view! {
        <header class="cc-header">
            <div class="cc-heading">
                <h1 class="cc-clinic">{name}</h1>
                <p class="cc-subtitle">{i18n.text("header-subtitle")}</p>
            </div>
            <LanguageButton/>
            {move || {
                can_end()
                    .then(|| {
                        view! {
                            <button type="button" class="cc-end" on:click=move |_| chat.end()>
                                {i18n.text("header-end")}
                            </button>
                        }
                    })
            }}
            <button
                type="button"
                class="cc-minimize"
                aria-label=minimize
                title=minimize
                on:click=move |_| bridge.post(HostEvent::Close)
            >
                <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                    <path d="M5 11h14v2H5z"></path>
                </svg>
            </button>
        </header>
    }
}
