//! The server functions for this area: Passkeys (WebAuthn): registering one while signed in, and signing in with one.
//!
//! One function per [`PasskeyBackend`] method, under
//! `/console/api/<name>`, each passing the request through as
//! [`super`]'s do. The browser's side of the ceremony (calling
//! `navigator.credentials`) is [`browser`].
//!
//! [`PasskeyBackend`]: crate::api::passkey::PasskeyBackend

use leptos::prelude::*;

pub mod browser;

use crate::api::passkey::{PasskeyChallenge, PasskeyInfo};
use crate::api::Me;

/// Starts adding a passkey to the signed-in account.
#[server(name = PasskeyRegisterStartCall, prefix = "/console/api", endpoint = "passkey_register_start")]
pub async fn passkey_register_start(
    /// The session's CSRF token ([`Me::csrf`]).
    csrf: String,
) -> Result<PasskeyChallenge, ServerFnError> {
    let (backend, facts) = super::ssr::context(Some(csrf)).await?;
    backend
        .passkey_register_start(&facts)
        .await
        .map_err(super::refused)
}

/// Finishes adding a passkey: the authenticator's answer, as JSON.
#[server(name = PasskeyRegisterFinishCall, prefix = "/console/api", endpoint = "passkey_register_finish")]
pub async fn passkey_register_finish(
    /// The session's CSRF token ([`Me::csrf`]).
    csrf: String,
    /// [`PasskeyChallenge::ceremony`] from the start call.
    ceremony: String,
    /// The name the staff member gives the passkey.
    name: String,
    /// The new credential (`PublicKeyCredential`) as JSON, base64url.
    credential: String,
) -> Result<PasskeyInfo, ServerFnError> {
    let (backend, facts) = super::ssr::context(Some(csrf)).await?;
    backend
        .passkey_register_finish(&facts, &ceremony, &name, &credential)
        .await
        .map_err(super::refused)
}

/// The signed-in staff member's passkeys.
#[server(name = PasskeysCall, prefix = "/console/api", endpoint = "passkeys")]
pub async fn passkeys() -> Result<Vec<PasskeyInfo>, ServerFnError> {
    let (backend, facts) = super::ssr::context(None).await?;
    backend.passkeys(&facts).await.map_err(super::refused)
}

/// Removes one of the signed-in staff member's passkeys.
#[server(name = PasskeyRemoveCall, prefix = "/console/api", endpoint = "passkey_remove")]
pub async fn passkey_remove(
    /// The session's CSRF token ([`Me::csrf`]).
    csrf: String,
    /// [`PasskeyInfo::id`].
    id: String,
) -> Result<(), ServerFnError> {
    let (backend, facts) = super::ssr::context(Some(csrf)).await?;
    backend
        .passkey_remove(&facts, &id)
        .await
        .map_err(super::refused)
}

/// Starts a passkey sign-in for a username.
#[server(name = PasskeySignInStartCall, prefix = "/console/api", endpoint = "passkey_sign_in_start")]
pub async fn passkey_sign_in_start(
    /// The staff member's username.
    username: String,
) -> Result<PasskeyChallenge, ServerFnError> {
    let (backend, facts) = super::ssr::context(None).await?;
    backend
        .passkey_sign_in_start(&facts, &username)
        .await
        .map_err(super::refused)
}

/// Finishes a passkey sign-in; sets the session cookie.
#[server(name = PasskeySignInFinishCall, prefix = "/console/api", endpoint = "passkey_sign_in_finish")]
pub async fn passkey_sign_in_finish(
    /// [`PasskeyChallenge::ceremony`] from the start call.
    ceremony: String,
    /// The assertion (`PublicKeyCredential`) as JSON, base64url.
    credential: String,
) -> Result<Me, ServerFnError> {
    let (backend, facts) = super::ssr::context(None).await?;
    let (me, cookie) = backend
        .passkey_sign_in_finish(&facts, &ceremony, &credential)
        .await
        .map_err(super::refused)?;
    super::ssr::set_cookie(&cookie)?;
    Ok(me)
}
