//! The connection banner.

use leptos::prelude::*;

use crate::state::{ChatState, LinkStatus};

/// "Reconnecting…" while a dropped connection is being restored. The live
/// region is always in the page (empty when online) so screen readers
/// announce the change when it appears.
#[component]
pub fn LinkStatusBanner() -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let i18n = ui.i18n;
    let reconnecting =
        move || ui.link.get() == LinkStatus::Reconnecting && ui.screen.get().has_session();
    view! {
        <div class="cc-link-region" role="status">
            {move || {
                reconnecting()
                    .then(|| {
                        view! {
                            <p class="cc-link-status">
                                <span class="cc-spinner" aria-hidden="true"></span>
                                {i18n.t("link-reconnecting")}
                            </p>
                        }
                    })
            }}
        </div>
    }
}
