//! Storage: the database (SQLite by default, PostgreSQL by a `postgres://`
//! URL), its migrations, and envelope encryption of everything that is PHI
//! or conversation content.
//!
//! # Keys
//! A master key (from `CARECHAT_MASTER_KEY` or a 0600 key file) wraps
//! random 256-bit data keys (DEKs) and one blind-index key, all stored in
//! `data_keys`. At [`Store::open`] they are unwrapped into memory (zeroized
//! on drop); new values are sealed under the active DEK with AES-256-GCM.
//! `carechat keys rotate` ([`Store::rotate_master_key`]) re-wraps them all
//! under a new master key and activates a fresh DEK; old data stays
//! readable. Every server sharing the database must then be restarted with
//! the new key. The default key file is generated only for a database that
//! holds no keys yet: if it goes missing later, [`Store::open`] says so
//! ([`StoreError::MissingMasterKey`]) instead of making a key that cannot
//! open anything.
//!
//! # Writable
//! [`Store::check_writable`] proves the database takes writes (a write
//! transaction that changes nothing); `carechat serve` refuses a read-only
//! database at start and `/readyz` reports one while it lasts.
//!
//! The audit log's checkpoint signing key ([`Store::audit_signing_key`]) is
//! kept the same way: a P-256 scalar wrapped by the master key in
//! `data_keys` (kind `audit`), created on first use, re-wrapped by
//! rotation. Whoever can write the database but lacks the master key can
//! neither read nor replace it (a replaced row does not unwrap, and the
//! store refuses to open).
//!
//! The session-name key ([`Store::session_names`], kind `session-digest`)
//! is kept the same way: the HMAC key that names sessions in audit,
//! consent and transcript rows ([`names`]).
//!
//! # Layout
//! - [`config`]: the `[storage]` settings and the master key file.
//! - [`seal`]: the sealed format, AAD and key wrapping.
//! - [`migrate`]: the migration list and runner.
//! - [`rotate`]: `carechat keys rotate` (key files and re-wrapping).
//! - [`participation`]: the transcripts a staff member took part in.
//! - [`names`]: the keyed name a session goes by in every row.
//! - [`consents`]: the consent ledger's rows.
//! - [`settings`]: the rows behind the clinic settings admins change.

pub mod config;
pub mod consents;
pub mod feedback;
pub mod migrate;
pub mod names;
pub mod participation;
pub mod rotate;
pub mod seal;
pub mod settings;
pub mod write;

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::Sha256;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row as _};
use zeroize::Zeroizing;

pub use config::{Backend, MasterKey, MasterKeySource, RawStorage, StorageConfig};
pub use migrate::{Migration, MIGRATIONS};
pub use seal::{aad, Sealed};

use crate::phi::Phi;
use seal::KeyBytes;

/// Storage problems. None of them carries PHI or key material.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        /// Its version.
        version: i64,
        /// Its name.
        name: &'static str,
        /// Why.
        source: sqlx::Error,
    },
    /// The database was migrated by a newer carechat.
    #[error("the database schema is at version {found} but this carechat knows only up to {known}; upgrade carechat")]
    SchemaTooNew {
        /// The newest applied version.
        found: i64,
        /// The newest this binary knows.
        known: i64,
    },
    /// The master key could not be loaded.
    #[error("master key {0}")]
    MasterKey(String),
    /// The default master key file is gone but the database holds keys
    /// wrapped by it; a new key would not open them, so none is generated.
    #[error("the master key file {path} is missing, but this database's keys are wrapped with a master key (fingerprint {fingerprint}); a new key could not open them, so none was generated: restore {path} from your backup (mode 0600), or set CARECHAT_MASTER_KEY or storage.master_key_file to that key")]
    MissingMasterKey {
        /// Where the key file was expected.
        path: std::path::PathBuf,
        /// Fingerprint recorded with the wrapped keys.
        fingerprint: String,
    },
    /// The database cannot be written (read-only file, directory, role or
    /// replica, or locked by another writer).
    #[error("the database cannot be written ({source}); carechat records consent, verification steps and audit events in it, so check that this user can write the database file and its folder, that the disk has room, that storage.url (or CARECHAT_DATABASE_URL) does not open it read-only (mode=ro), and for PostgreSQL that the role may write and the server is not a read-only replica")]
    NotWritable {
        /// The database's reason.
        source: sqlx::Error,
    },
    /// The master key is not the one the stored keys were wrapped with.
    #[error("the master key (fingerprint {actual}) is not the one this database's keys are wrapped with (fingerprint {expected}); set CARECHAT_MASTER_KEY or storage.master_key_file to the right key (after an interrupted `keys rotate`, the new key is in master.key.next)")]
    WrongMasterKey {
        /// Fingerprint recorded with the wrapped keys.
        expected: String,
        /// Fingerprint of the key given.
        actual: String,
    },
    /// A wrapped key did not open under the master key whose fingerprint
    /// it records: its row was altered or corrupted.
    #[error("data key {0} does not unwrap under the master key (its row in data_keys was altered or corrupted); restore it from a backup")]
    KeyUnwrap(i64),
    /// A stored key or sealed value is not in a known format.
    #[error("a stored key or sealed value is malformed")]
    Malformed,
    /// A sealed value names a data key this process has not loaded.
    #[error("data key {0} is unknown to this process; restart it after `carechat keys rotate`")]
    UnknownDataKey(i64),
    /// Authentication failed: wrong key, wrong context or altered bytes.
    #[error("a sealed value could not be opened (wrong context, key, or altered data)")]
    Unseal,
    /// A value could not be encoded or decoded (details withheld: they may be PHI).
    #[error("a value could not be encoded or decoded for storage")]
    Encoding,
    /// The AEAD failed for a reason other than authentication.
    #[error("encryption failed")]
    Crypto,
    /// There is no active data key.
    #[error("there is no active data key")]
    NoActiveKey,
}

/// `rows` groups of `columns` numbered placeholders for a multi-row
/// `VALUES` list: `($1, $2), ($3, $4)` for 2 and 2. `fixed` is put
/// after the first placeholder of each group (a constant column).
#[must_use]
pub(crate) fn values_list(rows: usize, columns: usize, fixed: Option<&str>) -> String {
    (0..rows)
        .map(|row| {
            let mut group: Vec<String> = (1..=columns)
                .map(|c| format!("${}", row * columns + c))
                .collect();
            if let Some(fixed) = fixed {
                group.insert(1, fixed.to_owned());
            }
            format!("({})", group.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A transcript line as [`Store::append_in`] wrote it: where, and its
/// sealed body (unique: every seal has a fresh nonce).
#[derive(Debug, Clone)]
pub struct WrittenLine {
    session_ix: String,
    seq: i64,
    body: String,
}

/// A transcript line to append ([`Store::append_messages`]).
pub struct NewMessage<'a> {
    /// The session's audit name; stored only as its blind index.
    pub session: &'a str,
    /// `patient`, `assistant` or `staff`.
    pub role: &'a str,
    /// What was said.
    pub text: &'a Phi<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// One message of a stored conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Who said it (`patient`, `assistant`, `staff`).
    pub role: String,
    /// When.
    pub at: DateTime<Utc>,
    /// What was said.
    pub text: Phi<String>,
}

/// The unwrapped keys, in memory only.
struct Keyring {
    data: HashMap<i64, KeyBytes>,
    active: i64,
    index: KeyBytes,
    /// The audit signing key's scalar.
    audit: Option<KeyBytes>,
    /// Whether this open generated it.
    audit_generated: bool,
    /// The session-name key.
    session: names::SessionNames,
}

struct Inner {
    pool: AnyPool,
    backend: Backend,
    keys: RwLock<Keyring>,
    /// The folder of the SQLite file, whose free space readiness watches.
    disk: Option<std::path::PathBuf>,
    /// SQLite's one write lock, taken in this process first (see
    /// [`Store::begin_write`]); `None` on PostgreSQL, whose writers lock
    /// rows, not the database.
    write_turn: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// The database and the keys to its sealed values. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.backend)
            .finish_non_exhaustive()
    }
}

/// The id of the blind-index key row in `data_keys`.
const INDEX_KEY_ID: i64 = 0;
/// The id of the first data key.
const FIRST_DATA_KEY_ID: i64 = 1;
/// The id of the audit signing key row in `data_keys` (below the data
/// keys' ids, which count up from 1).
const AUDIT_KEY_ID: i64 = -1;
const KIND_DATA: &str = "data";
const KIND_INDEX: &str = "index";
const KIND_AUDIT: &str = "audit";

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl Store {
    /// Connects, applies migrations, and loads (on first use, creates) the
    /// data keys.
    ///
    /// # Errors
    /// [`StoreError`] when the database, the migrations or the master key
    /// fail.
    pub async fn open(config: &StorageConfig) -> Result<Self, StoreError> {
        let Some(path) = config.master_key_to_generate() else {
            let master = config.load_master_key()?;
            return Self::open_with_key(config, master).await;
        };
        // The default key file is missing. A new key is generated only for a
        // database that holds no wrapped keys yet: for one that does, a new
        // key could never open them, so the file must be restored instead.
        let pool = connect(config).await?;
        migrate::run(&pool, config.backend, now_ms())
            .await
            .map_err(read_only_is_not_writable)?;
        let stored = sqlx::query("SELECT master_fp FROM data_keys LIMIT 1")
            .fetch_optional(&pool)
            .await?;
        if let Some(row) = stored {
            return Err(StoreError::MissingMasterKey {
                path: path.to_owned(),
                fingerprint: row.try_get(0)?,
            });
        }
        let master = config.load_master_key()?;
        Self::finish_open(pool, config, &master).await
    }

    /// As [`Store::open`] with a master key given directly.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub async fn open_with_key(
        config: &StorageConfig,
        master: MasterKey,
    ) -> Result<Self, StoreError> {
        let pool = connect(config).await?;
        migrate::run(&pool, config.backend, now_ms())
            .await
            .map_err(read_only_is_not_writable)?;
        Self::finish_open(pool, config, &master).await
    }

    async fn finish_open(
        pool: AnyPool,
        config: &StorageConfig,
        master: &MasterKey,
    ) -> Result<Self, StoreError> {
        let backend = config.backend;
        let keys = load_or_create_keys(&pool, backend, master).await?;
        let disk = match backend {
            Backend::Sqlite => sqlite_dir(&config.url),
            Backend::Postgres => None,
        };
        if backend == Backend::Sqlite {
            tokio::spawn(checkpoint_wal(pool.clone()));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                backend,
                keys: RwLock::new(keys),
                disk,
                write_turn: (backend == Backend::Sqlite)
                    .then(|| Arc::new(tokio::sync::Mutex::new(()))),
            }),
        })
    }

    /// Bytes free for the SQLite file, where that is a local file (`None`
    /// for PostgreSQL, or when the file system cannot say).
    #[must_use]
    pub fn free_bytes(&self) -> Option<u64> {
        let dir = self.inner.disk.as_ref()?;
        let stat = rustix::fs::statvfs(dir).ok()?;
        Some(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    /// Checks that the database takes writes now, by updating no row of
    /// `table` (one of the store's tables with an `id` column, such as
    /// `data_keys`) in a write transaction that is rolled back: `BEGIN
    /// IMMEDIATE` on SQLite, waiting at most a second for another writer.
    /// A read-only database, file or role fails it; so do a locked database
    /// and missing privileges on `table`.
    ///
    /// # Errors
    /// [`StoreError::NotWritable`] with the database's reason.
    pub async fn check_writable(&self, table: &'static str) -> Result<(), StoreError> {
        let sqlite = self.inner.backend == Backend::Sqlite;
        let mut conn = self.inner.pool.acquire().await?;
        if sqlite {
            sqlx::query("PRAGMA busy_timeout = 1000")
                .execute(&mut *conn)
                .await?;
        }
        probe_write(conn, self.inner.backend, table)
            .await
            .map_err(|source| StoreError::NotWritable { source })
    }

    /// The connection pool, for modules that own their own tables.
    #[must_use]
    pub fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// Which database this is.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Begins a transaction that writes: `BEGIN IMMEDIATE` on SQLite (so
    /// the write lock is taken up front and waits instead of failing), a
    /// plain `BEGIN` on PostgreSQL (lock rows with `FOR UPDATE`).
    ///
    /// On SQLite this process's writers (the transcript, session, audit
    /// and staff writers) first queue for their turn here, first come
    /// first served, and hold it until the transaction ends. Left to
    /// SQLite, a writer that finds the lock taken sleeps in its busy
    /// handler (1, 2, 5 … up to 100 ms at a time) and tries again: two
    /// group-commit writers taking turns then wait tens of milliseconds
    /// for a lock held for one. Another process on the same file still
    /// meets the busy handler, as before.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn begin_write(&self) -> Result<write::WriteTx, StoreError> {
        let turn = match &self.inner.write_turn {
            Some(turn) => Some(turn.clone().lock_owned().await),
            None => None,
        };
        let tx = write::WriteTx::begin(&self.inner.pool, self.inner.backend).await?;
        Ok(tx.holding(turn))
    }

    fn keys(&self) -> std::sync::RwLockReadGuard<'_, Keyring> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Seals `plaintext` under the active data key, bound to `aad` (build
    /// it with [`aad`]).
    ///
    /// # Errors
    /// [`StoreError::NoActiveKey`] or [`StoreError::Crypto`].
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, StoreError> {
        let keys = self.keys();
        let key = keys.data.get(&keys.active).ok_or(StoreError::NoActiveKey)?;
        seal::seal_with(keys.active, key, aad, plaintext)
    }

    /// Opens a sealed value bound to `aad`.
    ///
    /// # Errors
    /// [`StoreError::Unseal`] under another AAD, key or altered bytes;
    /// [`StoreError::Malformed`]; [`StoreError::UnknownDataKey`].
    pub fn unseal(&self, aad: &[u8], sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let keys = self.keys();
        seal::unseal_with(|id| keys.data.get(&id), aad, sealed)
    }

    /// Seals a PHI value as JSON.
    ///
    /// # Errors
    /// As [`Store::seal`], or [`StoreError::Encoding`].
    pub fn seal_phi<T: Serialize>(&self, aad: &[u8], value: &Phi<T>) -> Result<Sealed, StoreError> {
        let json =
            Zeroizing::new(serde_json::to_vec(value.expose()).map_err(|_| StoreError::Encoding)?);
        self.seal(aad, &json)
    }

    /// Opens a PHI value sealed by [`Store::seal_phi`].
    ///
    /// # Errors
    /// As [`Store::unseal`], or [`StoreError::Encoding`].
    pub fn unseal_phi<T: DeserializeOwned>(
        &self,
        aad: &[u8],
        sealed: &Sealed,
    ) -> Result<Phi<T>, StoreError> {
        let json = self.unseal(aad, sealed)?;
        serde_json::from_slice(&json)
            .map(Phi::new)
            .map_err(|_| StoreError::Encoding)
    }

    /// A keyed one-way digest (HMAC-SHA256 under the blind-index key,
    /// base64url) of `value` in `domain`, for looking rows up by a PHI value
    /// or hashing one-time codes without storing them. Stable across
    /// master-key rotation.
    #[must_use]
    pub fn blind_index(&self, domain: &str, value: &[u8]) -> String {
        let keys = self.keys();
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(keys.index.0.as_ref()) else {
            // HMAC accepts keys of any length; this branch cannot run.
            return String::new();
        };
        let len = u32::try_from(domain.len()).unwrap_or(u32::MAX);
        mac.update(&len.to_be_bytes());
        mac.update(domain.as_bytes());
        mac.update(value);
        B64U.encode(mac.finalize().into_bytes())
    }

    /// Appends a message to a session's transcript, sealed. The session id
    /// itself is not stored, only its blind index.
    ///
    /// # Errors
    /// [`StoreError`] when sealing or the database fails.
    pub async fn append_message(
        &self,
        session: &str,
        role: &str,
        text: &Phi<String>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.append_messages(&[NewMessage {
            session,
            role,
            text,
            at,
        }])
        .await
    }

    /// Appends messages, each to its session's transcript, in one
    /// transaction: all are stored or none is.
    ///
    /// # Errors
    /// [`StoreError`] when sealing or the database fails.
    pub async fn append_messages(&self, messages: &[NewMessage<'_>]) -> Result<(), StoreError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut tx = self.begin_write().await?;
            let result = match self.append_in(&mut tx, messages).await {
                Ok(_) => tx.commit().await.map_err(StoreError::from),
                Err(e) => Err(e),
            };
            match result {
                Err(StoreError::Database(ref e)) if attempts < 20 && is_conflict(e) => {
                    // Another server took a position; take the next.
                    tokio::time::sleep(std::time::Duration::from_millis(attempts)).await;
                }
                other => return other,
            }
        }
    }

    /// Appends messages inside `tx` (the chat journal's group commit, or
    /// [`Store::append_messages`]), in a few statements whatever their
    /// number: one reads the last position of every session in the batch,
    /// a few multi-row `INSERT`s add the lines. On PostgreSQL another
    /// server may take the same position first: the statement then fails
    /// with a conflict ([`is_conflict`]) and the whole transaction is
    /// tried again.
    ///
    /// Returns the first line as written (see [`WrittenLine`]), if any.
    ///
    /// # Errors
    /// [`StoreError`] when sealing or the database fails.
    pub(crate) async fn append_in(
        &self,
        tx: &mut write::WriteTx,
        messages: &[NewMessage<'_>],
    ) -> Result<Option<WrittenLine>, StoreError> {
        /// Sessions per position query, and lines per `INSERT` (5
        /// parameters each): far below either database's parameter limit.
        const PER_STATEMENT: usize = 200;
        let indexed: Vec<String> = messages
            .iter()
            .map(|m| self.blind_index("transcript.session", m.session.as_bytes()))
            .collect();
        let mut sessions: Vec<&str> = indexed.iter().map(String::as_str).collect();
        sessions.sort_unstable();
        sessions.dedup();
        let mut last: HashMap<String, i64> = HashMap::new();
        for chunk in sessions.chunks(PER_STATEMENT) {
            let list: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT session, MAX(seq) FROM transcript WHERE session IN ({}) GROUP BY session",
                list.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for session in chunk {
                query = query.bind(*session);
            }
            for row in query.fetch_all(&mut **tx).await? {
                last.insert(row.try_get(0)?, row.try_get(1)?);
            }
        }
        let mut lines = Vec::with_capacity(messages.len());
        for (message, session_ix) in messages.iter().zip(&indexed) {
            // Two lines of one session in one batch take consecutive
            // positions.
            let seq = last.entry(session_ix.clone()).or_insert(0);
            *seq += 1;
            let seq_text = seq.to_string();
            let body = self.seal(
                &aad("transcript", "body", &[session_ix, &seq_text, message.role]),
                message.text.expose().as_bytes(),
            )?;
            lines.push((session_ix, *seq, message, body));
        }
        for chunk in lines.chunks(PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO transcript (session, seq, role, at, body) VALUES {}",
                values_list(chunk.len(), 5, None)
            );
            let mut query = sqlx::query(&sql);
            for (session_ix, seq, message, body) in chunk {
                query = query
                    .bind(session_ix.as_str())
                    .bind(*seq)
                    .bind(message.role)
                    .bind(message.at.timestamp_millis())
                    .bind(body.as_stored());
            }
            query.execute(&mut **tx).await?;
        }
        Ok(lines.first().map(|(session_ix, seq, _, body)| WrittenLine {
            session_ix: (*session_ix).clone(),
            seq: *seq,
            body: body.as_stored().to_owned(),
        }))
    }

    /// Whether `line` is in the transcript as written: a transaction
    /// whose `COMMIT` got no answer (the connection died) took effect.
    ///
    /// # Errors
    /// When the database fails.
    pub(crate) async fn holds_line(&self, line: &WrittenLine) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT body FROM transcript WHERE session = $1 AND seq = $2")
            .bind(&line.session_ix)
            .bind(line.seq)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<String, _>(0)? == line.body,
            None => false,
        })
    }

    /// A session's transcript, oldest first, opened.
    ///
    /// # Errors
    /// [`StoreError`] when the database fails or a message does not open.
    pub async fn transcript(&self, session: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let session_ix = self.blind_index("transcript.session", session.as_bytes());
        self.transcript_at(&session_ix).await
    }

    /// The transcript stored under `session_ix` (the session's blind
    /// index, as [`participation`] names transcripts), oldest first, opened.
    ///
    /// # Errors
    /// [`StoreError`] when the database fails or a message does not open.
    pub async fn transcript_at(&self, session_ix: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, role, at, body FROM transcript WHERE session = $1 ORDER BY seq",
        )
        .bind(session_ix)
        .fetch_all(&self.inner.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let seq: i64 = row.try_get(0)?;
            let role: String = row.try_get(1)?;
            let at: i64 = row.try_get(2)?;
            let body = Sealed::from_stored(row.try_get(3)?);
            let plain = self.unseal(
                &aad("transcript", "body", &[session_ix, &seq.to_string(), &role]),
                &body,
            )?;
            let text = String::from_utf8(plain.to_vec()).map_err(|_| StoreError::Encoding)?;
            out.push(StoredMessage {
                role,
                at: DateTime::from_timestamp_millis(at).ok_or(StoreError::Malformed)?,
                text: Phi::new(text),
            });
        }
        Ok(out)
    }

    /// The audit log's checkpoint signing key (created, wrapped by the
    /// master key, when the store was first opened by a carechat that has
    /// it) and whether this open generated it.
    ///
    /// # Errors
    /// [`StoreError::Malformed`] when the stored key is not a P-256 scalar.
    pub fn audit_signing_key(&self) -> Result<(protocol::IdentityKey, bool), StoreError> {
        let keys = self.keys();
        let key = keys.audit.as_ref().ok_or(StoreError::Malformed)?;
        let key = protocol::IdentityKey::from_scalar_bytes(key.0.as_ref())
            .map_err(|_| StoreError::Malformed)?;
        Ok((key, keys.audit_generated))
    }

    /// Re-wraps every data key, the blind-index key, the audit signing key
    /// and the session-name key under `new_master` in one transaction, and
    /// makes a fresh data key active for new data. Returns the new active
    /// key's id.
    ///
    /// # Errors
    /// [`StoreError`] when the database fails; nothing changes then.
    pub async fn rotate_master_key(&self, new_master: &MasterKey) -> Result<i64, StoreError> {
        let fingerprint = new_master.fingerprint();
        let fresh = KeyBytes::generate();
        let mut tx = self.begin_write().await?;
        let ids: Vec<(i64, String)> = sqlx::query("SELECT id, kind FROM data_keys ORDER BY id")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let new_id = ids.iter().map(|(id, _)| *id).max().unwrap_or(0) + 1;
        {
            let mut updates = Vec::new();
            {
                let keys = self.keys();
                for (id, kind) in &ids {
                    let key = if kind == KIND_INDEX {
                        &keys.index
                    } else if kind == KIND_AUDIT {
                        keys.audit.as_ref().ok_or(StoreError::UnknownDataKey(*id))?
                    } else if kind == names::KIND_SESSION {
                        keys.session.key()
                    } else {
                        keys.data.get(id).ok_or(StoreError::UnknownDataKey(*id))?
                    };
                    updates.push((*id, seal::wrap(new_master, *id, kind, key)?));
                }
            }
            for (id, wrapped) in updates {
                sqlx::query(
                    "UPDATE data_keys SET wrapped = $1, master_fp = $2, active = 0 WHERE id = $3",
                )
                .bind(wrapped)
                .bind(&fingerprint)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query("INSERT INTO data_keys (id, kind, wrapped, master_fp, created_at, active) VALUES ($1, $2, $3, $4, $5, 1)")
            .bind(new_id)
            .bind(KIND_DATA)
            .bind(seal::wrap(new_master, new_id, KIND_DATA, &fresh)?)
            .bind(&fingerprint)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut keys = self
            .inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        keys.data.insert(new_id, fresh);
        keys.active = new_id;
        Ok(new_id)
    }
}

/// Whether a database error means "another writer got there first; retry".
pub(crate) fn is_conflict(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    if db.is_unique_violation() {
        return true;
    }
    // PostgreSQL: serialization failure, deadlock. SQLite: busy, locked.
    matches!(
        db.code().as_deref(),
        Some("40001" | "40P01" | "5" | "6" | "261" | "262" | "517" | "773")
    )
}

/// A migration that failed because the database is read-only (SQLite's
/// `SQLITE_READONLY` family, PostgreSQL's `read_only_sql_transaction`)
/// becomes [`StoreError::NotWritable`], which says what to check.
fn read_only_is_not_writable(e: StoreError) -> StoreError {
    let read_only = |source: &sqlx::Error| match source {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("25006") => true,
            Some(code) => code.parse::<i64>().is_ok_and(|c| c & 0xff == 8),
            None => false,
        },
        _ => false,
    };
    match e {
        StoreError::Database(source) | StoreError::Migration { source, .. }
            if read_only(&source) =>
        {
            StoreError::NotWritable { source }
        }
        other => other,
    }
}

/// How long a SQLite connection waits for another writer.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

/// How often the SQLite write-ahead log is copied into the database.
const WAL_CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Copies the SQLite write-ahead log into the database file every
/// [`WAL_CHECKPOINT_EVERY`], beside the writers rather than in their way:
/// SQLite's own automatic checkpoint runs inside whichever commit crosses
/// its threshold, and that commit (an answer waiting for its transcript
/// line) then waits for the copy and its fsync. A passive checkpoint never
/// blocks a writer. Ends when the pool is closed.
async fn checkpoint_wal(pool: AnyPool) {
    let mut every = tokio::time::interval(WAL_CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_all(&pool)
            .await
        {
            tracing::debug!(error = %e, "WAL checkpoint did not run");
        }
    }
}

async fn probe_write(
    conn: sqlx::pool::PoolConnection<sqlx::Any>,
    backend: Backend,
    table: &'static str,
) -> Result<(), sqlx::Error> {
    // Any failure closes the connection (see `write`), so it never goes
    // back to the pool with the short time-out.
    let mut tx = write::WriteTx::begin_on(conn, backend).await?;
    if backend == Backend::Postgres {
        sqlx::query("SET LOCAL lock_timeout = '1s'")
            .execute(&mut *tx)
            .await?;
    }
    let update = format!("UPDATE {table} SET id = id WHERE 1 = 0");
    sqlx::query(&update).execute(&mut *tx).await?;
    if backend == Backend::Sqlite {
        let restore = format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}");
        sqlx::query(&restore).execute(&mut *tx).await?;
    }
    tx.rollback().await
}

/// A connection pool for the configured database (creating a SQLite file's
/// folder 0700, with the busy time-out and WAL set).
async fn connect(config: &StorageConfig) -> Result<AnyPool, StoreError> {
    sqlx::any::install_default_drivers();
    if config.backend == Backend::Sqlite {
        if let Some(dir) = sqlite_dir(&config.url) {
            crate::server_key::create_private_dir(&dir).map_err(|e| {
                StoreError::Database(sqlx::Error::Configuration(
                    format!("cannot create {}: {e}", dir.display()).into(),
                ))
            })?;
        }
    }
    let mut options = AnyPoolOptions::new().max_connections(8);
    if config.backend == Backend::Sqlite {
        options = options.after_connect(|conn, _| {
            Box::pin(async move {
                let timeout = format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}");
                sqlx::query(&timeout).execute(&mut *conn).await?;
                // Checkpoints run beside the writers (checkpoint_wal).
                sqlx::query("PRAGMA wal_autocheckpoint = 0")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        });
    }
    let pool = options.connect(&config.url).await?;
    if config.backend == Backend::Sqlite {
        // Persistent in the file; lets readers proceed during a write.
        sqlx::query("PRAGMA journal_mode = WAL")
            .fetch_all(&pool)
            .await?;
    }
    Ok(pool)
}

fn sqlite_dir(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(std::path::Path::to_path_buf)
}

async fn load_or_create_keys(
    pool: &AnyPool,
    backend: Backend,
    master: &MasterKey,
) -> Result<Keyring, StoreError> {
    let fingerprint = master.fingerprint();
    // First open: create the index key and the first data key. Concurrent
    // first opens race harmlessly: fixed ids, ON CONFLICT DO NOTHING.
    let existing = sqlx::query("SELECT id FROM data_keys LIMIT 1")
        .fetch_optional(pool)
        .await?;
    if existing.is_none() {
        let mut tx = write::WriteTx::begin(pool, backend).await?;
        for (id, kind, active) in [
            (INDEX_KEY_ID, KIND_INDEX, 0_i64),
            (FIRST_DATA_KEY_ID, KIND_DATA, 1),
        ] {
            let key = KeyBytes::generate();
            sqlx::query("INSERT INTO data_keys (id, kind, wrapped, master_fp, created_at, active) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING")
                .bind(id)
                .bind(kind)
                .bind(seal::wrap(master, id, kind, &key)?)
                .bind(&fingerprint)
                .bind(now_ms())
                .bind(active)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    let rows =
        sqlx::query("SELECT id, kind, wrapped, master_fp, active FROM data_keys ORDER BY id")
            .fetch_all(pool)
            .await?;
    let mut data = HashMap::new();
    let mut index = None;
    let mut audit = None;
    let mut session = None;
    let mut active = None;
    for row in rows {
        let id: i64 = row.try_get(0)?;
        let kind: String = row.try_get(1)?;
        let wrapped: String = row.try_get(2)?;
        let stored_fp: String = row.try_get(3)?;
        let is_active: i64 = row.try_get(4)?;
        if stored_fp != fingerprint {
            return Err(StoreError::WrongMasterKey {
                expected: stored_fp,
                actual: fingerprint,
            });
        }
        let key = seal::unwrap_key(master, id, &kind, &wrapped)?;
        if kind == KIND_INDEX {
            index = Some(key);
        } else if kind == KIND_AUDIT {
            audit = Some(key);
        } else if kind == names::KIND_SESSION {
            session = Some(key);
        } else {
            if is_active != 0 {
                active = Some(id);
            }
            data.insert(id, key);
        }
    }
    // The audit signing key: created by the first open of a carechat that
    // has one (also in databases from before it), once the master key is
    // known to be the right one. Concurrent first opens agree: fixed id, and
    // the loser reads the winner's key.
    let mut audit_generated = false;
    if audit.is_none() {
        let fresh = protocol::IdentityKey::generate(&mut rand_core::OsRng);
        let scalar = KeyBytes(fresh.to_scalar_bytes());
        let inserted = sqlx::query("INSERT INTO data_keys (id, kind, wrapped, master_fp, created_at, active) VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (id) DO NOTHING")
            .bind(AUDIT_KEY_ID)
            .bind(KIND_AUDIT)
            .bind(seal::wrap(master, AUDIT_KEY_ID, KIND_AUDIT, &scalar)?)
            .bind(&fingerprint)
            .bind(now_ms())
            .execute(pool)
            .await?;
        if inserted.rows_affected() == 1 {
            audit_generated = true;
            audit = Some(scalar);
        } else {
            let row = sqlx::query("SELECT kind, wrapped, master_fp FROM data_keys WHERE id = $1")
                .bind(AUDIT_KEY_ID)
                .fetch_one(pool)
                .await?;
            let kind: String = row.try_get(0)?;
            let wrapped: String = row.try_get(1)?;
            let stored_fp: String = row.try_get(2)?;
            if kind != KIND_AUDIT || stored_fp != fingerprint {
                return Err(StoreError::KeyUnwrap(AUDIT_KEY_ID));
            }
            audit = Some(seal::unwrap_key(
                master,
                AUDIT_KEY_ID,
                KIND_AUDIT,
                &wrapped,
            )?);
        }
    }
    let session = names::load_or_create(pool, master, session).await?;
    Ok(Keyring {
        data,
        active: active.ok_or(StoreError::NoActiveKey)?,
        index: index.ok_or(StoreError::NoActiveKey)?,
        audit,
        audit_generated,
        session,
    })
}
