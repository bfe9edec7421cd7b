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
///
/// "Sign in with a passkey" (`button.cn-passkey-sign-in`) uses the
/// username typed above and the device's passkey (with its PIN or
/// biometric, which the server requires); a refusal is announced in the
/// same `.cn-error`.
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

    let on_passkey = move |_| {
        if busy.get_untracked() {
            return;
        }
        let user = username.get_untracked().trim().to_owned();
        if user.is_empty() {
            error.set(Some(
                "Enter your username, then choose \u{201c}Sign in with a passkey\u{201d}.".into(),
            ));
            super::focus_soon("#cn-username");
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let result = passkey_sign_in(user).await;
            busy.set(false);
            match result {
                Ok(me) => state.signed_in(me),
                Err(text) => {
                    error.set(Some(text.into()));
                    super::focus_soon("button.cn-passkey-sign-in");
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
                <p class="cn-or" aria-hidden="true">"or"</p>
                <button
                    type="button"
                    class="cn-button cn-passkey-sign-in"
                    aria-describedby="cn-passkey-hint"
                    aria-busy=move || busy.get().to_string()
                    on:click=on_passkey
                >
                    "Sign in with a passkey"
                </button>
                <p id="cn-passkey-hint" class="cn-hint">
                    "Enter your username first. Your device asks for its PIN, fingerprint or face."
                </p>
            </form>
        </section>
    }
}

/// A passkey sign-in: the server's challenge, the browser's passkey, the
/// server's check. The error is the text to show.
async fn passkey_sign_in(username: String) -> Result<crate::api::Me, &'static str> {
    use crate::calls::passkey::{browser, passkey_sign_in_finish, passkey_sign_in_start};
    let server_text =
        |failure: &leptos::server_fn::error::ServerFnError| match calls::refusal_of(failure) {
            Refusal::BadCredentials | Refusal::SignedOut => texts::PASSKEY_NOT_ACCEPTED,
            refusal => texts::refusal_text(refusal),
        };
    let challenge = passkey_sign_in_start(username)
        .await
        .map_err(|e| server_text(&e))?;
    let credential = browser::get_assertion(&challenge.options)
        .await
        .map_err(texts::passkey_browser_text)?;
    passkey_sign_in_finish(challenge.ceremony, credential)
        .await
        .map_err(|e| server_text(&e))
}
