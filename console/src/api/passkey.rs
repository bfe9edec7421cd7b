//! Passkeys (WebAuthn): registering one while signed in, and signing in with one.
//!
//! The types that cross the wire for this area and, with the `ssr`
//! feature, the part of the backend the server implements.
//!
//! A ceremony has two calls: *start* answers a [`PasskeyChallenge`] (a
//! one-time ceremony token and the options for the browser's
//! `navigator.credentials.create` or `.get`, as WebAuthn's JSON with binary
//! fields in base64url); *finish* sends the token back with the browser's
//! answer (the credential, as JSON in the same encoding). The server keeps
//! the challenge; the token only names it.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::{Me, Refusal, RequestFacts, SetCookie};

/// The longest name a staff member may give a passkey, in characters.
pub const MAX_PASSKEY_NAME_CHARS: usize = 60;

/// The first half of a ceremony: what the browser needs to ask the
/// authenticator, and the token that names the server's challenge.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyChallenge {
    /// Names the server-side challenge; single use, about 5 minutes.
    pub ceremony: String,
    /// `{"publicKey": {...}}` for `navigator.credentials.create` or `.get`,
    /// binary fields in base64url.
    pub options: String,
}

impl std::fmt::Debug for PasskeyChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyChallenge")
            .field("ceremony", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// One of the signed-in staff member's passkeys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyInfo {
    /// The credential's id (base64url): names it for removal.
    pub id: String,
    /// The name its owner gave it ("Work laptop").
    pub name: String,
    /// When it was added, RFC 3339.
    pub added: String,
    /// When it was last used to sign in, RFC 3339; `None` if never.
    pub last_used: Option<String>,
}

/// The server's side of this area; part of [`super::ConsoleBackend`].
///
/// Registration, the list and removal need a session, and (being state
/// changes, apart from the list) this server's origin and the session's
/// CSRF token; they concern only the caller's own passkeys. Sign-in needs
/// this server's origin and answers as [`super::ConsoleBackend::sign_in`]
/// does: one refusal for every wrong answer, and the same locks.
///
/// Every method has a default that answers [`Refusal::Unavailable`]: a
/// backend without passkeys (the demo backend, test doubles) implements
/// the trait with an empty `impl`, and the console then says passkeys are
/// not available. The server's backend implements every method.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait PasskeyBackend: Send + Sync + 'static {
    /// Starts registering a passkey for the signed-in staff member.
    async fn passkey_register_start(
        &self,
        facts: &RequestFacts,
    ) -> Result<PasskeyChallenge, Refusal> {
        let _ = facts;
        Err(Refusal::Unavailable)
    }
    /// Checks the authenticator's answer to [`Self::passkey_register_start`]
    /// and keeps the passkey under `name`; audited.
    async fn passkey_register_finish(
        &self,
        facts: &RequestFacts,
        ceremony: &str,
        name: &str,
        credential: &str,
    ) -> Result<PasskeyInfo, Refusal> {
        let _ = (facts, ceremony, name, credential);
        Err(Refusal::Unavailable)
    }
    /// The signed-in staff member's passkeys, oldest first.
    async fn passkeys(&self, facts: &RequestFacts) -> Result<Vec<PasskeyInfo>, Refusal> {
        let _ = facts;
        Err(Refusal::Unavailable)
    }
    /// Removes one of the signed-in staff member's passkeys; audited.
    async fn passkey_remove(&self, facts: &RequestFacts, id: &str) -> Result<(), Refusal> {
        let _ = (facts, id);
        Err(Refusal::Unavailable)
    }
    /// Starts a passkey sign-in for `username` (for a name with no passkey
    /// the answer looks the same).
    async fn passkey_sign_in_start(
        &self,
        facts: &RequestFacts,
        username: &str,
    ) -> Result<PasskeyChallenge, Refusal> {
        let _ = (facts, username);
        Err(Refusal::Unavailable)
    }
    /// Checks the authenticator's answer to [`Self::passkey_sign_in_start`];
    /// on success the cookie to set and who it is.
    async fn passkey_sign_in_finish(
        &self,
        facts: &RequestFacts,
        ceremony: &str,
        credential: &str,
    ) -> Result<(Me, SetCookie), Refusal> {
        let _ = (facts, ceremony, credential);
        Err(Refusal::Unavailable)
    }
}
