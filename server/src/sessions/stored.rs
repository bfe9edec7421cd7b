//! Sessions in the database: what lets any server that shares the database
//! resume any session, and a restarted server lose no chat.
//!
//! Each session is one `live_sessions` row: a sealed [`Snapshot`] of its
//! keys, counters, conversation state and unacknowledged messages, under
//! the session's keyed name (never its id), with a version and the moment
//! it expires. Memory is a cache of the row: a connection that opens on a
//! server whose copy is older than the row (or that has none) loads the
//! row first.
//!
//! # Writes
//! Snapshots go through the chat journal ([`crate::journal`]), the one
//! writer task per server that also appends the transcript: a turn's
//! lines and its session's row commit in one transaction, in the order
//! they were queued, together with whatever else is waiting (group
//! commit). A write names the
//! version its copy last wrote or read (kept in the copy's [`Lease`]); a
//! row that has moved on since (another server took the session) is not
//! overwritten, and the lease says so ([`Lease::moved`]): its connection
//! ends, and sends nothing more.
//!
//! The transport waits for its write before it sends what the write
//! covers, at most [`SAVE_WAIT`]: a locked or failing database delays a
//! reply by that much, never stops it (emergency guidance above all), and
//! the write goes in when it can.
//!
//! # Never the same `seq` twice
//! A frame's nonce is its direction and `seq`, so a server that restored a
//! session from an older snapshot and sealed under a `seq` already used
//! would reuse a nonce under the same key. Two rules rule that out without
//! a database write in front of every frame (which a locked database
//! would turn into a chat that cannot answer an emergency):
//! - a restored session starts sealing [`RESUME_GAP`] above the counter in
//!   its snapshot (the protocol lets the first frame of a connection skip
//!   ahead);
//! - a session seals at most [`MAX_UNSAVED`] (half the gap) frames beyond
//!   the counter of its last stored snapshot; past that it ends.
//!
//! The frame budget (2^20 a direction) allows a thousand restores.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::session::{SessionKeys, SessionState};
use protocol::{Role, ServerMessage, Session, SessionId};
use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use tokio::sync::oneshot;
use zeroize::Zeroizing;

use crate::conversation::ChatState;
use crate::journal::Journal;
use crate::store::write::WriteTx;
use crate::store::{aad, now_ms, values_list, Sealed, Store, StoreError};

/// How far above its snapshot's counter a restored session starts sealing.
pub const RESUME_GAP: u64 = 1024;
/// The most frames a session seals beyond its last stored counter.
pub const MAX_UNSAVED: u64 = RESUME_GAP / 2;
/// How many of the newest unacknowledged messages a snapshot keeps for
/// re-sending. A widget that lost its connection is missing what was in
/// flight, the last reply or two (a reply is one to four messages); the
/// rest of a long connection's outbox it has, though it acknowledges
/// only when it reconnects. A snapshot is written every turn, so every
/// message kept costs every turn: at 32, 1,000 sessions asking twice a
/// second had a p99 of 30–70 ms, at 8 it is 7 ms (`docs/BENCHMARKS.md`).
pub const SNAPSHOT_OUTBOX: usize = 8;
/// The longest the transport waits for a write before it sends: the
/// journal's, since the row's write also stores the turn's lines.
pub const SAVE_WAIT: Duration = crate::journal::DURABLE_WAIT;

/// What one copy of a session knows of its row, shared with the writer
/// (which updates it as writes commit).
#[derive(Debug, Default)]
pub struct Lease {
    /// The row's version this copy wrote or read last; 0 before any.
    version: AtomicI64,
    /// The sending counter of the newest snapshot stored.
    saved_send_seq: AtomicU64,
    /// Writes queued and not yet done.
    pending: AtomicUsize,
    /// The row moved on without this copy: another server has it.
    moved: AtomicBool,
}

impl Lease {
    /// A copy read from the row at `version`, whose counter was `seq`.
    pub(super) fn loaded(version: i64, seq: u64) -> Self {
        let lease = Self::default();
        lease.version.store(version, Ordering::SeqCst);
        lease.saved_send_seq.store(seq, Ordering::SeqCst);
        lease
    }

    /// The version last written or read (0: none).
    pub fn version(&self) -> i64 {
        self.version.load(Ordering::SeqCst)
    }

    /// The sending counter of the newest snapshot stored.
    pub fn saved_send_seq(&self) -> u64 {
        self.saved_send_seq.load(Ordering::SeqCst)
    }

    /// Whether writes are queued.
    pub fn pending(&self) -> bool {
        self.pending.load(Ordering::SeqCst) > 0
    }

    /// Whether another server has the session now.
    pub fn moved(&self) -> bool {
        self.moved.load(Ordering::SeqCst)
    }
}

/// One session as it is written: [`Snapshot`]'s fields, borrowed.
#[derive(Serialize)]
pub(super) struct SnapshotRef<'a> {
    pub c2s: &'a [u8; 32],
    pub s2c: &'a [u8; 32],
    pub next_send_seq: u64,
    pub last_received: Option<u64>,
    pub chat: &'a ChatState,
    pub outbox: Vec<(&'a ServerMessage, Option<u64>)>,
    pub pushed: &'a std::collections::VecDeque<ServerMessage>,
    pub welcomed: bool,
    pub opened: bool,
    pub client: Option<IpAddr>,
    pub created_ms: i64,
    pub last_activity_ms: i64,
}

/// One session as stored (serialized, then sealed).
#[derive(Deserialize)]
pub(super) struct Snapshot {
    pub c2s: [u8; 32],
    pub s2c: [u8; 32],
    pub next_send_seq: u64,
    pub last_received: Option<u64>,
    pub chat: ChatState,
    pub outbox: Vec<(ServerMessage, Option<u64>)>,
    pub pushed: Vec<ServerMessage>,
    pub welcomed: bool,
    pub opened: bool,
    pub client: Option<IpAddr>,
    /// Wall-clock milliseconds.
    pub created_ms: i64,
    pub last_activity_ms: i64,
}

impl Snapshot {
    /// The session's crypto state, moved ahead by [`RESUME_GAP`].
    pub(super) fn crypto(&self, sid: SessionId) -> Session {
        Session::restore(&SessionState {
            sid,
            role: Role::Server,
            keys: SessionKeys {
                c2s: Zeroizing::new(self.c2s),
                s2c: Zeroizing::new(self.s2c),
            },
            next_send_seq: self.next_send_seq.saturating_add(RESUME_GAP),
            last_received: self.last_received,
        })
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        self.c2s.zeroize();
        self.s2c.zeroize();
    }
}

/// An `Instant` as wall-clock milliseconds, and back (for the times a
/// snapshot carries to another server).
pub(super) fn instant_to_ms(at: Instant, now: Instant, now_ms: i64) -> i64 {
    let age = now.saturating_duration_since(at);
    now_ms.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX))
}

/// See [`instant_to_ms`]; a time in the future is now.
pub(super) fn ms_to_instant(ms: i64, now: Instant, now_ms: i64) -> Instant {
    let age = u64::try_from(now_ms.saturating_sub(ms)).unwrap_or(0);
    now.checked_sub(Duration::from_millis(age)).unwrap_or(now)
}

/// What a write came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Stored as this version.
    Written(i64),
    /// The row has moved on (another server took the session), or is
    /// gone (the session ended elsewhere): this copy must stop.
    Stale,
    /// The database failed; the session carries on in memory.
    Failed,
}

/// One sealed snapshot on its way to its row (see [`crate::journal`]).
pub(crate) struct RowWrite {
    name: String,
    lease: Arc<Lease>,
    /// The snapshot's sending counter.
    next_send_seq: u64,
    expires_ms: i64,
    state: Sealed,
}

/// The `live_sessions` rows: reads here, writes through the journal.
#[derive(Clone)]
pub struct Rows {
    store: Store,
    journal: Journal,
}

fn state_aad(name: &str) -> Vec<u8> {
    aad("live_sessions", "state", &[name])
}

/// What a write came to, applied to its copy's lease (the journal calls
/// this once per write, after its transaction ended or was given up).
pub(crate) fn settle(write: &RowWrite, saved: Saved) {
    match saved {
        Saved::Written(version) => {
            write.lease.version.store(version, Ordering::SeqCst);
            write
                .lease
                .saved_send_seq
                .fetch_max(write.next_send_seq, Ordering::SeqCst);
        }
        Saved::Stale => write.lease.moved.store(true, Ordering::SeqCst),
        Saved::Failed => {}
    }
    write.lease.pending.fetch_sub(1, Ordering::SeqCst);
}

impl Rows {
    /// The rows of `store`, written through `journal`.
    #[must_use]
    pub fn new(store: Store, journal: Journal) -> Self {
        Self { store, journal }
    }

    /// Seals a snapshot and queues it for the writer, after the writes
    /// queued before it for the same copy (`lease`); the receiver tells
    /// how it went.
    pub(super) fn save(
        &self,
        name: &str,
        lease: &Arc<Lease>,
        expires_ms: i64,
        snapshot: &SnapshotRef<'_>,
    ) -> oneshot::Receiver<Saved> {
        let failed = || {
            let (done, wait) = oneshot::channel();
            let _ = done.send(Saved::Failed);
            wait
        };
        let Ok(plain) = serde_json::to_vec(snapshot).map(Zeroizing::new) else {
            tracing::error!("a session could not be serialized for the store");
            return failed();
        };
        let Ok(state) = self.store.seal(&state_aad(name), &plain) else {
            return failed();
        };
        lease.pending.fetch_add(1, Ordering::SeqCst);
        self.journal.row(RowWrite {
            name: name.to_owned(),
            lease: lease.clone(),
            next_send_seq: snapshot.next_send_seq,
            expires_ms,
            state,
        })
    }

    /// The stored version of a session, if it has a row.
    pub(super) async fn version(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT version FROM live_sessions WHERE session = $1")
            .bind(name)
            .fetch_optional(self.store.pool())
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// A session's row, opened: its version and snapshot.
    pub(super) async fn load(&self, name: &str) -> Result<Option<(i64, Snapshot)>, StoreError> {
        let Some(row) = sqlx::query("SELECT version, state FROM live_sessions WHERE session = $1")
            .bind(name)
            .fetch_optional(self.store.pool())
            .await?
        else {
            return Ok(None);
        };
        let version: i64 = row.try_get(0)?;
        let sealed = Sealed::from_stored(row.try_get(1)?);
        let plain = self.store.unseal(&state_aad(name), &sealed)?;
        let snapshot = serde_json::from_slice(&plain).map_err(|_| StoreError::Encoding)?;
        Ok(Some((version, snapshot)))
    }

    /// Deletes a session's row (it ended).
    pub(super) async fn delete(&self, name: &str) {
        if let Err(e) = sqlx::query("DELETE FROM live_sessions WHERE session = $1")
            .bind(name)
            .execute(self.store.pool())
            .await
        {
            tracing::warn!(error = %e, "an ended session's row could not be deleted; it is swept when it expires");
        }
    }

    /// Deletes a session's row if it is still at `version`; whether it was.
    pub(super) async fn delete_version(&self, name: &str, version: i64) -> bool {
        match sqlx::query("DELETE FROM live_sessions WHERE session = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .execute(self.store.pool())
            .await
        {
            Ok(done) => done.rows_affected() == 1,
            Err(e) => {
                tracing::warn!(error = %e, "an expired session's row could not be deleted; it is swept later");
                false
            }
        }
    }

    /// Deletes the rows of sessions expired at `now_ms` and returns their
    /// names: each row is deleted by one server only, so its end is
    /// recorded once.
    pub(super) async fn sweep(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("DELETE FROM live_sessions WHERE expires_at < $1 RETURNING session")
            .bind(now_ms)
            .fetch_all(self.store.pool())
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }
}

/// The most rows one `INSERT` or `UPDATE` statement writes (3 or 4
/// parameters each).
const ROWS_PER_STATEMENT: usize = 200;

fn lease_key(write: &RowWrite) -> usize {
    Arc::as_ptr(&write.lease).addr()
}

/// Writes `batch` inside `tx` (the journal's transaction); one result per
/// write. Leases change only once the transaction has committed
/// ([`settle`]).
///
/// Only the newest write of each copy is written: it holds everything
/// the older ones held, and they share its result. First writes
/// (`INSERT`) and later ones (`UPDATE`) go in a few multi-row statements
/// rather than one each (the writer's time goes on statements, not on
/// bytes). Two
/// different copies of one session in one batch (a copy that was just
/// replaced) are written one by one, in order, so that the older is
/// refused.
pub(crate) async fn write_rows(
    tx: &mut WriteTx,
    batch: &[&RowWrite],
) -> Result<Vec<Saved>, StoreError> {
    let mut newest: HashMap<usize, usize> = HashMap::new();
    for (i, write) in batch.iter().enumerate() {
        newest.insert(lease_key(write), i);
    }
    let mut written: Vec<usize> = newest.values().copied().collect();
    written.sort_unstable();
    let mut names = std::collections::HashSet::new();
    if !written
        .iter()
        .all(|&i| names.insert(batch[i].name.as_str()))
    {
        return write_rows_in_order(tx, batch).await;
    }
    let mut results = vec![Saved::Failed; batch.len()];
    let mut inserts = Vec::new();
    let mut updates = Vec::new();
    for &i in &written {
        let write = batch[i];
        match (write.lease.version(), write.lease.moved()) {
            (_, true) => results[i] = Saved::Stale,
            (0, false) => inserts.push(i),
            (read, false) => updates.push((i, read)),
        }
    }
    for chunk in inserts.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO live_sessions (session, version, expires_at, state) VALUES {} \
             ON CONFLICT (session) DO NOTHING RETURNING session",
            values_list(chunk.len(), 3, Some("1"))
        );
        let mut query = sqlx::query(&sql);
        for &i in chunk {
            let write = batch[i];
            query = query
                .bind(write.name.as_str())
                .bind(write.expires_ms)
                .bind(write.state.as_stored());
        }
        let inserted: std::collections::HashSet<String> = query
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        for &i in chunk {
            results[i] = if inserted.contains(&batch[i].name) {
                Saved::Written(1)
            } else {
                Saved::Stale
            };
        }
    }
    for chunk in updates.chunks(ROWS_PER_STATEMENT) {
        // A bare VALUES list names its columns column1, column2, … on
        // SQLite and PostgreSQL alike.
        let sql = format!(
            "UPDATE live_sessions SET version = version + 1, expires_at = v.column3, state = v.column4 \
             FROM (VALUES {}) AS v WHERE session = v.column1 AND version = v.column2 RETURNING session",
            values_list(chunk.len(), 4, None)
        );
        let mut query = sqlx::query(&sql);
        for &(i, read) in chunk {
            let write = batch[i];
            query = query
                .bind(write.name.as_str())
                .bind(read)
                .bind(write.expires_ms)
                .bind(write.state.as_stored());
        }
        let updated: std::collections::HashSet<String> = query
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        for &(i, read) in chunk {
            results[i] = if updated.contains(&batch[i].name) {
                Saved::Written(read + 1)
            } else {
                Saved::Stale
            };
        }
    }
    for (i, write) in batch.iter().enumerate() {
        results[i] = results[newest[&lease_key(write)]];
    }
    Ok(results)
}

/// Whether the session's row holds `write` (its sealed state is unique:
/// every seal has a fresh nonce): a transaction whose `COMMIT` got no
/// answer took effect.
///
/// # Errors
/// When the database fails.
pub(crate) async fn row_holds(store: &Store, write: &RowWrite) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT state FROM live_sessions WHERE session = $1")
        .bind(&write.name)
        .fetch_optional(store.pool())
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<String, _>(0)? == write.state.as_stored(),
        None => false,
    })
}

/// A session's first write.
async fn insert_row(tx: &mut WriteTx, write: &RowWrite) -> Result<Saved, StoreError> {
    let done = sqlx::query(
        "INSERT INTO live_sessions (session, version, expires_at, state) VALUES ($1, 1, $2, $3) ON CONFLICT (session) DO NOTHING",
    )
    .bind(&write.name)
    .bind(write.expires_ms)
    .bind(write.state.as_stored())
    .execute(&mut **tx)
    .await?;
    Ok(if done.rows_affected() == 1 {
        Saved::Written(1)
    } else {
        Saved::Stale
    })
}

/// [`write_rows`] one write at a time, in order.
async fn write_rows_in_order(
    tx: &mut WriteTx,
    batch: &[&RowWrite],
) -> Result<Vec<Saved>, StoreError> {
    let mut results = Vec::with_capacity(batch.len());
    // Versions as this transaction leaves them (two writes of one copy in
    // one batch chain), applied to the leases only once it commits.
    let mut versions: HashMap<usize, i64> = HashMap::new();
    for write in batch {
        let key = lease_key(write);
        let read = *versions.entry(key).or_insert_with(|| write.lease.version());
        let saved = match (read, write.lease.moved()) {
            (_, true) => Saved::Stale,
            (0, false) => insert_row(tx, write).await?,
            (read, false) => {
                let done = sqlx::query(
                    "UPDATE live_sessions SET version = version + 1, expires_at = $1, state = $2 WHERE session = $3 AND version = $4",
                )
                .bind(write.expires_ms)
                .bind(write.state.as_stored())
                .bind(&write.name)
                .bind(read)
                .execute(&mut **tx)
                .await?;
                if done.rows_affected() == 1 {
                    Saved::Written(read + 1)
                } else {
                    Saved::Stale
                }
            }
        };
        if let Saved::Written(version) = saved {
            versions.insert(key, version);
        }
        results.push(saved);
    }
    Ok(results)
}

/// The wall-clock now, for snapshots.
pub(super) fn wall_ms() -> i64 {
    now_ms()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::VecDeque;

    use super::*;

    async fn rows() -> (tempfile::TempDir, Rows) {
        let (dir, store, journal) = crate::journal::tests::journal().await;
        (dir, Rows::new(store, journal))
    }

    #[tokio::test]
    async fn an_older_copy_cannot_overwrite_the_row_and_learns_it_has_moved() {
        let (_dir, rows) = rows().await;
        let chat = ChatState::default();
        let pushed = VecDeque::new();
        let snapshot = |next_send_seq| SnapshotRef {
            c2s: &[1; 32],
            s2c: &[2; 32],
            next_send_seq,
            last_received: None,
            chat: &chat,
            outbox: Vec::new(),
            pushed: &pushed,
            welcomed: true,
            opened: true,
            client: None,
            created_ms: 0,
            last_activity_ms: 0,
        };
        let first = Arc::new(Lease::default());
        let saved = rows
            .save("s", &first, i64::MAX, &snapshot(1))
            .await
            .unwrap();
        assert_eq!(saved, Saved::Written(1));
        assert_eq!(first.saved_send_seq(), 1);

        // Another server loads the row, carries on, and writes.
        let (version, loaded) = rows.load("s").await.unwrap().unwrap();
        assert_eq!(version, 1);
        let moved_on = loaded.crypto(SessionId([7; 16]));
        assert_eq!(moved_on.next_send_seq(), 1 + RESUME_GAP);
        let second = Arc::new(Lease::loaded(version, moved_on.next_send_seq()));
        let saved = rows
            .save(
                "s",
                &second,
                i64::MAX,
                &snapshot(moved_on.next_send_seq() + 3),
            )
            .await
            .unwrap();
        assert_eq!(saved, Saved::Written(2));

        // The first server's copy is older: its write is refused, and it
        // knows to stop.
        let saved = rows
            .save("s", &first, i64::MAX, &snapshot(2))
            .await
            .unwrap();
        assert_eq!(saved, Saved::Stale);
        assert!(first.moved());
        assert!(!second.moved());
        let (version, kept) = rows.load("s").await.unwrap().unwrap();
        assert_eq!(version, 2);
        assert_eq!(kept.next_send_seq, 1 + RESUME_GAP + 3);
    }

    #[tokio::test]
    async fn an_expired_row_is_swept_once() {
        let (_dir, rows) = rows().await;
        let chat = ChatState::default();
        let pushed = VecDeque::new();
        let snapshot = SnapshotRef {
            c2s: &[1; 32],
            s2c: &[2; 32],
            next_send_seq: 0,
            last_received: None,
            chat: &chat,
            outbox: Vec::new(),
            pushed: &pushed,
            welcomed: false,
            opened: false,
            client: None,
            created_ms: 0,
            last_activity_ms: 0,
        };
        let now = wall_ms();
        for (name, expires) in [("gone", now - 1), ("live", now + 60_000)] {
            let lease = Arc::new(Lease::default());
            rows.save(name, &lease, expires, &snapshot).await.unwrap();
        }
        assert_eq!(rows.sweep(now).await.unwrap(), ["gone"]);
        assert!(rows.sweep(now).await.unwrap().is_empty());
        assert!(rows.version("live").await.unwrap().is_some());
    }
}
