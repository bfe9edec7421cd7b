//! Consent: the patient's answer to the notice, recorded before anything
//! they type is processed.
//!
//! An accepted consent is appended to `consent.jsonl` in the data directory
//! with the policy version, the time (UTC) and a one-way digest of the
//! session id (the id itself is a bearer handle and is never written down).
//! A declined consent stores nothing.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use protocol::SessionId;
use sha2::{Digest as _, Sha256};

/// Where a session stands on consent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConsentState {
    /// Not answered yet: nothing the patient says is processed.
    #[default]
    Pending,
    /// Accepted this policy version.
    Accepted {
        /// The version accepted.
        policy_version: String,
    },
    /// Declined: nothing is processed or stored.
    Declined,
}

/// The consent record could not be written; the consent then does not count.
#[derive(Debug, thiserror::Error)]
#[error("cannot record consent in {path}: {source}")]
pub struct LedgerError {
    path: PathBuf,
    source: std::io::Error,
}

/// Append-only record of accepted consents.
pub struct ConsentLedger {
    path: PathBuf,
    lock: Mutex<()>,
}

impl ConsentLedger {
    /// A ledger in `data_dir`.
    #[must_use]
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("consent.jsonl"),
            lock: Mutex::new(()),
        }
    }

    /// Records an accepted consent durably.
    ///
    /// # Errors
    /// [`LedgerError`] if it could not be written and synced.
    pub fn record_accepted(
        &self,
        sid: &SessionId,
        policy_version: &str,
        at: SystemTime,
    ) -> Result<(), LedgerError> {
        let digest = Sha256::digest([b"carechat consent ".as_slice(), &sid.0].concat());
        let line = serde_json::json!({
            "time": humantime::format_rfc3339_seconds(at).to_string(),
            "session": protocol::encoding::hex_lower(&digest[..16]),
            "policy_version": policy_version,
            "accepted": true,
        });
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let err = |source| LedgerError {
            path: self.path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(err)?;
        writeln!(file, "{line}").map_err(err)?;
        file.sync_data().map_err(err)
    }

    /// The ledger file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}
