//! One WebSocket on `/v1/ws?sid=…`.
//!
//! Knowing a sid proves nothing (it travels in the URL, so proxy logs hold
//! it). A new connection therefore touches nothing until its first frame is
//! accepted: a `sync` that opens under the session key with a `seq` above
//! the highest accepted. Only then does it displace the connection in use,
//! send the server's `sync`, and resend what the widget missed. A first
//! frame that is refused (garbage, a replayed or forged frame, too large,
//! or none within [`FIRST_FRAME_WAIT`]) closes that connection with 4400 and
//! leaves the session and its connection exactly as they were.
//!
//! Inside an accepted connection every rejected frame ends the session
//! (4400), as the protocol says; a `sync` there acknowledges what the widget
//! received, and is answered with nothing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use protocol::message::{read_client_message, UnreadableMessage};
use protocol::session::{CLOSE_FRAME_REJECTED, CLOSE_SESSION_GONE};
use protocol::{ClientMessage, Frame, FrameError, ServerMessage, SessionId};
use tokio::sync::oneshot;

use super::{json_error, origin_allowed, MAX_FRAME_TEXT};
use crate::audit::{AuditAction, AuditOutcome};
use crate::conversation::{Outcome, Turn};
use crate::sessions::{ChatSession, Saved};
use crate::AppState;

/// How long a new connection has to send its first frame.
pub const FIRST_FRAME_WAIT: Duration = Duration::from_secs(30);

/// How long an answer may take before the patient is told it is coming
/// (a slow EHR behind a verification or an appointment list).
pub const SLOW_ANSWER: Duration = Duration::from_secs(2);

/// The WebSocket library's own ceiling on one message; anything over
/// [`MAX_FRAME_TEXT`] is already a protocol violation, so this only bounds
/// memory.
const MAX_SOCKET_MESSAGE: usize = MAX_FRAME_TEXT * 2;

/// Each connection's read buffer to begin with: a patient's message is a
/// few hundred bytes (the library's default of 128 KiB, held by every idle
/// patient, was most of a session's memory). A larger frame grows it, up to
/// [`MAX_SOCKET_MESSAGE`].
const READ_BUFFER: usize = 4 * 1024;

/// How much unsent output one connection may hold before it is ended: a
/// client that stops reading cannot make the server buffer without bound.
const MAX_UNSENT: usize = MAX_SOCKET_MESSAGE * 4;

/// `GET /v1/ws?sid=…`: upgrades, then runs the connection. An unknown or
/// malformed `sid` is upgraded too and closed with 4401, so browsers see
/// the protocol's close code rather than a failed upgrade. A web page on
/// another origin is refused before the upgrade.
pub async fn websocket(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&app, &headers) {
        let ip = app.config.trusted_proxies.client(peer.ip(), &headers);
        tracing::info!(%ip, "WebSocket from a page on another origin refused");
        return json_error(StatusCode::FORBIDDEN, "origin_not_allowed");
    }
    let sid = query.get("sid").and_then(|s| SessionId::from_b64u(s).ok());
    upgrade
        .read_buffer_size(READ_BUFFER)
        // Every message is flushed as it is sent: no write buffer to keep.
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_UNSENT)
        .max_message_size(MAX_SOCKET_MESSAGE)
        .max_frame_size(MAX_SOCKET_MESSAGE)
        .on_upgrade(move |socket| Connection { app, socket }.run(sid))
}

/// Why a connection stopped.
enum Stop {
    /// The socket dropped or the peer closed it; the session stays for resume.
    Dropped,
    /// Another server took the session (its stored row moved on): this
    /// copy stops, unsent, and the widget's newer connection carries on.
    Moved,
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

    /// A new connection's first frame was not accepted: this connection
    /// closes, the session is untouched.
    fn unproven(reason: &'static str) -> Self {
        tracing::info!(
            reason,
            "first frame of a new connection refused; session untouched"
        );
        Self::Close {
            code: CLOSE_FRAME_REJECTED,
            reason: "frame rejected",
            forget: false,
        }
    }
}

/// What the socket gave next, as the protocol sees it.
enum Incoming {
    Text(axum::extract::ws::Utf8Bytes),
    /// Binary, or over the size limit: a protocol violation.
    Violation(FrameError),
    /// Closed or broken.
    Gone,
}

struct Connection {
    app: Arc<AppState>,
    socket: WebSocket,
}

impl Connection {
    async fn run(mut self, sid: Option<SessionId>) {
        let handle = match sid {
            Some(sid) => self.app.sessions.open(&sid).await.map(|h| (sid, h)),
            None => None,
        };
        let Some((sid, handle)) = handle else {
            self.close(CLOSE_SESSION_GONE, "unknown session").await;
            return;
        };
        let stop = match self.prove(&handle).await {
            Ok((displaced, last_seq_received)) => {
                self.serve(sid, &handle, displaced, last_seq_received).await
            }
            Err(stop) => stop,
        };
        if let Stop::Moved = stop {
            tracing::info!(session = ?sid, "session taken by another server; this copy stops");
            self.app.sessions.forget_local(&sid);
            self.close(1000, "replaced by a newer connection").await;
            return;
        }
        if let Stop::Close {
            code,
            reason,
            forget,
        } = stop
        {
            if forget {
                self.app.sessions.forget(&sid).await;
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

    async fn next(&mut self) -> Incoming {
        loop {
            return match self.socket.recv().await {
                None | Some(Ok(Message::Close(_))) => Incoming::Gone,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Binary(_))) => Incoming::Violation(FrameError::Malformed),
                Some(Ok(Message::Text(text))) if text.len() > MAX_FRAME_TEXT => {
                    Incoming::Violation(FrameError::TooLarge)
                }
                Some(Ok(Message::Text(text))) => Incoming::Text(text),
                Some(Err(e)) => {
                    // A message over the socket's own ceiling is the
                    // peer's doing, not the network's.
                    let inner = e.into_inner();
                    match inner.downcast_ref::<tungstenite::Error>() {
                        Some(tungstenite::Error::Capacity(_)) => {
                            Incoming::Violation(FrameError::TooLarge)
                        }
                        _ => Incoming::Gone,
                    }
                }
            };
        }
    }

    /// Waits for the first frame and accepts the connection on it: then,
    /// and only then, it displaces the connection in use. Returns the
    /// displacement signal and the widget's `last_seq_received`.
    async fn prove(
        &mut self,
        handle: &tokio::sync::Mutex<ChatSession>,
    ) -> Result<(oneshot::Receiver<()>, Option<u64>), Stop> {
        let text = match tokio::time::timeout(FIRST_FRAME_WAIT, self.next()).await {
            Err(_) => return Err(Stop::unproven("no first frame in time")),
            Ok(Incoming::Gone) => return Err(Stop::Dropped),
            Ok(Incoming::Violation(_)) => return Err(Stop::unproven("unreadable first frame")),
            Ok(Incoming::Text(text)) => text,
        };
        let Ok(frame) = Frame::from_json(text.as_str()) else {
            return Err(Stop::unproven("unreadable first frame"));
        };
        let limits = self.app.sessions.limits;
        let mut session = handle.lock().await;
        if session.expired(&limits, Instant::now()) {
            return Err(Stop::unknown("session expired"));
        }
        let Ok(plaintext) = session.crypto.open_first(&frame) else {
            return Err(Stop::unproven("first frame not accepted"));
        };
        let plaintext = zeroize::Zeroizing::new(plaintext);
        // The frame is authentic: only the session's own client could send
        // it, so from here a violation ends the session.
        let Ok(ClientMessage::Sync { last_seq_received }) = read_client_message(&plaintext) else {
            return Err(Stop::rejected(FrameError::Content));
        };
        session.touch(Instant::now());
        let displaced = session.attach();
        let sync = ServerMessage::Sync {
            last_seq_received: session.crypto.last_received(),
        };
        let frame = session.crypto.seal_message(&sync).map_err(Stop::rejected)?;
        if self.app.sessions.save(&mut session).await == Saved::Stale {
            return Err(Stop::Moved);
        }
        if self
            .socket
            .send(Message::Text(frame.to_json().into()))
            .await
            .is_err()
        {
            return Err(Stop::Dropped);
        }
        Ok((displaced, last_seq_received))
    }

    /// Seals messages and keeps them until the widget confirms them,
    /// stores the session, then sends them: a session another server has
    /// taken meanwhile sends nothing ([`Stop::Moved`]).
    async fn deliver(
        &mut self,
        session: &mut ChatSession,
        messages: Vec<ServerMessage>,
    ) -> Result<(), Stop> {
        if session.moved() {
            return Err(Stop::Moved);
        }
        if messages.is_empty() {
            return Ok(());
        }
        let mut frames = Vec::with_capacity(messages.len());
        for message in messages {
            if !session.may_seal() {
                return Err(Stop::unknown("session not stored for too long"));
            }
            let frame = session
                .crypto
                .seal_message(&message)
                .map_err(Stop::rejected)?;
            session.outbox.push(message, Some(frame.seq));
            frames.push(frame);
        }
        if self.app.sessions.save(session).await == Saved::Stale {
            return Err(Stop::Moved);
        }
        for frame in frames {
            // A failed send is not an error here: the message stays in the
            // outbox and goes again after the widget reconnects and syncs.
            if self
                .socket
                .send(Message::Text(frame.to_json().into()))
                .await
                .is_err()
            {
                break;
            }
        }
        Ok(())
    }

    /// Sends what was pushed for the patient while they were busy or away.
    async fn deliver_pushed(&mut self, session: &mut ChatSession) -> Result<(), Stop> {
        let pushed: Vec<ServerMessage> = session.pushed.drain(..).collect();
        self.deliver(session, pushed).await
    }

    /// After the widget's `sync`: what it missed, the welcome of a new
    /// session, and what was pushed while it was away.
    async fn catch_up(
        &mut self,
        session: &mut ChatSession,
        last_seq_received: Option<u64>,
    ) -> Result<(), Stop> {
        let mut messages = session.outbox.take_unreceived(last_seq_received);
        if !session.welcomed {
            session.welcomed = true;
            session.chat.locale = self.app.conversation.default_locale();
            messages.push(self.app.conversation.welcome());
        }
        messages.extend(session.pushed.drain(..));
        self.deliver(session, messages).await
    }

    async fn serve(
        &mut self,
        sid: SessionId,
        handle: &tokio::sync::Mutex<ChatSession>,
        mut displaced: oneshot::Receiver<()>,
        last_seq_received: Option<u64>,
    ) -> Stop {
        let limits = self.app.sessions.limits;
        if let Err(stop) = self
            .catch_up(&mut *handle.lock().await, last_seq_received)
            .await
        {
            return stop;
        }
        tracing::debug!(session = ?sid, "connection open");
        let wake = handle.lock().await.wake.clone();
        loop {
            let deadline = handle.lock().await.deadline(&limits);
            let incoming = tokio::select! {
                _ = &mut displaced => {
                    return Stop::Close { code: 1000, reason: "replaced by a newer connection", forget: false };
                }
                () = wake.notified() => {
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
                incoming = self.next() => incoming,
            };
            let text = match incoming {
                Incoming::Gone => return Stop::Dropped,
                Incoming::Violation(e) => return Stop::rejected(e),
                Incoming::Text(text) => text,
            };
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
                Err(UnreadableMessage::Feedback) => {
                    session.touch(Instant::now());
                    let error = self.app.conversation.invalid_feedback(&session.chat);
                    if let Err(stop) = self.deliver(&mut session, vec![error]).await {
                        return stop;
                    }
                    continue;
                }
                Err(_) => return Stop::rejected(FrameError::Content),
            };
            session.touch(Instant::now());
            if let ClientMessage::Sync { last_seq_received } = message {
                // An acknowledgement inside the connection: forget what
                // arrived; nothing is sent in answer.
                session.outbox.acknowledge(last_seq_received);
                if session.stale_expiry()
                    && self.app.sessions.save(&mut session).await == Saved::Stale
                {
                    return Stop::Moved;
                }
                continue;
            }
            let session = &mut *session;
            let turn = Turn {
                sid: &sid,
                who: session.who.clone(),
            };
            let conversation = self.app.conversation.clone();
            let locale = session.chat.locale;
            let outcome = {
                let work = conversation.handle(&turn, &mut session.chat, message);
                tokio::pin!(work);
                tokio::select! {
                    outcome = &mut work => outcome,
                    () = tokio::time::sleep(SLOW_ANSWER) => {
                        // A slow EHR: say so, then keep waiting for the answer.
                        if let Err(stop) = send_now(
                            &mut self.socket,
                            &mut session.crypto,
                            &mut session.outbox,
                            conversation.still_working(locale),
                        )
                        .await
                        {
                            return stop;
                        }
                        work.await
                    }
                }
            };
            match outcome {
                Outcome::End => {
                    return Stop::Close {
                        code: 1000,
                        reason: "chat ended",
                        forget: true,
                    };
                }
                Outcome::Send(replies) => {
                    if let Err(stop) = self.deliver(session, replies).await {
                        return stop;
                    }
                }
            }
        }
    }
}

/// Seals, sends and keeps a server message until the widget confirms it
/// (by the parts it needs, so it can run while the conversation holds the
/// rest of the session).
async fn send_now(
    socket: &mut WebSocket,
    crypto: &mut protocol::Session,
    outbox: &mut protocol::resume::Outbox<ServerMessage>,
    message: ServerMessage,
) -> Result<(), Stop> {
    let frame = crypto.seal_message(&message).map_err(Stop::rejected)?;
    outbox.push(message, Some(frame.seq));
    // A failed send is not an error here: the message stays in the outbox
    // and goes again after the widget reconnects and syncs.
    let _ = socket.send(Message::Text(frame.to_json().into())).await;
    Ok(())
}
