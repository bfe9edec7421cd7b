//! Staff console sessions: the policy ([`SessionPolicy`]: idle and absolute
//! limits that configuration may only lower), the cookie
//! ([`session_cookie`], [`cleared_cookie`]), and the rows in
//! `staff_sessions`.
//!
//! A session's token (32 random bytes, base64url) lives only in the
//! staff member's cookie: the database keeps its blind index (a keyed
//! hash), so a copy of the database signs no one in. Its CSRF token (32
//! random bytes too) is sealed, bound to that row. The member's name and
//! role are read afresh on every request, so a role change takes effect at
//! once.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand_core::{OsRng, RngCore as _};
use sqlx::Row as _;
use subtle::ConstantTimeEq as _;

use super::{Role, SessionError, Staff, StaffMember, StaffSession, StoreFailure};
use crate::audit::{Actor, AuditAction, AuditEvent, AuditOutcome};
use crate::store::{aad, Sealed, Store};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "carechat_staff";
/// The path the cookie is sent to.
pub const COOKIE_PATH: &str = "/console";
/// The longest token [`Staff::session`] looks up (a real one has 43 chars).
const MAX_TOKEN_LEN: usize = 128;
const TOKEN_BYTES: usize = 32;

/// How long a staff session lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Without a request for this long, the session ends (at most 15 min).
    pub idle: Duration,
    /// This long after sign-in, the session ends whatever (at most 12 h).
    pub absolute: Duration,
}

impl SessionPolicy {
    /// The default and longest idle limit.
    pub const MAX_IDLE: Duration = Duration::from_secs(15 * 60);
    /// The default and longest absolute limit.
    pub const MAX_ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);

    /// A policy with shorter limits than the defaults.
    ///
    /// # Errors
    /// A message naming the limit when either is zero, above its default,
    /// or the idle limit exceeds the absolute one.
    pub fn new(idle: Duration, absolute: Duration) -> Result<Self, String> {
        if idle.is_zero() || absolute.is_zero() {
            return Err("staff session limits must be longer than zero".into());
        }
        if idle > Self::MAX_IDLE {
            return Err(format!(
                "the staff idle limit may be at most {} seconds",
                Self::MAX_IDLE.as_secs()
            ));
        }
        if absolute > Self::MAX_ABSOLUTE {
            return Err(format!(
                "the staff absolute limit may be at most {} seconds",
                Self::MAX_ABSOLUTE.as_secs()
            ));
        }
        if idle > absolute {
            return Err("the staff idle limit may not exceed the absolute limit".into());
        }
        Ok(Self { idle, absolute })
    }

    fn idle_ms(&self) -> i64 {
        i64::try_from(self.idle.as_millis()).unwrap_or(i64::MAX)
    }

    fn absolute_ms(&self) -> i64 {
        i64::try_from(self.absolute.as_millis()).unwrap_or(i64::MAX)
    }
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Self::MAX_IDLE,
            absolute: Self::MAX_ABSOLUTE,
        }
    }
}

/// The `Set-Cookie` value that holds a session: `HttpOnly`,
/// `SameSite=Strict`, `Path=/console`, `Secure` when `secure`, and a
/// `Max-Age` of the absolute limit.
#[must_use]
pub fn session_cookie(token: &str, secure: bool, policy: &SessionPolicy) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path={COOKIE_PATH}; HttpOnly; SameSite=Strict; Max-Age={}{}",
        policy.absolute.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
#[must_use]
pub fn cleared_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; Path={COOKIE_PATH}; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// 32 random bytes, base64url without padding.
pub(crate) fn random_token() -> String {
    let mut bytes = zeroize::Zeroizing::new([0u8; TOKEN_BYTES]);
    OsRng.fill_bytes(&mut *bytes);
    B64U.encode(*bytes)
}

pub(crate) fn token_hash(store: &Store, token: &str) -> String {
    store.blind_index("staff-session-token", token.as_bytes())
}

fn csrf_aad(token_hash: &str) -> Vec<u8> {
    aad("staff_sessions", "csrf", &[token_hash])
}

impl Staff {
    /// Stores a new session for `member`; returns (token, csrf, token hash).
    pub(crate) async fn create_session(
        &self,
        member_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(String, String, String), StoreFailure> {
        let token = random_token();
        let csrf = random_token();
        let hash = token_hash(&self.store, &token);
        let sealed = self.store.seal(&csrf_aad(&hash), csrf.as_bytes())?;
        let t = now.timestamp_millis();
        sqlx::query(
            "INSERT INTO staff_sessions (token_hash, member_id, csrf, created_at, last_seen) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(&hash)
        .bind(member_id)
        .bind(sealed.as_stored())
        .bind(t)
        .execute(self.store.pool())
        .await?;
        Ok((token, csrf, hash))
    }

    pub(crate) async fn delete_session(&self, hash: &str) -> Result<Option<i64>, sqlx::Error> {
        let row =
            sqlx::query("DELETE FROM staff_sessions WHERE token_hash = $1 RETURNING member_id")
                .bind(hash)
                .fetch_optional(self.store.pool())
                .await?;
        row.map(|r| r.try_get::<i64, _>(0)).transpose()
    }

    /// The signed-in staff member for a cookie's token. Ends the session
    /// (and answers [`SessionError::Expired`]) past its idle or absolute
    /// limit; otherwise records this request as its last activity.
    ///
    /// # Errors
    /// [`SessionError::SignedOut`] for a token that names no session,
    /// [`SessionError::Expired`], or [`SessionError::Storage`].
    pub async fn session(&self, token: &str) -> Result<StaffSession, SessionError> {
        self.look_up(token, true).await
    }

    /// As [`Self::session`], without counting as activity: for checks made
    /// on the member's behalf (the realtime channel re-checking that its
    /// session and role still hold), which must not keep an idle session
    /// alive.
    ///
    /// # Errors
    /// As [`Self::session`].
    pub async fn session_quietly(&self, token: &str) -> Result<StaffSession, SessionError> {
        self.look_up(token, false).await
    }

    async fn look_up(&self, token: &str, touch: bool) -> Result<StaffSession, SessionError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(SessionError::SignedOut);
        }
        let hash = token_hash(&self.store, token);
        let row = sqlx::query(
            "SELECT s.csrf, s.created_at, s.last_seen, m.id, m.username, m.display_name, m.role \
             FROM staff_sessions s JOIN staff_members m ON m.id = s.member_id \
             WHERE s.token_hash = $1 AND m.disabled_at = 0",
        )
        .bind(&hash)
        .fetch_optional(self.store.pool())
        .await
        .map_err(|e| storage_error("read a staff session", &e))?;
        let Some(row) = row else {
            return Err(SessionError::SignedOut);
        };
        let read = || -> Result<_, sqlx::Error> {
            Ok((
                row.try_get::<String, _>(0)?,
                row.try_get::<i64, _>(1)?,
                row.try_get::<i64, _>(2)?,
                row.try_get::<i64, _>(3)?,
                row.try_get::<String, _>(4)?,
                row.try_get::<String, _>(5)?,
                row.try_get::<String, _>(6)?,
            ))
        };
        let (csrf, created, last_seen, id, username, display_name, role) =
            read().map_err(|e| storage_error("read a staff session", &e))?;
        let now = self.clock.now().timestamp_millis();
        let idle_over = now.saturating_sub(last_seen) >= self.policy.idle_ms();
        let absolute_over = now.saturating_sub(created) >= self.policy.absolute_ms();
        if idle_over || absolute_over {
            if let Err(e) = self.delete_session(&hash).await {
                tracing::error!(error = %e, "could not delete an expired staff session");
            }
            self.audit
                .record_or_log(
                    AuditEvent::new(
                        Actor::Staff(id.to_string()),
                        AuditAction::StaffSignOut,
                        AuditOutcome::Success,
                    )
                    .with_entity("StaffMember", &id.to_string())
                    .with_session_id(&hash),
                )
                .await;
            return Err(SessionError::Expired);
        }
        let role = Role::parse(&role).ok_or_else(|| {
            tracing::error!(member = id, "a staff member's stored role is unknown");
            SessionError::Storage
        })?;
        let csrf = self
            .store
            .unseal(&csrf_aad(&hash), &Sealed::from_stored(csrf))
            .map_err(|e| {
                tracing::error!(error = %e, "a staff session's CSRF token does not open");
                SessionError::Storage
            })?;
        let csrf = String::from_utf8(csrf.to_vec()).map_err(|_| SessionError::Storage)?;
        if touch {
            sqlx::query(
                "UPDATE staff_sessions SET last_seen = $2 WHERE token_hash = $1 AND last_seen < $2",
            )
            .bind(&hash)
            .bind(now)
            .execute(self.store.pool())
            .await
            .map_err(|e| storage_error("touch a staff session", &e))?;
        }
        Ok(StaffSession {
            member: StaffMember {
                id,
                username,
                display_name,
                role,
            },
            csrf,
        })
    }

    /// Whether `presented` is the session's CSRF token (constant time).
    pub async fn check_csrf(&self, session: &StaffSession, presented: &str) -> bool {
        !presented.is_empty() && bool::from(session.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }

    /// Ends the session named by a cookie's token, if there is one.
    pub async fn sign_out(&self, token: &str) {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return;
        }
        let hash = token_hash(&self.store, token);
        match self.delete_session(&hash).await {
            Ok(Some(id)) => {
                self.audit
                    .record_or_log(
                        AuditEvent::new(
                            Actor::Staff(id.to_string()),
                            AuditAction::StaffSignOut,
                            AuditOutcome::Success,
                        )
                        .with_entity("StaffMember", &id.to_string())
                        .with_session_id(&hash),
                    )
                    .await;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "could not delete a staff session"),
        }
    }

    /// Deletes every session past its idle or absolute limit; returns how
    /// many. For a periodic sweep (expired sessions already refuse use).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn reap(&self) -> Result<u64, sqlx::Error> {
        let now = self.clock.now().timestamp_millis();
        let done =
            sqlx::query("DELETE FROM staff_sessions WHERE last_seen <= $1 OR created_at <= $2")
                .bind(now.saturating_sub(self.policy.idle_ms()))
                .bind(now.saturating_sub(self.policy.absolute_ms()))
                .execute(self.store.pool())
                .await?;
        Ok(done.rows_affected())
    }
}

fn storage_error(what: &str, e: &sqlx::Error) -> SessionError {
    tracing::error!(error = %e, "could not {what}");
    SessionError::Storage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_can_only_be_lowered() {
        let d = SessionPolicy::default();
        assert_eq!(d.idle, Duration::from_secs(900));
        assert_eq!(d.absolute, Duration::from_secs(43_200));
        assert!(SessionPolicy::new(Duration::from_secs(300), Duration::from_secs(3600)).is_ok());
        assert!(SessionPolicy::new(d.idle, d.absolute).is_ok());
        assert!(SessionPolicy::new(Duration::from_secs(901), d.absolute).is_err());
        assert!(SessionPolicy::new(d.idle, Duration::from_secs(43_201)).is_err());
        assert!(SessionPolicy::new(Duration::ZERO, d.absolute).is_err());
        assert!(SessionPolicy::new(Duration::from_secs(600), Duration::from_secs(60)).is_err());
    }

    #[test]
    fn cookies_are_http_only_strict_scoped_to_the_console() {
        let p = SessionPolicy::default();
        assert_eq!(
            session_cookie("tok", true, &p),
            "carechat_staff=tok; Path=/console; HttpOnly; SameSite=Strict; Max-Age=43200; Secure"
        );
        assert_eq!(
            session_cookie("tok", false, &p),
            "carechat_staff=tok; Path=/console; HttpOnly; SameSite=Strict; Max-Age=43200"
        );
        assert_eq!(
            cleared_cookie(true),
            "carechat_staff=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0; Secure"
        );
    }

    #[test]
    fn tokens_are_32_random_bytes_in_base64url() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_eq!(B64U.decode(&a).map(|b| b.len()).ok(), Some(32));
        assert_ne!(a, random_token());
    }
}
