//! Verification: recompute every event's hash and link, check every
//! checkpoint's signature and hash, require a checkpoint at every multiple
//! of `checkpoint_every`, check the log against the newest head anchored
//! outside the database ([`super::anchor`]), and name the first problem.
//!
//! What each attack leaves:
//! - an edited, deleted or reordered event: its hash or link
//!   ([`ChainProblem`]);
//! - a truncated tail with `audit_head` moved back: a signed checkpoint or
//!   the anchored head past the end ([`ChainProblem::Truncated`]); with the
//!   checkpoints after it deleted too, only the anchor still knows;
//! - deleted checkpoints: [`CheckpointProblem::Missing`], or
//!   [`CheckpointProblem::AllRemoved`];
//! - a rewritten (re-hashed) chain: checkpoints that no longer match, or
//!   new ones not signed by the audit key (which lives sealed by the master
//!   key, not in the database's reach), and the anchored head
//!   ([`ChainProblem::AnchorMismatch`]).

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine as _;
use protocol::IdentityPublicKey;
use sqlx::Row as _;

use super::anchor::{self, AnchorLine};
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
    /// The event at `seq` has another hash than the head anchored outside
    /// the database for that position: the chain was rewritten.
    AnchorMismatch {
        /// The anchored position.
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
            | Self::HeadMismatch { seq }
            | Self::AnchorMismatch { seq } => *seq,
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
            Self::AnchorMismatch { seq } => write!(
                f,
                "event {seq} does not match the head anchored outside the database (the log was rewritten)"
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
    /// No checkpoint at `seq` though one is signed every `every` events
    /// and the log passed `seq`: it was removed.
    Missing {
        /// The required position.
        seq: u64,
        /// The interval.
        every: u64,
    },
    /// Not one checkpoint though the log holds `events` events, at least
    /// `every`: all were removed.
    AllRemoved {
        /// The highest position in the log.
        events: u64,
        /// The interval.
        every: u64,
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
            Self::Missing { seq, every } => write!(
                f,
                "checkpoint at event {seq} is missing: one is signed every {every} events, so it was removed"
            ),
            Self::AllRemoved { events, every } => write!(
                f,
                "all checkpoints removed: the log reaches event {events} and one is signed every {every} events, yet there is none"
            ),
        }
    }
}

/// Something wrong with the anchor file (not with the log: a log behind
/// its anchor is a [`ChainProblem`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorProblem {
    /// The file is configured and the log has events, but the file is
    /// gone or holds no valid signed head.
    Missing {
        /// The file.
        path: String,
    },
    /// The file could not be read.
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A line is not an anchor line.
    Malformed {
        /// Its number, from 1.
        line: u64,
    },
    /// A line's signature does not verify.
    BadSignature {
        /// Its number, from 1.
        line: u64,
    },
    /// A line is signed by a key that is not trusted.
    UnknownKey {
        /// Its number, from 1.
        line: u64,
        /// The key id it names.
        key_id: String,
    },
}

impl fmt::Display for AnchorProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { path } => write!(
                f,
                "the anchor file {path} is missing or empty though the log has events (removed?)"
            ),
            Self::Unreadable { path, reason } => {
                write!(f, "the anchor file {path} cannot be read: {reason}")
            }
            Self::Malformed { line } => {
                write!(f, "anchor line {line} is not a signed head")
            }
            Self::BadSignature { line } => {
                write!(f, "anchor line {line}: the signature does not verify")
            }
            Self::UnknownKey { line, key_id } => {
                write!(f, "anchor line {line}: signed by unknown key {key_id}")
            }
        }
    }
}

/// What [`verify_log_with`] checks against.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// Keys checkpoints and anchor lines may be signed with.
    pub trusted: &'a [IdentityPublicKey],
    /// The interval at which a checkpoint is required.
    pub checkpoint_every: u64,
    /// The anchor file, if one is configured.
    pub anchor_file: Option<&'a Path>,
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
    /// The newest anchored head checked against the log, if any.
    pub anchored_seq: Option<u64>,
    /// Every anchor file problem.
    pub anchor_problems: Vec<AnchorProblem>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    #[must_use]
    pub fn is_intact(&self) -> bool {
        self.first_problem.is_none()
            && self.checkpoint_problems.is_empty()
            && self.anchor_problems.is_empty()
    }

    /// Every problem as a sentence: the chain's first, then the
    /// checkpoints', then the anchor's.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        self.first_problem
            .iter()
            .map(ToString::to_string)
            .chain(self.checkpoint_problems.iter().map(ToString::to_string))
            .chain(self.anchor_problems.iter().map(ToString::to_string))
            .collect()
    }
}

fn pos(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

/// Verifies the log in `store`; checkpoints must be signed by one of
/// `trusted`, and one is required every [`super::DEFAULT_CHECKPOINT_EVERY`]
/// events. No anchor file is read: see [`verify_log_with`].
///
/// # Errors
/// When the database fails. Tampering is reported in the [`VerifyReport`].
pub async fn verify_log(
    store: &Store,
    trusted: &[IdentityPublicKey],
) -> Result<VerifyReport, AuditError> {
    verify_log_with(
        store,
        &VerifyOptions {
            trusted,
            checkpoint_every: super::DEFAULT_CHECKPOINT_EVERY,
            anchor_file: None,
        },
    )
    .await
}

/// Verifies the log in `store` against `options`.
///
/// # Errors
/// When the database fails. Tampering is reported in the [`VerifyReport`].
pub async fn verify_log_with(
    store: &Store,
    options: &VerifyOptions<'_>,
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
        anchored_seq: None,
        anchor_problems: Vec::new(),
    };
    let anchored = match options.anchor_file {
        Some(path) => newest_anchor(path, options.trusted, &mut report),
        None => None,
    };
    let mut anchored_hash_in_log = None;
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
            if anchored.as_ref().is_some_and(|a| a.seq == event.seq) {
                anchored_hash_in_log = Some(event.hash.clone());
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
    if let Some(anchor) = &anchored {
        report.anchored_seq = Some(pos(anchor.seq));
        if report.first_problem.is_none() {
            if anchor.seq > last_seq {
                report.first_problem = Some(ChainProblem::Truncated {
                    first_missing: pos(last_seq + 1),
                    expected_last: pos(anchor.seq),
                });
            } else if anchored_hash_in_log.as_deref() != Some(anchor.hash.as_str()) {
                report.first_problem = Some(ChainProblem::AnchorMismatch {
                    seq: pos(anchor.seq),
                });
            }
        }
    } else if let Some(path) = options.anchor_file {
        if last_seq > 0 && report.anchor_problems.is_empty() {
            report.anchor_problems.push(AnchorProblem::Missing {
                path: path.display().to_string(),
            });
        }
    }
    check_checkpoints(store, options, last_seq, &mut report).await?;
    Ok(report)
}

/// The newest line of the anchor file signed by a trusted key; problems
/// with the file go into `report`.
fn newest_anchor(
    path: &Path,
    trusted: &[IdentityPublicKey],
    report: &mut VerifyReport,
) -> Option<AnchorLine> {
    let scan = match anchor::scan(path) {
        Ok(scan) => scan,
        Err(e) => {
            report.anchor_problems.push(AnchorProblem::Unreadable {
                path: path.display().to_string(),
                reason: e.to_string(),
            });
            return None;
        }
    };
    let mut newest: Option<AnchorLine> = None;
    for (line, parsed) in scan.lines {
        let Some(parsed) = parsed else {
            report
                .anchor_problems
                .push(AnchorProblem::Malformed { line });
            continue;
        };
        let Some(key) = trusted.iter().find(|k| k.key_id() == parsed.key_id) else {
            report.anchor_problems.push(AnchorProblem::UnknownKey {
                line,
                key_id: parsed.key_id,
            });
            continue;
        };
        if !parsed.verifies(key) {
            report
                .anchor_problems
                .push(AnchorProblem::BadSignature { line });
            continue;
        }
        if newest.as_ref().is_none_or(|n| parsed.seq > n.seq) {
            newest = Some(parsed);
        }
    }
    newest
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
    options: &VerifyOptions<'_>,
    last_seq: i64,
    report: &mut VerifyReport,
) -> Result<(), AuditError> {
    let trusted = options.trusted;
    let mut present = HashSet::new();
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
        present.insert(cp);
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
    // A checkpoint at every multiple of the interval is required (present:
    // one whose own problems, if any, are reported above).
    let every = options.checkpoint_every.max(1);
    let last = pos(last_seq);
    if last >= every {
        if present.is_empty() {
            report
                .checkpoint_problems
                .push(CheckpointProblem::AllRemoved {
                    events: last,
                    every,
                });
        } else {
            let mut seq = every;
            while seq <= last {
                if !present.contains(&seq) {
                    report
                        .checkpoint_problems
                        .push(CheckpointProblem::Missing { seq, every });
                }
                seq += every;
            }
        }
    }
    Ok(())
}
