//! Compliance and patient records: the audit log (search, verify, export), a front-desk unlock of a patient's verification lockout, and the transcripts a nurse took part in.
//!
//! The types that cross the wire for this area and, with the `ssr`
//! feature, the part of the backend the server implements.

/// The server's side of this area; part of [`super::ConsoleBackend`].
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait RecordsBackend: Send + Sync + 'static {}
