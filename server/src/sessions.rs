//! Live chat sessions: what the server remembers between frames, and the
//! limits that make it forget (idle 15 minutes, absolute 12 hours, an
//! explicit `end`, or a rejected frame).
//!
//! The registry maps a session id to its state behind an async mutex, so one
//! connection at a time works on a session; a reconnect for the same id
//! displaces the older connection. Forgetting a session drops its
//! [`protocol::Session`], which wipes the keys.
//!
//! Sessions live in this process's memory. Running several instances behind
//! one address needs sticky routing by `sid` until sessions move to the
//! shared store (see ARCHITECTURE.md, scale-out).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use protocol::resume::Outbox;
use protocol::{ServerMessage, Session, SessionId};
use tokio::sync::{oneshot, Notify};

use crate::conversation::ChatState;
use crate::records::Requester;

/// The name a session goes by in the audit log and the transcript: a
/// one-way digest of its id, so neither holds the id itself (which, with
/// the keys, would let a reader resume the chat).
#[must_use]
pub fn session_ref(sid: &SessionId) -> String {
    crate::audit::session_digest(&sid.to_b64u())
}

/// How many of its own messages the server keeps for re-sending after a
/// dropped connection.
const OUTBOX_LIMIT: usize = 256;

/// Everything the server holds for one session.
pub struct ChatSession {
    /// Keys and counters.
    pub crypto: Session,
    /// Consent and answered messages.
    pub chat: ChatState,
    /// Server messages not yet known to have reached the widget.
    pub outbox: Outbox<ServerMessage>,
    /// Whether `welcome` has been sent (it opens a session once).
    pub welcomed: bool,
    /// Who this session is, for the audit log and the transcript.
    pub who: Requester,
    /// Messages for the patient that answer nothing they sent (a staff
    /// member's words, handoff notices), waiting for the connection to seal
    /// and send them; kept for the next connection when none is open.
    pub pushed: VecDeque<ServerMessage>,
    /// Wakes the open connection when something is pushed.
    pub wake: Arc<Notify>,
    created: Instant,
    last_activity: Instant,
    displace: Option<oneshot::Sender<()>>,
}

impl ChatSession {
    /// A session that has just completed its handshake.
    #[must_use]
    pub fn new(crypto: Session, client: Option<IpAddr>, now: Instant) -> Self {
        let who = Requester {
            session: session_ref(&crypto.sid()),
            client,
        };
        Self {
            who,
            crypto,
            chat: ChatState::default(),
            outbox: Outbox::new(OUTBOX_LIMIT),
            welcomed: false,
            pushed: VecDeque::new(),
            wake: Arc::new(Notify::new()),
            created: now,
            last_activity: now,
            displace: None,
        }
    }

    /// Notes a frame from the patient (the idle clock restarts).
    pub fn touch(&mut self, now: Instant) {
        self.last_activity = now;
    }

    /// The moment this session expires unless the patient sends something.
    #[must_use]
    pub fn deadline(&self, limits: &Limits) -> Instant {
        (self.last_activity + limits.idle).min(self.created + limits.absolute)
    }

    /// Whether either limit has passed.
    #[must_use]
    pub fn expired(&self, limits: &Limits, now: Instant) -> bool {
        now >= self.deadline(limits)
    }

    /// Registers a new connection, displacing the previous one (if any).
    /// The returned receiver fires when a later connection displaces this one.
    pub fn attach(&mut self) -> oneshot::Receiver<()> {
        if let Some(previous) = self.displace.take() {
            let _ = previous.send(());
        }
        let (tx, rx) = oneshot::channel();
        self.displace = Some(tx);
        rx
    }
}

/// The session time limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Without a frame from the patient.
    pub idle: Duration,
    /// Since the handshake.
    pub absolute: Duration,
}

/// The registry of live sessions.
pub struct Sessions {
    map: Mutex<HashMap<SessionId, Arc<tokio::sync::Mutex<ChatSession>>>>,
    /// Time limits.
    pub limits: Limits,
    max: usize,
}

/// The registry is full.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("too many sessions")]
pub struct Full;

impl Sessions {
    /// An empty registry.
    #[must_use]
    pub fn new(limits: Limits, max: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            limits,
            max,
        }
    }

    fn map(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<SessionId, Arc<tokio::sync::Mutex<ChatSession>>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a session.
    ///
    /// # Errors
    /// [`Full`] at the configured maximum.
    pub fn insert(&self, session: ChatSession) -> Result<(), Full> {
        let mut map = self.map();
        if map.len() >= self.max {
            return Err(Full);
        }
        map.insert(
            session.crypto.sid(),
            Arc::new(tokio::sync::Mutex::new(session)),
        );
        Ok(())
    }

    /// Looks a session up.
    #[must_use]
    pub fn get(&self, sid: &SessionId) -> Option<Arc<tokio::sync::Mutex<ChatSession>>> {
        self.map().get(sid).cloned()
    }

    /// Queues messages for a session's patient (see [`ChatSession::pushed`]);
    /// `false` when the session is gone.
    pub async fn push(&self, sid: &SessionId, messages: Vec<ServerMessage>) -> bool {
        let Some(handle) = self.get(sid) else {
            return false;
        };
        let mut session = handle.lock().await;
        session.pushed.extend(messages);
        session.wake.notify_one();
        true
    }

    /// Forgets a session: its keys are wiped when the last handle drops.
    pub fn forget(&self, sid: &SessionId) {
        self.map().remove(sid);
    }

    /// Forgets every expired session that no connection is using right now
    /// (a connection checks its own session's deadline itself).
    pub fn reap(&self, now: Instant) -> Vec<Requester> {
        let mut map = self.map();
        let mut gone = Vec::new();
        map.retain(|_, session| match session.try_lock() {
            Ok(s) if s.expired(&self.limits, now) => {
                gone.push(s.who.clone());
                false
            }
            _ => true,
        });
        gone
    }
}
