//! One-time codes for out-of-band verification, after NIST SP 800-63B
//! §5.1.3 (out-of-band authenticators) and §5.2.2 (rate limiting).
//!
//! - A code is 6 digits drawn uniformly from the operating system's CSPRNG.
//! - It is valid for 10 minutes and for one successful use.
//! - Only its keyed hash is stored ([`Store::blind_index`], an HMAC under a
//!   key wrapped by the master key, bound to the challenge id), so a copy
//!   of the database cannot be brute-forced offline; hashes are compared in
//!   constant time.
//! - Each code takes at most [`OtpPolicy::attempts_per_code`] wrong entries.
//! - New codes for a subject wait [`OtpPolicy::resend_cooldown`] after the
//!   previous one (and [`super::limits`] caps how many go out per hour).
//! - A *decoy* challenge (details that match nobody) stores a random hash
//!   that no code can produce, and walks through exactly the same steps and
//!   queries, so the answers to a stranger and to a patient do not differ.
//!
//! # Wrong codes: a stepped wait, then a lockout
//!
//! Each *subject* (a patient, or the details someone typed that match no
//! patient) counts its wrong entries in a row across all its codes and
//! sessions; only a correct code (or front desk, [`super::unlock`]) resets
//! the count, and asking for a new code never does. Every
//! [`OtpPolicy::max_consecutive_failures`] wrong entries the subject waits:
//! [`OtpPolicy::lockout`] the first time, twice as long each time after, up
//! to [`OtpPolicy::max_lockout`]. At [`NIST_MAX_CONSECUTIVE_FAILURES`] (100,
//! the most §5.2.2 allows) it is locked until front desk, having confirmed
//! who the patient is, ends the lockout.
//!
//! Why a stepped wait rather than one long lockout: the wrong codes need no
//! more than the patient's birth date and last name, so a lockout of a day
//! after ten of them let any stranger shut a patient out for a day. §5.2.2
//! allows waits that grow as the count nears its limit instead. With the
//! default limits a stranger's burst of wrong codes costs the patient
//! fifteen minutes, and every code they guess at is one the patient's phone
//! receives (at most three an hour, [`super::limits`]): fifteen guesses an
//! hour, about seven hours of attack and twenty texts to the patient before
//! the hard lockout, while the chance of guessing a code stays at most
//! 100 in a million.
//!
//! Every counter changes in one SQL statement (`attempts = attempts + 1 ...
//! RETURNING`), so parallel guesses from many sessions cannot slip past a
//! limit by racing each other.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use rand_core::{OsRng, RngCore};
use sqlx::Row as _;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::store::Store;

/// The limits one-time codes follow.
#[derive(Debug, Clone, Copy)]
pub struct OtpPolicy {
    /// How long a code is valid (10 minutes).
    pub ttl: Duration,
    /// Wrong entries one code takes before it is spent (5).
    pub attempts_per_code: i64,
    /// Wrong entries in a row, across codes, before each wait (1 to 100).
    pub max_consecutive_failures: i64,
    /// The first wait; each later one is twice as long.
    pub lockout: Duration,
    /// The longest wait.
    pub max_lockout: Duration,
    /// The shortest time between two codes for one subject.
    pub resend_cooldown: Duration,
}

/// Wrong entries in a row after which a subject is locked until front desk
/// ends it (NIST SP 800-63B §5.2.2: at most 100).
pub const NIST_MAX_CONSECUTIVE_FAILURES: i64 = 100;

/// `locked_until` for a lockout that only front desk ends.
const UNTIL_UNLOCKED: i64 = i64::MAX;

/// How long a subject is locked after a wrong entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// A wait, after which codes work again (the count goes on).
    For(Duration),
    /// Until front desk ends it ([`Verifier::unlock`]).
    UntilUnlocked,
}

impl OtpPolicy {
    /// The lock after `failures` wrong entries in a row; `None` when it is
    /// not a wait's turn.
    #[must_use]
    pub fn lock_after(&self, failures: i64) -> Option<Lock> {
        if failures >= NIST_MAX_CONSECUTIVE_FAILURES {
            return Some(Lock::UntilUnlocked);
        }
        let every = self.max_consecutive_failures.max(1);
        if failures <= 0 || failures % every != 0 {
            return None;
        }
        let doublings = u32::try_from(failures / every - 1)
            .unwrap_or(u32::MAX)
            .min(20);
        let wait = self
            .lockout
            .num_seconds()
            .saturating_mul(1_i64 << doublings);
        Some(Lock::For(Duration::seconds(
            wait.min(
                self.max_lockout
                    .num_seconds()
                    .max(self.lockout.num_seconds()),
            ),
        )))
    }
}

impl Default for OtpPolicy {
    fn default() -> Self {
        Self {
            ttl: Duration::minutes(10),
            attempts_per_code: 5,
            max_consecutive_failures: 10,
            lockout: Duration::minutes(15),
            max_lockout: Duration::hours(1),
            resend_cooldown: Duration::seconds(60),
        }
    }
}

/// A one-time code in the clear: only ever on its way to the patient.
/// Redacted in `Debug`, wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct OtpCode(String);

impl OtpCode {
    /// Six digits, uniform over 000000..=999999, from the OS CSPRNG.
    #[must_use]
    pub fn generate() -> Self {
        // Rejection sampling keeps the distribution uniform: 4_294_000_000
        // is the largest multiple of 10^6 below 2^32.
        let n = loop {
            let x = OsRng.next_u32();
            if x < 4_294_000_000 {
                break x % 1_000_000;
            }
        };
        Self(format!("{n:06}"))
    }

    /// Reads what a patient typed: six digits, ignoring spaces and dashes.
    /// `None` for anything else (which is not counted as a wrong code).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let digits: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Self(digits))
    }

    /// The digits, for the message that delivers them.
    #[must_use]
    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode(******)")
    }
}

/// Who a code's failures count against: a blind index of the patient's EHR
/// id, or of the details typed when they match nobody. Never PHI itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Subject(pub String);

/// A code that was issued: its challenge id, and the code itself when there
/// is someone to send it to (never for a decoy).
#[derive(Debug)]
pub struct Issued {
    /// Names the challenge in [`Verifier::check`].
    pub challenge: String,
    /// The code to deliver; `None` for a decoy.
    pub code: Option<OtpCode>,
}

/// Why no code was issued.
#[derive(Debug, PartialEq, Eq)]
pub enum IssueRefused {
    /// The subject is locked out.
    Locked,
    /// A code was sent less than the cooldown ago; retry after this long.
    TooSoon(Duration),
}

/// The result of checking one entered code.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// Right code: the challenge is spent and the failure count reset.
    Verified,
    /// Wrong code; this many entries are left for this code.
    Wrong {
        /// Entries left before the code is spent.
        left: i64,
    },
    /// Wrong code, and that was the code's last entry: ask for a new one.
    Spent,
    /// The code is older than its time to live or was already used.
    Expired,
    /// The subject is locked out; no code is even compared.
    Locked,
}

/// Errors from the store; the patient is told to try again or call.
#[derive(Debug, thiserror::Error)]
#[error("verification storage failed: {0}")]
pub struct OtpStoreError(#[from] sqlx::Error);

/// Issues and checks codes against the store.
#[derive(Clone)]
pub struct Verifier {
    store: Store,
    policy: OtpPolicy,
}

impl Verifier {
    /// A verifier with these limits.
    #[must_use]
    pub fn new(store: Store, policy: OtpPolicy) -> Self {
        Self { store, policy }
    }

    /// The limits in force.
    #[must_use]
    pub fn policy(&self) -> &OtpPolicy {
        &self.policy
    }

    /// The subject for a patient's EHR id.
    #[must_use]
    pub fn patient_subject(&self, patient_id: &str) -> Subject {
        Subject(
            self.store
                .blind_index("otp-subject-patient", patient_id.as_bytes()),
        )
    }

    /// The subject for details that matched nobody (normalized by the
    /// caller), so the same details count their failures together.
    #[must_use]
    pub fn details_subject(&self, normalized_details: &str) -> Subject {
        Subject(
            self.store
                .blind_index("otp-subject-details", normalized_details.as_bytes()),
        )
    }

    /// A key for one reading of typed details (birth date and folded last
    /// name), under which [`super::limits`] counts starts and codes.
    #[must_use]
    pub fn name_key(&self, birth_date_and_name: &str) -> String {
        self.store
            .blind_index("verification-limit-name", birth_date_and_name.as_bytes())
    }

    fn code_hash(&self, challenge: &str, code: &OtpCode) -> String {
        let mut input = challenge.as_bytes().to_vec();
        input.push(0);
        input.extend_from_slice(code.digits().as_bytes());
        let hash = self.store.blind_index("otp-code", &input);
        input.zeroize();
        hash
    }

    /// Whether the subject is locked out now.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn locked(
        &self,
        subject: &Subject,
        now: DateTime<Utc>,
    ) -> Result<bool, OtpStoreError> {
        let row = sqlx::query("SELECT locked_until FROM verification_subjects WHERE subject = $1")
            .bind(&subject.0)
            .fetch_optional(self.store.pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<i64, _>(0)? > now.timestamp(),
            None => false,
        })
    }

    /// Ends a subject's lockout and resets its failure count (front desk,
    /// having confirmed who the patient is). Returns whether it was locked.
    ///
    /// # Errors
    /// When the store fails; nothing changes then.
    pub async fn unlock(
        &self,
        subject: &Subject,
        now: DateTime<Utc>,
    ) -> Result<bool, OtpStoreError> {
        let was_locked = self.locked(subject, now).await?;
        sqlx::query(
            "UPDATE verification_subjects SET failures = 0, locked_until = 0 WHERE subject = $1",
        )
        .bind(&subject.0)
        .execute(self.store.pool())
        .await?;
        Ok(was_locked)
    }

    /// Issues a new code for `subject`, spending any earlier one. With
    /// `deliverable == false` the challenge is a decoy that no code opens.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn issue(
        &self,
        subject: &Subject,
        deliverable: bool,
        now: DateTime<Utc>,
    ) -> Result<Result<Issued, IssueRefused>, OtpStoreError> {
        let pool = self.store.pool();
        let t = now.timestamp();
        // Claim the send slot atomically: the row's last_sent_at moves only
        // when the cooldown has passed and the subject is not locked.
        let claimed = sqlx::query(
            "INSERT INTO verification_subjects (subject, failures, locked_until, last_sent_at) \
             VALUES ($1, 0, 0, $2) \
             ON CONFLICT (subject) DO UPDATE SET last_sent_at = $2 \
             WHERE verification_subjects.locked_until <= $2 \
               AND verification_subjects.last_sent_at <= $3 \
             RETURNING failures",
        )
        .bind(&subject.0)
        .bind(t)
        .bind(t - self.policy.resend_cooldown.num_seconds())
        .fetch_optional(pool)
        .await?;
        if claimed.is_none() {
            let row = sqlx::query(
                "SELECT locked_until, last_sent_at FROM verification_subjects WHERE subject = $1",
            )
            .bind(&subject.0)
            .fetch_one(pool)
            .await?;
            let locked_until: i64 = row.try_get(0)?;
            let last_sent: i64 = row.try_get(1)?;
            if locked_until > t {
                return Ok(Err(IssueRefused::Locked));
            }
            let wait = last_sent + self.policy.resend_cooldown.num_seconds() - t;
            return Ok(Err(IssueRefused::TooSoon(Duration::seconds(wait.max(1)))));
        }
        sqlx::query("UPDATE otp_challenges SET spent = 1 WHERE subject = $1 AND spent = 0")
            .bind(&subject.0)
            .execute(pool)
            .await?;
        let challenge = random_id();
        let (code, hash) = if deliverable {
            let code = OtpCode::generate();
            let hash = self.code_hash(&challenge, &code);
            (Some(code), hash)
        } else {
            // 32 random bytes where an HMAC output would be: no code
            // produces it (a chance of 2^-256).
            (None, random_id_of(32))
        };
        sqlx::query(
            "INSERT INTO otp_challenges (id, subject, code_hash, created_at, expires_at, attempts, spent) \
             VALUES ($1, $2, $3, $4, $5, 0, 0)",
        )
        .bind(&challenge)
        .bind(&subject.0)
        .bind(&hash)
        .bind(t)
        .bind((now + self.policy.ttl).timestamp())
        .execute(pool)
        .await?;
        Ok(Ok(Issued { challenge, code }))
    }

    /// Checks a code typed for `challenge`.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn check(
        &self,
        subject: &Subject,
        challenge: &str,
        entered: &OtpCode,
        now: DateTime<Utc>,
    ) -> Result<Check, OtpStoreError> {
        let pool = self.store.pool();
        let t = now.timestamp();
        if self.locked(subject, now).await? {
            return Ok(Check::Locked);
        }
        // Take one attempt from the code, atomically, before comparing.
        let taken = sqlx::query(
            "UPDATE otp_challenges SET attempts = attempts + 1 \
             WHERE id = $1 AND subject = $2 AND spent = 0 AND expires_at > $3 AND attempts < $4 \
             RETURNING code_hash, attempts",
        )
        .bind(challenge)
        .bind(&subject.0)
        .bind(t)
        .bind(self.policy.attempts_per_code)
        .fetch_optional(pool)
        .await?;
        let Some(row) = taken else {
            return Ok(Check::Expired);
        };
        let stored: String = row.try_get(0)?;
        let attempts: i64 = row.try_get(1)?;
        let entered_hash = self.code_hash(challenge, entered);
        if bool::from(entered_hash.as_bytes().ct_eq(stored.as_bytes())) {
            let used =
                sqlx::query("UPDATE otp_challenges SET spent = 1 WHERE id = $1 AND spent = 0")
                    .bind(challenge)
                    .execute(pool)
                    .await?;
            if used.rows_affected() != 1 {
                return Ok(Check::Expired);
            }
            sqlx::query("UPDATE verification_subjects SET failures = 0 WHERE subject = $1")
                .bind(&subject.0)
                .execute(pool)
                .await?;
            return Ok(Check::Verified);
        }
        let failures: i64 = sqlx::query(
            "UPDATE verification_subjects SET failures = failures + 1 WHERE subject = $1 RETURNING failures",
        )
        .bind(&subject.0)
        .fetch_one(pool)
        .await?
        .try_get(0)?;
        if let Some(lock) = self.policy.lock_after(failures) {
            let until = match lock {
                Lock::For(wait) => t.saturating_add(wait.num_seconds()),
                Lock::UntilUnlocked => UNTIL_UNLOCKED,
            };
            sqlx::query("UPDATE verification_subjects SET locked_until = $2 WHERE subject = $1")
                .bind(&subject.0)
                .bind(until)
                .execute(pool)
                .await?;
            sqlx::query("UPDATE otp_challenges SET spent = 1 WHERE subject = $1")
                .bind(&subject.0)
                .execute(pool)
                .await?;
            return Ok(Check::Locked);
        }
        if attempts >= self.policy.attempts_per_code {
            sqlx::query("UPDATE otp_challenges SET spent = 1 WHERE id = $1")
                .bind(challenge)
                .execute(pool)
                .await?;
            return Ok(Check::Spent);
        }
        Ok(Check::Wrong {
            left: self.policy.attempts_per_code - attempts,
        })
    }
}

/// A random 16-byte id, base64url (challenge ids, limit events).
pub(super) fn random_id() -> String {
    random_id_of(16)
}

fn random_id_of(len: usize) -> String {
    use base64::Engine as _;
    let mut bytes = vec![0u8; len];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::OtpCode;

    #[test]
    fn codes_are_six_digits_and_spread_over_every_position() {
        let mut seen = [[false; 10]; 6];
        for _ in 0..2000 {
            let code = OtpCode::generate();
            assert_eq!(code.digits().len(), 6);
            for (i, b) in code.digits().bytes().enumerate() {
                seen[i][usize::from(b - b'0')] = true;
            }
        }
        assert!(seen.iter().all(|p| p.iter().all(|d| *d)));
    }

    #[test]
    fn waits_double_every_step_up_to_the_longest_then_lock_at_one_hundred() {
        use super::{Lock, OtpPolicy};
        use chrono::Duration;
        let p = OtpPolicy::default();
        let wait = |n| p.lock_after(n);
        assert_eq!(wait(9), None);
        assert_eq!(wait(10), Some(Lock::For(Duration::minutes(15))));
        assert_eq!(wait(11), None);
        assert_eq!(wait(20), Some(Lock::For(Duration::minutes(30))));
        assert_eq!(wait(30), Some(Lock::For(Duration::minutes(60))));
        assert_eq!(wait(90), Some(Lock::For(Duration::minutes(60))));
        assert_eq!(wait(100), Some(Lock::UntilUnlocked));
        assert_eq!(wait(101), Some(Lock::UntilUnlocked));
        let every_time = OtpPolicy {
            max_consecutive_failures: 1,
            ..p
        };
        assert_eq!(
            every_time.lock_after(64),
            Some(Lock::For(Duration::minutes(60)))
        );
    }

    #[test]
    fn parsing_accepts_spacing_and_refuses_anything_but_six_digits() {
        assert_eq!(OtpCode::parse(" 123 456 ").unwrap().digits(), "123456");
        assert_eq!(OtpCode::parse("123-456").unwrap().digits(), "123456");
        for bad in ["12345", "1234567", "12345a", "١٢٣٤٥٦", ""] {
            assert!(OtpCode::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", OtpCode::parse("123456").unwrap()),
            "OtpCode(******)"
        );
    }
}
