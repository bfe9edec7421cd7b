//! The screen after "End chat".

use leptos::prelude::*;

use crate::connection::ChatHandle;
use crate::state::ChatState;

/// Confirms the chat ended and its transcript is gone from this window, and
/// offers a new chat (a new session, with consent again).
#[component]
pub fn EndedScreen() -> impl IntoView {
    let chat = expect_context::<ChatHandle>();
    let i18n = expect_context::<ChatState>().i18n;
    super::focus_soon(".cc-ended [data-autofocus]");
    view! {
        <section class="cc-screen cc-ended" aria-labelledby="cc-ended-title">
            <h2 id="cc-ended-title" class="cc-title" tabindex="-1" data-autofocus="">
                {i18n.text("ended-title")}
            </h2>
            <p>{i18n.text("ended-body")}</p>
            <div class="cc-actions">
                <button type="button" class="cc-restart cc-primary" on:click=move |_| chat.start()>
                    {i18n.text("ended-restart")}
                </button>
            </div>
        </section>
    }
}
