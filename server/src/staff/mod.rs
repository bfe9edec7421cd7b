//! Clinic staff: accounts, roles, sign-in with a password and a TOTP code,
//! sign-in limits, and console sessions. The console's handlers call
//! [`Staff`]; nothing here knows about HTTP beyond the cookie's text.
//!
//! - Accounts ([`Staff::add`], [`Staff::list`], [`Staff::set_role`]): the
//!   first administrator is created with `carechat staff add`; the console
//!   lets administrators manage the rest ([`admin`]: add, role, disable,
//!   new TOTP secret, unlock). Usernames
//!   are lower-case; passwords are argon2id PHC strings ([`password`]);
//!   TOTP secrets are sealed with the store's data key, bound to the row.
//! - Roles ([`Role`]): front desk and nurses chat with patients,
//!   compliance reads the audit log, administrators manage accounts.
//! - Sign-in ([`Staff::sign_in`]): one answer, [`SignInError::Refused`],
//!   for a wrong username, password or code; [`SignInError::Locked`] after
//!   5 failures in a row for that username, whether or not it exists;
//!   [`SignInError::Throttled`] after 20 failures from one address in 15
//!   minutes ([`throttle`]). TOTP codes ([`totp`]) are accepted one step
//!   either side of now, each step once.
//! - Passkeys ([`passkey`]): WebAuthn with user verification, as the
//!   stronger second factor: registered while signed in, and a sign-in of
//!   their own that counts as both factors, under the same limits.
//! - Sessions ([`sessions`]): idle and absolute limits from
//!   [`SessionPolicy`], timed by the injected [`Clock`].
//!
//! Every sign-in, failed sign-in, sign-out, account creation and role
//! change is audited; no password, code, token or typed username ever is,
//! nor is any logged.

pub mod admin;
pub mod passkey;
pub mod password;
pub mod sessions;
mod signin;
pub mod throttle;
pub mod totp;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use crate::audit::{Actor, AuditAction, AuditEvent, AuditLog, AuditOutcome};
use crate::clock::Clock;
use crate::store::{aad, Store, StoreError};
pub use password::{PasswordRule, MIN_PASSWORD_CHARS};
pub use sessions::{cleared_cookie, session_cookie, SessionPolicy, SESSION_COOKIE};
use totp::TotpSecret;

/// The issuer authenticator apps show unless [`Staff::with_issuer`] names
/// the clinic.
pub const DEFAULT_ISSUER: &str = "CareChat";
/// The longest username.
pub const MAX_USERNAME_LEN: usize = 64;
/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Front desk: chats with patients.
    FrontDesk,
    /// Nurse: chats with patients.
    Nurse,
    /// Compliance: reads the audit log.
    Compliance,
    /// Administrator: manages staff accounts.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: &'static [Self] = &[Self::FrontDesk, Self::Nurse, Self::Compliance, Self::Admin];

    /// The stored name: `front_desk`, `nurse`, `compliance` or `admin`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FrontDesk => "front_desk",
            Self::Nurse => "nurse",
            Self::Compliance => "compliance",
            Self::Admin => "admin",
        }
    }

    /// Parses [`Self::as_str`] (case and `-` for `_` forgiven).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL.iter().copied().find(|r| r.as_str() == text)
    }

    /// Whether this role chats with patients (front desk, nurse).
    #[must_use]
    pub fn can_chat(self) -> bool {
        matches!(self, Self::FrontDesk | Self::Nurse)
    }

    /// Whether this role reads the audit log (compliance).
    #[must_use]
    pub fn can_read_audit(self) -> bool {
        matches!(self, Self::Compliance)
    }

    /// Whether this role manages staff accounts (admin).
    #[must_use]
    pub fn can_admin(self) -> bool {
        matches!(self, Self::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A staff member's account, as others see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    /// The account's number.
    pub id: i64,
    /// The sign-in name (lower-case).
    pub username: String,
    /// The name patients and colleagues see.
    pub display_name: String,
    /// What they may do.
    pub role: Role,
}

/// A new account and its TOTP secret, shown to the administrator once.
pub struct NewAccount {
    /// The account.
    pub member: StaffMember,
    /// The TOTP secret in base32, for typing into an authenticator app.
    pub totp_secret_base32: String,
    /// The same secret as an `otpauth://totp/` URI (for a QR code).
    pub otpauth_uri: String,
}

impl fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAccount")
            .field("member", &self.member)
            .field("totp_secret_base32", &"<redacted>")
            .field("otpauth_uri", &"<redacted>")
            .finish()
    }
}

/// A successful sign-in: the cookie's token and the session's CSRF token.
pub struct SignedIn {
    /// Who signed in.
    pub member: StaffMember,
    /// The session cookie's value (32 random bytes, base64url): see
    /// [`session_cookie`].
    pub token: String,
    /// The token forms and requests must echo.
    pub csrf: String,
}

impl fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedIn")
            .field("member", &self.member)
            .field("token", &"<redacted>")
            .field("csrf", &"<redacted>")
            .finish()
    }
}

/// A live session, as a request sees it.
#[derive(Clone)]
pub struct StaffSession {
    /// Who (name and role as they are now).
    pub member: StaffMember,
    /// The session's CSRF token (compare with [`Staff::check_csrf`]).
    pub csrf: String,
}

impl fmt::Debug for StaffSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaffSession")
            .field("member", &self.member)
            .field("csrf", &"<redacted>")
            .finish()
    }
}

/// Why a sign-in failed. The messages are fit to show the person signing
/// in; none says which factor was wrong or whether the account exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// A wrong username, password or code (one answer for all).
    #[error("the username, password or code is not right")]
    Refused,
    /// Too many failures in a row for this username, existing or not.
    #[error("this account is locked; try again later or ask an administrator")]
    Locked,
    /// Too many failed attempts from this address.
    #[error("too many sign-in attempts from this address; try again later")]
    Throttled,
    /// The database failed (logged, without details, on the server).
    #[error("signing in is not possible right now; try again in a moment")]
    Storage,
}

/// Why a session was not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// No session has this token (never signed in, or signed out).
    #[error("not signed in")]
    SignedOut,
    /// The session passed its idle or absolute limit and has ended.
    #[error("the session has expired; sign in again")]
    Expired,
    /// The database failed.
    #[error("the session could not be checked right now")]
    Storage,
}

/// Problems managing accounts. None carries a password or secret.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// The username is empty, too long or has characters other than
    /// letters, digits, `.`, `_`, `-` and `@`.
    #[error("a username is 1 to {MAX_USERNAME_LEN} letters, digits, '.', '_', '-' or '@'")]
    InvalidUsername,
    /// The display name is empty, too long or has control characters.
    #[error("a display name is 1 to {MAX_DISPLAY_NAME_CHARS} printable characters")]
    InvalidDisplayName,
    /// The password breaks the length rule.
    #[error(transparent)]
    Password(#[from] PasswordRule),
    /// The username is taken.
    #[error("there is already a staff member with the username {0:?}")]
    DuplicateUsername(String),
    /// No account has this id.
    #[error("there is no staff member with id {0}")]
    NotFound(i64),
    /// The change would leave no active administrator.
    #[error("this is the last active administrator; make another administrator first")]
    LastAdmin,
    /// An administrator tried to disable or demote their own account.
    #[error(
        "administrators cannot disable or demote their own account; ask another administrator"
    )]
    OwnAccount,
    /// Password hashing failed.
    #[error("{0}")]
    Hashing(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed.
    #[error("staff database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Internal: either kind of storage failure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreFailure {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<StoreFailure> for StaffError {
    fn from(e: StoreFailure) -> Self {
        match e {
            StoreFailure::Store(e) => Self::Store(e),
            StoreFailure::Database(e) => Self::Database(e),
        }
    }
}

/// Staff accounts, sign-in and sessions. Cheap to clone.
#[derive(Clone)]
pub struct Staff {
    store: Store,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
    policy: SessionPolicy,
    issuer: Arc<str>,
}

impl fmt::Debug for Staff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Staff")
            .field("policy", &self.policy)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Lower-cases and trims a username as typed.
#[must_use]
pub fn normalize_username(typed: &str) -> String {
    typed.trim().to_lowercase()
}

fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_USERNAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-@".contains(&b))
}

fn totp_aad(id: i64) -> Vec<u8> {
    aad("staff_members", "totp_secret", &[&id.to_string()])
}

fn member_from_row(row: &sqlx::any::AnyRow) -> Result<StaffMember, StaffError> {
    let role: String = row.try_get("role")?;
    Ok(StaffMember {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: Role::parse(&role).ok_or(StoreError::Malformed)?,
    })
}

impl Staff {
    /// Staff accounts in `store`, timed by `clock`, audited in `audit`.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        audit: AuditLog,
        policy: SessionPolicy,
    ) -> Self {
        Self {
            store,
            clock,
            audit,
            policy,
            issuer: Arc::from(DEFAULT_ISSUER),
        }
    }

    /// Names the issuer authenticator apps show (e.g. the clinic).
    #[must_use]
    pub fn with_issuer(mut self, issuer: &str) -> Self {
        self.issuer = Arc::from(issuer);
        self
    }

    /// The session limits in force.
    #[must_use]
    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// The current TOTP code for a base32 secret at `at` (`None` for a
    /// secret that is not base32). For tests and tools.
    #[must_use]
    pub fn totp_now(secret_base32: &str, at: DateTime<Utc>) -> Option<String> {
        TotpSecret::from_base32(secret_base32).map(|s| s.code_at(at))
    }

    /// Creates an account with a fresh TOTP secret, returned once.
    ///
    /// # Errors
    /// [`StaffError::InvalidUsername`], [`StaffError::InvalidDisplayName`],
    /// [`StaffError::Password`] (fewer than 12 characters),
    /// [`StaffError::DuplicateUsername`], or a storage error.
    pub async fn add(
        &self,
        username: &str,
        display_name: &str,
        role: Role,
        password: &str,
    ) -> Result<NewAccount, StaffError> {
        self.add_as(Actor::System, username, display_name, role, password)
            .await
    }

    /// [`Staff::add`], audited under `actor`.
    async fn add_as(
        &self,
        actor: Actor,
        username: &str,
        display_name: &str,
        role: Role,
        password: &str,
    ) -> Result<NewAccount, StaffError> {
        let username = normalize_username(username);
        if !valid_username(&username) {
            return Err(StaffError::InvalidUsername);
        }
        let display_name = display_name.trim();
        let chars = display_name.chars().count();
        if chars == 0
            || chars > MAX_DISPLAY_NAME_CHARS
            || display_name.chars().any(char::is_control)
        {
            return Err(StaffError::InvalidDisplayName);
        }
        password::check_new(password)?;
        if self.find_id(&username).await?.is_some() {
            return Err(StaffError::DuplicateUsername(username));
        }
        let phc = password::hash_blocking(password)
            .await
            .map_err(StaffError::Hashing)?;
        let secret = TotpSecret::generate();
        let now = self.clock.now().timestamp_millis();
        let mut attempts = 0;
        let id = loop {
            attempts += 1;
            match self
                .try_insert(&username, display_name, role, &phc, &secret, now)
                .await
            {
                Ok(Some(id)) => break id,
                Ok(None) => return Err(StaffError::DuplicateUsername(username)),
                Err(StoreFailure::Database(e))
                    if attempts < 10 && crate::store::is_conflict(&e) =>
                {
                    // Another account took this id (or this name) first.
                    tokio::time::sleep(std::time::Duration::from_millis(attempts * 3)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        self.audit
            .record_or_log(
                AuditEvent::new(
                    actor,
                    AuditAction::StaffAccountCreated,
                    AuditOutcome::Success,
                )
                .with_entity("StaffMember", &id.to_string()),
            )
            .await;
        tracing::info!(member = id, role = role.as_str(), "staff account created");
        let member = StaffMember {
            id,
            username,
            display_name: display_name.to_owned(),
            role,
        };
        let uri = totp::otpauth_uri(&self.issuer, &member.username, &secret);
        Ok(NewAccount {
            member,
            totp_secret_base32: secret.to_base32().to_string(),
            otpauth_uri: uri,
        })
    }

    /// Inserts the row in one transaction; `None` when the name is taken.
    async fn try_insert(
        &self,
        username: &str,
        display_name: &str,
        role: Role,
        phc: &str,
        secret: &TotpSecret,
        now: i64,
    ) -> Result<Option<i64>, StoreFailure> {
        let mut tx = self.store.begin_write().await?;
        let taken = sqlx::query("SELECT id FROM staff_members WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Ok(None);
        }
        let id: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 FROM staff_members")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let sealed = self.store.seal(&totp_aad(id), secret.as_bytes())?;
        sqlx::query(
            "INSERT INTO staff_members (id, username, display_name, role, password_hash, totp_secret, totp_last_step, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
        )
        .bind(id)
        .bind(username)
        .bind(display_name)
        .bind(role.as_str())
        .bind(phc)
        .bind(sealed.as_stored())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    async fn find_id(&self, username: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query("SELECT id FROM staff_members WHERE username = $1")
            .bind(username)
            .fetch_optional(self.store.pool())
            .await?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()
    }

    /// Every account, by id.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list(&self) -> Result<Vec<StaffMember>, StaffError> {
        let rows =
            sqlx::query("SELECT id, username, display_name, role FROM staff_members ORDER BY id")
                .fetch_all(self.store.pool())
                .await?;
        rows.iter().map(member_from_row).collect()
    }

    /// Changes a member's role (audited as done by the system, e.g. the
    /// command line). Sessions see the new role on their next request.
    ///
    /// # Errors
    /// [`StaffError::NotFound`], [`StaffError::LastAdmin`] when it would
    /// leave no administrator, or a storage error.
    pub async fn set_role(&self, id: i64, role: Role) -> Result<(), StaffError> {
        self.change_role(Actor::System, id, role).await
    }

    /// As [`Staff::set_role`], audited as done by the administrator `by`,
    /// who may not demote themselves.
    ///
    /// # Errors
    /// As [`Staff::set_role`], and [`StaffError::OwnAccount`].
    pub async fn set_role_by(
        &self,
        by: &StaffMember,
        id: i64,
        role: Role,
    ) -> Result<(), StaffError> {
        if by.id == id && role != Role::Admin {
            return Err(StaffError::OwnAccount);
        }
        self.change_role(Actor::Staff(by.id.to_string()), id, role)
            .await
    }

    async fn change_role(&self, actor: Actor, id: i64, role: Role) -> Result<(), StaffError> {
        let mut tx = self.store.begin_write().await.map_err(StaffError::Store)?;
        let admins = admin::active_admins(&mut tx, self.store.backend()).await?;
        if role != Role::Admin && admins == [id] {
            return Err(StaffError::LastAdmin);
        }
        let done = sqlx::query("UPDATE staff_members SET role = $1 WHERE id = $2")
            .bind(role.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StaffError::NotFound(id));
        }
        tx.commit().await?;
        self.audit
            .record_or_log(
                AuditEvent::new(actor, AuditAction::StaffRoleChanged, AuditOutcome::Success)
                    .with_entity("StaffMember", &id.to_string()),
            )
            .await;
        tracing::info!(member = id, role = role.as_str(), "staff role changed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_grant_what_they_say() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(*r));
        }
        assert_eq!(Role::parse("Front-Desk"), Some(Role::FrontDesk));
        assert_eq!(Role::parse("doctor"), None);
        assert!(Role::FrontDesk.can_chat() && Role::Nurse.can_chat());
        assert!(!Role::Compliance.can_chat() && !Role::Admin.can_chat());
        assert!(Role::Compliance.can_read_audit() && !Role::Admin.can_read_audit());
        assert!(Role::Admin.can_admin() && !Role::Nurse.can_admin());
    }

    #[test]
    fn usernames_are_lower_case_and_plain() {
        assert_eq!(normalize_username("  Ann.Lee "), "ann.lee");
        assert!(valid_username("ann.lee@clinic"));
        assert!(!valid_username(""));
        assert!(!valid_username("ann lee"));
        assert!(!valid_username(&"a".repeat(65)));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let member = StaffMember {
            id: 1,
            username: "ann".into(),
            display_name: "Ann".into(),
            role: Role::Nurse,
        };
        let signed = SignedIn {
            member: member.clone(),
            token: "TOKEN-VALUE".into(),
            csrf: "CSRF-VALUE".into(),
        };
        let session = StaffSession {
            member: member.clone(),
            csrf: "CSRF-VALUE".into(),
        };
        let account = NewAccount {
            member,
            totp_secret_base32: "SECRETBASE".into(),
            otpauth_uri: "otpauth://totp/x?secret=SECRETBASE".into(),
        };
        let text = format!("{signed:?} {session:?} {account:?}");
        assert!(!text.contains("TOKEN-VALUE"));
        assert!(!text.contains("CSRF-VALUE"));
        assert!(!text.contains("SECRETBASE"));
    }
}
