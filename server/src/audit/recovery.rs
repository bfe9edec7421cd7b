//! Start-up: what the previous run could not finish.
//!
//! A crash (kill -9, power loss) leaves the newest events unsigned: the
//! last checkpoint is behind the head, and without an anchor file those
//! events could be cut off unnoticed. [`AuditLog::recover`] signs a
//! checkpoint at once when the head is past the newest one.
//!
//! Sessions are stored ([`crate::sessions::stored`]) and outlive a
//! restart; a session whose row is gone without a `session.end` (a crash
//! between the two, or a database from before sessions were stored) ended
//! unrecorded. Start-up reads back from the head over the window a session
//! can live (the absolute limit, counted back from the newest event) and,
//! for each session digest with a `handshake`, no later `session.end` and
//! no stored row, appends a `session.end` by `system` with outcome
//! `interrupted`. (Expired rows are ended by the sweep, which records
//! theirs.) The window and the count are bounded. Sessions of other
//! servers sharing the database have rows, so a restart leaves them be;
//! `[audit] restart_ends_sessions = false` turns this off altogether.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::Row as _;

use super::{Actor, AuditAction, AuditError, AuditEvent, AuditLog, AuditOutcome};

/// Events read back per query.
const PAGE: i64 = 1000;
/// The most events read back looking for open sessions.
const MAX_SCANNED: u64 = 500_000;

/// What start-up does about the previous run.
#[derive(Debug, Clone, Copy)]
pub struct RecoveryPolicy {
    /// Whether to end the sessions the previous run left open.
    pub end_sessions: bool,
    /// How long a session can live (the absolute limit): older handshakes
    /// cannot belong to a session still open at the stop.
    pub max_session_age: Duration,
    /// The most sessions ended (the server's session limit).
    pub max_sessions: usize,
}

/// What [`AuditLog::recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The position of the checkpoint signed because the head was past the
    /// newest one (an unclean stop), if any.
    pub signed_checkpoint: Option<u64>,
    /// How many `session.end` events were recorded for sessions the stop
    /// ended.
    pub sessions_ended: usize,
}

impl AuditLog {
    /// Records the end of the sessions the stop ended (when `policy` says
    /// so), then signs a checkpoint if the newest events have none (an
    /// unclean stop), and anchors the head.
    ///
    /// # Errors
    /// When the database or the anchor file fails.
    pub async fn recover(&self, policy: &RecoveryPolicy) -> Result<Recovered, AuditError> {
        let mut done = Recovered::default();
        if let Some(anchor) = &self.anchor {
            anchor.ensure().map_err(|source| AuditError::Anchor {
                path: anchor.path().to_path_buf(),
                source,
            })?;
        }
        let row = sqlx::query(
            "SELECT h.seq, (SELECT MAX(c.seq) FROM audit_checkpoints c) FROM audit_head h WHERE h.id = 1",
        )
        .fetch_optional(self.store.pool())
        .await?
        .ok_or_else(|| AuditError::Damaged("the audit_head row is missing".into()))?;
        let head: i64 = row.try_get(0)?;
        let newest_checkpoint: i64 = row.try_get::<Option<i64>, _>(1)?.unwrap_or(0);
        if policy.end_sessions && head > 0 {
            let open = self.open_sessions(head, policy).await?;
            for session in &open {
                let mut event = AuditEvent::new(
                    Actor::System,
                    AuditAction::SessionEnd,
                    AuditOutcome::Interrupted,
                );
                event.session = Some(session.clone());
                self.record(event).await?;
            }
            done.sessions_ended = open.len();
            if !open.is_empty() {
                tracing::warn!(
                    sessions = open.len(),
                    "recorded the end of chat sessions the previous run left open"
                );
            }
        }
        // Signed after those ends, so they are covered too.
        if head > newest_checkpoint {
            done.signed_checkpoint = self.checkpoint().await?;
            tracing::warn!(
                head,
                last_checkpoint = newest_checkpoint,
                "the newest audit events had no signed checkpoint (an unclean stop, or another server is writing); signed one now"
            );
        }
        if done.signed_checkpoint.is_none() && done.sessions_ended == 0 && head > 0 {
            // Nothing was written: anchor the head as it is, so the anchor
            // file is there from the start.
            let hash: String = sqlx::query("SELECT hash FROM audit_head WHERE id = 1")
                .fetch_one(self.store.pool())
                .await?
                .try_get(0)?;
            self.anchor_head(head, &hash)?;
        }
        Ok(done)
    }

    /// Session digests with a handshake and no later `session.end`, oldest
    /// first, reading back from `head` over the policy's window.
    async fn open_sessions(
        &self,
        head: i64,
        policy: &RecoveryPolicy,
    ) -> Result<Vec<String>, AuditError> {
        let window = i64::try_from(policy.max_session_age.as_millis()).unwrap_or(i64::MAX);
        let mut ended = HashSet::new();
        let mut open = Vec::new();
        let mut before = head.saturating_add(1);
        let mut cutoff = None;
        let mut scanned = 0_u64;
        'pages: loop {
            let rows = sqlx::query(
                "SELECT seq, at, action, session FROM audit_events WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
            )
            .bind(before)
            .bind(PAGE)
            .fetch_all(self.store.pool())
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let seq: i64 = row.try_get(0)?;
                let at: i64 = row.try_get(1)?;
                let action: String = row.try_get(2)?;
                let session: Option<String> = row.try_get(3)?;
                before = seq;
                scanned += 1;
                let oldest = *cutoff.get_or_insert(at.saturating_sub(window));
                if at < oldest || scanned > MAX_SCANNED || open.len() >= policy.max_sessions {
                    break 'pages;
                }
                let Some(session) = session else { continue };
                if action == AuditAction::SessionEnd.name() {
                    ended.insert(session);
                } else if action == AuditAction::Handshake.name() && ended.insert(session.clone()) {
                    open.push(session);
                }
            }
        }
        // A session with a stored row lives on (any server resumes it); the
        // sweep of expired rows records the end of those that expired.
        let stored: HashSet<String> = sqlx::query("SELECT session FROM live_sessions")
            .fetch_all(self.store.pool())
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        open.retain(|session| !stored.contains(session));
        open.reverse();
        Ok(open)
    }
}
