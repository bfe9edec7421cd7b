//! Compliance and patient records: the audit log (search, verify, export)
//! for compliance officers, a front-desk unlock of a patient's verification
//! lockout, and the transcripts a nurse took part in.
//!
//! The audit log holds no message text, so compliance reads it without
//! ever seeing content. An unlock names its reason from a fixed list (no
//! free text, which could carry PHI into the log).

use serde::{Deserialize, Serialize};

/// What to look for in the audit log. Every field narrows the search;
/// empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Who did it: `patient`, `system`, `staff` (anyone on staff) or
    /// `staff:<account id>`.
    pub actor: String,
    /// The action's dotted name, or its start (`handoff.` for all handoff
    /// actions).
    pub action: String,
    /// The entity: `Patient/<id>`, or a resource type alone (`Patient`).
    pub entity: String,
    /// `success`, `failure`, `denied` or `error`.
    pub outcome: String,
    /// From this day (UTC, `YYYY-MM-DD`), inclusive.
    pub from: String,
    /// To this day (UTC, `YYYY-MM-DD`), inclusive.
    pub to: String,
    /// Only events before this position (the next page); 0 for the newest.
    pub before: u64,
}

/// One audit event as compliance reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// Position in the log, from 1.
    pub seq: u64,
    /// When, RFC 3339 (UTC).
    pub at: String,
    /// Who, as stored (`patient`, `system`, `staff:<id>`).
    pub actor: String,
    /// For a staff actor: their display name and username, when known.
    pub staff: Option<String>,
    /// The action's dotted name.
    pub action: String,
    /// `Type/id`, if the event names an entity.
    pub entity: Option<String>,
    /// How it ended.
    pub outcome: String,
    /// The client's address, if recorded.
    pub client: Option<String>,
    /// One-way digest of the patient's session, if any.
    pub session: Option<String>,
}

/// A page of search results, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    /// The events.
    pub rows: Vec<AuditRow>,
    /// Whether older events match too (ask again with `before` set to the
    /// last row's `seq`).
    pub more: bool,
}

/// What verifying the whole log found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// No problem found: the chain is whole and every checkpoint signed.
    pub intact: bool,
    /// Events checked.
    pub events: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Each problem, in words (positions and kinds, no content).
    pub problems: Vec<String>,
}

/// An export of matching events as FHIR R4 `AuditEvent` resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditExport {
    /// A file name to save it under.
    pub file_name: String,
    /// One JSON resource per line (NDJSON), oldest first.
    pub ndjson: String,
    /// How many events it holds.
    pub events: u64,
    /// Whether the export stopped at [`MAX_EXPORT_EVENTS`] (narrow the
    /// search for the rest).
    pub truncated: bool,
}

/// The most events one export holds.
pub const MAX_EXPORT_EVENTS: u64 = 10_000;

/// Why front desk unlocks a patient's verification. A fixed list: each is
/// its own audit action, so the log says why without free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnlockReason {
    /// The patient phoned, and front desk confirmed who they are.
    PhoneCall,
    /// The patient came to the desk in person.
    InPerson,
    /// The patient says the failed attempts were not theirs.
    NotTheirAttempts,
}

impl UnlockReason {
    /// Every reason, in the order the form lists them.
    pub const ALL: [Self; 3] = [Self::PhoneCall, Self::InPerson, Self::NotTheirAttempts];

    /// The snake_case name it travels and is stored as.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::PhoneCall => "phone_call",
            Self::InPerson => "in_person",
            Self::NotTheirAttempts => "not_their_attempts",
        }
    }

    /// Parses [`Self::name`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// Who to unlock: the details the patient verifies with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlockRequest {
    /// Last name.
    pub family: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub birth_date: String,
    /// Medical record number, where the clinic asks for one; else empty.
    pub identifier: String,
    /// Why.
    pub reason: UnlockReason,
}

/// What an unlock did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Unlocked {
    /// The patient was locked out and can verify again now.
    Unlocked {
        /// The patient's given name, to confirm the right person.
        given_name: String,
    },
    /// The patient was not locked out; their failure count is reset.
    NotLocked {
        /// The patient's given name.
        given_name: String,
    },
    /// No patient has these details.
    NoMatch,
}

/// A conversation a nurse took part in, for the transcript list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptSummary {
    /// Opaque id of the transcript.
    pub id: String,
    /// First line, RFC 3339.
    pub started: String,
    /// Last line, RFC 3339.
    pub ended: String,
    /// How many lines.
    pub lines: u64,
}

/// The server's side of this area; part of [`super::ConsoleBackend`].
/// Every method defaults to `Unavailable`, so a backend that does not
/// serve this area (a test double) need not spell it out.
#[allow(unused_variables)]
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait RecordsBackend: Send + Sync + 'static {
    /// Searches the audit log (compliance); audited.
    async fn audit_search(
        &self,
        facts: &super::RequestFacts,
        query: &AuditQuery,
    ) -> Result<AuditPage, super::Refusal> {
        Err(super::Refusal::Unavailable)
    }
    /// Verifies the whole chain and its checkpoints (compliance); audited.
    async fn audit_verify(
        &self,
        facts: &super::RequestFacts,
    ) -> Result<Verification, super::Refusal> {
        Err(super::Refusal::Unavailable)
    }
    /// Exports matching events as FHIR `AuditEvent`s (compliance); audited.
    async fn audit_export(
        &self,
        facts: &super::RequestFacts,
        query: &AuditQuery,
    ) -> Result<AuditExport, super::Refusal> {
        Err(super::Refusal::Unavailable)
    }
    /// Unlocks a patient's verification (front desk and nurse); audited
    /// with who, whom and why before anything changes.
    async fn unlock(
        &self,
        facts: &super::RequestFacts,
        request: &UnlockRequest,
    ) -> Result<Unlocked, super::Refusal> {
        Err(super::Refusal::Unavailable)
    }
    /// The conversations this nurse took part in, newest first (nurse).
    async fn transcripts(
        &self,
        facts: &super::RequestFacts,
    ) -> Result<Vec<TranscriptSummary>, super::Refusal> {
        Err(super::Refusal::Unavailable)
    }
    /// One of those transcripts (nurse); audited as a transcript read.
    async fn transcript(
        &self,
        facts: &super::RequestFacts,
        id: &str,
    ) -> Result<Vec<super::Line>, super::Refusal> {
        Err(super::Refusal::Unavailable)
    }
}
