//! Administration: staff accounts and roles, clinic settings (FAQ entries, staffed hours, canned responses), and the canned responses the chat roles use.
//!
//! The types that cross the wire for this area and, with the `ssr`
//! feature, the part of the backend the server implements.

/// The server's side of this area; part of [`super::ConsoleBackend`].
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait AdminBackend: Send + Sync + 'static {}
