//! Compliance and patient records: the audit log (search, verify, export)
//! for compliance officers, a front-desk unlock of a patient's verification
//! lockout, and the transcripts a nurse took part in.
//!
//! Who may do what: audit search, verify and export are compliance's (the
//! log holds no message text); unlocking is front desk's and nurse's;
//! transcripts after the chat are a nurse's, and only those they sent a
//! message in. Each call records its audit event first and is refused when
//! the event cannot be written.

use carechat_console::api::records::{
    AuditExport, AuditPage, AuditQuery, AuditRow, RecordsBackend, TranscriptSummary, UnlockReason,
    UnlockRequest, Unlocked, Verification, MAX_EXPORT_EVENTS,
};
use carechat_console::api::{Line, Refusal, RequestFacts};
use chrono::{DateTime, NaiveDate};

use super::Backend;
use crate::audit::search::{ActorFilter, Filter};
use crate::audit::{AuditAction, AuditEvent, AuditOutcome, StoredEvent};
use crate::identity::details::Details;
use crate::identity::unlock::{UnlockError, UnlockResult};
use crate::phi::Phi;
use crate::records::StaffRequester;
use crate::staff::{self, StaffSession};

/// Events on one page of search results.
const PAGE: i64 = 100;
/// Transcripts listed for a nurse.
const TRANSCRIPTS_LISTED: i64 = 100;
/// The longest text accepted in a search or unlock field.
const MAX_FIELD: usize = 200;

fn audit_action(reason: UnlockReason) -> AuditAction {
    match reason {
        UnlockReason::PhoneCall => AuditAction::UnlockPhoneCall,
        UnlockReason::InPerson => AuditAction::UnlockInPerson,
        UnlockReason::NotTheirAttempts => AuditAction::UnlockNotTheirAttempts,
    }
}

/// A field of a form: trimmed, `None` when empty, refused when too long.
fn field(text: &str) -> Result<Option<String>, Refusal> {
    let text = text.trim();
    if text.chars().count() > MAX_FIELD {
        return Err(Refusal::Invalid);
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

fn day(text: &str) -> Result<Option<NaiveDate>, Refusal> {
    field(text)?
        .map(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| Refusal::Invalid))
        .transpose()
}

/// The log's filter for what the form asked.
fn filter_of(query: &AuditQuery) -> Result<Filter, Refusal> {
    let actor = field(&query.actor)?.map(|a| {
        if a == "staff" {
            ActorFilter::AnyStaff
        } else {
            ActorFilter::Exactly(a)
        }
    });
    let (entity_type, entity_id) = match field(&query.entity)? {
        None => (None, None),
        Some(entity) => match entity.split_once('/') {
            Some((t, id)) if !t.is_empty() && !id.is_empty() => {
                (Some(t.to_owned()), Some(id.to_owned()))
            }
            Some(_) => return Err(Refusal::Invalid),
            None => (Some(entity), None),
        },
    };
    let outcome = field(&query.outcome)?;
    if outcome
        .as_deref()
        .is_some_and(|o| AuditOutcome::from_name(o).is_none())
    {
        return Err(Refusal::Invalid);
    }
    let before = match query.before {
        0 => None,
        n => Some(i64::try_from(n).map_err(|_| Refusal::Invalid)?),
    };
    Ok(Filter {
        actor,
        action_prefix: field(&query.action)?,
        entity_type,
        entity_id,
        outcome,
        from: day(&query.from)?,
        to: day(&query.to)?,
        before,
    })
}

impl Backend {
    /// A signed-in compliance officer.
    async fn compliance(&self, facts: &RequestFacts) -> Result<StaffSession, Refusal> {
        let session = self.signed_in(facts).await?;
        if session.member.role.can_read_audit() {
            Ok(session)
        } else {
            Err(Refusal::NotAllowed)
        }
    }

    /// Records an event with no entity by `session`; refuses when it fails.
    async fn audit_staff(
        &self,
        session: &StaffSession,
        facts: &RequestFacts,
        action: AuditAction,
    ) -> Result<(), Refusal> {
        self.record_staff(session, facts, action, None).await
    }

    async fn record_staff(
        &self,
        session: &StaffSession,
        facts: &RequestFacts,
        action: AuditAction,
        entity: Option<(&str, &str)>,
    ) -> Result<(), Refusal> {
        let event = AuditEvent {
            actor: Self::actor(session),
            action,
            entity: entity.map(|(t, id)| (t.to_owned(), id.to_owned())),
            outcome: AuditOutcome::Success,
            client_addr: facts.client,
            session: None,
        };
        self.audit.record(event).await.map(|_| ()).map_err(|e| {
            tracing::error!(error = %e, "audit event not written; staff action refused");
            Refusal::Unavailable
        })
    }

    async fn rows(&self, events: Vec<StoredEvent>) -> Vec<AuditRow> {
        let staff = self.staff.list().await.unwrap_or_default();
        events
            .into_iter()
            .map(|e| {
                let member = e
                    .actor
                    .strip_prefix("staff:")
                    .and_then(|id| id.parse::<i64>().ok())
                    .and_then(|id| staff.iter().find(|m| m.id == id));
                AuditRow {
                    seq: u64::try_from(e.seq).unwrap_or(0),
                    at: DateTime::from_timestamp_millis(e.at)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default(),
                    staff: member.map(|m| format!("{} ({})", m.display_name, m.username)),
                    actor: e.actor,
                    action: e.action,
                    entity: e.entity_type.map(|t| match e.entity_id {
                        Some(id) => format!("{t}/{id}"),
                        None => t,
                    }),
                    outcome: e.outcome,
                    client: e.client_addr,
                    session: e.session,
                }
            })
            .collect()
    }
}

fn unavailable(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "audit log not readable");
    Refusal::Unavailable
}

#[async_trait::async_trait]
impl RecordsBackend for Backend {
    async fn audit_search(
        &self,
        facts: &RequestFacts,
        query: &AuditQuery,
    ) -> Result<AuditPage, Refusal> {
        let session = self.compliance(facts).await?;
        let filter = filter_of(query)?;
        self.audit_staff(&session, facts, AuditAction::AuditSearched)
            .await?;
        let mut events = self
            .audit
            .search(&filter, true, PAGE + 1)
            .await
            .map_err(unavailable)?;
        let more = events.len() > usize::try_from(PAGE).unwrap_or(usize::MAX);
        events.truncate(usize::try_from(PAGE).unwrap_or(usize::MAX));
        Ok(AuditPage {
            rows: self.rows(events).await,
            more,
        })
    }

    async fn audit_verify(&self, facts: &RequestFacts) -> Result<Verification, Refusal> {
        let session = self.compliance(facts).await?;
        self.audit_staff(&session, facts, AuditAction::AuditVerified)
            .await?;
        let report = self.audit.verify().await.map_err(unavailable)?;
        Ok(Verification {
            intact: report.is_intact(),
            events: report.events,
            checkpoints: report.checkpoints_verified,
            problems: report.problems(),
        })
    }

    async fn audit_export(
        &self,
        facts: &RequestFacts,
        query: &AuditQuery,
    ) -> Result<AuditExport, Refusal> {
        let session = self.compliance(facts).await?;
        let filter = filter_of(query)?;
        self.audit_staff(&session, facts, AuditAction::AuditExported)
            .await?;
        let limit = i64::try_from(MAX_EXPORT_EVENTS).unwrap_or(i64::MAX);
        // The newest first, so a capped export holds the most recent
        // events; then oldest first in the file, as the log reads.
        let mut events = self
            .audit
            .search(&filter, true, limit + 1)
            .await
            .map_err(unavailable)?;
        let truncated = events.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        events.reverse();
        let mut ndjson = String::new();
        for event in &events {
            ndjson.push_str(&self.audit.to_fhir(event).to_string());
            ndjson.push('\n');
        }
        let file_name = format!(
            "carechat-audit-{}.ndjson",
            self.clock.now().format("%Y%m%dT%H%M%SZ")
        );
        Ok(AuditExport {
            file_name,
            ndjson,
            events: u64::try_from(events.len()).unwrap_or(0),
            truncated,
        })
    }

    async fn unlock(
        &self,
        facts: &RequestFacts,
        request: &UnlockRequest,
    ) -> Result<Unlocked, Refusal> {
        let session = self.changing(facts).await?;
        Self::chat_role(&session)?;
        let family = field(&request.family)?.ok_or(Refusal::Invalid)?;
        let birth_date = day(&request.birth_date)?.ok_or(Refusal::Invalid)?;
        let identity = self.conversation.identity();
        let identifier = field(&request.identifier)?;
        if identity.require_identifier && identifier.is_none() {
            return Err(Refusal::Invalid);
        }
        let details = Details {
            birth_date: Phi::new(birth_date),
            family: Phi::new(family),
            identifier: identifier.map(Phi::new),
        };
        let staff = StaffRequester {
            actor: Self::actor(&session),
            client: facts.client,
        };
        let result = identity
            .unlock(
                &staff,
                &details,
                audit_action(request.reason),
                self.clock.now(),
            )
            .await
            .map_err(|e| match e {
                UnlockError::Unavailable | UnlockError::NotRecorded => Refusal::Unavailable,
            })?;
        Ok(match result {
            UnlockResult::Unlocked(name) => Unlocked::Unlocked {
                given_name: name.expose().clone(),
            },
            UnlockResult::NotLocked(name) => Unlocked::NotLocked {
                given_name: name.expose().clone(),
            },
            UnlockResult::NoMatch => Unlocked::NoMatch,
        })
    }

    async fn transcripts(&self, facts: &RequestFacts) -> Result<Vec<TranscriptSummary>, Refusal> {
        let session = self.signed_in(facts).await?;
        nurse(&session)?;
        let taken = self
            .store
            .took_part_in(&staff_role(&session), TRANSCRIPTS_LISTED)
            .await
            .map_err(unavailable)?;
        Ok(taken
            .into_iter()
            .map(|p| TranscriptSummary {
                id: p.index,
                started: p.started.to_rfc3339(),
                ended: p.ended.to_rfc3339(),
                lines: p.lines,
            })
            .collect())
    }

    async fn transcript(&self, facts: &RequestFacts, id: &str) -> Result<Vec<Line>, Refusal> {
        let session = self.signed_in(facts).await?;
        nurse(&session)?;
        if id.is_empty() || id.len() > MAX_FIELD {
            return Err(Refusal::Gone);
        }
        let role = staff_role(&session);
        // Participation is checked before the read is recorded, and the
        // lines are opened only after.
        if !self.store.took_part(id, &role).await.map_err(unavailable)? {
            return Err(Refusal::Gone);
        }
        self.record_staff(
            &session,
            facts,
            AuditAction::TranscriptRead,
            Some(("Transcript", id)),
        )
        .await?;
        self.conversation.flush_transcript().await;
        let kept = self.store.transcript_at(id).await.map_err(unavailable)?;
        Ok(self.lines(kept).await)
    }
}

/// Only nurses read transcripts after the chat.
fn nurse(session: &StaffSession) -> Result<(), Refusal> {
    if session.member.role == staff::Role::Nurse {
        Ok(())
    } else {
        Err(Refusal::NotAllowed)
    }
}

/// The role a staff member's lines are stored under.
fn staff_role(session: &StaffSession) -> String {
    format!("staff:{}", session.member.id)
}
