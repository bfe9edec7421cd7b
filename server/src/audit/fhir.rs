//! Export of the audit log as FHIR R4 `AuditEvent` resources, one JSON
//! object per line (NDJSON), for a clinic's SIEM or compliance tooling.
//!
//! Codes: `type` from the DICOM audit vocabulary (DCM 110114 User
//! Authentication, 110110 Patient Record, 110100 Application Activity),
//! `subtype` DCM Login/Logout where they fit, HL7 RESTful interaction for
//! PHI reads and writes, and always CareChat's own action name. `outcome`
//! 0 (success), 4 (minor failure: failure, denied) or 8 (serious failure:
//! error, interrupted).

use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Value};

use super::{read_events, Actor, AuditAction, AuditError, AuditOutcome, StoredEvent};
use crate::store::Store;

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const RESTFUL: &str = "http://hl7.org/fhir/restful-interaction";
/// CareChat's code system for its action names.
pub const ACTION_SYSTEM: &str = "urn:carechat:audit-action";
const SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({ "system": system, "code": code, "display": display })
}

/// The FHIR `AuditEvent` for one stored event.
#[must_use]
pub fn to_fhir(event: &StoredEvent, observer: &str) -> Value {
    let action = AuditAction::from_name(&event.action);
    let (type_code, type_display) = match action {
        Some(
            AuditAction::Handshake
            | AuditAction::SessionEnd
            | AuditAction::VerificationStart
            | AuditAction::VerificationCodeSent
            | AuditAction::VerificationSuccess
            | AuditAction::VerificationFailure
            | AuditAction::VerificationLockout,
        ) => ("110114", "User Authentication"),
        Some(AuditAction::PhiRead | AuditAction::PhiWrite) => ("110110", "Patient Record"),
        _ => ("110100", "Application Activity"),
    };
    let mut subtype = Vec::new();
    match action {
        Some(AuditAction::Handshake) => subtype.push(coding(DCM, "110122", "Login")),
        Some(AuditAction::SessionEnd) => subtype.push(coding(DCM, "110123", "Logout")),
        Some(AuditAction::PhiRead) => subtype.push(coding(RESTFUL, "read", "read")),
        Some(AuditAction::PhiWrite) => subtype.push(coding(RESTFUL, "update", "update")),
        _ => {}
    }
    subtype.push(coding(ACTION_SYSTEM, &event.action, &event.action));
    let crud = match action {
        Some(AuditAction::PhiRead) => "R",
        Some(AuditAction::PhiWrite) => "U",
        _ => "E",
    };
    let outcome = match AuditOutcome::from_name(&event.outcome) {
        Some(AuditOutcome::Success) => "0",
        Some(AuditOutcome::Failure | AuditOutcome::Denied) => "4",
        Some(AuditOutcome::Error | AuditOutcome::Interrupted) | None => "8",
    };
    let recorded = DateTime::from_timestamp_millis(event.at)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut agent = match Actor::from_stored(&event.actor) {
        Some(Actor::PatientSession) => json!({
            "type": { "coding": [coding("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PAT", "patient")] },
            "who": { "display": "patient (chat session)" },
            "requestor": true,
        }),
        Some(Actor::Staff(id)) => json!({
            "who": { "identifier": { "system": "urn:carechat:staff", "value": id } },
            "requestor": true,
        }),
        Some(Actor::System) | None => json!({
            "who": { "display": observer },
            "requestor": false,
        }),
    };
    if let Some(session) = &event.session {
        agent["altId"] = json!(session);
    }
    if let Some(addr) = &event.client_addr {
        agent["network"] = json!({ "address": addr, "type": "2" });
    }
    let mut resource = json!({
        "resourceType": "AuditEvent",
        "id": format!("carechat-audit-{}", event.seq),
        "type": coding(DCM, type_code, type_display),
        "subtype": subtype,
        "action": crud,
        "recorded": recorded,
        "outcome": outcome,
        "outcomeDesc": event.outcome,
        "agent": [agent],
        "source": {
            "site": observer,
            "observer": { "display": observer },
            "type": [coding(SOURCE_TYPE, "4", "Application Server")],
        },
    });
    if let (Some(kind), Some(id)) = (&event.entity_type, &event.entity_id) {
        resource["entity"] = json!([{ "what": { "reference": format!("{kind}/{id}") } }]);
    }
    resource
}

/// Writes every event in `store` as FHIR R4 `AuditEvent` NDJSON, naming
/// `observer` (the clinic or server) as the source. Returns the count.
///
/// # Errors
/// When the database or the writer fails.
pub async fn export(
    store: &Store,
    observer: &str,
    out: &mut impl std::io::Write,
) -> Result<u64, AuditError> {
    let mut after = i64::MIN;
    let mut written = 0;
    loop {
        let page = read_events(store, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for event in &page {
            serde_json::to_writer(&mut *out, &to_fhir(event, observer))
                .map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(written)
}
