//! The screen when the chat cannot go on.

use leptos::prelude::*;

use crate::connection::ChatHandle;
use crate::state::{ChatState, Failure};

/// Explains why the chat stopped and what to do instead. For an identity
/// failure (the server could not prove it is the clinic's) the chat stops for
/// good: there is deliberately no "try again". The message is `role="alert"`
/// and carries `.cc-error` for tests.
#[component]
pub fn FailureScreen(
    /// The clinic's display name, to say whom to call.
    clinic_name: String,
) -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let chat = expect_context::<ChatHandle>();
    let failure = ui.failure.get_untracked().unwrap_or(Failure::Refused);
    super::focus_soon(".cc-failure [data-autofocus]");

    let (title, body) = match failure {
        Failure::IdentityNotVerified => (
            "This chat has stopped for your safety",
            format!(
                "We could not verify that this chat is connected to {clinic_name}'s secure \
                 server, so it has stopped to protect your information. Nothing you type here \
                 will be sent. Please call the clinic instead."
            ),
        ),
        Failure::MissingIdentityKey | Failure::InvalidIdentityKey => (
            "The chat is not available",
            "This chat is not set up correctly, so it cannot start securely. Please call the \
             clinic instead."
                .to_owned(),
        ),
        Failure::Refused => (
            "The chat could not start",
            "The clinic's chat service could not start a secure session. You can try again, or \
             call the clinic."
                .to_owned(),
        ),
    };

    view! {
        <section class="cc-screen cc-failure" aria-labelledby="cc-failure-title">
            <div class="cc-error" role="alert">
                <h2 id="cc-failure-title" class="cc-title" tabindex="-1" data-autofocus="">
                    {title}
                </h2>
                <p>{body}</p>
                <p class="cc-emergency">"In an emergency, call 911."</p>
            </div>
            {failure
                .retryable()
                .then(|| {
                    view! {
                        <div class="cc-actions">
                            <button type="button" class="cc-retry cc-primary" on:click=move |_| chat.start()>
                                "Try again"
                            </button>
                        </div>
                    }
                })}
        </section>
    }
}
