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
//! With a store ([`Sessions::with_store`], as `carechat serve` runs) every
//! session is also a row in the database ([`stored`]): memory is a cache of
//! it, so a connection may land on any server sharing the database, and a
//! restarted server resumes its chats. The transport stores a session
//! ([`Sessions::save`]) after each turn and before it sends what the turn
//! sealed. Per-address counts and the registry's size are this process's.

pub mod stored;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use protocol::resume::Outbox;
use protocol::{ServerMessage, Session, SessionId};
use tokio::sync::{oneshot, Notify};

use crate::client_addr::limit_key;
use crate::conversation::ChatState;
use crate::journal::Journal;
use crate::rate_limit::MessageAllowance;
use crate::records::Requester;
use crate::store::Store;
pub use stored::Saved;

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
    /// What this copy knows of its stored row.
    lease: Arc<stored::Lease>,
    /// When it was last queued for storing.
    saved_at: Instant,
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
            lease: Arc::default(),
            saved_at: now,
        }
    }

    /// A session as a stored snapshot rebuilds it (sealing resumes
    /// [`stored::RESUME_GAP`] above the stored counter).
    fn restored(
        sid: SessionId,
        version: i64,
        mut snapshot: stored::Snapshot,
        now: Instant,
    ) -> Self {
        let wall = stored::wall_ms();
        let crypto = snapshot.crypto(sid);
        let lease = Arc::new(stored::Lease::loaded(version, crypto.next_send_seq()));
        Self {
            who: Requester {
                session: session_ref(&sid),
                client: snapshot.client,
            },
            crypto,
            chat: std::mem::take(&mut snapshot.chat),
            outbox: Outbox::from_entries(OUTBOX_LIMIT, std::mem::take(&mut snapshot.outbox)),
            welcomed: snapshot.welcomed,
            pushed: std::mem::take(&mut snapshot.pushed).into(),
            wake: Arc::new(Notify::new()),
            created: stored::ms_to_instant(snapshot.created_ms, now, wall),
            last_activity: stored::ms_to_instant(snapshot.last_activity_ms, now, wall),
            opened: snapshot.opened,
            displace: None,
            lease,
            saved_at: now,
        }
    }

    /// Takes a newer stored copy's state, keeping this one's connection
    /// (its displacement signal and wake-up).
    fn refresh(&mut self, newer: Self) {
        let displace = self.displace.take();
        let wake = self.wake.clone();
        *self = newer;
        self.displace = displace;
        self.wake = wake;
    }

    /// Whether this session may seal another frame: at most
    /// [`stored::MAX_UNSAVED`] beyond the counter last stored (see
    /// [`stored`] for why).
    #[must_use]
    pub fn may_seal(&self) -> bool {
        self.crypto.next_send_seq() < self.lease.saved_send_seq() + stored::MAX_UNSAVED
    }

    /// Whether another server has taken the session (its row moved on
    /// without this copy): this copy must send nothing more.
    #[must_use]
    pub fn moved(&self) -> bool {
        self.lease.moved()
    }

    /// Whether its row's expiry lags its idle clock by over a minute (a
    /// patient who only acknowledges): worth storing.
    #[must_use]
    pub fn stale_expiry(&self) -> bool {
        self.last_activity.saturating_duration_since(self.saved_at) > Duration::from_secs(60)
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
    rows: Option<stored::Rows>,
}

/// A session's state, for the one connection working on it.
pub type Handle = Arc<tokio::sync::Mutex<ChatSession>>;

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
            rows: None,
        }
    }

    /// Keeps every session in `store` as well (see [`stored`]), written
    /// through `journal` (the writer the conversation's transcript goes
    /// through, so that a turn's lines and row commit together).
    #[must_use]
    pub fn with_store(mut self, store: Store, journal: Journal) -> Self {
        self.rows = Some(stored::Rows::new(store, journal));
        self
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a session.
    ///
    /// # Errors
    /// [`Full`] at the configured maximum, overall or for the session's
    /// client address.
    pub async fn insert(&self, session: ChatSession) -> Result<(), Full> {
        let sid = session.crypto.sid();
        self.insert_local(session)?;
        if let Some(handle) = self.get(&sid) {
            let mut session = handle.lock().await;
            if self.save(&mut session).await == Saved::Failed {
                tracing::warn!("a new session is not stored yet; it goes in when the database allows, and until then only this server can serve it");
            }
        }
        Ok(())
    }

    /// Stores a session (see [`stored`]): after a turn, before what it
    /// sealed is sent. Waits for the write at most [`stored::SAVE_WAIT`]
    /// ([`Saved::Failed`] when it has not gone in yet: it goes in later).
    /// Without a store, every save is version 0.
    pub async fn save(&self, session: &mut ChatSession) -> Saved {
        let Some(rows) = &self.rows else {
            return Saved::Written(0);
        };
        let now = Instant::now();
        let wall = stored::wall_ms();
        let state = session.crypto.export();
        let left = session
            .deadline(&self.limits)
            .saturating_duration_since(now);
        let expires_ms = wall.saturating_add(i64::try_from(left.as_millis()).unwrap_or(i64::MAX));
        let written = {
            let snapshot = stored::SnapshotRef {
                c2s: &state.keys.c2s,
                s2c: &state.keys.s2c,
                next_send_seq: state.next_send_seq,
                last_received: state.last_received,
                chat: &session.chat,
                // The newest only: the widget acknowledges at each
                // reconnect, so a long connection's outbox holds every
                // message of it, while a resumed widget misses the last
                // few at most.
                outbox: {
                    let skip = session.outbox.len().saturating_sub(stored::SNAPSHOT_OUTBOX);
                    session.outbox.entries().skip(skip).collect()
                },
                pushed: &session.pushed,
                welcomed: session.welcomed,
                opened: session.opened,
                client: session.who.client,
                created_ms: stored::instant_to_ms(session.created, now, wall),
                last_activity_ms: stored::instant_to_ms(session.last_activity, now, wall),
            };
            rows.save(&session.who.session, &session.lease, expires_ms, &snapshot)
        };
        session.saved_at = now;
        match tokio::time::timeout(stored::SAVE_WAIT, written).await {
            Ok(Ok(saved)) => saved,
            _ if session.moved() => Saved::Stale,
            _ => Saved::Failed,
        }
    }

    /// The session for a new connection: this process's copy while it is
    /// the stored one, else the stored row, loaded (another server had the
    /// session last, or this one restarted). `None` for a session that is
    /// unknown or has ended.
    pub async fn open(&self, sid: &SessionId) -> Option<Handle> {
        let local = self.get(sid);
        let Some(rows) = &self.rows else {
            return local;
        };
        let name = session_ref(sid);
        if let Some(handle) = local {
            // Compared under the session's lock, so no write of this
            // copy's is half done; a copy with writes still queued is the
            // newest (if another server moved on, those writes fail and
            // the copy stops).
            let mut session = handle.lock().await;
            if session.lease.pending() {
                drop(session);
                return Some(handle);
            }
            match rows.version(&name).await {
                Ok(Some(version)) if version == session.lease.version() => {}
                Ok(Some(_)) => match rows.load(&name).await {
                    Ok(Some((version, snapshot))) => {
                        session.refresh(ChatSession::restored(
                            *sid,
                            version,
                            snapshot,
                            Instant::now(),
                        ));
                    }
                    Ok(None) => {
                        drop(session);
                        self.registry().remove(sid);
                        return None;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "a stored session cannot be read; using this server's copy");
                    }
                },
                Ok(None) if session.lease.version() > 0 => {
                    // It was stored and its row is gone: it ended elsewhere.
                    drop(session);
                    self.registry().remove(sid);
                    return None;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the session store cannot be read; using this server's copy");
                }
            }
            drop(session);
            return Some(handle);
        }
        match rows.load(&name).await {
            Ok(Some((version, snapshot))) => {
                let session = ChatSession::restored(*sid, version, snapshot, Instant::now());
                Some(self.adopt(session))
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "a stored session cannot be read");
                None
            }
        }
    }

    /// Takes a session loaded from the store into the registry (counted
    /// under its address, never refused: it exists already); a copy that
    /// another connection loaded meanwhile wins.
    fn adopt(&self, session: ChatSession) -> Handle {
        let mut registry = self.registry();
        let sid = session.crypto.sid();
        if let Some(held) = registry.map.get(&sid) {
            return held.session.clone();
        }
        let address = session.who.client.map(limit_key);
        if let Some(key) = address {
            *registry.per_address.entry(key).or_insert(0) += 1;
        }
        let handle = Arc::new(tokio::sync::Mutex::new(session));
        registry.map.insert(
            sid,
            Held {
                session: handle.clone(),
                address,
            },
        );
        handle
    }

    /// Adds a session to this process's registry only.
    ///
    /// # Errors
    /// As [`Self::insert`].
    pub fn insert_local(&self, session: ChatSession) -> Result<(), Full> {
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
    pub fn get(&self, sid: &SessionId) -> Option<Handle> {
        self.registry().map.get(sid).map(|h| h.session.clone())
    }

    /// Queues messages for a session's patient (see [`ChatSession::pushed`]);
    /// `false` when the session is gone.
    pub async fn push(&self, sid: &SessionId, messages: Vec<ServerMessage>) -> bool {
        let Some(handle) = self.open(sid).await else {
            return false;
        };
        let mut session = handle.lock().await;
        session.pushed.extend(messages);
        if self.save(&mut session).await == Saved::Stale {
            tracing::warn!("a message for a patient met a session that moved meanwhile; it waits in this server's copy");
        }
        session.wake.notify_one();
        true
    }

    /// Forgets a session: its keys are wiped when the last handle drops,
    /// and its row is deleted.
    pub async fn forget(&self, sid: &SessionId) {
        self.registry().remove(sid);
        if let Some(rows) = &self.rows {
            rows.delete(&session_ref(sid)).await;
        }
    }

    /// Forgets this process's copy only (another server has the session).
    pub fn forget_local(&self, sid: &SessionId) {
        self.registry().remove(sid);
    }

    /// Ends every expired session: this process's ([`Self::reap`]) and the
    /// stored rows of any server's. Each ended session is returned once,
    /// across servers (a stored row by the server that deleted it).
    pub async fn end_expired(&self, now: Instant) -> Vec<Requester> {
        let gone = self.reap_held(now);
        let Some(rows) = &self.rows else {
            return gone.into_iter().map(|(who, _)| who).collect();
        };
        let mut ended = Vec::with_capacity(gone.len());
        for (who, version) in gone {
            // A copy whose row moved on belongs to another server now.
            let own = match version {
                None => true,
                Some(version) => rows.delete_version(&who.session, version).await,
            };
            if own {
                ended.push(who);
            }
        }
        match rows.sweep(stored::wall_ms()).await {
            Ok(names) => ended.extend(names.into_iter().map(|session| Requester {
                session,
                client: None,
            })),
            Err(e) => tracing::warn!(error = %e, "expired session rows not swept; next time"),
        }
        ended
    }

    /// Forgets every expired session that no connection is using right now
    /// (a connection checks its own session's deadline itself).
    pub fn reap(&self, now: Instant) -> Vec<Requester> {
        self.reap_held(now)
            .into_iter()
            .map(|(who, _)| who)
            .collect()
    }

    /// [`Self::reap`], with the stored version of each.
    fn reap_held(&self, now: Instant) -> Vec<(Requester, Option<i64>)> {
        let mut registry = self.registry();
        let mut expired = Vec::new();
        for (sid, held) in &registry.map {
            if let Ok(s) = held.session.try_lock() {
                if s.expired(&self.limits, now) {
                    let version = s.lease.version();
                    expired.push((*sid, s.who.clone(), (version > 0).then_some(version)));
                }
            }
        }
        let mut gone = Vec::with_capacity(expired.len());
        for (sid, who, version) in expired {
            registry.remove(&sid);
            gone.push((who, version));
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
        sessions.insert_local(session(1, client, &limits, now)).ok();
        let mut opened = session(2, client, &limits, now);
        let _displaced = opened.attach();
        sessions.insert_local(opened).ok();
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
        assert_eq!(sessions.insert_local(session(1, one, &limits, now)), Ok(()));
        assert_eq!(
            sessions.insert_local(session(2, same_64, &limits, now)),
            Ok(())
        );
        assert_eq!(
            sessions.insert_local(session(3, one, &limits, now)),
            Err(Full::Address)
        );
        assert_eq!(
            sessions.insert_local(session(4, other, &limits, now)),
            Ok(())
        );
        sessions.forget_local(&SessionId([1; 16]));
        assert_eq!(sessions.insert_local(session(5, one, &limits, now)), Ok(()));
    }
}
