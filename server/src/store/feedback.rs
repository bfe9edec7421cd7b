//! Patients' feedback on the assistant's replies (table `feedback`,
//! migration 0005): one row per reply voted on, holding the reply's intent,
//! up or down, an optional reason, and the hour it was given; and the counts
//! per intent that compliance and admin read in the console.
//!
//! No message text, no session and no patient: a row's id is random
//! ([`FeedbackId`]), and only the live session that voted remembers it, so
//! that a changed vote replaces its row instead of counting twice. The time
//! is kept to the hour, so a row cannot be matched to a session through the
//! times in the audit log. Deciding which replies take feedback is the
//! conversation's job ([`crate::conversation`]), not this module's.

use chrono::{DateTime, Utc};
use protocol::vocab::{FeedbackReason, Vote};
use rand_core::{OsRng, RngCore};
use sqlx::Row as _;

use super::{Store, StoreError};

/// Milliseconds in an hour: stored times are rounded down to one.
const HOUR_MS: i64 = 60 * 60 * 1000;

/// The random id of one feedback row; a session holds it for each reply
/// it voted on, and nothing else does.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct FeedbackId(String);

impl FeedbackId {
    /// A fresh random id (128 bits, base64url).
    #[must_use]
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        Self(protocol::encoding::b64u_encode(&bytes))
    }
}

/// One patient's vote on one reply, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feedback<'a> {
    /// The reply's intent (`faq.hours`, `appointments.list`, ...).
    pub intent: &'a str,
    /// Up or down.
    pub vote: Vote,
    /// Why it did not help (with [`Vote::Down`] only).
    pub reason: Option<FeedbackReason>,
    /// When; stored rounded down to the hour.
    pub at: DateTime<Utc>,
}

/// The votes on one intent's replies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IntentCounts {
    /// The intent.
    pub intent: String,
    /// Thumbs up.
    pub up: u64,
    /// Thumbs down, with or without a reason.
    pub down: u64,
    /// Thumbs down per reason, in the order of [`FeedbackReason::ALL`].
    reasons: [u64; FeedbackReason::ALL.len()],
}

impl IntentCounts {
    /// Thumbs down given with `reason`.
    #[must_use]
    pub fn reason(&self, reason: FeedbackReason) -> u64 {
        FeedbackReason::ALL
            .iter()
            .position(|r| *r == reason)
            .map_or(0, |i| self.reasons[i])
    }
}

impl Store {
    /// Stores a vote under `id`, replacing what an earlier vote under the
    /// same id said (its vote, reason and time).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn save_feedback(
        &self,
        id: &FeedbackId,
        feedback: &Feedback<'_>,
    ) -> Result<(), StoreError> {
        let hour = feedback.at.timestamp_millis().div_euclid(HOUR_MS) * HOUR_MS;
        sqlx::query(
            "INSERT INTO feedback (id, intent, vote, reason, at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET vote = excluded.vote, reason = excluded.reason, at = excluded.at",
        )
        .bind(&id.0)
        .bind(feedback.intent)
        .bind(feedback.vote.as_str())
        .bind(feedback.reason.map(|r| r.as_str().to_owned()))
        .bind(hour)
        .execute(&self.inner.pool)
        .await?;
        Ok(())
    }

    /// The votes per intent, intents in alphabetical order. A row whose
    /// vote or reason this version does not know (written by a newer one)
    /// is left out rather than miscounted.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn feedback_counts(&self) -> Result<Vec<IntentCounts>, StoreError> {
        let rows = sqlx::query(
            "SELECT intent, vote, reason, COUNT(*) FROM feedback \
             GROUP BY intent, vote, reason ORDER BY intent",
        )
        .fetch_all(&self.inner.pool)
        .await?;
        let mut out: Vec<IntentCounts> = Vec::new();
        for row in rows {
            let intent: String = row.try_get(0)?;
            let vote: String = row.try_get(1)?;
            let reason: Option<String> = row.try_get(2)?;
            let count = u64::try_from(row.try_get::<i64, _>(3)?).unwrap_or(0);
            let Some(vote) = Vote::parse(&vote) else {
                continue;
            };
            let reason = match reason.as_deref().map(FeedbackReason::parse) {
                None => None,
                Some(Some(reason)) => Some(reason),
                Some(None) => continue,
            };
            if out.last().is_none_or(|last| last.intent != intent) {
                out.push(IntentCounts {
                    intent,
                    ..IntentCounts::default()
                });
            }
            let Some(counts) = out.last_mut() else {
                continue;
            };
            match vote {
                Vote::Up => counts.up += count,
                Vote::Down => {
                    counts.down += count;
                    if let Some(i) =
                        reason.and_then(|r| FeedbackReason::ALL.iter().position(|x| *x == r))
                    {
                        counts.reasons[i] += count;
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_long() {
        let (a, b) = (FeedbackId::random(), FeedbackId::random());
        assert_ne!(a, b);
        assert_eq!(a.0.len(), 22);
    }

    #[test]
    fn counts_name_each_reason() {
        let mut counts = IntentCounts::default();
        counts.reasons[1] = 3;
        assert_eq!(counts.reason(FeedbackReason::HardToUnderstand), 3);
        assert_eq!(counts.reason(FeedbackReason::Other), 0);
    }
}
