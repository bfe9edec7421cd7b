//! [`Staff::sign_in`]: the order of the checks, which is what keeps the
//! answers from telling an attacker anything.
//!
//! 1. The client address takes one attempt from its window
//!    ([`throttle::reserve_address`]); none left: `Throttled`.
//! 2. The username (as typed, normalized, blind-indexed) takes one attempt
//!    from its failures in a row ([`throttle::reserve_account`]); locked:
//!    `Locked`, for names that exist and names that do not alike, with
//!    the right password too.
//! 3. One argon2id verification: the account's hash, or the dummy one for
//!    a name that does not exist.
//! 4. When the password matched, the TOTP code, for a step not used
//!    before; the step is then claimed in one conditional `UPDATE`, so a
//!    replayed code (or two racing sign-ins with one code) fails.
//! 5. Success clears the failures and hands the address its attempt back;
//!    failure leaves them counted and answers `Refused`, or `Locked` when
//!    that was the last attempt before the lock.

use std::net::IpAddr;

use sqlx::Row as _;

use super::{
    password, throttle, totp_aad, Role, SignInError, SignedIn, Staff, StaffMember, StoreFailure,
};
use crate::audit::{Actor, AuditAction, AuditEvent, AuditOutcome};
use crate::staff::totp::TotpSecret;
use crate::store::Sealed;

/// An account's sign-in material, read for one attempt.
struct Candidate {
    member: StaffMember,
    password_hash: String,
    totp_secret: Sealed,
    totp_last_step: i64,
}

impl Staff {
    /// Takes one attempt from the client address's window, for any kind
    /// of sign-in; the address's key (to hand the attempt back on
    /// success), or `Throttled` (audited) when none is left.
    ///
    /// # Errors
    /// [`SignInError::Throttled`] or [`SignInError::Storage`].
    pub(super) async fn take_address_attempt(
        &self,
        client: Option<IpAddr>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<String>, SignInError> {
        let Some(addr) = client else {
            return Ok(None);
        };
        let key = throttle::address_key(&self.store, addr);
        let allowed = throttle::reserve_address(self.store.pool(), &key, now)
            .await
            .map_err(|e| storage("reserve a sign-in attempt", &e))?;
        if !allowed {
            self.audit_failure(None, client, AuditOutcome::Denied).await;
            return Err(SignInError::Throttled);
        }
        Ok(Some(key))
    }

    /// Signs a staff member in with username, password and TOTP code.
    ///
    /// # Errors
    /// [`SignInError::Refused`] for any wrong factor,
    /// [`SignInError::Locked`], [`SignInError::Throttled`], or
    /// [`SignInError::Storage`].
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        totp: &str,
        client: Option<IpAddr>,
    ) -> Result<SignedIn, SignInError> {
        let now = self.clock.now();
        let pool = self.store.pool();
        let address = self.take_address_attempt(client, now).await?;
        let username = super::normalize_username(username);
        let subject = throttle::account_subject(&self.store, &username);
        let candidate = self
            .candidate(&username)
            .await
            .map_err(|e| storage("read a staff account", &e))?;
        let member_id = candidate.as_ref().map(|c| c.member.id);
        let Some(nth) = throttle::reserve_account(pool, &subject, now)
            .await
            .map_err(|e| storage("reserve a sign-in attempt", &e))?
        else {
            self.audit_failure(member_id, client, AuditOutcome::Denied)
                .await;
            return Err(SignInError::Locked);
        };
        let claimed = self
            .check_factors(candidate.as_ref(), password, totp, now)
            .await;
        let member = match claimed {
            Ok(Some(member)) => member,
            Ok(None) => {
                let last = nth >= throttle::MAX_CONSECUTIVE_FAILURES;
                let outcome = if last {
                    AuditOutcome::Denied
                } else {
                    AuditOutcome::Failure
                };
                self.audit_failure(member_id, client, outcome).await;
                return Err(if last {
                    SignInError::Locked
                } else {
                    SignInError::Refused
                });
            }
            Err(e) => {
                tracing::error!(error = %e, "staff sign-in could not be checked");
                return Err(SignInError::Storage);
            }
        };
        throttle::clear_account(pool, &subject)
            .await
            .map_err(|e| storage("clear sign-in failures", &e))?;
        if let Some(key) = &address {
            throttle::release_address(pool, key)
                .await
                .map_err(|e| storage("release a sign-in attempt", &e))?;
        }
        let (token, csrf, hash) = self.create_session(member.id, now).await.map_err(|e| {
            tracing::error!(error = %e, "could not store a staff session");
            SignInError::Storage
        })?;
        let mut event = AuditEvent::new(
            Actor::Staff(member.id.to_string()),
            AuditAction::StaffSignIn,
            AuditOutcome::Success,
        )
        .with_entity("StaffMember", &member.id.to_string())
        .with_session_id(&hash);
        if let Some(addr) = client {
            event = event.with_client(addr);
        }
        // No sign-in without its audit record.
        if let Err(e) = self.audit.record(event).await {
            tracing::error!(error = %e, "staff sign-in could not be audited; refused");
            let _ = self.delete_session(&hash).await;
            return Err(SignInError::Storage);
        }
        tracing::info!(member = member.id, "staff signed in");
        Ok(SignedIn {
            member,
            token,
            csrf,
        })
    }

    async fn candidate(&self, username: &str) -> Result<Option<Candidate>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, username, display_name, role, password_hash, totp_secret, totp_last_step \
             FROM staff_members WHERE username = $1 AND disabled_at = 0",
        )
        .bind(username)
        .fetch_optional(self.store.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let role: String = row.try_get(3)?;
        let Some(role) = Role::parse(&role) else {
            tracing::error!("a staff member's stored role is unknown; treated as no account");
            return Ok(None);
        };
        Ok(Some(Candidate {
            member: StaffMember {
                id: row.try_get(0)?,
                username: row.try_get(1)?,
                display_name: row.try_get(2)?,
                role,
            },
            password_hash: row.try_get(4)?,
            totp_secret: Sealed::from_stored(row.try_get(5)?),
            totp_last_step: row.try_get(6)?,
        }))
    }

    /// One argon2 verification whatever the candidate; then, when the
    /// password matched, the code. `Ok(Some)` when both are right and the
    /// code's step was claimed.
    async fn check_factors(
        &self,
        candidate: Option<&Candidate>,
        password: &str,
        code: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<StaffMember>, StoreFailure> {
        let password_ok =
            password::verify_blocking(candidate.map(|c| c.password_hash.clone()), password).await;
        let Some(candidate) = candidate.filter(|_| password_ok) else {
            return Ok(None);
        };
        let id = candidate.member.id;
        let secret = self.store.unseal(&totp_aad(id), &candidate.totp_secret)?;
        let secret = TotpSecret::from_bytes(&secret);
        let Some(step) = secret.matching_step(code, now, candidate.totp_last_step) else {
            return Ok(None);
        };
        let claimed = sqlx::query(
            "UPDATE staff_members SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1",
        )
        .bind(step)
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok((claimed.rows_affected() == 1).then(|| candidate.member.clone()))
    }

    pub(super) async fn audit_failure(
        &self,
        member: Option<i64>,
        client: Option<IpAddr>,
        outcome: AuditOutcome,
    ) {
        // The typed username is never recorded: it may be a password typed
        // in the wrong box.
        let mut event = match member {
            Some(id) => AuditEvent::new(
                Actor::Staff(id.to_string()),
                AuditAction::StaffSignInFailed,
                outcome,
            )
            .with_entity("StaffMember", &id.to_string()),
            None => AuditEvent::new(Actor::System, AuditAction::StaffSignInFailed, outcome),
        };
        if let Some(addr) = client {
            event = event.with_client(addr);
        }
        self.audit.record_or_log(event).await;
    }
}

/// Logs a storage failure (no secret is in `e`) and refuses the sign-in.
pub(super) fn storage(what: &str, e: &dyn std::fmt::Display) -> SignInError {
    tracing::error!(error = %e, "could not {what}");
    SignInError::Storage
}
