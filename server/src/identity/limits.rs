//! How often verification may start and codes may go out, across sessions,
//! so that nobody can use the chat to try list after list of breached
//! details or to flood a patient's phone with codes (SMS bombing):
//!
//! - per session: [`VerificationLimits::starts_per_session`] verification
//!   starts (details looked up) for the life of the session;
//! - per client address (an IPv6 address counts by its /64):
//!   [`VerificationLimits::starts_per_address_per_hour`];
//! - per patient: [`VerificationLimits::starts_per_patient_per_hour`]
//!   starts and [`VerificationLimits::codes_per_patient_per_hour`] codes
//!   (resends included), on top of the resend cooldown that
//!   [`super::otp`] keeps in the store.
//!
//! Session and address are counted before the EHR is asked, so they take
//! the same steps for anybody. "Per patient" is counted after the lookup,
//! under several keys at once, and a start or code needs room under every
//! one of them: the matched patient's [`Subject`] (for details that match
//! nobody, the decoy's), and one key per reading of the last name with the
//! birth date ([`super::details::Details::family_candidates`]). The name
//! keys are why the answer cannot tell a patient from a stranger: a patient
//! typed as "Sample" and as "Morgan Sample" shares one count because both
//! readings include "sample", and so do a stranger's two typings. (Only a
//! patient on file under two unrelated last names, found by either, counts
//! both typings together where a stranger's would not.)
//!
//! The windows slide: an event counts for an hour after it happened (a
//! session's, for [`crate::config::MAX_ABSOLUTE`], longer than any session
//! lives). A refused attempt takes nothing, so hammering does not extend
//! the wait. Taking is all or nothing under one lock, so parallel starts
//! cannot slip past a limit.
//!
//! On SQLite (one instance) the counters live in this process's memory:
//! a restart forgets them. Instances sharing a PostgreSQL count in it
//! ([`super::shared_counts`]), so that N of them allow what one would;
//! when it cannot answer, each instance's memory counts meanwhile. The
//! limits that must hold everywhere (wrong codes, lockout, resend
//! cooldown) are in the store in either case ([`super::otp`]). Counters
//! in memory that have run out of their window are swept once many are
//! tracked.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

use super::otp::Subject;
use super::shared_counts::{SharedCounts, SharedWant};
use crate::records::Requester;
use crate::store::Store;

/// Keys tracked before expired ones are swept.
const SWEEP_AT: usize = 10_000;

/// The numbers, from `[verification]` (see [`super::config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerificationLimits {
    /// Verification starts one chat session may make (3).
    pub starts_per_session: u32,
    /// Verification starts one client address may make per hour (10).
    pub starts_per_address_per_hour: u32,
    /// Verification starts for one patient per hour, from anywhere (5).
    pub starts_per_patient_per_hour: u32,
    /// Codes sent to one patient per hour, resends included (3).
    pub codes_per_patient_per_hour: u32,
}

impl Default for VerificationLimits {
    fn default() -> Self {
        Self {
            starts_per_session: 3,
            starts_per_address_per_hour: 10,
            starts_per_patient_per_hour: 5,
            codes_per_patient_per_hour: 3,
        }
    }
}

/// The keys a patient's starts and codes count under (blind indexes only,
/// never PHI): see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PatientKeys(Vec<String>);

impl PatientKeys {
    /// The subject's key and one per reading of the name (`names`: blind
    /// indexes of birth date and last name).
    #[must_use]
    pub fn new(subject: &Subject, names: impl IntoIterator<Item = String>) -> Self {
        let mut keys = vec![subject.0.clone()];
        keys.extend(names);
        Self(keys)
    }
}

/// One count to take: its key, its limit and its window.
struct Want {
    key: String,
    max: u32,
    window: Duration,
}

/// Events in the window, oldest first.
struct Seen {
    window: Duration,
    at: VecDeque<DateTime<Utc>>,
}

impl Seen {
    fn prune(&mut self, now: DateTime<Utc>) {
        while self.at.front().is_some_and(|t| *t <= now - self.window) {
            self.at.pop_front();
        }
    }
}

/// The counters, shared by every session of this process (and, with
/// [`Counters::shared_in`], by every instance on the database).
pub struct Counters {
    limits: VerificationLimits,
    seen: Mutex<HashMap<String, Seen>>,
    shared: Option<SharedCounts>,
}

impl Counters {
    /// Counters enforcing `limits`, in memory.
    #[must_use]
    pub fn new(limits: VerificationLimits) -> Self {
        Self {
            limits,
            seen: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// The same, counted in `store` (for instances sharing a
    /// PostgreSQL).
    #[must_use]
    pub fn shared_in(mut self, store: Store) -> Self {
        self.shared = Some(SharedCounts::new(store, session_window()));
        self
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> &VerificationLimits {
        &self.limits
    }

    /// Takes one start for the session and its address; false (and nothing
    /// taken) when either has none left.
    pub async fn take_start(&self, who: &Requester, now: DateTime<Utc>) -> bool {
        self.take(&self.session_wants(who), now).await
    }

    /// Gives back what [`Counters::take_start`] took (a start the EHR could
    /// not answer does not count).
    pub async fn give_back_start(&self, who: &Requester, now: DateTime<Utc>) {
        self.give_back(&self.session_wants(who), now).await;
    }

    /// Takes one start for the patient; false when any key has none left.
    pub async fn take_patient_start(&self, keys: &PatientKeys, now: DateTime<Utc>) -> bool {
        let wants = self.patient_wants("start", keys, self.limits.starts_per_patient_per_hour);
        self.take(&wants, now).await
    }

    /// Takes one code for the patient; false when any key has none left.
    pub async fn take_code(&self, keys: &PatientKeys, now: DateTime<Utc>) -> bool {
        self.take(&self.code_wants(keys), now).await
    }

    /// Gives back a code that was not issued after all (too soon, locked,
    /// or the store failed).
    pub async fn give_back_code(&self, keys: &PatientKeys, now: DateTime<Utc>) {
        self.give_back(&self.code_wants(keys), now).await;
    }

    fn session_wants(&self, who: &Requester) -> Vec<Want> {
        let mut wants = vec![Want {
            key: format!("session:{}", who.session),
            max: self.limits.starts_per_session,
            window: session_window(),
        }];
        if let Some(addr) = who.client {
            wants.push(Want {
                key: format!("address:{}", address_key(addr)),
                max: self.limits.starts_per_address_per_hour,
                window: Duration::hours(1),
            });
        }
        wants
    }

    fn code_wants(&self, keys: &PatientKeys) -> Vec<Want> {
        self.patient_wants("code", keys, self.limits.codes_per_patient_per_hour)
    }

    fn patient_wants(&self, kind: &str, keys: &PatientKeys, max: u32) -> Vec<Want> {
        keys.0
            .iter()
            .map(|k| Want {
                key: format!("{kind}:{k}"),
                max,
                window: Duration::hours(1),
            })
            .collect()
    }

    async fn take(&self, wants: &[Want], now: DateTime<Utc>) -> bool {
        if let Some(shared) = &self.shared {
            match shared.take(&Self::shared(wants), now).await {
                Ok(taken) => return taken,
                Err(e) => {
                    tracing::warn!(error = %e, "verification counts cannot be read from the database; this instance counts alone meanwhile")
                }
            }
        }
        self.take_here(wants, now)
    }

    async fn give_back(&self, wants: &[Want], now: DateTime<Utc>) {
        if let Some(shared) = &self.shared {
            match shared.give_back(&Self::shared(wants), now).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "a verification count could not be given back in the database")
                }
            }
        }
        self.give_back_here(wants, now);
    }

    fn shared(wants: &[Want]) -> Vec<SharedWant<'_>> {
        wants
            .iter()
            .map(|w| SharedWant {
                key: &w.key,
                max: w.max,
                window: w.window,
            })
            .collect()
    }

    fn take_here(&self, wants: &[Want], now: DateTime<Utc>) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= SWEEP_AT {
            seen.retain(|_, s| {
                s.prune(now);
                !s.at.is_empty()
            });
        }
        let full = wants.iter().any(|w| {
            seen.get_mut(&w.key).is_some_and(|s| {
                s.prune(now);
                s.at.len() >= usize::try_from(w.max).unwrap_or(usize::MAX)
            })
        });
        if full {
            return false;
        }
        for w in wants {
            seen.entry(w.key.clone())
                .or_insert_with(|| Seen {
                    window: w.window,
                    at: VecDeque::new(),
                })
                .at
                .push_back(now);
        }
        true
    }

    fn give_back_here(&self, wants: &[Want], now: DateTime<Utc>) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        for w in wants {
            if let Some(s) = seen.get_mut(&w.key) {
                if let Some(i) = s.at.iter().rposition(|t| *t == now) {
                    s.at.remove(i);
                }
            }
        }
    }
}

/// As long as any session lives: its starts count for its whole life.
fn session_window() -> Duration {
    Duration::from_std(crate::config::MAX_ABSOLUTE).unwrap_or_else(|_| Duration::hours(12))
}

/// The address counted: the address itself for IPv4, its /64 for IPv6 (one
/// host usually holds a whole /64).
fn address_key(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::TimeZone as _;

    use super::*;

    fn who(session: &str, addr: Option<&str>) -> Requester {
        Requester {
            session: session.to_owned(),
            client: addr.map(|a| a.parse().unwrap()),
        }
    }

    #[tokio::test]
    async fn sessions_and_addresses_run_out_and_addresses_refill_after_an_hour() {
        let c = Counters::new(VerificationLimits {
            starts_per_session: 2,
            starts_per_address_per_hour: 3,
            ..VerificationLimits::default()
        });
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        assert!(c.take_start(&who("a", Some("192.0.2.1")), t0).await);
        assert!(c.take_start(&who("a", Some("192.0.2.1")), t0).await);
        assert!(
            !c.take_start(&who("a", Some("192.0.2.1")), t0).await,
            "session"
        );
        assert!(c.take_start(&who("b", Some("192.0.2.1")), t0).await);
        assert!(
            !c.take_start(&who("c", Some("192.0.2.1")), t0).await,
            "address"
        );
        // Another host in the same IPv6 /64 is the same address.
        assert!(c.take_start(&who("d", Some("2001:db8::1")), t0).await);
        assert!(c.take_start(&who("e", Some("2001:db8::2")), t0).await);
        assert!(c.take_start(&who("f", Some("2001:db8::3")), t0).await);
        assert!(!c.take_start(&who("g", Some("2001:db8::4")), t0).await);
        // Refused attempts took nothing: an hour after the first starts,
        // the address has room again; the session never does.
        let later = t0 + Duration::hours(1);
        assert!(c.take_start(&who("h", Some("192.0.2.1")), later).await);
        assert!(!c.take_start(&who("a", Some("192.0.2.9")), later).await);
    }

    #[tokio::test]
    async fn a_patient_key_in_common_is_enough_to_share_the_count() {
        let c = Counters::new(VerificationLimits {
            codes_per_patient_per_hour: 2,
            ..VerificationLimits::default()
        });
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let one = PatientKeys::new(&Subject("s1".into()), ["n-sample".to_owned()]);
        let other = PatientKeys::new(
            &Subject("s2".into()),
            ["n-morgan-sample".to_owned(), "n-sample".to_owned()],
        );
        assert!(c.take_code(&one, t0).await);
        assert!(c.take_code(&other, t0).await);
        assert!(!c.take_code(&one, t0).await);
        c.give_back_code(&other, t0).await;
        assert!(c.take_code(&one, t0).await);
    }
}
