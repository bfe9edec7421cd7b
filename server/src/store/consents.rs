//! The `consents` table: one row per answer to the consent notice that
//! counts, holding the session's name ([`super::names`]), the policy
//! version, whether it was accepted, and the time. Nothing else: no
//! session id, address or message.
//!
//! A row is keyed by (session, policy version, answer): recording the same
//! answer twice keeps the first, so importing the old `consent.jsonl`
//! ([`crate::consent::ConsentLedger::import_file`]) again after a crash adds
//! nothing.

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::{Store, StoreError};

/// One recorded answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRow {
    /// The session's name (imported rows: the old file's unkeyed digest).
    pub session: String,
    /// The policy version answered.
    pub policy_version: String,
    /// Accepted (`false`: declined).
    pub accepted: bool,
    /// When, to the millisecond.
    pub at: DateTime<Utc>,
}

const INSERT: &str = "INSERT INTO consents (session, policy_version, accepted, at) VALUES ($1, $2, $3, $4) ON CONFLICT (session, policy_version, accepted) DO NOTHING";

impl Store {
    /// Records `row` durably (committed when this returns).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn record_consent(&self, row: &ConsentRow) -> Result<(), StoreError> {
        sqlx::query(INSERT)
            .bind(&row.session)
            .bind(&row.policy_version)
            .bind(i64::from(row.accepted))
            .bind(row.at.timestamp_millis())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records `rows` in one transaction; returns how many were new.
    ///
    /// # Errors
    /// When the database fails; nothing is recorded then.
    pub async fn import_consents(&self, rows: &[ConsentRow]) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut added = 0;
        for row in rows {
            added += sqlx::query(INSERT)
                .bind(&row.session)
                .bind(&row.policy_version)
                .bind(i64::from(row.accepted))
                .bind(row.at.timestamp_millis())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    /// The answers recorded for the session named `session`, oldest first.
    ///
    /// # Errors
    /// When the database fails or a stored time is out of range.
    pub async fn consents_of(&self, session: &str) -> Result<Vec<ConsentRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT session, policy_version, accepted, at FROM consents WHERE session = $1 ORDER BY at",
        )
        .bind(session)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ConsentRow {
                    session: row.try_get(0)?,
                    policy_version: row.try_get(1)?,
                    accepted: row.try_get::<i64, _>(2)? != 0,
                    at: DateTime::from_timestamp_millis(row.try_get(3)?)
                        .ok_or(StoreError::Malformed)?,
                })
            })
            .collect()
    }
}
