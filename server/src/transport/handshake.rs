//! `POST /v1/handshake`: who may start a session, then the handshake.
//!
//! A handshake is refused, before any key work, when its body is not
//! declared `application/json` (what a cross-site `fetch(…, {mode:
//! "no-cors"})` cannot send without a preflight), when it comes from a web
//! page on another origin, or when its client address (see
//! [`crate::client_addr`]) is over its rate or holds as many sessions as one
//! address may. A session that no connection opens is forgotten within a
//! minute ([`crate::sessions::Limits::unopened`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::handshake::{server_accept_using, HandshakeError, NONCE_LEN};
use protocol::ClientHello;
use protocol::SessionId;
use rand_core::RngCore as _;

use super::{json_error, origin_allowed, MAX_HELLO_BYTES};
use crate::audit::{AuditAction, AuditOutcome};
use crate::records::Requester;
use crate::sessions::{session_ref, ChatSession, Full};
use crate::AppState;

/// Whether the body is declared JSON (`application/json`, parameters such
/// as `charset` allowed).
fn declared_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// `POST /v1/handshake`.
pub async fn handshake(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ip = app.config.trusted_proxies.client(peer.ip(), &headers);
    if !declared_json(&headers) {
        return json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    if !origin_allowed(&app, &headers) {
        tracing::info!(%ip, "handshake from a page on another origin refused");
        return json_error(StatusCode::FORBIDDEN, "origin_not_allowed");
    }
    if let Err(wait) = app.limiter.check(ip, Instant::now()).await {
        tracing::warn!(%ip, "handshake rate limit reached");
        let mut response = json_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_HELLO_BYTES).await else {
        return json_error(StatusCode::BAD_REQUEST, "body_too_large");
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return json_error(StatusCode::BAD_REQUEST, "malformed_hello");
    };
    if value
        .get("v")
        .is_some_and(|v| v != &serde_json::json!(protocol::VERSION))
    {
        return json_error(StatusCode::BAD_REQUEST, "unsupported_version");
    }
    let Ok(hello) = serde_json::from_value::<ClientHello>(value) else {
        return json_error(StatusCode::BAD_REQUEST, "malformed_hello");
    };
    let sid = SessionId::random(&mut rand_core::OsRng);
    let mut nonce = [0u8; NONCE_LEN];
    rand_core::OsRng.fill_bytes(&mut nonce);
    let (reply, session) = match server_accept_using(&*app.key_work, &hello, sid, nonce) {
        Ok(accepted) => accepted,
        Err(HandshakeError::KeyWork) => {
            tracing::error!("the handshake's key work failed");
            return json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
        }
        Err(e) => {
            tracing::info!(%ip, reason = e.code(), "handshake refused");
            return json_error(StatusCode::BAD_REQUEST, e.code());
        }
    };
    let sid = session.sid();
    let limits = app.sessions.limits;
    match app
        .sessions
        .insert(ChatSession::new(session, Some(ip), &limits, Instant::now()))
        .await
    {
        Ok(()) => {}
        Err(Full::Server) => {
            tracing::warn!("session limit reached; handshake refused");
            return json_error(StatusCode::SERVICE_UNAVAILABLE, "server_busy");
        }
        Err(Full::Address) => {
            tracing::warn!(%ip, "sessions per address reached; handshake refused");
            return json_error(StatusCode::TOO_MANY_REQUESTS, "too_many_sessions");
        }
    }
    tracing::info!(session = ?sid, "session started");
    // Recorded beside the answer, not before it: a handshake reveals no
    // PHI, and a locked database must not hold up every new chat (the
    // append retries on its own).
    let event = Requester {
        session: session_ref(&sid),
        client: Some(ip),
    }
    .event(AuditAction::Handshake, None, AuditOutcome::Success);
    let audit = app.audit.clone();
    tokio::spawn(async move { audit.record_or_log(event).await });
    let mut response = Json(reply).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
