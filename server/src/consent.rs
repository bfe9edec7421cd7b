//! Consent: the patient's answer to the notice, recorded before anything
//! they type is processed.
//!
//! An accepted consent is a row in the database's `consents` table
//! ([`crate::store::consents`]) with the policy version, the time (UTC) and
//! the session's keyed name ([`crate::sessions::session_ref`], the name its
//! audit and transcript rows go by; the id itself is a bearer handle and is
//! never written down). The write is committed before the consent counts:
//! when it fails the patient is told it was not recorded. A declined
//! consent stores nothing here (the audit log records the answer).
//!
//! # The old ledger file
//! Earlier versions appended accepted consents to `consent.jsonl` in the
//! data directory, in plaintext beside the database, naming the session by
//! an unkeyed SHA-256 of its id. At start-up [`ConsentLedger::import_file`]
//! copies such a file's lines into the table (their digests kept as they
//! are: history is not rewritten, and those rows do not join with others),
//! in one transaction, then renames it `consent.jsonl.imported` and logs
//! that it did. Importing is idempotent, so a crash before the rename only
//! imports the same rows again, adding none. Nothing writes the file any
//! more.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::store::consents::ConsentRow;
use crate::store::{Store, StoreError};

/// The old ledger file's name in the data directory.
pub const LEGACY_FILE: &str = "consent.jsonl";
/// What it is renamed to once imported.
pub const IMPORTED_FILE: &str = "consent.jsonl.imported";

/// Where a session stands on consent (serializable for the session
/// snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
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

/// The consent record could not be written (the consent then does not
/// count), or the old ledger file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database failed.
    #[error("cannot record consent in the database: {0}")]
    Store(#[from] StoreError),
    /// The old ledger file could not be read.
    #[error("cannot read the old consent ledger {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The old ledger file was imported but could not be renamed.
    #[error("the old consent ledger {path} was imported into the database but cannot be renamed to {IMPORTED_FILE}: {source}")]
    Rename {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What importing the old ledger file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Lines read as consent records.
    pub records: usize,
    /// Rows new to the table (fewer than `records` after an earlier,
    /// interrupted import).
    pub added: u64,
    /// Lines that were not consent records (a line torn by a crash); they
    /// stay in the renamed file.
    pub skipped: usize,
    /// Where the file is now.
    pub moved_to: PathBuf,
}

/// The record of accepted consents, in the database.
pub struct ConsentLedger {
    store: Store,
}

impl ConsentLedger {
    /// A ledger in `store`.
    #[must_use]
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Records an accepted consent by the session named `session`
    /// ([`crate::sessions::session_ref`]) durably.
    ///
    /// # Errors
    /// [`LedgerError::Store`] if it could not be committed.
    pub async fn record_accepted(
        &self,
        session: &str,
        policy_version: &str,
        at: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        let row = ConsentRow {
            session: session.to_owned(),
            policy_version: policy_version.to_owned(),
            accepted: true,
            at,
        };
        Ok(self.store.record_consent(&row).await?)
    }

    /// Imports `data_dir`'s old `consent.jsonl`, if there is one, and
    /// renames it (see the module docs). `None` when there was none.
    ///
    /// # Errors
    /// [`LedgerError`] when the file cannot be read or renamed, or the
    /// database fails (nothing is imported then, and the file stays).
    pub async fn import_file(&self, data_dir: &Path) -> Result<Option<Imported>, LedgerError> {
        let path = data_dir.join(LEGACY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(LedgerError::Read { path, source }),
        };
        let mut rows = Vec::new();
        let mut skipped = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match parse_line(line) {
                Some(row) => rows.push(row),
                None => skipped += 1,
            }
        }
        let added = self.store.import_consents(&rows).await?;
        let moved_to = data_dir.join(IMPORTED_FILE);
        std::fs::rename(&path, &moved_to).map_err(|source| LedgerError::Rename {
            path: path.clone(),
            source,
        })?;
        tracing::info!(
            records = rows.len(),
            added,
            skipped,
            from = %path.display(),
            moved_to = %moved_to.display(),
            "the old consent ledger file was imported into the database; the renamed file still holds the old unkeyed session digests: back it up and delete it"
        );
        Ok(Some(Imported {
            records: rows.len(),
            added,
            skipped,
            moved_to,
        }))
    }
}

/// One line of the old file: `{"time", "session", "policy_version",
/// "accepted"}`, the session an unkeyed digest (32 hex digits), kept as is.
fn parse_line(line: &str) -> Option<ConsentRow> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let session = value.get("session")?.as_str()?;
    if session.len() != 32 || !session.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let policy_version = value.get("policy_version")?.as_str()?;
    let accepted = value.get("accepted")?.as_bool()?;
    let at = DateTime::parse_from_rfc3339(value.get("time")?.as_str()?).ok()?;
    Some(ConsentRow {
        session: session.to_owned(),
        policy_version: policy_version.to_owned(),
        accepted,
        at: at.with_timezone(&Utc),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lines_of_the_old_file_are_read_and_torn_ones_refused() {
        let row = parse_line(r#"{"time":"2026-01-05T10:00:00Z","session":"00112233445566778899aabbccddeeff","policy_version":"2026-01","accepted":true}"#).unwrap();
        assert_eq!(row.session, "00112233445566778899aabbccddeeff");
        assert_eq!(row.policy_version, "2026-01");
        assert!(row.accepted);
        assert_eq!(row.at.to_rfc3339(), "2026-01-05T10:00:00+00:00");
        assert!(parse_line(r#"{"time":"2026-01-05T10:00:00Z","session":"0011"#).is_none());
        assert!(parse_line(r#"{"time":"2026-01-05T10:00:00Z","session":"raw sid","policy_version":"2026-01","accepted":true}"#).is_none());
    }
}
