//! The CareChat wire protocol, version 1 (`shared/design/PROTOCOL.md`).
//!
//! This crate is the only code that touches the bytes on the wire. The widget
//! (compiled to WebAssembly) and the server (native) both call it, so they
//! cannot disagree about a transcript, a nonce or a frame. It performs no I/O
//! and owns no clock and no randomness: callers pass a CSPRNG in, which keeps
//! it pure and lets the tests replay the known-answer vectors exactly.
//!
//! # Layout
//! - [`crypto`]: thin wrappers over the primitives (AES-256-GCM, P-256 ECDH
//!   with the strict point check, HKDF-SHA256) that every other module calls
//!   and the Wycheproof tests exercise.
//! - [`encoding`]: base64url without padding and lower-case hex.
//! - [`keys`]: the server's long-term identity key, its public half and
//!   `key_id`, and the strict SEC1 point check every received key goes through.
//! - [`handshake`]: `ClientHello` / `ServerHello`, the transcript, the
//!   signature and the HKDF key schedule, for both the client and the server.
//! - [`session`]: session keys and the frame sealer/opener with its `seq`
//!   rules (replay, reorder, skip, size and frame-count limits).
//! - [`message`]: the JSON messages carried inside frames.
//! - [`resume`]: the bookkeeping both sides need to re-send what the peer
//!   missed after a dropped connection.
//! - [`vocab`]: the codes both sides share (notices, errors, card kinds,
//!   safety categories, intents), typed.

// Unit tests may unwrap: a panic there is a test failure, not an outage.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod crypto;
pub mod encoding;
pub mod handshake;
pub mod keys;
pub mod message;
pub mod resume;
pub mod session;
pub mod vocab;

/// The protocol version this crate speaks; the `v` field of both hellos.
pub const VERSION: u8 = 1;

pub use crypto::CryptoError;
pub use handshake::{ClientHandshake, ClientHello, HandshakeError, ServerHello};
pub use keys::{IdentityKey, IdentityPublicKey, KeyError};
pub use message::{CardAction, CardItem, ClientMessage, ServerMessage};
pub use session::{Frame, FrameError, Role, Session, SessionId};
