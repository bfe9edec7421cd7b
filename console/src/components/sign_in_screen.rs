//! The sign-in screen.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::Refusal;
use crate::calls;
use crate::state::{ConsoleState, Notice};
use crate::texts;

/// The form (`form.cn-sign-in`): username, password and the 6-digit code
/// from the staff member's authenticator app, each labelled. Above it, why
/// the screen is back (`.cn-notice`: signed out after 15 minutes without
/// activity, or by the user); below the fields, why a sign-in failed
/// (`.cn-error`, `role="alert"`): wrong details, a locked account, or too
/// many attempts. The password and code are cleared after every attempt.
#[component]
pub fn SignInScreen() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    super::focus_soon("#cn-username");

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let digits = code.get_untracked().trim().to_owned();
        if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            error.set(Some(
                "Enter the 6-digit code from your authenticator app.".into(),
            ));
            super::focus_soon("#cn-code");
            return;
        }
        busy.set(true);
        error.set(None);
        let (user, pass) = (username.get_untracked(), password.get_untracked());
        spawn_local(async move {
            let result = calls::sign_in(user, pass, digits).await;
            password.set(String::new());
            code.set(String::new());
            busy.set(false);
            match result {
                Ok(me) => state.signed_in(me),
                Err(failure) => {
                    let refusal = calls::refusal_of(&failure);
                    let refusal = if refusal == Refusal::SignedOut {
                        Refusal::BadCredentials
                    } else {
                        refusal
                    };
                    error.set(Some(texts::refusal_text(refusal).into()));
                    super::focus_soon("#cn-password");
                }
            }
        });
    };

    let notice = move || {
        state.notice.get().map(|notice| {
            let text = match notice {
                Notice::Expired => texts::refusal_text(Refusal::SignedOut),
                Notice::SignedOut => "You signed out.",
            };
            view! { <p class="cn-notice" role="status">{text}</p> }
        })
    };

    view! {
        <section class="cn-sign-in-screen" aria-labelledby="cn-sign-in-title">
            <h1 id="cn-sign-in-title">"Sign in to the CareChat console"</h1>
            {notice}
            <form class="cn-sign-in" on:submit=on_submit novalidate>
                <label for="cn-username">"Username"</label>
                <input
                    id="cn-username"
                    name="username"
                    type="text"
                    autocomplete="username"
                    autocapitalize="none"
                    spellcheck="false"
                    required
                    bind:value=username
                />
                <label for="cn-password">"Password"</label>
                <input
                    id="cn-password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                    bind:value=password
                />
                <label for="cn-code">"6-digit code"</label>
                <p id="cn-code-hint" class="cn-hint">"From your authenticator app."</p>
                <input
                    id="cn-code"
                    name="code"
                    type="text"
                    inputmode="numeric"
                    autocomplete="one-time-code"
                    maxlength="6"
                    pattern="[0-9]{6}"
                    required
                    aria-describedby="cn-code-hint"
                    bind:value=code
                />
                <p class="cn-error" role="alert">{move || error.get()}</p>
                <button
                    type="submit"
                    class="cn-button cn-primary cn-sign-in-submit"
                    aria-busy=move || busy.get().to_string()
                >
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </section>
    }
}
