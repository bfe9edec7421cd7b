//! Which transcripts a staff member took part in: the conversations where
//! they sent at least one message (their lines are stored under the role
//! `staff:<account id>`). A nurse may read those again after the chat has
//! closed; nobody else's.
//!
//! Transcripts are named by their session's blind index, which reveals
//! nothing of the session id; reading one checks the participation again.

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::{Store, StoreError};

/// One transcript a staff member took part in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participation {
    /// The session's blind index (the transcript's name).
    pub index: String,
    /// First line.
    pub started: DateTime<Utc>,
    /// Last line.
    pub ended: DateTime<Utc>,
    /// How many lines.
    pub lines: u64,
}

fn time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or(StoreError::Malformed)
}

impl Store {
    /// The transcripts `role` (`staff:<id>`) has lines in, most recent
    /// first, at most `limit`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn took_part_in(
        &self,
        role: &str,
        limit: i64,
    ) -> Result<Vec<Participation>, StoreError> {
        let rows = sqlx::query(
            "SELECT session, MIN(at), MAX(at), COUNT(*) FROM transcript \
             WHERE session IN (SELECT session FROM transcript WHERE role = $1) \
             GROUP BY session ORDER BY MAX(at) DESC LIMIT $2",
        )
        .bind(role)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Participation {
                    index: row.try_get(0)?,
                    started: time(row.try_get(1)?)?,
                    ended: time(row.try_get(2)?)?,
                    lines: u64::try_from(row.try_get::<i64, _>(3)?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Whether `role` has lines in the transcript named `index`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn took_part(&self, index: &str, role: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 FROM transcript WHERE session = $1 AND role = $2 LIMIT 1")
                .bind(index)
                .bind(role)
                .fetch_optional(self.pool())
                .await?
                .is_some(),
        )
    }
}
