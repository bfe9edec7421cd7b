//! Identity verification: who a patient is, before the chat shows or
//! changes anything of theirs.
//!
//! The patient types their date of birth and last name (and a record
//! number where the clinic asks for one); [`Identity::start`] looks them up
//! in the EHR and sends a one-time code to the phone on file, telling the
//! patient only its last two digits; [`Identity::check`] takes the code.
//! Verification belongs to the chat session and ends with it.
//!
//! No user enumeration: details that match nobody walk the same steps. The
//! patient reads the same words (with two digits derived from the details,
//! stable for the same details), a decoy challenge is stored and counted
//! like a real one, and no code ever opens it. Codes are sent from a
//! spawned task, so the reply does not wait on (and its timing does not
//! reveal) the SMS or email provider.
//!
//! - [`details`]: reading the details from free text.
//! - [`otp`]: codes, their limits and lockout (NIST SP 800-63B).
//! - [`delivery`]: SMS, email and the development outbox.
//! - [`unlock`]: front desk ending a patient's lockout.

pub mod config;
pub mod delivery;
pub mod details;
pub mod otp;
pub mod unlock;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::audit::{AuditAction, AuditOutcome};
use crate::ehr::{PatientMatch, PatientQuery};
use crate::phi::Phi;
use crate::records::{Records, Requester};
use delivery::{CodeSender, Destination};
use details::Details;
use otp::{Check, IssueRefused, OtpCode, Subject, Verifier};

/// A code on its way: what the session remembers between "code sent" and
/// the patient typing it.
#[derive(Debug, Clone)]
pub struct PendingCode {
    subject: Subject,
    challenge: String,
    /// `None` for details that matched nobody.
    patient: Option<PatientMatch>,
    destination: Option<Destination>,
    /// The last two digits the patient was shown.
    pub hint: String,
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
            require_identifier,
        }
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

    /// Looks the details up and sends a code.
    pub async fn start(&self, who: &Requester, details: &Details, now: DateTime<Utc>) -> Started {
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
                Err(_) => return Started::Unavailable,
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
        let hint = match &destination {
            Some(d) => d.hint(),
            None => self.decoy_hint(&normalized),
        };
        self.issue(
            who,
            PendingCode {
                subject,
                challenge: String::new(),
                patient,
                destination,
                hint,
            },
            now,
        )
        .await
    }

    /// Sends a new code for the same details (after the cooldown; the
    /// failure count stays).
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
        let issued = match self
            .verifier
            .issue(&pending.subject, deliverable, now)
            .await
        {
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

    /// What details that match nobody are shown instead of a real hint:
    /// stable for the same details, and of the same form as a real one
    /// (two digits for a phone, two letters for an email address), so the
    /// answer does not tell a stranger from a patient.
    fn decoy_hint(&self, normalized: &Phi<String>) -> String {
        let seed = self.verifier.decoy_seed(normalized.expose());
        let n = seed.bytes().fold(0u32, |acc, b| {
            acc.wrapping_mul(31).wrapping_add(u32::from(b))
        });
        if self.sender.wants_phone() {
            format!("{:02}", n % 100)
        } else {
            let letter = |k: u32| char::from(b'a' + u8::try_from(k % 26).unwrap_or(0));
            [letter(n), letter(n / 26)].iter().collect()
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
