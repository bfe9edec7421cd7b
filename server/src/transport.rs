//! The protocol's transport: `POST /v1/handshake`, `GET /v1/identity` and the
//! WebSocket at `/v1/ws?sid=…` with its sync/resume rules and close codes.
//!
//! This module moves sealed frames and enforces the protocol; it knows
//! nothing about clinics. Every opened message is handed to
//! [`crate::conversation::Conversation`], and every answer is sealed, sent and
//! kept in the session's outbox until the widget confirms it (its next
//! `sync`).
//!
//! Close codes: 4400 when a frame is rejected (the session ends with it),
//! 4401 for a session that is unknown, expired, ended or out of frames.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::handshake::server_accept;
use protocol::message::{read_client_message, UnreadableMessage};
use protocol::session::{CLOSE_FRAME_REJECTED, CLOSE_SESSION_GONE};
use protocol::{ClientHello, ClientMessage, Frame, FrameError, ServerMessage, SessionId};

use crate::audit::{AuditAction, AuditOutcome};
use crate::conversation::{Outcome, Turn};
use crate::records::Requester;
use crate::sessions::session_ref;
use crate::sessions::ChatSession;
use crate::AppState;

/// Largest handshake body accepted.
pub const MAX_HELLO_BYTES: usize = 4 * 1024;
/// Largest WebSocket text accepted: a 16 KiB plaintext, its tag, base64url
/// and the JSON around it fit with room to spare.
pub const MAX_FRAME_TEXT: usize = 24 * 1024;

fn json_error(status: StatusCode, code: &str) -> Response {
    (status, Json(serde_json::json!({ "error": code }))).into_response()
}

/// The client's address, from the socket or (only when configured) the
/// first `X-Forwarded-For` entry.
fn client_ip(app: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    if app.config.trust_forwarded_for {
        if let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
        {
            return ip;
        }
    }
    peer.ip()
}

/// `GET /v1/identity`: the public identity key, for tooling and tests.
pub async fn identity(State(app): State<Arc<AppState>>) -> Response {
    let public = app.identity.public();
    Json(serde_json::json!({ "key_id": public.key_id(), "public_key": public.to_b64u() }))
        .into_response()
}

/// `POST /v1/handshake`.
pub async fn handshake(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ip = client_ip(&app, peer, &headers);
    if let Err(wait) = app.limiter.check(ip, Instant::now()) {
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
    let (reply, session) = match server_accept(&app.identity, &hello, &mut rand_core::OsRng) {
        Ok(accepted) => accepted,
        Err(e) => {
            tracing::info!(%ip, reason = e.code(), "handshake refused");
            return json_error(StatusCode::BAD_REQUEST, e.code());
        }
    };
    let sid = session.sid();
    if app
        .sessions
        .insert(ChatSession::new(session, Some(ip), Instant::now()))
        .is_err()
    {
        tracing::warn!("session limit reached; handshake refused");
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "server_busy");
    }
    tracing::info!(session = ?sid, "session started");
    app.audit
        .record_or_log(
            Requester {
                session: session_ref(&sid),
                client: Some(ip),
            }
            .event(AuditAction::Handshake, None, AuditOutcome::Success),
        )
        .await;
    let mut response = Json(reply).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /v1/ws?sid=…`: upgrades, then runs the connection. An unknown or
/// malformed `sid` is upgraded too and closed with 4401, so browsers see
/// the protocol's close code rather than a failed upgrade.
pub async fn websocket(
    State(app): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let sid = query.get("sid").and_then(|s| SessionId::from_b64u(s).ok());
    upgrade
        .max_message_size(MAX_FRAME_TEXT * 2)
        .max_frame_size(MAX_FRAME_TEXT * 2)
        .on_upgrade(move |socket| Connection { app, socket }.run(sid))
}

/// Why a connection stopped.
enum Stop {
    /// The socket dropped or the peer closed it; the session stays for resume.
    Dropped,
    /// Close with this code; `forget` also ends the session.
    Close {
        code: u16,
        reason: &'static str,
        forget: bool,
    },
}

impl Stop {
    fn rejected(error: FrameError) -> Self {
        tracing::info!(reason = %error, "frame rejected; session ends");
        if error == FrameError::Exhausted {
            Self::unknown("session frame limit reached")
        } else {
            Self::Close {
                code: CLOSE_FRAME_REJECTED,
                reason: "frame rejected",
                forget: true,
            }
        }
    }

    fn unknown(reason: &'static str) -> Self {
        Self::Close {
            code: CLOSE_SESSION_GONE,
            reason,
            forget: true,
        }
    }
}

struct Connection {
    app: Arc<AppState>,
    socket: WebSocket,
}

impl Connection {
    async fn run(mut self, sid: Option<SessionId>) {
        let Some((sid, handle)) = sid.and_then(|sid| self.app.sessions.get(&sid).map(|h| (sid, h)))
        else {
            self.close(CLOSE_SESSION_GONE, "unknown session").await;
            return;
        };
        let stop = self.serve(sid, &handle).await;
        if let Stop::Close {
            code,
            reason,
            forget,
        } = stop
        {
            if forget {
                self.app.sessions.forget(&sid);
                self.app.handoffs.forget(&sid);
                tracing::info!(session = ?sid, reason, "session ended");
                let who = handle.lock().await.who.clone();
                self.app
                    .audit
                    .record_or_log(who.event(AuditAction::SessionEnd, None, AuditOutcome::Success))
                    .await;
            }
            self.close(code, reason).await;
        }
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = self.socket.send(Message::Close(Some(frame))).await;
    }

    /// Seals, sends and keeps a server message until the widget confirms it.
    async fn deliver(
        &mut self,
        session: &mut ChatSession,
        message: ServerMessage,
    ) -> Result<(), Stop> {
        let frame = session
            .crypto
            .seal_message(&message)
            .map_err(Stop::rejected)?;
        let seq = frame.seq;
        session.outbox.push(message, Some(seq));
        // A failed send is not an error here: the message stays in the outbox
        // and goes again after the widget reconnects and syncs.
        let _ = self
            .socket
            .send(Message::Text(frame.to_json().into()))
            .await;
        Ok(())
    }

    /// Sends what was pushed for the patient while they were busy or away.
    async fn deliver_pushed(&mut self, session: &mut ChatSession) -> Result<(), Stop> {
        while let Some(message) = session.pushed.pop_front() {
            self.deliver(session, message).await?;
        }
        Ok(())
    }

    async fn serve(&mut self, sid: SessionId, handle: &tokio::sync::Mutex<ChatSession>) -> Stop {
        let limits = self.app.sessions.limits;
        let mut displaced = {
            let mut session = handle.lock().await;
            if session.expired(&limits, Instant::now()) {
                return Stop::unknown("session expired");
            }
            session.crypto.begin_connection();
            let displaced = session.attach();
            let sync = ServerMessage::Sync {
                last_seq_received: session.crypto.last_received(),
            };
            match session.crypto.seal_message(&sync) {
                Ok(frame) => {
                    if self
                        .socket
                        .send(Message::Text(frame.to_json().into()))
                        .await
                        .is_err()
                    {
                        return Stop::Dropped;
                    }
                }
                Err(e) => return Stop::rejected(e),
            }
            displaced
        };
        tracing::debug!(session = ?sid, "connection open");
        let mut peer_synced = false;
        let wake = handle.lock().await.wake.clone();
        loop {
            let deadline = handle.lock().await.deadline(&limits);
            let message = tokio::select! {
                _ = &mut displaced => {
                    return Stop::Close { code: 1000, reason: "replaced by a newer connection", forget: false };
                }
                () = wake.notified(), if peer_synced => {
                    let mut session = handle.lock().await;
                    if let Err(stop) = self.deliver_pushed(&mut session).await {
                        return stop;
                    }
                    continue;
                }
                () = tokio::time::sleep_until(deadline.into()) => {
                    if handle.lock().await.expired(&limits, Instant::now()) {
                        return Stop::unknown("session expired");
                    }
                    continue;
                }
                message = self.socket.recv() => message,
            };
            let text = match message {
                None | Some(Err(_) | Ok(Message::Close(_))) => return Stop::Dropped,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Binary(_))) => return Stop::rejected(FrameError::Malformed),
                Some(Ok(Message::Text(text))) => text,
            };
            if text.len() > MAX_FRAME_TEXT {
                return Stop::rejected(FrameError::TooLarge);
            }
            let frame = match Frame::from_json(text.as_str()) {
                Ok(frame) => frame,
                Err(e) => return Stop::rejected(e),
            };
            let mut session = handle.lock().await;
            let plaintext = match session.crypto.open(&frame) {
                Ok(plaintext) => zeroize::Zeroizing::new(plaintext),
                Err(e) => return Stop::rejected(e),
            };
            let message: ClientMessage = match read_client_message(&plaintext) {
                Ok(message) => message,
                // A patient's vote must not cost them their chat: a
                // malformed `feedback` (in an authentic frame) is answered
                // with an error, and the session goes on.
                Err(UnreadableMessage::Feedback) if peer_synced => {
                    session.touch(Instant::now());
                    let error = self.app.conversation.invalid_feedback(&session.chat);
                    if let Err(stop) = self.deliver(&mut session, error).await {
                        return stop;
                    }
                    continue;
                }
                Err(_) => return Stop::rejected(FrameError::Content),
            };
            session.touch(Instant::now());
            if !peer_synced {
                let ClientMessage::Sync { last_seq_received } = message else {
                    return Stop::rejected(FrameError::Content);
                };
                peer_synced = true;
                for missed in session.outbox.take_unreceived(last_seq_received) {
                    if let Err(stop) = self.deliver(&mut session, missed).await {
                        return stop;
                    }
                }
                if !session.welcomed {
                    session.welcomed = true;
                    session.chat.locale = self.app.conversation.default_locale();
                    let welcome = self.app.conversation.welcome();
                    if let Err(stop) = self.deliver(&mut session, welcome).await {
                        return stop;
                    }
                }
                if let Err(stop) = self.deliver_pushed(&mut session).await {
                    return stop;
                }
                continue;
            }
            let session = &mut *session;
            let turn = Turn {
                sid: &sid,
                who: session.who.clone(),
            };
            match self
                .app
                .conversation
                .handle(&turn, &mut session.chat, message)
                .await
            {
                Outcome::End => {
                    return Stop::Close {
                        code: 1000,
                        reason: "chat ended",
                        forget: true,
                    };
                }
                Outcome::Send(replies) => {
                    for reply in replies {
                        if let Err(stop) = self.deliver(session, reply).await {
                            return stop;
                        }
                    }
                }
            }
        }
    }
}
