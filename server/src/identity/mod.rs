//! Identity verification: who a patient is, before the chat shows or
//! changes anything of theirs.
//!
//! The patient types their date of birth and last name (and a record
//! number where the clinic asks for one); [`Identity::start`] looks them up
//! in the EHR and sends a one-time code to the phone on file;
//! [`Identity::check`] takes the code. Verification belongs to the chat
//! session and ends with it.
//!
//! No user enumeration: details that match nobody walk the same steps. The
//! patient reads the same words, which say nothing of the phone number (no
//! "ending in" digits: a patient's real ones against a stranger's made-up
//! ones would tell, to anyone holding a breached list with phone numbers,
//! who is a patient here). A decoy challenge is stored and counted like a
//! real one, and no code ever opens it; the limits of [`limits`] count a
//! stranger's details exactly as a patient's. Codes are sent from a
//! spawned task, so the reply does not wait on (and its timing does not
//! reveal) the SMS or email provider.
//!
//! - [`details`]: reading the details from free text.
//! - [`limits`]: verification starts per session, address and patient,
//!   codes per patient (in this process's memory).
//! - [`otp`]: codes, their limits, stepped waits and lockout (NIST SP
//!   800-63B), in the store.
//! - [`delivery`]: SMS, email and the development outbox.
//! - [`unlock`]: front desk ending a patient's lockout.

pub mod config;
pub mod delivery;
pub mod details;
pub mod limits;
pub mod otp;
mod shared_counts;
pub mod unlock;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::audit::{AuditAction, AuditOutcome};
use crate::ehr::{PatientMatch, PatientQuery};
use crate::phi::Phi;
use crate::records::{Records, Requester};
use delivery::{CodeSender, Destination};
use details::Details;
use limits::{Counters, PatientKeys, VerificationLimits};
use otp::{Check, IssueRefused, OtpCode, Subject, Verifier};

/// A code on its way: what the session remembers between "code sent" and
/// the patient typing it. Serializable for the session snapshot only,
/// which the store seals (the patient and destination hold PHI).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PendingCode {
    subject: Subject,
    challenge: String,
    /// `None` for details that matched nobody.
    patient: Option<PatientMatch>,
    destination: Option<Destination>,
    /// What its starts and codes count under ([`limits`]).
    keys: PatientKeys,
}

impl PendingCode {
    /// Whether the details matched a patient (tests only: the chat must
    /// never behave differently on it).
    #[cfg(test)]
    pub(crate) fn matched_patient(&self) -> bool {
        self.patient.is_some()
    }
}

/// The outcome of [`Identity::start`] or [`Identity::resend`].
#[derive(Debug)]
pub enum Started {
    /// A code was sent (as far as the patient can tell).
    CodeSent(PendingCode),
    /// The subject is locked out: call the clinic.
    Locked,
    /// Too soon after the previous code.
    TooSoon {
        /// Seconds to wait.
        seconds: i64,
    },
    /// Too many starts or codes ([`limits`]): nothing was sent; call the
    /// clinic.
    Limited,
    /// The EHR or the store could not be reached.
    Unavailable,
}

/// The outcome of [`Identity::check`].
#[derive(Debug)]
pub enum Checked {
    /// The session now belongs to this patient.
    Verified(PatientMatch),
    /// Wrong; this many entries left for this code.
    Wrong {
        /// Entries left.
        left: i64,
    },
    /// That was the code's last entry.
    Spent,
    /// Expired or already used.
    Expired,
    /// Locked out: call the clinic.
    Locked,
    /// The store could not be reached.
    Unavailable,
}

/// Verification for the clinic.
#[derive(Clone)]
pub struct Identity {
    verifier: Verifier,
    sender: Arc<dyn CodeSender>,
    records: Records,
    counters: Arc<Counters>,
    /// Whether the clinic asks for a medical record number too.
    pub require_identifier: bool,
}

impl Identity {
    /// Verification through `records` and `sender`.
    #[must_use]
    pub fn new(
        verifier: Verifier,
        sender: Arc<dyn CodeSender>,
        records: Records,
        require_identifier: bool,
    ) -> Self {
        Self {
            verifier,
            sender,
            records,
            counters: Arc::new(Counters::new(VerificationLimits::default())),
            require_identifier,
        }
    }

    /// The same, with these start and code limits (a fresh count).
    #[must_use]
    pub fn with_limits(mut self, limits: VerificationLimits) -> Self {
        self.counters = Arc::new(Counters::new(limits));
        self
    }

    /// Counts starts and codes in `store` with `limits`, for instances
    /// sharing a PostgreSQL (see [`limits`]).
    #[must_use]
    pub fn with_shared_limits(
        mut self,
        limits: VerificationLimits,
        store: crate::store::Store,
    ) -> Self {
        self.counters = Arc::new(Counters::new(limits).shared_in(store));
        self
    }

    /// The start and code limits in force.
    #[must_use]
    pub fn limits(&self) -> &VerificationLimits {
        self.counters.limits()
    }

    /// How long codes last, in minutes.
    #[must_use]
    pub fn code_minutes(&self) -> i64 {
        self.verifier.policy().ttl.num_minutes()
    }

    /// The channel codes go out on (`sms`, `email`, `outbox`).
    #[must_use]
    pub fn channel(&self) -> &'static str {
        self.sender.channel()
    }

    /// Looks the details up and sends a code, within the limits.
    pub async fn start(&self, who: &Requester, details: &Details, now: DateTime<Utc>) -> Started {
        // Session and address first: the same for anybody, before the EHR
        // is asked anything.
        if !self.counters.take_start(who, now).await {
            self.records
                .record(who.event(AuditAction::VerificationStart, None, AuditOutcome::Denied))
                .await;
            return Started::Limited;
        }
        self.records
            .record(who.event(AuditAction::VerificationStart, None, AuditOutcome::Success))
            .await;
        // Every way the name could hold the last name is looked up, always
        // all of them, so details that match nobody take the same steps
        // (and write the same audit events) as a patient's.
        let mut patient = None;
        for family in details.family_candidates() {
            let query = PatientQuery {
                birth_date: details.birth_date.clone(),
                family,
                identifier: details.identifier.clone(),
            };
            match self.records.find_patient(who, &query).await {
                Ok(found) => patient = patient.or(found),
                Err(_) => {
                    // Not the patient's doing: the start does not count.
                    self.counters.give_back_start(who, now).await;
                    return Started::Unavailable;
                }
            }
        }
        let normalized = details.normalized();
        let (subject, destination) = match &patient {
            Some(p) => {
                let to = if self.sender.wants_phone() {
                    p.phone.clone().map(Destination::Phone)
                } else {
                    p.email.clone().map(Destination::Email)
                };
                (self.verifier.patient_subject(&p.id.0), to)
            }
            None => (self.verifier.details_subject(normalized.expose()), None),
        };
        let names = details.family_candidates().into_iter().map(|family| {
            let reading = Phi::new(format!(
                "{}|{}",
                details.birth_date.expose(),
                details::fold(family.expose())
            ));
            self.verifier.name_key(reading.expose())
        });
        let keys = PatientKeys::new(&subject, names);
        let pending = PendingCode {
            subject,
            challenge: String::new(),
            patient,
            destination,
            keys,
        };
        if !self.counters.take_patient_start(&pending.keys, now).await {
            return self.refused(who, &pending, now).await;
        }
        self.issue(who, pending, now).await
    }

    /// What a start or code the limits refused gets: "locked" while the
    /// subject is locked (it says more), else "limited". Recorded under the
    /// patient's id when the details matched one: the audit log may tell,
    /// the patient's reply does not.
    async fn refused(&self, who: &Requester, pending: &PendingCode, now: DateTime<Utc>) -> Started {
        let (action, started) = match self.verifier.locked(&pending.subject, now).await {
            Ok(true) => (AuditAction::VerificationLockout, Started::Locked),
            Ok(false) => (AuditAction::VerificationCodeSent, Started::Limited),
            Err(e) => {
                tracing::error!(error = %e, "verification store failed");
                return Started::Unavailable;
            }
        };
        let entity = pending
            .patient
            .as_ref()
            .map(|p| ("Patient", p.id.0.as_str()));
        self.records
            .record(who.event(action, entity, AuditOutcome::Denied))
            .await;
        started
    }

    /// Sends a new code for the same details (after the cooldown and within
    /// the codes per hour; the failure count stays).
    pub async fn resend(
        &self,
        who: &Requester,
        pending: &PendingCode,
        now: DateTime<Utc>,
    ) -> Started {
        self.issue(who, pending.clone(), now).await
    }

    async fn issue(
        &self,
        who: &Requester,
        mut pending: PendingCode,
        now: DateTime<Utc>,
    ) -> Started {
        let deliverable = pending.destination.is_some();
        if !self.counters.take_code(&pending.keys, now).await {
            return self.refused(who, &pending, now).await;
        }
        let result = self
            .verifier
            .issue(&pending.subject, deliverable, now)
            .await;
        if !matches!(result, Ok(Ok(_))) {
            self.counters.give_back_code(&pending.keys, now).await;
        }
        let issued = match result {
            Ok(Ok(issued)) => issued,
            Ok(Err(IssueRefused::Locked)) => {
                self.records
                    .record(who.event(AuditAction::VerificationLockout, None, AuditOutcome::Denied))
                    .await;
                return Started::Locked;
            }
            Ok(Err(IssueRefused::TooSoon(wait))) => {
                return Started::TooSoon {
                    seconds: wait.num_seconds(),
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "verification store failed");
                return Started::Unavailable;
            }
        };
        pending.challenge = issued.challenge;
        let entity = pending
            .patient
            .as_ref()
            .map(|p| ("Patient", p.id.0.clone()));
        // Delivery and its audit event run in a task in both cases, so the
        // reply takes as long for a stranger as for a patient.
        let code = issued.code;
        let to = pending.destination.clone();
        let sender = self.sender.clone();
        let records = self.records.clone();
        let who = who.clone();
        tokio::spawn(async move {
            let outcome = match (code, to) {
                (Some(code), Some(to)) => match sender.send(&to, &code).await {
                    Ok(()) => AuditOutcome::Success,
                    Err(e) => {
                        tracing::error!(error = %e, "one-time code not delivered");
                        AuditOutcome::Error
                    }
                },
                // Nobody to send to: the audit log says so; the patient
                // cannot tell.
                _ => AuditOutcome::Failure,
            };
            let entity = entity.as_ref().map(|(t, id)| (*t, id.as_str()));
            records
                .record(who.event(AuditAction::VerificationCodeSent, entity, outcome))
                .await;
        });
        Started::CodeSent(pending)
    }

    /// Checks a code the patient typed.
    pub async fn check(
        &self,
        who: &Requester,
        pending: &PendingCode,
        code: &OtpCode,
        now: DateTime<Utc>,
    ) -> Checked {
        let entity = pending
            .patient
            .as_ref()
            .map(|p| ("Patient", p.id.0.as_str()));
        let result = match self
            .verifier
            .check(&pending.subject, &pending.challenge, code, now)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "verification store failed");
                return Checked::Unavailable;
            }
        };
        let (action, outcome) = match result {
            Check::Verified => (AuditAction::VerificationSuccess, AuditOutcome::Success),
            Check::Locked => (AuditAction::VerificationLockout, AuditOutcome::Denied),
            _ => (AuditAction::VerificationFailure, AuditOutcome::Failure),
        };
        self.records
            .record(who.event(action, entity, outcome))
            .await;
        match result {
            Check::Verified => match &pending.patient {
                Some(p) => Checked::Verified(p.clone()),
                // A decoy challenge stores no code; this cannot happen, and
                // if it did, it must not verify anybody.
                None => Checked::Expired,
            },
            Check::Wrong { left } => Checked::Wrong { left },
            Check::Spent => Checked::Spent,
            Check::Expired => Checked::Expired,
            Check::Locked => Checked::Locked,
        }
    }
}

/// The sender for the configured delivery channel.
///
/// # Errors
/// When the SMS or SMTP client cannot be set up.
pub fn delivery_for(
    delivery: &config::Delivery,
    data_dir: &std::path::Path,
    clinic: &str,
    minutes: i64,
) -> Result<Arc<dyn CodeSender>, delivery::SendError> {
    Ok(match delivery {
        config::Delivery::Outbox => {
            tracing::warn!(
                "one-time codes go to the DEVELOPMENT OUTBOX (dev-outbox.jsonl in the data directory and this log): never use this with real patients; set verification.delivery = \"sms\""
            );
            Arc::new(delivery::DevOutbox::new(data_dir, clinic, minutes))
        }
        config::Delivery::Sms {
            api_base_url,
            account_sid,
            auth_token,
            from,
        } => Arc::new(delivery::TwilioSms::new(
            api_base_url,
            account_sid,
            auth_token,
            from,
            clinic,
            minutes,
        )?),
        config::Delivery::Email {
            host,
            port,
            security,
            credentials,
            from,
        } => {
            tracing::warn!(
                "one-time codes go by email: NIST SP 800-63B does not accept email for out-of-band verification; use it only where the clinic's risk assessment allows"
            );
            Arc::new(delivery::SmtpEmail::new(
                host,
                *port,
                *security,
                credentials.clone(),
                from,
                clinic,
                minutes,
            )?)
        }
    })
}
