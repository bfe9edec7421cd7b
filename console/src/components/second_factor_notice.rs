//! A new TOTP secret, shown to the admin once.

use leptos::prelude::*;

use crate::api::admin::SecondFactor;

/// `.cn-second-factor` (`role="status"`): whose secret it is, the secret
/// in base32 (`code.cn-totp-secret`) and its `otpauth://` URI
/// (`code.cn-totp-uri`), to enter in the staff member's authenticator
/// app, and "Done" (`button.cn-second-factor-done`), after which it is
/// gone from the page: the server never shows it again.
#[component]
pub fn SecondFactorNotice(
    /// The secret.
    factor: SecondFactor,
    /// Called when the admin has handed it over.
    on_done: Callback<()>,
) -> impl IntoView {
    super::focus_soon(".cn-second-factor h3");
    view! {
        <div class="cn-second-factor" role="status">
            <h3 tabindex="-1">{format!("Second factor for {}", factor.username)}</h3>
            <p>
                "Enter this secret in the staff member's authenticator app now. "
                "It is shown only once."
            </p>
            <p>"Secret: "<code class="cn-totp-secret">{factor.secret.clone()}</code></p>
            <p>"Setup link: "<code class="cn-totp-uri">{factor.otpauth_uri.clone()}</code></p>
            <button type="button" class="cn-button cn-second-factor-done"
                on:click=move |_| on_done.run(())>
                "Done"
            </button>
        </div>
    }
}
