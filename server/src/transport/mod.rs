//! The protocol's transport: `POST /v1/handshake`, `GET /v1/identity` and the
//! WebSocket at `/v1/ws?sid=…` with its sync/resume rules and close codes.
//!
//! This module moves sealed frames and enforces the protocol; it knows
//! nothing about clinics. Every opened message is handed to
//! [`crate::conversation::Conversation`], and every answer is sealed, sent and
//! kept in the session's outbox until the widget confirms it (a `sync`).
//!
//! # Layout
//! - [`handshake`]: who may start a session (content type, origin, rate and
//!   per-address limits) and the handshake itself.
//! - [`connection`]: one WebSocket: the first frame that proves the key, the
//!   resume rules, and the loop that hands messages to the conversation.
//!
//! Close codes: 4400 when a frame is rejected (the session ends with it,
//! except for a new connection's first frame, which proves nothing about
//! the session and so ends only its own connection), 4401 for a session that
//! is unknown, expired, ended or out of frames.

mod connection;
mod handshake;
pub mod key_work;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

pub use connection::websocket;
pub use handshake::handshake;

use crate::config::normalize_origin;
use crate::AppState;

/// Largest handshake body accepted.
pub const MAX_HELLO_BYTES: usize = 4 * 1024;
/// Largest WebSocket text accepted: a 16 KiB plaintext, its tag, base64url
/// and the JSON around it fit with room to spare.
pub const MAX_FRAME_TEXT: usize = 24 * 1024;

fn json_error(status: StatusCode, code: &str) -> Response {
    (status, Json(serde_json::json!({ "error": code }))).into_response()
}

/// Whether a request may act on chat sessions, judged by its `Origin`.
///
/// Browsers send `Origin` on every cross-origin `POST` and on every
/// WebSocket, so a page elsewhere cannot hide where it runs; the chat's own
/// iframe comes from `server.public_url`, and the clinic's sites are
/// `server.allowed_origins`. A request without `Origin` is not from a web
/// page (a native client or a test), and is judged by the protocol alone.
fn origin_allowed(app: &AppState, headers: &HeaderMap) -> bool {
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let Some(origin) = origins.next() else {
        return true;
    };
    if origins.next().is_some() {
        return false;
    }
    let Some(origin) = origin.to_str().ok().and_then(normalize_origin) else {
        return false;
    };
    origin == app.config.public_url || app.config.allowed_origins.contains(&origin)
}

/// `GET /v1/identity`: the public identity key, for tooling and tests.
pub async fn identity(State(app): State<Arc<AppState>>) -> Response {
    let public = app.identity.public();
    Json(serde_json::json!({ "key_id": public.key_id(), "public_key": public.to_b64u() }))
        .into_response()
}
