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
//! the new key.
//!
//! # Layout
//! - [`config`]: the `[storage]` settings and the master key file.
//! - [`seal`]: the sealed format, AAD and key wrapping.
//! - [`migrate`]: the migration list and runner.
//! - [`rotate`]: `carechat keys rotate` (key files and re-wrapping).
//! - [`participation`]: the transcripts a staff member took part in.
//! - [`settings`]: the rows behind the clinic settings admins change.

pub mod config;
pub mod feedback;
pub mod migrate;
pub mod participation;
pub mod rotate;
pub mod seal;
pub mod settings;

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
}

struct Inner {
    pool: AnyPool,
    backend: Backend,
    keys: RwLock<Keyring>,
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
const KIND_DATA: &str = "data";
const KIND_INDEX: &str = "index";

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
        let master = config.load_master_key()?;
        Self::open_with_key(config, master).await
    }

    /// As [`Store::open`] with a master key given directly.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub async fn open_with_key(
        config: &StorageConfig,
        master: MasterKey,
    ) -> Result<Self, StoreError> {
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
                    sqlx::query("PRAGMA busy_timeout = 10000")
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
        migrate::run(&pool, config.backend, now_ms()).await?;
        let keys = load_or_create_keys(&pool, config.backend, &master).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                backend: config.backend,
                keys: RwLock::new(keys),
            }),
        })
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
    /// # Errors
    /// When the database fails.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.inner.backend {
            Backend::Sqlite => self.inner.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.inner.pool.begin().await?,
        })
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
        let session_ix = self.blind_index("transcript.session", session.as_bytes());
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = self.try_append(&session_ix, role, text, at).await;
            match result {
                Err(StoreError::Database(ref e)) if attempts < 20 && is_conflict(e) => {
                    // Another append took this position; take the next.
                    tokio::time::sleep(std::time::Duration::from_millis(attempts)).await;
                }
                other => return other,
            }
        }
    }

    async fn try_append(
        &self,
        session_ix: &str,
        role: &str,
        text: &Phi<String>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let last: Option<i64> =
            sqlx::query("SELECT seq FROM transcript WHERE session = $1 ORDER BY seq DESC LIMIT 1")
                .bind(session_ix)
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| row.try_get(0))
                .transpose()?;
        let seq = last.unwrap_or(0) + 1;
        let seq_text = seq.to_string();
        let body = self.seal(
            &aad("transcript", "body", &[session_ix, &seq_text, role]),
            text.expose().as_bytes(),
        )?;
        sqlx::query(
            "INSERT INTO transcript (session, seq, role, at, body) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session_ix)
        .bind(seq)
        .bind(role)
        .bind(at.timestamp_millis())
        .bind(body.as_stored())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
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

    /// Re-wraps every data key and the blind-index key under `new_master`
    /// in one transaction, and makes a fresh data key active for new data.
    /// Returns the new active key's id.
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
        let mut tx = match backend {
            Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => pool.begin().await?,
        };
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
        } else {
            if is_active != 0 {
                active = Some(id);
            }
            data.insert(id, key);
        }
    }
    Ok(Keyring {
        data,
        active: active.ok_or(StoreError::NoActiveKey)?,
        index: index.ok_or(StoreError::NoActiveKey)?,
    })
}
