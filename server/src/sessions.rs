//! Live chat sessions: what the server remembers between frames, and the
//! limits that make it forget (idle 15 minutes, absolute 12 hours, a minute
//! for a session no connection ever opened, an explicit `end`, or a
//! rejected frame) or refuse it (the registry's size, and sessions per
//! client address).
//!
//! The registry maps a session id to its state behind an async mutex, so one
//! connection at a time works on a session; a reconnect for the same id
//! displaces the older connection once its first frame is accepted.
//! Forgetting a session drops its [`protocol::Session`], which wipes the
//! keys.
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

use crate::client_addr::limit_key;
use crate::conversation::ChatState;
use crate::rate_limit::MessageAllowance;
use crate::records::Requester;

/// The name a session goes by in the audit log, the consent ledger, the
/// transcript and the staff queue: a keyed digest of its id
/// ([`crate::audit::session_digest`], [`crate::store::names`]), so none
/// holds the id itself (which, with the keys, would let a reader resume
/// the chat) and nobody without the store's keys can link the id to them.
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
    /// Whether a connection has ever been accepted for it: until then it
    /// lives only [`Limits::unopened`].
    opened: bool,
    displace: Option<oneshot::Sender<()>>,
}

impl ChatSession {
    /// A session that has just completed its handshake.
    #[must_use]
    pub fn new(crypto: Session, client: Option<IpAddr>, limits: &Limits, now: Instant) -> Self {
        let who = Requester {
            session: session_ref(&crypto.sid()),
            client,
        };
        let mut chat = ChatState::default();
        chat.allowance = Some(MessageAllowance::new(
            limits.messages_per_minute,
            limits.messages_per_session,
            now,
        ));
        Self {
            who,
            crypto,
            chat,
            outbox: Outbox::new(OUTBOX_LIMIT),
            welcomed: false,
            pushed: VecDeque::new(),
            wake: Arc::new(Notify::new()),
            created: now,
            last_activity: now,
            opened: false,
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
        let idle = if self.opened {
            limits.idle
        } else {
            limits.unopened.min(limits.idle)
        };
        (self.last_activity + idle).min(self.created + limits.absolute)
    }

    /// Whether either limit has passed.
    #[must_use]
    pub fn expired(&self, limits: &Limits, now: Instant) -> bool {
        now >= self.deadline(limits)
    }

    /// Registers a new connection, displacing the previous one (if any).
    /// The returned receiver fires when a later connection displaces this one.
    pub fn attach(&mut self) -> oneshot::Receiver<()> {
        self.opened = true;
        if let Some(previous) = self.displace.take() {
            let _ = previous.send(());
        }
        let (tx, rx) = oneshot::channel();
        self.displace = Some(tx);
        rx
    }
}

/// The session limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Without a frame from the patient.
    pub idle: Duration,
    /// Since the handshake.
    pub absolute: Duration,
    /// From the handshake until a connection is accepted: a session nobody
    /// opens (a script minting them) is gone within this.
    pub unopened: Duration,
    /// Sessions one client address (an IPv6 /64) may hold at once.
    pub per_address: usize,
    /// Messages one session may send per minute.
    pub messages_per_minute: u32,
    /// Messages one session may send in all.
    pub messages_per_session: u32,
}

impl Limits {
    /// How long a session may wait for its first connection.
    pub const UNOPENED: Duration = Duration::from_secs(45);
}

/// A session in the registry, with the address key it counts under.
struct Held {
    session: Arc<tokio::sync::Mutex<ChatSession>>,
    address: Option<IpAddr>,
}

/// The sessions, and how many each address key holds (kept together under
/// one lock so the counts never drift from the map).
#[derive(Default)]
struct Registry {
    map: HashMap<SessionId, Held>,
    per_address: HashMap<IpAddr, usize>,
}

impl Registry {
    fn remove(&mut self, sid: &SessionId) -> Option<Held> {
        let held = self.map.remove(sid)?;
        self.release(held.address);
        Some(held)
    }

    fn release(&mut self, address: Option<IpAddr>) {
        if let Some(key) = address {
            if let Some(count) = self.per_address.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    self.per_address.remove(&key);
                }
            }
        }
    }
}

/// The registry of live sessions.
pub struct Sessions {
    registry: Mutex<Registry>,
    /// Time limits.
    pub limits: Limits,
    max: usize,
}

/// Why a session was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    /// The registry holds its maximum.
    #[error("too many sessions")]
    Server,
    /// This client address holds its maximum.
    #[error("too many sessions from one address")]
    Address,
}

impl Sessions {
    /// An empty registry.
    #[must_use]
    pub fn new(limits: Limits, max: usize) -> Self {
        Self {
            registry: Mutex::new(Registry::default()),
            limits,
            max,
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a session.
    ///
    /// # Errors
    /// [`Full`] at the configured maximum, overall or for the session's
    /// client address.
    pub fn insert(&self, session: ChatSession) -> Result<(), Full> {
        let mut registry = self.registry();
        if registry.map.len() >= self.max {
            return Err(Full::Server);
        }
        let address = session.who.client.map(limit_key);
        if let Some(key) = address {
            let count = registry.per_address.entry(key).or_insert(0);
            if *count >= self.limits.per_address {
                return Err(Full::Address);
            }
            *count += 1;
        }
        let sid = session.crypto.sid();
        let held = Held {
            session: Arc::new(tokio::sync::Mutex::new(session)),
            address,
        };
        if let Some(replaced) = registry.map.insert(sid, held) {
            // A 128-bit random sid never repeats; count it right if it did.
            registry.release(replaced.address);
        }
        Ok(())
    }

    /// Looks a session up.
    #[must_use]
    pub fn get(&self, sid: &SessionId) -> Option<Arc<tokio::sync::Mutex<ChatSession>>> {
        self.registry().map.get(sid).map(|h| h.session.clone())
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
        self.registry().remove(sid);
    }

    /// Forgets every expired session that no connection is using right now
    /// (a connection checks its own session's deadline itself).
    pub fn reap(&self, now: Instant) -> Vec<Requester> {
        let mut registry = self.registry();
        let mut expired = Vec::new();
        for (sid, held) in &registry.map {
            if let Ok(s) = held.session.try_lock() {
                if s.expired(&self.limits, now) {
                    expired.push((*sid, s.who.clone()));
                }
            }
        }
        let mut gone = Vec::with_capacity(expired.len());
        for (sid, who) in expired {
            registry.remove(&sid);
            gone.push(who);
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::session::SessionKeys;
    use protocol::Role;
    use zeroize::Zeroizing;

    fn limits(per_address: usize) -> Limits {
        Limits {
            idle: Duration::from_secs(900),
            absolute: Duration::from_secs(43_200),
            unopened: Limits::UNOPENED,
            per_address,
            messages_per_minute: 20,
            messages_per_session: 500,
        }
    }

    fn session(n: u8, client: IpAddr, limits: &Limits, now: Instant) -> ChatSession {
        let keys = SessionKeys {
            c2s: Zeroizing::new([1; 32]),
            s2c: Zeroizing::new([2; 32]),
        };
        let crypto = Session::new(SessionId([n; 16]), &keys, Role::Server);
        ChatSession::new(crypto, Some(client), limits, now)
    }

    #[test]
    fn a_session_no_connection_opens_is_forgotten_within_a_minute() {
        let limits = limits(10);
        let sessions = Sessions::new(limits, 100);
        let now = Instant::now();
        let client: IpAddr = [192, 0, 2, 1].into();
        sessions.insert(session(1, client, &limits, now)).ok();
        let mut opened = session(2, client, &limits, now);
        let _displaced = opened.attach();
        sessions.insert(opened).ok();
        let gone = sessions.reap(now + Limits::UNOPENED + Duration::from_secs(1));
        assert_eq!(gone.len(), 1, "only the unopened session goes");
        assert!(sessions.get(&SessionId([1; 16])).is_none());
        assert!(sessions.get(&SessionId([2; 16])).is_some());
        assert!(Limits::UNOPENED + Duration::from_secs(15) <= Duration::from_secs(60));
    }

    #[test]
    fn sessions_per_address_are_capped_and_freed_when_they_end() {
        let limits = limits(2);
        let sessions = Sessions::new(limits, 100);
        let now = Instant::now();
        let one: IpAddr = "2001:db8:0:1::1".parse().unwrap_or(IpAddr::from([0; 4]));
        let same_64: IpAddr = "2001:db8:0:1::ffff".parse().unwrap_or(IpAddr::from([0; 4]));
        let other: IpAddr = [192, 0, 2, 9].into();
        assert_eq!(sessions.insert(session(1, one, &limits, now)), Ok(()));
        assert_eq!(sessions.insert(session(2, same_64, &limits, now)), Ok(()));
        assert_eq!(
            sessions.insert(session(3, one, &limits, now)),
            Err(Full::Address)
        );
        assert_eq!(sessions.insert(session(4, other, &limits, now)), Ok(()));
        sessions.forget(&SessionId([1; 16]));
        assert_eq!(sessions.insert(session(5, one, &limits, now)), Ok(()));
    }
}
