//! The server functions for compliance and patient records: audit search,
//! verify and export; the front-desk unlock; a nurse's transcripts.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::{refused, ssr};
use crate::api::records::{
    AuditExport, AuditPage, AuditQuery, TranscriptSummary, UnlockRequest, Unlocked, Verification,
};
use crate::api::Line;

/// Searches the audit log, newest first (compliance).
#[server(name = AuditSearchCall, prefix = "/console/api", endpoint = "audit_search")]
pub async fn audit_search(
    /// What to look for.
    query: AuditQuery,
) -> Result<AuditPage, ServerFnError> {
    let (backend, facts) = ssr::context(None).await?;
    backend.audit_search(&facts, &query).await.map_err(refused)
}

/// Verifies the audit log's chain and checkpoints (compliance).
#[server(name = AuditVerifyCall, prefix = "/console/api", endpoint = "audit_verify")]
pub async fn audit_verify() -> Result<Verification, ServerFnError> {
    let (backend, facts) = ssr::context(None).await?;
    backend.audit_verify(&facts).await.map_err(refused)
}

/// Exports matching events as FHIR `AuditEvent` NDJSON (compliance).
#[server(name = AuditExportCall, prefix = "/console/api", endpoint = "audit_export")]
pub async fn audit_export(
    /// What to export.
    query: AuditQuery,
) -> Result<AuditExport, ServerFnError> {
    let (backend, facts) = ssr::context(None).await?;
    backend.audit_export(&facts, &query).await.map_err(refused)
}

/// Unlocks a patient's verification lockout (front desk and nurse).
#[server(name = UnlockCall, prefix = "/console/api", endpoint = "unlock")]
pub async fn unlock(
    /// The session's CSRF token.
    csrf: String,
    /// Who, and why.
    request: UnlockRequest,
) -> Result<Unlocked, ServerFnError> {
    let (backend, facts) = ssr::context(Some(csrf)).await?;
    backend.unlock(&facts, &request).await.map_err(refused)
}

/// The conversations this nurse took part in (nurse).
#[server(name = TranscriptsCall, prefix = "/console/api", endpoint = "transcripts")]
pub async fn transcripts() -> Result<Vec<TranscriptSummary>, ServerFnError> {
    let (backend, facts) = ssr::context(None).await?;
    backend.transcripts(&facts).await.map_err(refused)
}

/// One transcript a nurse took part in (nurse).
#[server(name = TranscriptCall, prefix = "/console/api", endpoint = "transcript")]
pub async fn transcript(
    /// The transcript's id ([`TranscriptSummary::id`]).
    id: String,
) -> Result<Vec<Line>, ServerFnError> {
    let (backend, facts) = ssr::context(None).await?;
    backend.transcript(&facts, &id).await.map_err(refused)
}
