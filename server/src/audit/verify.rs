//! Verification: recompute every event's hash and link, check every
//! checkpoint's signature and hash, and name the first problem.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine as _;
use protocol::IdentityPublicKey;
use sqlx::Row as _;

use super::chain::{checkpoint_message, StoredEvent, GENESIS_HASH};
use super::{read_events, AuditError};
use crate::store::Store;

const PAGE: i64 = 1000;

/// The first thing wrong with the chain of events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// No event is stored at `seq` though later ones are (deleted, or its
    /// position was edited).
    Missing {
        /// The missing position.
        seq: u64,
    },
    /// The event at `seq` does not match its hash (a field was edited).
    Altered {
        /// The event.
        seq: u64,
    },
    /// The event stored at `seq` belongs elsewhere: its recorded
    /// predecessor is event `belongs_after` (0: it was the first).
    Reordered {
        /// Where it is stored.
        seq: u64,
        /// The event it was recorded after.
        belongs_after: u64,
    },
    /// The event at `seq` is self-consistent but does not follow the one
    /// before it (that one was replaced, or an event was removed and the
    /// rest renumbered).
    BrokenLink {
        /// The event.
        seq: u64,
    },
    /// Events from `first_missing` to `expected_last` are gone from the
    /// end of the log (the head or a signed checkpoint records them).
    Truncated {
        /// The first missing position.
        first_missing: u64,
        /// The last position the log should have.
        expected_last: u64,
    },
    /// The head records another hash for the last event.
    HeadMismatch {
        /// The last event.
        seq: u64,
    },
}

impl ChainProblem {
    /// The event the problem names first.
    #[must_use]
    pub fn seq(&self) -> u64 {
        match self {
            Self::Missing { seq }
            | Self::Altered { seq }
            | Self::Reordered { seq, .. }
            | Self::BrokenLink { seq }
            | Self::HeadMismatch { seq } => *seq,
            Self::Truncated { first_missing, .. } => *first_missing,
        }
    }
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { seq } => write!(f, "event {seq} is missing (removed, or its position edited)"),
            Self::Altered { seq } => write!(f, "event {seq} was altered (its contents do not match its hash)"),
            Self::Reordered { seq, belongs_after } => write!(
                f,
                "event {seq} is out of order (the record stored there was written after event {belongs_after})"
            ),
            Self::BrokenLink { seq } => write!(
                f,
                "event {seq} does not follow event {} (one of them was replaced)",
                seq.saturating_sub(1)
            ),
            Self::Truncated {
                first_missing,
                expected_last,
            } => write!(
                f,
                "event {first_missing} is missing: the log was truncated (events {first_missing} to {expected_last} are gone)"
            ),
            Self::HeadMismatch { seq } => write!(
                f,
                "event {seq} does not match the hash the log head records for it"
            ),
        }
    }
}

/// Something wrong with a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointProblem {
    /// The signature does not verify.
    BadSignature {
        /// The checkpoint's position.
        seq: u64,
    },
    /// Signed by a key that is not trusted.
    UnknownKey {
        /// The checkpoint's position.
        seq: u64,
        /// The key id it names.
        key_id: String,
    },
    /// The event at `seq` has another hash than the one signed.
    HashMismatch {
        /// The checkpoint's position.
        seq: u64,
    },
    /// There is no event at `seq`.
    MissingEvent {
        /// The checkpoint's position.
        seq: u64,
    },
}

impl fmt::Display for CheckpointProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadSignature { seq } => write!(
                f,
                "checkpoint at event {seq}: the signature does not verify"
            ),
            Self::UnknownKey { seq, key_id } => write!(
                f,
                "checkpoint at event {seq}: signed by unknown key {key_id}"
            ),
            Self::HashMismatch { seq } => write!(
                f,
                "checkpoint at event {seq}: event {seq} has another hash than the signed one"
            ),
            Self::MissingEvent { seq } => {
                write!(f, "checkpoint at event {seq}: event {seq} is missing")
            }
        }
    }
}

/// The result of [`verify_log`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events read.
    pub events: u64,
    /// The highest position read.
    pub last_seq: u64,
    /// Checkpoints whose signature and hash both checked out.
    pub checkpoints_verified: u64,
    /// The first problem in the chain, if any.
    pub first_problem: Option<ChainProblem>,
    /// Every checkpoint problem.
    pub checkpoint_problems: Vec<CheckpointProblem>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    #[must_use]
    pub fn is_intact(&self) -> bool {
        self.first_problem.is_none() && self.checkpoint_problems.is_empty()
    }
}

fn pos(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

/// Verifies the log in `store`; checkpoints must be signed by one of
/// `trusted`.
///
/// # Errors
/// When the database fails. Tampering is reported in the [`VerifyReport`].
pub async fn verify_log(
    store: &Store,
    trusted: &[IdentityPublicKey],
) -> Result<VerifyReport, AuditError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_optional(store.pool())
        .await?;
    let (head_seq, head_hash): (i64, String) = match head {
        Some(row) => (row.try_get(0)?, row.try_get(1)?),
        None => return Err(AuditError::Damaged("the audit_head row is missing".into())),
    };
    let mut report = VerifyReport {
        events: 0,
        last_seq: 0,
        checkpoints_verified: 0,
        first_problem: None,
        checkpoint_problems: Vec::new(),
    };
    let mut expected: i64 = 1;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut last_seq: i64 = 0;
    let mut after = i64::MIN;
    loop {
        let page = read_events(store, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for event in &page {
            report.events += 1;
            if event.seq < 1 {
                // Out of range (an edited position); the gap it left is
                // reported where it is.
                continue;
            }
            if report.first_problem.is_none() {
                report.first_problem = check_event(store, event, expected, &prev_hash).await?;
            }
            prev_hash.clone_from(&event.hash);
            expected = event.seq + 1;
            last_seq = event.seq;
        }
    }
    report.last_seq = pos(last_seq);
    if report.first_problem.is_none() {
        if head_seq > last_seq {
            report.first_problem = Some(ChainProblem::Truncated {
                first_missing: pos(last_seq + 1),
                expected_last: pos(head_seq),
            });
        } else if head_seq == last_seq && head_hash != prev_hash {
            report.first_problem = Some(ChainProblem::HeadMismatch { seq: pos(last_seq) });
        }
    }
    check_checkpoints(store, trusted, last_seq, &mut report).await?;
    Ok(report)
}

async fn check_event(
    store: &Store,
    event: &StoredEvent,
    expected: i64,
    prev_hash: &str,
) -> Result<Option<ChainProblem>, AuditError> {
    if event.seq != expected {
        return Ok(Some(ChainProblem::Missing { seq: pos(expected) }));
    }
    let seq = pos(event.seq);
    if event.compute_hash() != event.hash {
        if event.prev_hash != prev_hash {
            if event.prev_hash == GENESIS_HASH {
                return Ok(Some(ChainProblem::Reordered {
                    seq,
                    belongs_after: 0,
                }));
            }
            let owner =
                sqlx::query("SELECT seq FROM audit_events WHERE hash = $1 AND seq <> $2 LIMIT 1")
                    .bind(&event.prev_hash)
                    .bind(event.seq)
                    .fetch_optional(store.pool())
                    .await?;
            if let Some(row) = owner {
                return Ok(Some(ChainProblem::Reordered {
                    seq,
                    belongs_after: pos(row.try_get(0)?),
                }));
            }
        }
        return Ok(Some(ChainProblem::Altered { seq }));
    }
    if event.prev_hash != prev_hash {
        return Ok(Some(ChainProblem::BrokenLink { seq }));
    }
    Ok(None)
}

async fn check_checkpoints(
    store: &Store,
    trusted: &[IdentityPublicKey],
    last_seq: i64,
    report: &mut VerifyReport,
) -> Result<(), AuditError> {
    let rows = sqlx::query(
        "SELECT c.seq, c.at, c.hash, c.key_id, c.signature, e.hash FROM audit_checkpoints c LEFT JOIN audit_events e ON e.seq = c.seq ORDER BY c.seq",
    )
    .fetch_all(store.pool())
    .await?;
    for row in rows {
        let seq: i64 = row.try_get(0)?;
        let at: i64 = row.try_get(1)?;
        let hash: String = row.try_get(2)?;
        let key_id: String = row.try_get(3)?;
        let signature: String = row.try_get(4)?;
        let event_hash: Option<String> = row.try_get(5)?;
        let cp = pos(seq);
        let Some(key) = trusted.iter().find(|k| k.key_id() == key_id) else {
            report
                .checkpoint_problems
                .push(CheckpointProblem::UnknownKey { seq: cp, key_id });
            continue;
        };
        let valid = B64U
            .decode(signature.as_bytes())
            .is_ok_and(|sig| key.verify(&checkpoint_message(seq, at, &hash), &sig));
        if !valid {
            report
                .checkpoint_problems
                .push(CheckpointProblem::BadSignature { seq: cp });
            continue;
        }
        match event_hash {
            None => {
                report
                    .checkpoint_problems
                    .push(CheckpointProblem::MissingEvent { seq: cp });
                if report.first_problem.is_none() && seq > last_seq {
                    report.first_problem = Some(ChainProblem::Truncated {
                        first_missing: pos(last_seq + 1),
                        expected_last: cp,
                    });
                }
            }
            Some(h) if h != hash => report
                .checkpoint_problems
                .push(CheckpointProblem::HashMismatch { seq: cp }),
            Some(_) => report.checkpoints_verified += 1,
        }
    }
    Ok(())
}
