//! The clinic's electronic health record, as the chat needs it.
//!
//! [`Ehr`] is the one door to patient records: finding a patient from the
//! details they give, their upcoming appointments, free slots, booking,
//! cancelling and rescheduling, and the status (never the values) of lab
//! orders and refills. Two implementations:
//! - [`fhir`]: a FHIR R4 REST client with SMART Backend Services
//!   authentication, for a clinic's real EHR;
//! - [`demo`]: an embedded EHR with deterministic synthetic patients,
//!   practitioners and schedules, the default, so the demo clinic works on a
//!   fresh machine.
//!
//! Everything that describes a patient comes back wrapped in [`Phi`]. The
//! chat never calls an [`Ehr`] directly: it goes through
//! [`crate::records`], which records an audit event for every read and write.

mod config;
pub mod demo;
pub mod fhir;
mod smart;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

pub use config::{EhrConfig, FhirConfig, RawEhr, RawFhir, SigningAlgorithm};

use crate::clock::Clock;
use crate::phi::Phi;

/// Opens the EHR the configuration names: the embedded demo EHR (schedules
/// relative to the clinic's local today, by `clock` in `tz`), or a FHIR
/// server. Nothing is sent to the FHIR server until the first call.
///
/// # Errors
/// [`EhrError::Rejected`] when the FHIR client cannot be set up (a key that
/// is not usable, or no HTTP client).
pub fn connect(
    config: &EhrConfig,
    clock: Arc<dyn Clock>,
    tz: chrono_tz::Tz,
) -> Result<Arc<dyn Ehr>, EhrError> {
    Ok(match config {
        EhrConfig::Demo => Arc::new(demo::DemoEhr::new(clock, tz)),
        EhrConfig::Fhir(fhir) => Arc::new(fhir::FhirEhr::new(fhir, clock)?),
    })
}

/// A family name folded for matching ([`carechat_language::text::fold`]:
/// case, accents and look-alike letters), trimmed, inner whitespace
/// collapsed ("  Exámple " and "example" are equal).
#[must_use]
pub fn fold_name(name: &str) -> String {
    carechat_language::text::fold(name)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A patient's logical id in the EHR (`Patient/{id}`). It is what the audit
/// log names as the entity: an opaque reference, not a PHI value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PatientId(pub String);

/// What a patient tells the chat to identify themselves.
#[derive(Debug, Clone)]
pub struct PatientQuery {
    /// Date of birth.
    pub birth_date: Phi<NaiveDate>,
    /// Family (last) name, as typed; matched case-insensitively.
    pub family: Phi<String>,
    /// Medical record number, where the clinic asks for it.
    pub identifier: Option<Phi<String>>,
}

/// A patient found by [`Ehr::find_patient`].
///
/// Serializable for the session snapshot only (a verified session keeps
/// its patient), which the store seals: its PHI fields opt in through
/// [`crate::phi::sealed_serde`]. Never serialize it for anything else.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PatientMatch {
    /// The EHR's id.
    pub id: PatientId,
    /// Mobile phone on file (E.164 where the EHR has it so), for codes.
    #[serde(with = "crate::phi::sealed_serde_opt")]
    pub phone: Option<Phi<String>>,
    /// Email on file, for clinics that enable email codes.
    #[serde(with = "crate::phi::sealed_serde_opt")]
    pub email: Option<Phi<String>>,
    /// Given name, to greet the patient once verified.
    #[serde(with = "crate::phi::sealed_serde")]
    pub given_name: Phi<String>,
}

/// A practitioner patients can book with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Practitioner {
    /// `Practitioner/{id}`.
    pub id: String,
    /// Display name, e.g. "Dr. Anika Patel".
    pub name: String,
    /// Family name, for matching "Dr. Patel".
    pub family: String,
    /// Service types this practitioner offers (codes, e.g. `checkup`).
    pub services: Vec<String>,
}

/// An appointment of the patient's. PHI as a whole (its existence, time and
/// practitioner say something about the patient's care): serializable for
/// the session snapshot (a card button offering it), which the store
/// seals, and for nothing else.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Appointment {
    /// `Appointment/{id}`.
    pub id: String,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// `Practitioner/{id}`.
    pub practitioner_id: String,
    /// Practitioner display name.
    pub practitioner_name: String,
    /// Location display name.
    pub location: String,
    /// Service type code (e.g. `checkup`).
    pub service: String,
    /// `Slot/{id}` the appointment holds, when known.
    pub slot_id: Option<String>,
    /// FHIR status (`booked`, `cancelled`, ...).
    pub status: String,
}

/// Which free slots to look for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotQuery {
    /// Only this practitioner's (`Practitioner/{id}`).
    pub practitioner_id: Option<String>,
    /// Only this service type code.
    pub service: Option<String>,
    /// Starting at or after.
    pub from: DateTime<Utc>,
    /// Starting before.
    pub to: DateTime<Utc>,
}

/// A bookable slot (not PHI: it belongs to nobody yet). Serializable for
/// the session snapshot (a card button offering it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Slot {
    /// `Slot/{id}`.
    pub id: String,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// `Practitioner/{id}` whose schedule it is on.
    pub practitioner_id: String,
    /// Practitioner display name.
    pub practitioner_name: String,
    /// Service type code.
    pub service: String,
    /// `Location/{id}`.
    pub location_id: String,
    /// Location display name.
    pub location: String,
}

/// Where a lab order stands. The chat tells a patient only this, never a
/// value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabStatus {
    /// Ordered or in progress; no final report yet.
    Pending,
    /// A final (or amended/corrected) report exists: "please contact the
    /// office".
    Ready,
}

/// One lab order of the patient's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabOrder {
    /// `ServiceRequest/{id}`.
    pub id: String,
    /// What was ordered, e.g. "Lipid panel".
    pub name: String,
    /// When it was ordered.
    pub ordered: Option<NaiveDate>,
    /// Its status.
    pub status: LabStatus,
}

/// Where a prescription refill stands, from `MedicationRequest.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefillStatus {
    /// `active`: the prescription can be filled.
    Active,
    /// `on-hold`: waiting on the clinic.
    OnHold,
    /// `completed`: no refills left.
    Completed,
    /// `stopped`, `cancelled`, `entered-in-error`, `ended`.
    Stopped,
    /// `draft` or `unknown`: the request is still being prepared.
    Pending,
}

/// One prescription of the patient's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refill {
    /// `MedicationRequest/{id}`.
    pub id: String,
    /// Medication display name.
    pub medication: String,
    /// Status.
    pub status: RefillStatus,
}

/// Why an EHR call did not succeed. Messages never carry PHI: they name the
/// operation and the HTTP status or transport failure only.
#[derive(Debug, thiserror::Error)]
pub enum EhrError {
    /// The EHR did not answer in time, refused the connection, or answered
    /// 5xx after the retries: the patient is told to try later or call.
    #[error("the EHR is unavailable: {0}")]
    Unavailable(String),
    /// The resource does not exist or is not the patient's.
    #[error("not found")]
    NotFound,
    /// The slot was taken (or the appointment changed) meanwhile.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The EHR refused the request (4xx other than 404/409/412), or answered
    /// something this client cannot read.
    #[error("the EHR refused the request: {0}")]
    Rejected(String),
}

/// The EHR operations the chat uses. Every method that takes a
/// [`PatientId`] acts only on that patient's records: an appointment id of
/// someone else's is [`EhrError::NotFound`].
#[async_trait::async_trait]
pub trait Ehr: Send + Sync {
    /// The one patient matching all the details, or `None` when none or
    /// more than one does.
    async fn find_patient(&self, query: &PatientQuery) -> Result<Option<PatientMatch>, EhrError>;

    /// The patient's booked appointments starting at or after `now`,
    /// soonest first.
    async fn upcoming_appointments(
        &self,
        patient: &PatientId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Appointment>, EhrError>;

    /// Practitioners patients can book with.
    async fn practitioners(&self) -> Result<Vec<Practitioner>, EhrError>;

    /// Free slots matching the query, soonest first.
    async fn free_slots(&self, query: &SlotQuery) -> Result<Vec<Slot>, EhrError>;

    /// Books `slot_id` for the patient: creates a booked Appointment with
    /// patient, practitioner and location participants and marks the Slot
    /// busy. [`EhrError::Conflict`] when the slot is no longer free.
    async fn book(&self, patient: &PatientId, slot_id: &str) -> Result<Appointment, EhrError>;

    /// Cancels one of the patient's appointments and frees its slot.
    async fn cancel(&self, patient: &PatientId, appointment_id: &str) -> Result<(), EhrError>;

    /// Moves one of the patient's appointments to `new_slot_id`: the new
    /// slot is booked first, then the old appointment cancelled, so a
    /// failure never leaves the patient with nothing.
    async fn reschedule(
        &self,
        patient: &PatientId,
        appointment_id: &str,
        new_slot_id: &str,
    ) -> Result<Appointment, EhrError>;

    /// The patient's lab orders and whether each has a final report.
    async fn lab_orders(&self, patient: &PatientId) -> Result<Vec<LabOrder>, EhrError>;

    /// The patient's prescriptions and their refill status.
    async fn refills(&self, patient: &PatientId) -> Result<Vec<Refill>, EhrError>;
}
