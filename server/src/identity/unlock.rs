//! Front desk undoing a verification lockout: a patient who was locked out
//! (too many wrong codes, theirs or a stranger's) calls or comes to the
//! desk; staff confirm who they are by their own means, then look them up
//! here by the same details the chat asks for and end the lockout.
//!
//! Audited before anything changes: the staff member's read of the
//! patient's record, then the unlock itself under an action that names the
//! reason (who, whom and why). If either event cannot be written, nothing
//! is unlocked and nothing about the patient is returned.

use chrono::{DateTime, Utc};

use super::details::Details;
use super::Identity;
use crate::audit::{AuditAction, AuditOutcome};
use crate::ehr::PatientQuery;
use crate::phi::Phi;
use crate::records::{StaffLookupError, StaffRequester};

/// What an unlock did.
#[derive(Debug)]
pub enum UnlockResult {
    /// The patient was locked out and can verify again; their given name.
    Unlocked(Phi<String>),
    /// The patient was not locked out (their failure count is reset).
    NotLocked(Phi<String>),
    /// No patient has these details.
    NoMatch,
}

/// Why an unlock did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UnlockError {
    /// The EHR or the store failed.
    #[error("unavailable")]
    Unavailable,
    /// An audit event could not be written.
    #[error("the audit event could not be written")]
    NotRecorded,
}

impl From<StaffLookupError> for UnlockError {
    fn from(e: StaffLookupError) -> Self {
        match e {
            StaffLookupError::Ehr(_) => Self::Unavailable,
            StaffLookupError::NotRecorded => Self::NotRecorded,
        }
    }
}

impl Identity {
    /// Finds the patient with `details` and ends their lockout, recording
    /// `reason` (one of the `verification.unlocked.*` actions) first.
    ///
    /// # Errors
    /// [`UnlockError`]; nothing changed then.
    pub async fn unlock(
        &self,
        staff: &StaffRequester,
        details: &Details,
        reason: AuditAction,
        now: DateTime<Utc>,
    ) -> Result<UnlockResult, UnlockError> {
        let mut patient = None;
        for family in details.family_candidates() {
            let query = PatientQuery {
                birth_date: details.birth_date.clone(),
                family,
                identifier: details.identifier.clone(),
            };
            if let Some(found) = self.records.find_patient_for_staff(staff, &query).await? {
                patient = Some(found);
                break;
            }
        }
        let audit = self.records.audit();
        let Some(patient) = patient else {
            audit
                .record(staff.event(reason, None, AuditOutcome::Failure))
                .await
                .map_err(|_| UnlockError::NotRecorded)?;
            return Ok(UnlockResult::NoMatch);
        };
        audit
            .record(staff.event(
                reason,
                Some(("Patient", &patient.id.0)),
                AuditOutcome::Success,
            ))
            .await
            .map_err(|_| UnlockError::NotRecorded)?;
        let subject = self.verifier.patient_subject(&patient.id.0);
        match self.verifier.unlock(&subject, now).await {
            Ok(true) => Ok(UnlockResult::Unlocked(patient.given_name)),
            Ok(false) => Ok(UnlockResult::NotLocked(patient.given_name)),
            Err(e) => {
                tracing::error!(error = %e, "lockout not ended");
                audit
                    .record_or_log(staff.event(
                        reason,
                        Some(("Patient", &patient.id.0)),
                        AuditOutcome::Error,
                    ))
                    .await;
                Err(UnlockError::Unavailable)
            }
        }
    }
}
