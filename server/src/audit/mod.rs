//! The audit log: append-only and tamper-evident.
//!
//! One [`AuditEvent`] per handshake, consent, verification step, PHI read
//! or write, EHR error and session end. An event names who (an [`Actor`]),
//! what ([`AuditAction`]), which record (resource type and id, never a PHI
//! value), the [`AuditOutcome`], the client address and the session's keyed
//! name ([`session_digest`]); the log adds the time and position.
//!
//! # Who may read it
//! An event pairs a patient's session (and, through PHI events, the
//! records it touched) with the client's address, which compliance needs.
//! The table is therefore access-controlled: only the server and, in the
//! console, the compliance role read it ([`crate::console`]); at rest the
//! session is named only by its keyed digest, which nobody without the
//! store's keys can link to a session id seen elsewhere (proxy logs).
//!
//! # Tamper evidence
//! Events are numbered from 1; each stores the SHA-256 of its canonical
//! encoding ([`chain::StoredEvent::canonical`]), which covers the previous
//! event's hash. Every `checkpoint_every` events (default 100; a checkpoint
//! at each multiple is required, so a missing one is tampering), on
//! [`AuditLog::checkpoint`] (shutdown) and at start-up after an unclean stop
//! ([`AuditLog::recover`]), the head hash is signed into
//! `audit_checkpoints`. After every append the signed head is also written
//! to the anchor file outside the database, when one is configured
//! ([`anchor`]). [`AuditLog::verify`] recomputes the chain, the signatures,
//! the required checkpoints and the anchored head, and names the first
//! altered, removed or reordered event (see [`verify`] for what each attack
//! leaves).
//!
//! # The audit signing key
//! Checkpoints and anchor lines are signed with a key of their own, not
//! the server's internet-facing identity key: a P-256 key generated on
//! first start and stored in `data_keys` wrapped by the master key, like
//! the data keys ([`crate::store::Store::audit_signing_key`]). Stored
//! there rather than as another file in the data directory so that every
//! server sharing a database signs with the same key, `carechat keys
//! rotate` re-wraps it, and whoever can write the database (or copy the
//! data directory, when the master key comes from `CARECHAT_MASTER_KEY`)
//! cannot sign a rewritten chain. `carechat audit verify` opens the store
//! with the master key to learn its public half. Checkpoints signed before
//! this key existed (by the identity key) are reported as signed by an
//! unknown key.
//!
//! # Failing closed
//! [`AuditLog::record`] returns an error when the event (or its anchor
//! line) could not be written; PHI access ([`crate::records`]) is refused
//! then. [`AuditLog::record_or_log`] is for events around the access that
//! must not stop the chat (a handshake, a session end).
//!
//! # Group commit
//! Appends from one process are committed in batches: whoever finds no
//! commit under way becomes the writer and commits every event waiting at
//! that moment (up to [`MAX_BATCH`]) in one transaction, one head update and
//! one anchor line; the events that arrive meanwhile wait for the next
//! batch. Each caller's [`AuditLog::record`] returns once the transaction
//! holding its event has committed, so an acknowledged event is durable,
//! while a thousand concurrent events cost a few transactions, not a
//! thousand queued on one write lock.
//!
//! # Appends across processes
//! Several servers may share one PostgreSQL database. A batch is one
//! transaction that locks the single `audit_head` row (`SELECT ... FOR
//! UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), inserts the events
//! and moves the head with a compare-and-swap; conflicts are retried a
//! bounded number of times.
//!
//! # Layout
//! - [`chain`]: the hashed and signed byte formats.
//! - [`verify`]: recomputing the chain, checkpoints and anchored head.
//! - [`anchor`]: signed heads appended to a file outside the database.
//! - [`config`]: the `[audit]` settings.
//! - [`recovery`]: start-up after an unclean stop.
//! - [`fhir`]: export as FHIR R4 `AuditEvent` NDJSON.
//! - [`search`]: finding events by actor, action, entity, outcome and time.

pub mod anchor;
pub mod chain;
pub mod config;
pub mod fhir;
pub mod recovery;
pub mod search;
pub mod verify;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine as _;
use protocol::IdentityKey;
use sqlx::Row as _;

use crate::clock::{Clock, SystemClock};
use crate::store::{Backend, Store, StoreError};
pub use chain::{StoredEvent, GENESIS_HASH};
pub use config::{AuditConfig, RawAudit};
pub use recovery::{Recovered, RecoveryPolicy};
pub use verify::{
    verify_log, verify_log_with, AnchorProblem, ChainProblem, CheckpointProblem, VerifyOptions,
    VerifyReport,
};

/// How many times an append is retried when another writer got there first.
const MAX_ATTEMPTS: u32 = 20;
/// Default events between signed checkpoints.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 100;

/// Audit problems.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed.
    #[error("audit database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Other writers kept winning.
    #[error("could not append to the audit log after {0} attempts (contention)")]
    Contention(u32),
    /// The batch holding this event failed to commit, for this reason (the
    /// same for every event in it).
    #[error("{0}")]
    Batch(Arc<AuditError>),
    /// The log's bookkeeping is missing or unreadable (not an event problem:
    /// those are reported by [`AuditLog::verify`]).
    #[error("audit log is damaged: {0}")]
    Damaged(String),
    /// Writing an export failed.
    #[error("cannot write the audit export: {0}")]
    Io(#[from] std::io::Error),
    /// The event is in the database but its signed head could not be
    /// written to the anchor file.
    #[error("cannot write the audit anchor file {path}: {source}")]
    Anchor {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The patient at the other end of a chat session.
    PatientSession,
    /// A staff user, by user id.
    Staff(String),
    /// The server itself.
    System,
}

impl Actor {
    /// The stored text: `patient`, `staff:<id>` or `system`.
    #[must_use]
    pub fn stored(&self) -> String {
        match self {
            Self::PatientSession => "patient".into(),
            Self::Staff(id) => format!("staff:{id}"),
            Self::System => "system".into(),
        }
    }

    /// Parses [`Self::stored`] text.
    #[must_use]
    pub fn from_stored(text: &str) -> Option<Self> {
        match text {
            "patient" => Some(Self::PatientSession),
            "system" => Some(Self::System),
            _ => text
                .strip_prefix("staff:")
                .map(|id| Self::Staff(id.to_owned())),
        }
    }
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The stable stored name.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }

            /// Parses [`Self::name`].
            #[must_use]
            pub fn from_name(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named_enum! {
    /// What happened. The dotted names are stored: never rename one.
    AuditAction {
        /// A chat session was established.
        Handshake => "handshake",
        /// The patient accepted the notice.
        ConsentAccepted => "consent.accepted",
        /// The patient declined the notice.
        ConsentDeclined => "consent.declined",
        /// Identity verification began.
        VerificationStart => "verification.start",
        /// A one-time code was sent.
        VerificationCodeSent => "verification.code_sent",
        /// The patient was verified.
        VerificationSuccess => "verification.success",
        /// A wrong code or unmatched details.
        VerificationFailure => "verification.failure",
        /// Too many failures: locked out.
        VerificationLockout => "verification.lockout",
        /// PHI was read.
        PhiRead => "phi.read",
        /// PHI was written.
        PhiWrite => "phi.write",
        /// The EHR failed.
        EhrError => "ehr.error",
        /// A session ended.
        SessionEnd => "session.end",
        /// A staff member signed in to the console.
        StaffSignIn => "staff.sign_in",
        /// A staff sign-in was refused (which factor is never recorded).
        StaffSignInFailed => "staff.sign_in_failed",
        /// A staff member signed out.
        StaffSignOut => "staff.sign_out",
        /// A staff account was created.
        StaffAccountCreated => "staff.account_created",
        /// A staff member's role was changed.
        StaffRoleChanged => "staff.role_changed",
        /// A staff member signed in to the console with a passkey (user
        /// verified: both factors). Failures are `staff.sign_in_failed`.
        StaffSignInPasskey => "staff.sign_in_passkey",
        /// A staff member registered a passkey for their account.
        StaffPasskeyAdded => "staff.passkey_added",
        /// A staff member removed one of their passkeys.
        StaffPasskeyRemoved => "staff.passkey_removed",
        /// A staff member read a conversation (before or while owning it).
        TranscriptRead => "handoff.transcript_read",
        /// A staff member picked a conversation up from the queue.
        HandoffPickup => "handoff.pickup",
        /// A staff member sent the patient a message.
        StaffMessage => "handoff.staff_message",
        /// A staff member handed a conversation back to the assistant.
        HandoffReturned => "handoff.returned",
        /// A staff member closed a conversation.
        HandoffClosed => "handoff.closed",
        /// An admin disabled a staff account (its sessions end).
        StaffAccountDisabled => "staff.account_disabled",
        /// An admin enabled a disabled staff account again.
        StaffAccountEnabled => "staff.account_enabled",
        /// An admin gave a staff account a new TOTP secret.
        StaffTotpReset => "staff.totp_reset",
        /// An admin unlocked a staff account locked by failed sign-ins.
        StaffAccountUnlocked => "staff.account_unlocked",
        /// An admin changed the staffed hours (entity: the days changed).
        SettingsStaffedHours => "settings.staffed_hours",
        /// An admin edited an FAQ entry (entity: its intent and the fields).
        SettingsFaqEntry => "settings.faq_entry",
        /// An admin added a canned response.
        SettingsCannedAdded => "settings.canned_added",
        /// An admin changed a canned response.
        SettingsCannedChanged => "settings.canned_changed",
        /// An admin deleted a canned response.
        SettingsCannedDeleted => "settings.canned_deleted",
        /// A compliance officer searched the audit log.
        AuditSearched => "audit.searched",
        /// A compliance officer verified the audit log.
        AuditVerified => "audit.verified",
        /// A compliance officer exported audit events.
        AuditExported => "audit.exported",
        /// Front desk unlocked a patient's verification: the patient phoned.
        UnlockPhoneCall => "verification.unlocked.phone_call",
        /// Front desk unlocked a patient's verification: at the desk.
        UnlockInPerson => "verification.unlocked.in_person",
        /// Front desk unlocked a patient's verification: the failed
        /// attempts were not the patient's.
        UnlockNotTheirAttempts => "verification.unlocked.not_their_attempts",
    }
}

named_enum! {
    /// How it ended.
    AuditOutcome {
        /// It worked.
        Success => "success",
        /// It did not (a wrong code, no match).
        Failure => "failure",
        /// It was refused (locked out, not verified).
        Denied => "denied",
        /// Something broke (the EHR was down).
        Error => "error",
        /// It was cut short: the server stopped (crashed or restarted)
        /// before the session ended, and start-up recorded the end.
        Interrupted => "interrupted",
    }
}

/// One thing to record. The log adds the time, position and hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: AuditAction,
    /// Which record: resource type and id, e.g. `("Appointment", "a1")`.
    /// Never a PHI value.
    pub entity: Option<(String, String)>,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The client's address.
    pub client_addr: Option<IpAddr>,
    /// The session's keyed name ([`session_digest`]), never the id
    /// itself.
    pub session: Option<String>,
}

impl AuditEvent {
    /// An event with no entity, address or session.
    #[must_use]
    pub fn new(actor: Actor, action: AuditAction, outcome: AuditOutcome) -> Self {
        Self {
            actor,
            action,
            entity: None,
            outcome,
            client_addr: None,
            session: None,
        }
    }

    /// Names the record acted on.
    #[must_use]
    pub fn with_entity(mut self, resource_type: &str, id: &str) -> Self {
        self.entity = Some((resource_type.to_owned(), id.to_owned()));
        self
    }

    /// Sets the client address.
    #[must_use]
    pub fn with_client(mut self, addr: IpAddr) -> Self {
        self.client_addr = Some(addr);
        self
    }

    /// Sets the session from its id (digested here).
    #[must_use]
    pub fn with_session_id(mut self, session_id: &str) -> Self {
        self.session = Some(session_digest(session_id));
        self
    }
}

/// The name a session goes by at rest, in the log and everywhere else: a
/// keyed one-way digest of its id (HMAC-SHA-256 under the store's
/// session-name key, hex of 16 bytes; [`crate::store::names`]). It links
/// one session's rows for whoever holds the key, and cannot be recomputed
/// from the id by anyone else (proxy logs show ids). Events recorded
/// before the key existed keep their unkeyed SHA-256 digests.
#[must_use]
pub fn session_digest(session_id: &str) -> String {
    crate::store::names::process().name(session_id)
}

/// The most events one transaction commits.
pub const MAX_BATCH: usize = 512;

/// The audit log. Cheap to clone; clones share one batch queue.
#[derive(Clone)]
pub struct AuditLog {
    store: Store,
    signer: Arc<IdentityKey>,
    clock: Arc<dyn Clock>,
    checkpoint_every: u64,
    observer: Arc<str>,
    anchor: Option<Arc<anchor::Anchor>>,
    batches: Arc<Batches>,
}

/// Events waiting for a commit, and the turn to commit them.
#[derive(Default)]
struct Batches {
    /// Appended to by every caller, emptied by the writer of the moment.
    waiting: std::sync::Mutex<Vec<Waiting>>,
    /// Held by the one batch being committed (tokio's mutex is fair:
    /// callers take turns in arrival order).
    turn: Arc<tokio::sync::Mutex<()>>,
}

/// One caller's event and where its outcome goes.
struct Waiting {
    event: AuditEvent,
    done: tokio::sync::oneshot::Sender<Result<u64, Arc<AuditError>>>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("key_id", &self.signer.public().key_id())
            .field("checkpoint_every", &self.checkpoint_every)
            .field("anchor", &self.anchor.as_ref().map(|a| a.path()))
            .finish_non_exhaustive()
    }
}

enum Attempt {
    /// Committed: the first event's position, then the last one's position
    /// and hash.
    Done(u64, u64, String),
    Conflict,
}

impl AuditLog {
    /// A log in `store`, signing checkpoints with `signer` (the audit
    /// signing key, [`Store::audit_signing_key`]), timed by the system
    /// clock.
    pub fn new(store: Store, signer: impl Into<Arc<IdentityKey>>) -> Self {
        Self {
            store,
            signer: signer.into(),
            clock: Arc::new(SystemClock),
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            observer: Arc::from("CareChat"),
            anchor: None,
            batches: Arc::default(),
        }
    }

    /// The log as `config` sets it up: the store's audit signing key, the
    /// checkpoint interval and the anchor file.
    ///
    /// # Errors
    /// When the stored audit key is unusable.
    pub fn configured(store: Store, config: &AuditConfig) -> Result<Self, AuditError> {
        let (key, generated) = store.audit_signing_key()?;
        let public = key.public();
        if generated {
            tracing::info!(
                key_id = public.key_id(),
                public_key = public.to_b64u(),
                "generated the audit signing key (stored sealed by the master key)"
            );
        }
        let mut log = Self::new(store, key).with_checkpoint_every(config.checkpoint_every);
        if let Some(path) = &config.anchor_file {
            log = log.with_anchor(path);
        }
        Ok(log)
    }

    /// Appends every signed head to `path` too ([`anchor`]).
    #[must_use]
    pub fn with_anchor(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.anchor = Some(Arc::new(anchor::Anchor::new(path)));
        self
    }

    /// The key checkpoints are signed with.
    #[must_use]
    pub fn public_key(&self) -> protocol::IdentityPublicKey {
        self.signer.public()
    }

    /// Writes the signed head `seq`/`hash` to the anchor file, if any.
    fn anchor_head(&self, seq: i64, hash: &str) -> Result<(), AuditError> {
        let Some(anchor) = &self.anchor else {
            return Ok(());
        };
        let at = self.clock.now().timestamp_millis();
        anchor
            .append(&self.signer, seq, at, hash)
            .map_err(|source| AuditError::Anchor {
                path: anchor.path().to_path_buf(),
                source,
            })
    }

    /// Uses another clock for event times.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Signs a checkpoint every `n` events (at least 1).
    #[must_use]
    pub fn with_checkpoint_every(mut self, n: u64) -> Self {
        self.checkpoint_every = n.max(1);
        self
    }

    /// Names the server in exports (FHIR `source.observer`), e.g. the clinic.
    #[must_use]
    pub fn with_observer(mut self, observer: &str) -> Self {
        self.observer = Arc::from(observer);
        self
    }

    /// The store the log lives in.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Records an event for a caller that must carry on either way (a
    /// handshake, a session end; never a PHI access, which
    /// [`crate::records`] refuses when [`Self::record`] fails): a failure
    /// is logged, without content, and not returned.
    pub async fn record_or_log(&self, event: AuditEvent) {
        if let Err(e) = self.record(event).await {
            tracing::error!(error = %e, "audit event could not be recorded");
        }
    }

    /// Appends an event and returns its position once it is committed and
    /// its signed head anchored (see the module's "Group commit").
    ///
    /// # Errors
    /// [`AuditError`] when the database or the anchor file fails or
    /// contention persists; an event whose batch failed gets
    /// [`AuditError::Batch`] with the cause. The event is then not in the
    /// log, unless the cause is [`AuditError::Anchor`] (committed, not
    /// anchored).
    pub async fn record(&self, event: AuditEvent) -> Result<u64, AuditError> {
        let (done, mut outcome) = tokio::sync::oneshot::channel();
        lock(&self.batches.waiting).push(Waiting { event, done });
        loop {
            let turn = self.batches.turn.clone().lock_owned().await;
            // An earlier writer may have committed this event already.
            match outcome.try_recv() {
                Ok(result) => return result.map_err(AuditError::Batch),
                Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                    return Err(AuditError::Damaged("an audit batch was abandoned".into()));
                }
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
            }
            let batch: Vec<Waiting> = {
                let mut waiting = lock(&self.batches.waiting);
                let take = waiting.len().min(MAX_BATCH);
                waiting.drain(..take).collect()
            };
            // Committed by a task of its own, holding the turn, so that a
            // caller that goes away (a cancelled request) abandons nobody
            // else's event half-way.
            let log = self.clone();
            let commit = tokio::spawn(async move {
                let events: Vec<&AuditEvent> = batch.iter().map(|w| &w.event).collect();
                let result = log.commit_batch(&events).await.map_err(Arc::new);
                for (i, waiting) in batch.into_iter().enumerate() {
                    let seq = result.clone().map(|first| first + i as u64);
                    let _ = waiting.done.send(seq);
                }
                drop(turn);
            });
            let _ = commit.await;
        }
    }

    /// Commits `events` in one transaction, retrying conflicts with other
    /// processes; returns the first event's position.
    async fn commit_batch(&self, events: &[&AuditEvent]) -> Result<u64, AuditError> {
        for attempt in 1..=MAX_ATTEMPTS {
            match self.try_commit(events).await {
                Ok(Attempt::Done(first, last, hash)) => {
                    let position = i64::try_from(last).unwrap_or(i64::MAX);
                    self.anchor_head(position, &hash)?;
                    return Ok(first);
                }
                Ok(Attempt::Conflict) => {}
                Err(AuditError::Database(e)) if crate::store::is_conflict(&e) => {}
                Err(AuditError::Store(StoreError::Database(e)))
                    if crate::store::is_conflict(&e) => {}
                Err(e) => return Err(e),
            }
            tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 5 + jitter_ms())).await;
        }
        Err(AuditError::Contention(MAX_ATTEMPTS))
    }

    async fn try_commit(&self, events: &[&AuditEvent]) -> Result<Attempt, AuditError> {
        let mut tx = self.store.begin_write().await?;
        let (head_seq, mut prev_hash) = read_head(&mut tx, self.store.backend()).await?;
        let at = self.clock.now().timestamp_millis();
        let mut seq = head_seq;
        for event in events {
            seq += 1;
            let mut stored = StoredEvent {
                seq,
                at,
                actor: event.actor.stored(),
                action: event.action.name().to_owned(),
                entity_type: event.entity.as_ref().map(|(t, _)| t.clone()),
                entity_id: event.entity.as_ref().map(|(_, id)| id.clone()),
                outcome: event.outcome.name().to_owned(),
                client_addr: event.client_addr.map(|a| a.to_string()),
                session: event.session.clone(),
                prev_hash,
                hash: String::new(),
            };
            stored.hash = stored.compute_hash();
            sqlx::query(
                "INSERT INTO audit_events (seq, at, actor, action, entity_type, entity_id, outcome, client_addr, session, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(stored.seq)
            .bind(stored.at)
            .bind(&stored.actor)
            .bind(&stored.action)
            .bind(&stored.entity_type)
            .bind(&stored.entity_id)
            .bind(&stored.outcome)
            .bind(&stored.client_addr)
            .bind(&stored.session)
            .bind(&stored.prev_hash)
            .bind(&stored.hash)
            .execute(&mut *tx)
            .await?;
            let seq_u =
                u64::try_from(seq).map_err(|_| AuditError::Damaged("negative seq".into()))?;
            if seq_u % self.checkpoint_every == 0 {
                self.insert_checkpoint(&mut tx, seq, &stored.hash).await?;
            }
            prev_hash = stored.hash;
        }
        let moved =
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3")
                .bind(seq)
                .bind(&prev_hash)
                .bind(head_seq)
                .execute(&mut *tx)
                .await?;
        if moved.rows_affected() != 1 {
            return Ok(Attempt::Conflict);
        }
        tx.commit().await?;
        let first =
            u64::try_from(head_seq + 1).map_err(|_| AuditError::Damaged("negative seq".into()))?;
        let last = u64::try_from(seq).map_err(|_| AuditError::Damaged("negative seq".into()))?;
        Ok(Attempt::Done(first, last, prev_hash))
    }

    async fn insert_checkpoint(
        &self,
        tx: &mut crate::store::write::WriteTx,
        seq: i64,
        hash: &str,
    ) -> Result<(), AuditError> {
        let at = self.clock.now().timestamp_millis();
        let signature = self.signer.sign(&chain::checkpoint_message(seq, at, hash));
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, at, hash, key_id, signature) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING",
        )
        .bind(seq)
        .bind(at)
        .bind(hash)
        .bind(self.signer.public().key_id())
        .bind(B64U.encode(signature))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Signs a checkpoint at the current head now (e.g. at shutdown).
    /// Returns its position, or `None` for an empty log.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn checkpoint(&self) -> Result<Option<u64>, AuditError> {
        let mut tx = self.store.begin_write().await?;
        let (seq, hash) = read_head(&mut tx, self.store.backend()).await?;
        if seq == 0 {
            return Ok(None);
        }
        self.insert_checkpoint(&mut tx, seq, &hash).await?;
        tx.commit().await?;
        self.anchor_head(seq, &hash)?;
        Ok(u64::try_from(seq).ok())
    }

    /// Recomputes the chain and checks checkpoints (at this log's interval)
    /// and the anchor file, if any, against this log's signing key.
    ///
    /// # Errors
    /// When the database fails (tampering is reported, not an error).
    pub async fn verify(&self) -> Result<VerifyReport, AuditError> {
        let trusted = [self.signer.public()];
        verify_log_with(
            &self.store,
            &VerifyOptions {
                trusted: &trusted,
                checkpoint_every: self.checkpoint_every,
                anchor_file: self.anchor.as_ref().map(|a| a.path()),
            },
        )
        .await
    }

    /// Writes every event as a FHIR R4 `AuditEvent`, one JSON per line.
    /// Returns how many were written.
    ///
    /// # Errors
    /// When the database or the writer fails.
    pub async fn export_fhir(&self, out: &mut impl std::io::Write) -> Result<u64, AuditError> {
        fhir::export(&self.store, &self.observer, out).await
    }
}

/// The waiting list's lock; a panic while holding it leaves the list
/// itself intact (pushes and drains are single calls), so it is taken anyway.
fn lock(waiting: &std::sync::Mutex<Vec<Waiting>>) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
    waiting
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn jitter_ms() -> u64 {
    let mut byte = [0u8; 1];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut byte);
    u64::from(byte[0] % 8)
}

async fn read_head(
    tx: &mut crate::store::write::WriteTx,
    backend: Backend,
) -> Result<(i64, String), AuditError> {
    let sql = match backend {
        Backend::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
        Backend::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
    };
    let row = sqlx::query(sql)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| AuditError::Damaged("the audit_head row is missing".into()))?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Reads events with `seq > after`, at most `limit`, in order.
pub(crate) async fn read_events(
    store: &Store,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, AuditError> {
    let rows = sqlx::query(&format!(
        "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(stored_event)
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AuditError::from)
}

/// The columns every event query selects, in [`stored_event`]'s order.
pub(crate) const EVENT_COLUMNS: &str =
    "seq, at, actor, action, entity_type, entity_id, outcome, client_addr, session, prev_hash, hash";

/// An event from a row of [`EVENT_COLUMNS`].
pub(crate) fn stored_event(row: &sqlx::any::AnyRow) -> Result<StoredEvent, sqlx::Error> {
    Ok(StoredEvent {
        seq: row.try_get(0)?,
        at: row.try_get(1)?,
        actor: row.try_get(2)?,
        action: row.try_get(3)?,
        entity_type: row.try_get(4)?,
        entity_id: row.try_get(5)?,
        outcome: row.try_get(6)?,
        client_addr: row.try_get(7)?,
        session: row.try_get(8)?,
        prev_hash: row.try_get(9)?,
        hash: row.try_get(10)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_the_documented_ones() {
        let names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            [
                "handshake",
                "consent.accepted",
                "consent.declined",
                "verification.start",
                "verification.code_sent",
                "verification.success",
                "verification.failure",
                "verification.lockout",
                "phi.read",
                "phi.write",
                "ehr.error",
                "session.end",
                "staff.sign_in",
                "staff.sign_in_failed",
                "staff.sign_out",
                "staff.account_created",
                "staff.role_changed",
                "staff.sign_in_passkey",
                "staff.passkey_added",
                "staff.passkey_removed",
                "handoff.transcript_read",
                "handoff.pickup",
                "handoff.staff_message",
                "handoff.returned",
                "handoff.closed",
                "staff.account_disabled",
                "staff.account_enabled",
                "staff.totp_reset",
                "staff.account_unlocked",
                "settings.staffed_hours",
                "settings.faq_entry",
                "settings.canned_added",
                "settings.canned_changed",
                "settings.canned_deleted",
                "audit.searched",
                "audit.verified",
                "audit.exported",
                "verification.unlocked.phone_call",
                "verification.unlocked.in_person",
                "verification.unlocked.not_their_attempts",
            ]
        );
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::from_name(a.name()), Some(*a));
        }
        for o in AuditOutcome::ALL {
            assert_eq!(AuditOutcome::from_name(o.name()), Some(*o));
        }
        for actor in [
            Actor::PatientSession,
            Actor::System,
            Actor::Staff("u7".into()),
        ] {
            assert_eq!(Actor::from_stored(&actor.stored()), Some(actor));
        }
    }

    #[test]
    fn the_session_digest_does_not_contain_the_id() {
        let d = session_digest("s3cr3t-session-id");
        assert_eq!(d.len(), 32);
        assert!(!d.contains("s3cr3t"));
        assert_eq!(d, session_digest("s3cr3t-session-id"));
    }
}
