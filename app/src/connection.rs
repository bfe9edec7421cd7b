//! The connection: owns the `protocol::Session` (the session keys) and the
//! WebSocket, and is the only code that touches either.
//!
//! One session goes through:
//! 1. **Handshake**: `ClientHandshake::start` → `POST /v1/handshake` →
//!    `finish` against the identity key pinned in the embed page. If that
//!    fails the widget stops for good (identity-failed) and never opens a
//!    WebSocket. Network errors and HTTP 429 are retried with backoff.
//! 2. **Connect**: `GET /v1/ws?sid=…`; the first frame each way is `sync`.
//!    Nothing else is sent until the server's `sync` arrives; then every
//!    `say` (and `consent`) the server has not received is sealed again under
//!    a new `seq` from the [`Outbox`], oldest first.
//! 3. **Talk**: server messages become [`ChatState`] changes; a `say` leaves
//!    the outbox when its `reply` arrives. Duplicate replies are ignored.
//!    The patient may write from the consent screen too, before accepting:
//!    the server screens every message for a crisis first and answers one
//!    with emergency guidance; anything else gets `consent_required`, which
//!    the consent screen shows as a one-line hint. When a person from the
//!    clinic takes over, their `staff` messages are shown once per id (a
//!    resume may send one again), their `typing` shows for a few seconds,
//!    and the patient's own typing is told to the server with `typing`
//!    (paced, never queued; see [`crate::handoff`]).
//! 4. **Drop**: an unexpected close reconnects with the same `sid` after
//!    0.5 s, 1 s, 2 s, … up to 10 s. Close code 4400 (a frame was rejected)
//!    or 4401 (session unknown or expired), or a frame from the server that
//!    fails to open, ends the session: the widget makes a new one and tells
//!    the patient.
//! 5. **End**: `{"type":"end"}`, close, drop the `Session` (its AES keys
//!    zeroize on drop), forget the transcript.
//!
//! **Transcript across a replaced session (4400/4401).** The old lines stay
//! visible, marked as belonging to a previous session (`.cc-msg-previous`),
//! under the notice [`SESSION_REPLACED`], which the consent screen also
//! shows. Messages that were never answered are marked as not delivered
//! rather than re-sent: the new session starts with consent again, and the
//! patient decides whether to send them again. Only "End chat" clears the
//! transcript.
//!
//! **Language.** The widget starts in the embed page's locale. If
//! `welcome` names another, the widget asks for its own with `locale`; the
//! language button does the same. The server's `locale` (the answer, or its
//! own switch when the patient writes in another language) sets the UI
//! language and replaces the disclaimer. While a request of ours is in
//! flight, a `locale` naming another language is an older answer and does
//! not switch the UI back.
//!
//! Every callback (socket events, timers, the handshake future) holds a weak
//! reference and a generation number, so nothing from an ended session can
//! act on a newer one. No message text or key is ever logged.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use leptos::prelude::*;
use protocol::resume::Outbox;
use protocol::session::{CLOSE_FRAME_REJECTED, CLOSE_SESSION_GONE, MAX_PLAINTEXT};
use protocol::vocab::{ErrorCode, NoticeCode};
use protocol::{
    ClientHandshake, ClientMessage, Frame, IdentityPublicKey, ServerHello, ServerMessage, Session,
};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CloseEvent, Headers, MessageEvent, RequestCache, RequestInit, Response, WebSocket};
use zeroize::Zeroizing;

use crate::feedback;
use crate::handoff::{SeenIds, TypingThrottle, TYPING_SHOWN_MS};
use crate::i18n::Locale;
use crate::state::{ChatState, Delivery, Failure, LinkStatus, Screen, Tone};

/// Close code for an orderly close by the patient.
const CLOSE_NORMAL: u16 = 1000;
/// Unsent or unacknowledged messages kept for re-sending. Answered `say`s
/// leave at once, so only a patient typing offline for a long time gets near.
const OUTBOX_LIMIT: usize = 64;
/// First reconnect delay; doubles per failed attempt up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
/// Longest wait between attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// After HTTP 429 the server asks us to slow down: never retry sooner.
const RATE_LIMITED_MIN: Duration = Duration::from_secs(5);
/// Handshake attempts that fail before the patient is told "still trying".
const TROUBLE_AFTER_ATTEMPTS: u32 = 2;

/// The catalog key of the notice shown when a session was replaced by a
/// new one.
pub const SESSION_REPLACED: &str = "session-replaced";

/// Why [`Connection::say`] refused a message; the composer keeps the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SayError {
    /// Nothing but whitespace.
    Empty,
    /// Longer than one frame may carry.
    TooLong,
    /// No conversation to send it in (connecting, ended, failed).
    NotReady,
}

/// Why a handshake did not produce a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HandshakeFailure {
    /// The answer was not signed by the pinned identity key (or was not a
    /// `ServerHello` at all): stop, never connect.
    Identity,
    /// HTTP 400: the server refused our hello.
    Refused,
    /// HTTP 429: try again later.
    RateLimited,
    /// Network error or server error: try again.
    Unreachable,
}

/// The delay before attempt number `attempt` (0-based) is retried.
fn backoff(attempt: u32) -> Duration {
    BACKOFF_FIRST
        .saturating_mul(1u32 << attempt.min(8))
        .min(BACKOFF_MAX)
}

/// The WebSocket URL for `sid` on this page's origin (`ws:` or `wss:` to
/// match the page).
fn socket_url(sid: &str) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss:"
    } else {
        "ws:"
    };
    Some(format!(
        "{scheme}//{}/v1/ws?sid={sid}",
        location.host().ok()?
    ))
}

/// The browser's CSPRNG (`crypto.getRandomValues`, through getrandom).
///
/// `rand_core::OsRng` would do the same, but on failure it formats
/// getrandom's and std's error descriptions into a panic message, which
/// costs the widget kilobytes of strings; here a failure throws a fixed
/// message instead. Without secure randomness no session can start.
struct BrowserRng;

impl rand_core::RngCore for BrowserRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if getrandom::getrandom(dest).is_err() {
            wasm_bindgen::throw_str("no secure random numbers in this browser");
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for BrowserRng {}

/// `POST /v1/handshake` and verification against the pinned key.
async fn handshake(pinned: &IdentityPublicKey) -> Result<Session, HandshakeFailure> {
    let client = ClientHandshake::start(&mut BrowserRng);
    let body = serde_json::to_string(&client.hello()).map_err(|_| HandshakeFailure::Unreachable)?;
    let (status, text) = post_json("/v1/handshake", &body)
        .await
        .ok_or(HandshakeFailure::Unreachable)?;
    match status {
        200 => {}
        429 => return Err(HandshakeFailure::RateLimited),
        400 => return Err(HandshakeFailure::Refused),
        _ => return Err(HandshakeFailure::Unreachable),
    }
    // A 200 that is not a well-formed ServerHello cannot be verified either.
    let hello: ServerHello = serde_json::from_str(&text).map_err(|_| HandshakeFailure::Identity)?;
    client
        .finish(&hello, pinned)
        .map_err(|_| HandshakeFailure::Identity)
}

/// POSTs a JSON body to a same-origin `path`; returns the status and body
/// text, or `None` if the request did not complete. Straight `fetch`, not
/// an HTTP client crate: this is the only request the widget makes, and a
/// client's error types and builders cost kilobytes of download.
async fn post_json(path: &str, body: &str) -> Option<(u16, String)> {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_cache(RequestCache::NoStore);
    init.set_body(&JsValue::from_str(body));
    let headers = Headers::new().ok()?;
    headers.set("content-type", "application/json").ok()?;
    init.set_headers(&headers);
    let promise = web_sys::window()?.fetch_with_str_and_init(path, &init);
    let response: Response = JsFuture::from(promise).await.ok()?.dyn_into().ok()?;
    let text = JsFuture::from(response.text().ok()?)
        .await
        .ok()?
        .as_string()?;
    Some((response.status(), text))
}

/// A say the server has not answered yet.
struct Awaiting {
    id: String,
    status: ArcRwSignal<Delivery>,
}

/// The open WebSocket and its handlers, which must live exactly as long as
/// it does. Dropping it detaches the handlers and closes the socket.
struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    fn close(self, code: u16) {
        let _ = self.ws.close_with_code(code);
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        // A no-op if already closing or closed.
        let _ = self.ws.close();
    }
}

/// Mutable connection state; see the module docs for its life cycle.
struct Link {
    /// Bumped whenever a session starts or is torn down; callbacks carry the
    /// value they were made under and do nothing if it has moved on.
    generation: u64,
    session: Option<Session>,
    socket: Option<Socket>,
    /// The server's `sync` arrived on the current socket: frames may flow.
    synced: bool,
    outbox: Outbox<ClientMessage>,
    awaiting: Vec<Awaiting>,
    /// From `welcome`; echoed in `consent`.
    policy_version: Option<String>,
    /// The language we last asked the server for, until it answers with
    /// the same one.
    locale_asked: Option<Locale>,
    /// Failed attempts in a row (handshake or reconnect), for backoff.
    attempt: u32,
    retry: Option<TimeoutHandle>,
    next_say: u64,
    /// Ids answered by a `reply` whose `card` may follow; a card for any
    /// other id (a duplicate after a resume) is not shown twice.
    card_expected: Vec<String>,
    /// Sessions replaced in a row without the server answering anything in
    /// between. A server that keeps ending sessions at once must not be
    /// met with a tight loop of handshakes: from the second one on, they back
    /// off like reconnects.
    replaced_in_a_row: u32,
    /// The `staff` messages shown in this session.
    staff_seen: SeenIds,
    /// Paces the patient's `typing`.
    typing: TypingThrottle,
    /// Clears "… is typing…".
    typing_clear: Option<TimeoutHandle>,
}

impl Link {
    fn new() -> Self {
        Self {
            generation: 0,
            session: None,
            socket: None,
            synced: false,
            outbox: Outbox::new(OUTBOX_LIMIT),
            awaiting: Vec::new(),
            policy_version: None,
            locale_asked: None,
            attempt: 0,
            retry: None,
            next_say: 0,
            card_expected: Vec::new(),
            replaced_in_a_row: 0,
            staff_seen: SeenIds::default(),
            typing: TypingThrottle::default(),
            typing_clear: None,
        }
    }

    /// Takes down "… is typing…" (and its timer).
    fn stop_typing(&mut self, ui: ChatState) {
        if let Some(handle) = self.typing_clear.take() {
            handle.clear();
        }
        ui.staff_typing.set(None);
    }

    fn cancel_retry(&mut self) {
        if let Some(handle) = self.retry.take() {
            handle.clear();
        }
    }

    /// Drops the session (wiping its keys) and everything tied to it.
    /// Returns the socket so the caller can close it with a chosen code.
    fn forget_session(&mut self) -> Option<Socket> {
        self.generation += 1;
        self.cancel_retry();
        self.session = None;
        self.synced = false;
        self.outbox = Outbox::new(OUTBOX_LIMIT);
        for waiting in self.awaiting.drain(..) {
            waiting.status.set(Delivery::Failed);
        }
        self.policy_version = None;
        self.locale_asked = None;
        self.attempt = 0;
        self.staff_seen = SeenIds::default();
        self.typing = TypingThrottle::default();
        self.socket.take()
    }

    /// Seals and sends a message that is not kept for re-sending (`sync`,
    /// `end`). Returns false if the session cannot seal any more.
    fn send_control(&mut self, message: &ClientMessage) -> bool {
        let (Some(session), Some(socket)) = (self.session.as_mut(), self.socket.as_ref()) else {
            return true;
        };
        match session.seal_message(message) {
            Ok(frame) => {
                let _ = socket.ws.send_with_str(&frame.to_json());
                true
            }
            Err(_) => false,
        }
    }

    /// Sends a `say`, `choose`, `consent` or `locale` now if the connection
    /// is synchronised,
    /// else queues it; either way it stays in the outbox until known to have
    /// arrived. Returns false if the session cannot seal any more.
    fn send_or_queue(&mut self, message: ClientMessage) -> bool {
        let ready = self.synced && self.socket.is_some();
        let Some(session) = self.session.as_mut().filter(|_| ready) else {
            self.outbox.push(message, None);
            return true;
        };
        match session.seal_message(&message) {
            Ok(frame) => {
                if let Some(socket) = &self.socket {
                    // If this fails the socket is closing; the seq is spent,
                    // the server never saw it, so the next sync re-sends it.
                    let _ = socket.ws.send_with_str(&frame.to_json());
                }
                self.outbox.push(message, Some(frame.seq));
                true
            }
            Err(_) => false,
        }
    }
}

struct Shared {
    ui: ChatState,
    pinned: IdentityPublicKey,
    link: RefCell<Link>,
}

/// The widget's connection to the CareChat server. Cheap to clone; all
/// clones are the same connection.
#[derive(Clone)]
pub struct Connection {
    shared: Rc<Shared>,
}

impl Connection {
    /// A connection that will verify every handshake against `pinned`.
    /// Nothing happens until [`Self::start`].
    #[must_use]
    pub fn new(ui: ChatState, pinned: IdentityPublicKey) -> Self {
        Self {
            shared: Rc::new(Shared {
                ui,
                pinned,
                link: RefCell::new(Link::new()),
            }),
        }
    }

    fn from_weak(weak: &Weak<Shared>) -> Option<Self> {
        weak.upgrade().map(|shared| Self { shared })
    }

    fn weak(&self) -> Weak<Shared> {
        Rc::downgrade(&self.shared)
    }

    fn ui(&self) -> ChatState {
        self.shared.ui
    }

    /// Runs `f` on the link state. Every entry point is an event callback,
    /// and none of them calls another while holding the borrow, so the borrow
    /// cannot fail; if it ever did, the event is dropped rather than panicking.
    fn with_link<R>(&self, f: impl FnOnce(&mut Link) -> R) -> Option<R> {
        let mut link = self.shared.link.try_borrow_mut().ok()?;
        Some(f(&mut link))
    }

    /// Starts a brand-new session: handshake, then connect.
    pub fn start(&self) {
        let ui = self.ui();
        ui.clear_conversation();
        ui.session_epoch.update(|epoch| *epoch += 1);
        self.begin_session();
    }

    /// Handshakes again after the server ended the session (4400/4401):
    /// keeps the transcript, marked as from the previous session.
    fn replace_session(&self, link: &mut Link) {
        let old = link.forget_session();
        if let Some(socket) = old {
            defer_drop(socket);
        }
        let ui = self.ui();
        link.replaced_in_a_row = link.replaced_in_a_row.saturating_add(1);
        let delay = match link.replaced_in_a_row {
            1 => {
                ui.session_epoch.update(|epoch| *epoch += 1);
                ui.session_replaced.set(true);
                ui.push_local(SESSION_REPLACED);
                Duration::ZERO
            }
            n => backoff(n - 2),
        };
        self.handshake_in(link, delay);
    }

    fn begin_session(&self) {
        let _ = self.with_link(|link| {
            link.replaced_in_a_row = 0;
            if let Some(socket) = link.forget_session() {
                socket.close(CLOSE_NORMAL);
            }
            self.handshake_in(link, Duration::ZERO);
        });
    }

    /// Runs the handshake after `delay` (zero: right away).
    fn handshake_in(&self, link: &mut Link, delay: Duration) {
        let ui = self.ui();
        link.stop_typing(ui);
        ui.screen.set(Screen::Connecting);
        ui.link.set(LinkStatus::Idle);
        ui.disclaimer.set(None);
        ui.declined_text.set(None);
        ui.consent_sent.set(false);
        ui.consent_hint.set(false);
        ui.connect_trouble
            .set(link.attempt >= TROUBLE_AFTER_ATTEMPTS);
        let generation = link.generation;
        let weak = self.weak();
        let run = move || {
            let Some(this) = Connection::from_weak(&weak) else {
                return;
            };
            let pinned = this.shared.pinned.clone();
            leptos::task::spawn_local(async move {
                let result = handshake(&pinned).await;
                this.handshake_done(generation, result);
            });
        };
        link.cancel_retry();
        if delay.is_zero() {
            run();
        } else {
            link.retry = set_timeout_with_handle(run, delay).ok();
        }
    }

    fn handshake_done(&self, generation: u64, result: Result<Session, HandshakeFailure>) {
        let ui = self.ui();
        let _ = self.with_link(|link| {
            if link.generation != generation {
                return;
            }
            match result {
                Ok(session) => {
                    link.session = Some(session);
                    link.attempt = 0;
                    ui.connect_trouble.set(false);
                    self.open_socket(link);
                }
                Err(HandshakeFailure::Identity) => ui.fail(Failure::IdentityNotVerified),
                Err(HandshakeFailure::Refused) => ui.fail(Failure::Refused),
                Err(failure) => {
                    let mut delay = backoff(link.attempt);
                    if failure == HandshakeFailure::RateLimited {
                        delay = delay.max(RATE_LIMITED_MIN);
                    }
                    link.attempt = link.attempt.saturating_add(1);
                    self.handshake_in(link, delay);
                }
            }
        });
    }

    /// Opens a WebSocket for the current session.
    fn open_socket(&self, link: &mut Link) {
        let Some(session) = link.session.as_mut() else {
            return;
        };
        session.begin_connection();
        link.synced = false;
        let ws = socket_url(&session.sid().to_b64u()).and_then(|url| WebSocket::new(&url).ok());
        let Some(ws) = ws else {
            let _ = link.forget_session();
            self.ui().fail(Failure::Refused);
            return;
        };

        let weak = self.weak();
        let on_open = Closure::<dyn FnMut()>::new(move || {
            if let Some(this) = Connection::from_weak(&weak) {
                this.on_open();
            }
        });
        let weak = self.weak();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let (Some(this), Some(text)) =
                (Connection::from_weak(&weak), event.data().as_string())
            {
                this.on_text(&text);
            }
        });
        let weak = self.weak();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            if let Some(this) = Connection::from_weak(&weak) {
                this.on_close(event.code());
            }
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        link.socket = Some(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        });
    }

    /// First frame of every connection: our `sync`.
    fn on_open(&self) {
        let _ = self.with_link(|link| {
            let last_seq_received = link.session.as_ref().and_then(Session::last_received);
            if !link.send_control(&ClientMessage::Sync { last_seq_received }) {
                self.end_session_for_protocol(link);
            }
        });
    }

    fn on_text(&self, text: &str) {
        let _ = self.with_link(|link| {
            let Some(session) = link.session.as_mut() else {
                return;
            };
            let opened = Frame::from_json(text).and_then(|frame| session.open(&frame));
            let plaintext = match opened {
                Ok(bytes) => Zeroizing::new(bytes),
                Err(_) => {
                    // Nothing from a rejected frame is processed; the session
                    // is over for both sides.
                    self.end_session_for_protocol(link);
                    return;
                }
            };
            // A message type this version does not know (a later extension)
            // is skipped; the frame itself was authentic.
            if let Ok(message) = serde_json::from_slice::<ServerMessage>(&plaintext) {
                self.on_message(link, message);
            }
        });
    }

    /// Closes with 4400 and starts a new session.
    fn end_session_for_protocol(&self, link: &mut Link) {
        if let Some(socket) = link.socket.take() {
            socket.close(CLOSE_FRAME_REJECTED);
        }
        self.replace_session(link);
    }

    fn on_message(&self, link: &mut Link, message: ServerMessage) {
        let ui = self.ui();
        match message {
            ServerMessage::Sync { last_seq_received } => {
                // From here frames may flow: first everything the server
                // missed, in order, then whatever the patient sends next.
                link.synced = true;
                link.attempt = 0;
                for pending in link.outbox.take_unreceived(last_seq_received) {
                    if !link.send_or_queue(pending) {
                        self.end_session_for_protocol(link);
                        return;
                    }
                }
                ui.link.set(LinkStatus::Online);
            }
            ServerMessage::Welcome {
                policy_version,
                consent_required,
                disclaimer,
                locale,
            } => {
                link.policy_version = Some(policy_version);
                ui.disclaimer.set(Some(disclaimer));
                let ours = ui.i18n.locale.get_untracked();
                if Locale::from_tag(&locale) != Some(ours) && !self.ask_locale(link, ours) {
                    return;
                }
                ui.consent_sent.set(false);
                ui.screen.set(if consent_required {
                    Screen::Consent
                } else {
                    Screen::Chat
                });
            }
            ServerMessage::Reply {
                in_reply_to,
                text,
                intent,
                escalated,
            } => {
                let Some(index) = link.awaiting.iter().position(|w| w.id == in_reply_to) else {
                    return; // a duplicate (already answered) or not ours
                };
                link.replaced_in_a_row = 0;
                let answered = link.awaiting.remove(index);
                answered.status.set(Delivery::Answered);
                link.outbox.retain(|m| {
                    !matches!(m, ClientMessage::Say { id, .. } | ClientMessage::Choose { id, .. } if *id == in_reply_to)
                });
                if link.card_expected.len() >= 8 {
                    link.card_expected.remove(0);
                }
                let feedback = feedback::target(
                    ui.screen.get_untracked() == Screen::Chat,
                    &intent,
                    &in_reply_to,
                );
                link.card_expected.push(in_reply_to);
                // A message delivered to the person who owns the chat has
                // no words of its own to show.
                if text.is_empty() {
                    return;
                }
                ui.push_clinic(text, intent, escalated, feedback);
                if !ui.open.get_untracked() {
                    ui.unread.update(|n| *n = n.saturating_add(1));
                }
            }
            ServerMessage::Card {
                in_reply_to,
                kind,
                title,
                items,
                actions,
                category,
            } => {
                let Some(index) = link.card_expected.iter().position(|id| *id == in_reply_to)
                else {
                    return;
                };
                link.card_expected.remove(index);
                ui.push_card(kind, category, title, items, actions);
            }
            ServerMessage::Notice { code, text } => {
                link.replaced_in_a_row = 0;
                let accepted = code == NoticeCode::ConsentAccepted.as_str();
                if !accepted && code != NoticeCode::ConsentDeclined.as_str() {
                    // Every other notice (the handoff_* ones too) is a line
                    // of the server's words; a person who joined is a
                    // quieter one, and one who left no longer types.
                    if code == NoticeCode::HandoffReturned.as_str()
                        || code == NoticeCode::HandoffClosed.as_str()
                    {
                        link.stop_typing(ui);
                    }
                    let tone = if code == NoticeCode::HandoffJoined.as_str() {
                        Tone::Status
                    } else {
                        Tone::Info
                    };
                    ui.push_notice(text, tone);
                    return;
                }
                link.outbox
                    .retain(|m| !matches!(m, ClientMessage::Consent { .. }));
                ui.consent_sent.set(false);
                ui.session_replaced.set(false);
                ui.consent_hint.set(false);
                if accepted {
                    ui.declined_text.set(None);
                    ui.push_notice(text, Tone::Info);
                    ui.screen.set(Screen::Chat);
                } else {
                    ui.declined_text.set(Some(text));
                    ui.screen.set(Screen::Declined);
                }
            }
            ServerMessage::Staff {
                id,
                name,
                role,
                text,
            } => {
                link.replaced_in_a_row = 0;
                if link.staff_seen.first_time(&id) {
                    link.stop_typing(ui);
                    ui.push_staff(name, role, text);
                }
            }
            ServerMessage::Typing { name } => {
                link.stop_typing(ui);
                ui.staff_typing.set(Some(name));
                link.typing_clear = set_timeout_with_handle(
                    move || ui.staff_typing.set(None),
                    Duration::from_millis(TYPING_SHOWN_MS.into()),
                )
                .ok();
            }
            ServerMessage::Locale { locale, disclaimer } => {
                link.outbox
                    .retain(|m| !matches!(m, ClientMessage::Locale { .. }));
                let Some(locale) = Locale::from_tag(&locale) else {
                    return;
                };
                match link.locale_asked {
                    // An answer to an earlier request of ours: a newer one
                    // is on its way.
                    Some(asked) if asked != locale => return,
                    _ => link.locale_asked = None,
                }
                ui.i18n.locale.set(locale);
                ui.disclaimer.set(Some(disclaimer));
            }
            // The widget votes only on replies that take feedback; an error
            // means the server no longer remembers that reply. It names no
            // `say`, so nothing pending failed, and there is nothing to show.
            ServerMessage::Error { code, .. }
                if code == ErrorCode::UnknownReply.as_str()
                    || code == ErrorCode::InvalidFeedback.as_str() => {}
            // The answer to a `locale` the server does not speak (this
            // widget asks only for the two it does): nothing to show.
            ServerMessage::Error { code, .. } if code == ErrorCode::UnsupportedLocale.as_str() => {
                link.locale_asked = None;
            }
            ServerMessage::Error { code, text } => {
                // The error names no `say`; whatever is awaiting a reply will
                // not get one. Stop re-sending it, but keep its id so a late
                // reply still shows.
                for waiting in &link.awaiting {
                    waiting.status.set(Delivery::Failed);
                }
                link.outbox.retain(|m| {
                    !matches!(m, ClientMessage::Say { .. } | ClientMessage::Choose { .. })
                });
                if code == ErrorCode::ConsentRequired.as_str() {
                    // Said in one line of the widget's own on the consent
                    // screen (in the patient's language, naming its
                    // buttons), which stays or comes back.
                    ui.consent_hint.set(true);
                    ui.consent_sent.set(false);
                    ui.screen.set(Screen::Consent);
                } else {
                    ui.push_notice(text, Tone::Error);
                }
            }
        }
    }

    fn on_close(&self, code: u16) {
        let _ = self.with_link(|link| {
            // This runs inside the socket's own close handler: detach it now,
            // free it after the handler returns.
            if let Some(socket) = link.socket.take() {
                defer_drop(socket);
            }
            link.synced = false;
            if link.session.is_none() {
                return;
            }
            if code == CLOSE_FRAME_REJECTED || code == CLOSE_SESSION_GONE {
                self.replace_session(link);
            } else {
                self.reconnect_later(link);
            }
        });
    }

    fn reconnect_later(&self, link: &mut Link) {
        self.ui().link.set(LinkStatus::Reconnecting);
        let delay = backoff(link.attempt);
        link.attempt = link.attempt.saturating_add(1);
        let generation = link.generation;
        let weak = self.weak();
        link.cancel_retry();
        link.retry = set_timeout_with_handle(
            move || {
                if let Some(this) = Connection::from_weak(&weak) {
                    let _ = this.with_link(|link| {
                        link.retry = None;
                        if link.generation == generation && link.socket.is_none() {
                            this.open_socket(link);
                        }
                    });
                }
            },
            delay,
        )
        .ok();
    }

    /// The patient's answer to the disclaimer.
    pub fn consent(&self, accepted: bool) {
        let ui = self.ui();
        let _ = self.with_link(|link| {
            let Some(policy_version) = link.policy_version.clone() else {
                return;
            };
            ui.consent_sent.set(true);
            if !link.send_or_queue(ClientMessage::Consent {
                accepted,
                policy_version,
            }) {
                self.end_session_for_protocol(link);
            }
        });
    }

    /// The patient chose a language: the UI switches now, and the server
    /// is asked to chat in it (once a session has been welcomed; until then
    /// `welcome` triggers the request).
    pub fn set_locale(&self, locale: Locale) {
        let ui = self.ui();
        ui.i18n.locale.set(locale);
        let _ = self.with_link(|link| {
            if link.policy_version.is_some() && link.session.is_some() {
                let _ = self.ask_locale(link, locale);
            }
        });
    }

    /// Sends `locale`; false if the session had to be replaced.
    fn ask_locale(&self, link: &mut Link, locale: Locale) -> bool {
        link.locale_asked = Some(locale);
        link.outbox
            .retain(|m| !matches!(m, ClientMessage::Locale { .. }));
        let sent = link.send_or_queue(ClientMessage::Locale {
            locale: locale.as_str().to_owned(),
        });
        if !sent {
            self.end_session_for_protocol(link);
        }
        sent
    }

    /// The patient's vote on the reply to `reply`: sent now, or queued while
    /// reconnecting, and kept until the server has it; an earlier vote on
    /// the same reply that is still kept is dropped (the server counts the
    /// latest). Only in the chat. Returns whether it was sent or queued.
    pub fn feedback(&self, reply: &str, given: feedback::Given) -> bool {
        if self.ui().screen.get_untracked() != Screen::Chat {
            return false;
        }
        self.with_link(|link| {
            if link.session.is_none() {
                return false;
            }
            link.outbox.retain(
                |m| !matches!(m, ClientMessage::Feedback { in_reply_to, .. } if in_reply_to == reply),
            );
            let sent = link.send_or_queue(ClientMessage::Feedback {
                in_reply_to: reply.to_owned(),
                vote: given.0,
                reason: given.1,
            });
            if !sent {
                self.end_session_for_protocol(link);
            }
            sent
        })
        .unwrap_or(false)
    }

    /// The patient is typing in the message box: tells the server (so the
    /// person from the clinic can see it) at most once every 3 seconds,
    /// only in the chat (after consent) and only while connected. Never
    /// queued: a late `typing` would say something no longer true.
    pub fn typing(&self) {
        if self.ui().screen.get_untracked() != Screen::Chat {
            return;
        }
        let _ = self.with_link(|link| {
            if link.synced
                && link.socket.is_some()
                && link.typing.should_send(js_sys::Date::now())
                && !link.send_control(&ClientMessage::Typing)
            {
                self.end_session_for_protocol(link);
            }
        });
    }

    /// Sends what the patient typed (or queues it while reconnecting).
    ///
    /// # Errors
    /// [`SayError`]; nothing was sent and the caller keeps the text.
    pub fn say(&self, text: &str) -> Result<(), SayError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SayError::Empty);
        }
        self.send_patient(text, |id| ClientMessage::Say {
            id,
            text: text.to_owned(),
        })
    }

    /// Sends the patient's pick on a card; their transcript shows the
    /// button's words.
    ///
    /// # Errors
    /// [`SayError::NotReady`] when there is no chat to send it to.
    pub fn choose(&self, action: &str, label: &str) -> Result<(), SayError> {
        self.send_patient(label, |id| ClientMessage::Choose {
            id,
            action: action.to_owned(),
        })
    }

    /// Numbers, shows, seals and sends (or queues) one patient message.
    fn send_patient(
        &self,
        shown: &str,
        message: impl FnOnce(String) -> ClientMessage,
    ) -> Result<(), SayError> {
        let ui = self.ui();
        // From the consent screen too: a patient in a crisis must be able
        // to say so before reading any notice.
        if !matches!(ui.screen.get_untracked(), Screen::Chat | Screen::Consent) {
            return Err(SayError::NotReady);
        }
        self.with_link(|link| {
            if link.session.is_none() {
                return Err(SayError::NotReady);
            }
            let id = format!("m{}", link.next_say);
            let message = message(id.clone());
            let size = serde_json::to_vec(&message)
                .map_or(usize::MAX, |bytes| Zeroizing::new(bytes).len());
            if size > MAX_PLAINTEXT {
                return Err(SayError::TooLong);
            }
            link.next_say += 1;
            let status = ui.push_patient(shown.to_owned());
            link.awaiting.push(Awaiting { id, status });
            if !link.send_or_queue(message) {
                self.end_session_for_protocol(link);
            }
            Ok(())
        })
        .unwrap_or(Err(SayError::NotReady))
    }

    /// End chat: tells the server (if connected), closes the socket, drops
    /// the session so its keys are wiped, and clears the transcript. If the
    /// connection is down the server forgets the session at its idle timeout.
    pub fn end(&self) {
        let ui = self.ui();
        let _ = self.with_link(|link| {
            if link.synced {
                let _ = link.send_control(&ClientMessage::End);
            }
            if let Some(socket) = link.forget_session() {
                // `send` queues the frame ahead of the close handshake.
                socket.close(CLOSE_NORMAL);
            }
        });
        ui.clear_conversation();
        ui.link.set(LinkStatus::Idle);
        ui.screen.set(Screen::Ended);
    }
}

/// A copyable handle on the [`Connection`] for components (`None` when the
/// embed page is unusable and no connection was made).
#[derive(Clone, Copy)]
pub struct ChatHandle(StoredValue<Option<Connection>, LocalStorage>);

impl ChatHandle {
    /// Wraps the connection, owned by the current reactive owner.
    #[must_use]
    pub fn new(connection: Option<Connection>) -> Self {
        Self(StoredValue::new_local(connection))
    }

    fn get(&self) -> Option<Connection> {
        self.0.try_get_value().flatten()
    }

    /// See [`Connection::start`].
    pub fn start(&self) {
        if let Some(connection) = self.get() {
            connection.start();
        }
    }

    /// See [`Connection::consent`].
    pub fn consent(&self, accepted: bool) {
        if let Some(connection) = self.get() {
            connection.consent(accepted);
        }
    }

    /// See [`Connection::say`].
    ///
    /// # Errors
    /// [`SayError`].
    pub fn say(&self, text: &str) -> Result<(), SayError> {
        self.get().map_or(Err(SayError::NotReady), |c| c.say(text))
    }

    /// See [`Connection::typing`].
    pub fn typing(&self) {
        if let Some(connection) = self.get() {
            connection.typing();
        }
    }

    /// See [`Connection::choose`].
    ///
    /// # Errors
    /// [`SayError`].
    pub fn choose(&self, action: &str, label: &str) -> Result<(), SayError> {
        self.get()
            .map_or(Err(SayError::NotReady), |c| c.choose(action, label))
    }

    /// See [`Connection::feedback`].
    pub fn feedback(&self, reply: &str, given: feedback::Given) -> bool {
        self.get().is_some_and(|c| c.feedback(reply, given))
    }

    /// See [`Connection::set_locale`].
    pub fn set_locale(&self, locale: Locale) {
        if let Some(connection) = self.get() {
            connection.set_locale(locale);
        }
    }

    /// See [`Connection::end`].
    pub fn end(&self) {
        if let Some(connection) = self.get() {
            connection.end();
        }
    }
}

/// Drops a socket (and its handler closures) after the current event
/// handler has returned, since it may be the one running.
fn defer_drop(socket: Socket) {
    socket.ws.set_onopen(None);
    socket.ws.set_onmessage(None);
    socket.ws.set_onclose(None);
    leptos::prelude::queue_microtask(move || drop(socket));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_half_a_second_up_to_ten() {
        let delays: Vec<u128> = (0..8).map(|a| backoff(a).as_millis()).collect();
        assert_eq!(
            delays,
            [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]
        );
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }
}
