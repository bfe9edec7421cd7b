//! The one path to patient records: every read and write of PHI in the EHR
//! goes through [`Records`], which records its audit event (resource type
//! and id, outcome, session, address; never a value) before returning.
//! There is no other handle on the [`Ehr`] in the conversation.
//!
//! It fails closed: when an audit event cannot be written (the database
//! is down, the disk is full, the anchor file is unwritable) the call
//! returns [`RecordsError::NotRecorded`] and no data, with an alert in the
//! log (no PHI); the conversation tells the patient to call the clinic.
//! The order is always: the EHR answers, the events are recorded, then the
//! data is returned.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::audit::{Actor, AuditAction, AuditEvent, AuditLog, AuditOutcome};
use crate::ehr::{
    Appointment, Ehr, EhrError, LabOrder, PatientId, PatientMatch, PatientQuery, Practitioner,
    Refill, Slot, SlotQuery,
};
use crate::phi::Phi;

/// Who is asking, for the audit log.
#[derive(Debug, Clone)]
pub struct Requester {
    /// The session's keyed name ([`crate::sessions::session_ref`]).
    pub session: String,
    /// The patient's address.
    pub client: Option<IpAddr>,
}

impl Requester {
    /// An audit event by this patient session.
    #[must_use]
    pub fn event(
        &self,
        action: AuditAction,
        entity: Option<(&str, &str)>,
        outcome: AuditOutcome,
    ) -> AuditEvent {
        AuditEvent {
            actor: Actor::PatientSession,
            action,
            entity: entity.map(|(t, id)| (t.to_owned(), id.to_owned())),
            outcome,
            client_addr: self.client,
            session: Some(self.session.clone()),
        }
    }
}

/// A staff member asking for a patient's record, for the audit log.
#[derive(Debug, Clone)]
pub struct StaffRequester {
    /// Who (`Actor::Staff`).
    pub actor: Actor,
    /// Their browser's address.
    pub client: Option<IpAddr>,
}

impl StaffRequester {
    /// An audit event by this staff member.
    #[must_use]
    pub fn event(
        &self,
        action: AuditAction,
        entity: Option<(&str, &str)>,
        outcome: AuditOutcome,
    ) -> AuditEvent {
        AuditEvent {
            actor: self.actor.clone(),
            action,
            entity: entity.map(|(t, id)| (t.to_owned(), id.to_owned())),
            outcome,
            client_addr: self.client,
            session: None,
        }
    }
}

/// Why a patient's records call gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// The EHR failed.
    #[error(transparent)]
    Ehr(#[from] EhrError),
    /// The audit event could not be written, so nothing was returned (or,
    /// for a write, the change is not confirmed to the patient).
    #[error("the audit event could not be written")]
    NotRecorded,
}

/// Why a staff lookup gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum StaffLookupError {
    /// The EHR failed.
    #[error(transparent)]
    Ehr(#[from] EhrError),
    /// The audit event could not be written, so nothing was returned.
    #[error("the audit event could not be written")]
    NotRecorded,
}

/// The audited EHR.
#[derive(Clone)]
pub struct Records {
    ehr: Arc<dyn Ehr>,
    audit: AuditLog,
}

impl Records {
    /// Wraps an EHR.
    #[must_use]
    pub fn new(ehr: Arc<dyn Ehr>, audit: AuditLog) -> Self {
        Self { ehr, audit }
    }

    /// The audit log, for the non-PHI events around these calls.
    #[must_use]
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Records an event that is not a PHI access (verification steps); a
    /// failure to record is logged (without content) and does not stop the
    /// chat.
    pub async fn record(&self, event: AuditEvent) {
        self.audit.record_or_log(event).await;
    }

    /// Records the event of a PHI access; the access is refused when it
    /// cannot be.
    async fn record_access(&self, event: AuditEvent) -> Result<(), RecordsError> {
        match self.audit.record(event).await {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::error!(
                    error = %e,
                    "ALERT: audit event not written; the PHI access was refused"
                );
                Err(RecordsError::NotRecorded)
            }
        }
    }

    async fn done<T>(
        &self,
        who: &Requester,
        action: AuditAction,
        entities: &[(&str, &str)],
        result: Result<T, EhrError>,
    ) -> Result<T, RecordsError> {
        match &result {
            Ok(_) => {
                for e in entities {
                    self.record_access(who.event(action, Some(*e), AuditOutcome::Success))
                        .await?;
                }
            }
            Err(EhrError::Unavailable(why)) => {
                tracing::warn!(reason = %why, "EHR unavailable");
                let entity = entities.first().copied();
                self.record_access(who.event(AuditAction::EhrError, entity, AuditOutcome::Error))
                    .await?;
            }
            Err(_) => {
                let entity = entities.first().copied();
                self.record_access(who.event(action, entity, AuditOutcome::Failure))
                    .await?;
            }
        }
        result.map_err(RecordsError::from)
    }

    /// Looks a patient up by the details they typed.
    ///
    /// # Errors
    /// As [`Ehr::find_patient`]; [`RecordsError::NotRecorded`].
    pub async fn find_patient(
        &self,
        who: &Requester,
        query: &PatientQuery,
    ) -> Result<Option<PatientMatch>, RecordsError> {
        let result = self.ehr.find_patient(query).await;
        match &result {
            Ok(Some(p)) => {
                let id = p.id.0.clone();
                self.done(who, AuditAction::PhiRead, &[("Patient", &id)], result)
                    .await
            }
            // A search that matched nobody is recorded too (one event either
            // way, so both take the same time).
            Ok(None) => {
                self.record_access(who.event(AuditAction::PhiRead, None, AuditOutcome::Failure))
                    .await?;
                Ok(None)
            }
            Err(_) => self.done(who, AuditAction::PhiRead, &[], result).await,
        }
    }

    /// Looks a patient up for a staff member (front desk unlocking a
    /// lockout). Fails closed: a patient found is returned only once the
    /// staff member's PHI read is recorded.
    ///
    /// # Errors
    /// [`StaffLookupError::Ehr`] as [`Ehr::find_patient`];
    /// [`StaffLookupError::NotRecorded`] when the audit event could not be
    /// written.
    pub async fn find_patient_for_staff(
        &self,
        staff: &StaffRequester,
        query: &PatientQuery,
    ) -> Result<Option<PatientMatch>, StaffLookupError> {
        let found = match self.ehr.find_patient(query).await {
            Ok(found) => found,
            Err(e) => {
                self.record(staff.event(AuditAction::EhrError, None, AuditOutcome::Error))
                    .await;
                return Err(StaffLookupError::Ehr(e));
            }
        };
        if let Some(p) = &found {
            let event = staff.event(
                AuditAction::PhiRead,
                Some(("Patient", &p.id.0)),
                AuditOutcome::Success,
            );
            self.audit.record(event).await.map_err(|e| {
                tracing::error!(error = %e, "audit event not written; staff lookup refused");
                StaffLookupError::NotRecorded
            })?;
        }
        Ok(found)
    }

    /// The patient's upcoming appointments.
    ///
    /// # Errors
    /// As [`Ehr::upcoming_appointments`]; [`RecordsError::NotRecorded`].
    pub async fn upcoming(
        &self,
        who: &Requester,
        patient: &PatientId,
        now: DateTime<Utc>,
    ) -> Result<Phi<Vec<Appointment>>, RecordsError> {
        let result = self.ehr.upcoming_appointments(patient, now).await;
        self.read_list(who, patient, "Appointment", result, |a| &a.id)
            .await
    }

    /// Audits a read of a list of the patient's resources: the patient and
    /// each resource returned, or the error.
    async fn read_list<T>(
        &self,
        who: &Requester,
        patient: &PatientId,
        resource_type: &str,
        result: Result<Vec<T>, EhrError>,
        id: impl Fn(&T) -> &String,
    ) -> Result<Phi<Vec<T>>, RecordsError> {
        let ids: Vec<String> = result
            .as_ref()
            .map(|list| list.iter().map(|item| id(item).clone()).collect())
            .unwrap_or_default();
        let mut entities: Vec<(&str, &str)> = vec![("Patient", patient.0.as_str())];
        entities.extend(ids.iter().map(|id| (resource_type, id.as_str())));
        self.done(who, AuditAction::PhiRead, &entities, result)
            .await
            .map(Phi::new)
    }

    /// Practitioners (not PHI; not audited).
    ///
    /// # Errors
    /// As [`Ehr::practitioners`].
    pub async fn practitioners(&self) -> Result<Vec<Practitioner>, EhrError> {
        self.ehr.practitioners().await
    }

    /// Free slots (not PHI; not audited).
    ///
    /// # Errors
    /// As [`Ehr::free_slots`].
    pub async fn free_slots(&self, query: &SlotQuery) -> Result<Vec<Slot>, EhrError> {
        self.ehr.free_slots(query).await
    }

    /// Books a slot.
    ///
    /// # Errors
    /// As [`Ehr::book`]; [`RecordsError::NotRecorded`].
    pub async fn book(
        &self,
        who: &Requester,
        patient: &PatientId,
        slot_id: &str,
    ) -> Result<Phi<Appointment>, RecordsError> {
        let result = self.ehr.book(patient, slot_id).await;
        let id = result.as_ref().map(|a| a.id.clone()).unwrap_or_default();
        let entity = if id.is_empty() {
            ("Slot", slot_id)
        } else {
            ("Appointment", id.as_str())
        };
        self.done(who, AuditAction::PhiWrite, &[entity], result)
            .await
            .map(Phi::new)
    }

    /// Cancels an appointment.
    ///
    /// # Errors
    /// As [`Ehr::cancel`]; [`RecordsError::NotRecorded`].
    pub async fn cancel(
        &self,
        who: &Requester,
        patient: &PatientId,
        appointment_id: &str,
    ) -> Result<(), RecordsError> {
        let result = self.ehr.cancel(patient, appointment_id).await;
        self.done(
            who,
            AuditAction::PhiWrite,
            &[("Appointment", appointment_id)],
            result,
        )
        .await
    }

    /// Moves an appointment to another slot.
    ///
    /// # Errors
    /// As [`Ehr::reschedule`]; [`RecordsError::NotRecorded`].
    pub async fn reschedule(
        &self,
        who: &Requester,
        patient: &PatientId,
        appointment_id: &str,
        slot_id: &str,
    ) -> Result<Phi<Appointment>, RecordsError> {
        let result = self.ehr.reschedule(patient, appointment_id, slot_id).await;
        let new_id = result.as_ref().map(|a| a.id.clone()).unwrap_or_default();
        let mut entities = vec![("Appointment", appointment_id)];
        if !new_id.is_empty() {
            entities.push(("Appointment", new_id.as_str()));
        }
        self.done(who, AuditAction::PhiWrite, &entities, result)
            .await
            .map(Phi::new)
    }

    /// Lab order status.
    ///
    /// # Errors
    /// As [`Ehr::lab_orders`]; [`RecordsError::NotRecorded`].
    pub async fn lab_orders(
        &self,
        who: &Requester,
        patient: &PatientId,
    ) -> Result<Phi<Vec<LabOrder>>, RecordsError> {
        let result = self.ehr.lab_orders(patient).await;
        self.read_list(who, patient, "ServiceRequest", result, |o| &o.id)
            .await
    }

    /// Refill status.
    ///
    /// # Errors
    /// As [`Ehr::refills`]; [`RecordsError::NotRecorded`].
    pub async fn refills(
        &self,
        who: &Requester,
        patient: &PatientId,
    ) -> Result<Phi<Vec<Refill>>, RecordsError> {
        let result = self.ehr.refills(patient).await;
        self.read_list(who, patient, "MedicationRequest", result, |r| &r.id)
            .await
    }
}
