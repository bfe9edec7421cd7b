//! Passkeys (WebAuthn): registering one while signed in, and signing in with one.
//!
//! The types that cross the wire for this area and, with the `ssr`
//! feature, the part of the backend the server implements.

/// The server's side of this area; part of [`super::ConsoleBackend`].
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait PasskeyBackend: Send + Sync + 'static {}
