//! The screen when the chat cannot go on.

use leptos::prelude::*;

use super::linked_text::LinkedText;
use crate::connection::ChatHandle;
use crate::state::{ChatState, Failure};

/// Explains why the chat stopped and what to do instead. For an identity
/// failure (the server could not prove it is the clinic's) the chat stops for
/// good: there is deliberately no "try again". The message is `role="alert"`
/// and carries `.cc-error` for tests.
#[component]
pub fn FailureScreen() -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let i18n = ui.i18n;
    let chat = expect_context::<ChatHandle>();
    let failure = ui.failure.get_untracked().unwrap_or(Failure::Refused);
    super::focus_soon(".cc-failure [data-autofocus]");

    let (title, body) = match failure {
        Failure::IdentityNotVerified => ("failure-identity-title", "failure-identity-body"),
        Failure::MissingIdentityKey | Failure::InvalidIdentityKey => {
            ("failure-setup-title", "failure-setup-body")
        }
        Failure::Refused => ("failure-refused-title", "failure-refused-body"),
    };

    view! {
        <section class="cc-screen cc-failure" aria-labelledby="cc-failure-title">
            <div class="cc-error" role="alert">
                <h2 id="cc-failure-title" class="cc-title" tabindex="-1" data-autofocus="">
                    {i18n.text(title)}
                </h2>
                <p>{i18n.text(body)}</p>
                <p class="cc-emergency">
                    <LinkedText key="failure-emergency" text="911"/>
                </p>
            </div>
            {failure
                .retryable()
                .then(|| {
                    view! {
                        <div class="cc-actions">
                            <button type="button" class="cc-retry cc-primary" on:click=move |_| chat.start()>
                                {i18n.text("failure-retry")}
                            </button>
                        </div>
                    }
                })}
        </section>
    }
}
