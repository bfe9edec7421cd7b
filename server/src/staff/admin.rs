//! What an administrator does to other staff accounts: list them with their
//! state ([`Staff::accounts`]), add one ([`Staff::add_by`]), disable and
//! enable ([`Staff::set_disabled_by`]), give a new TOTP secret
//! ([`Staff::reset_totp_by`]) and end a sign-in lock
//! ([`Staff::unlock_by`]). Role changes are [`Staff::set_role_by`].
//!
//! The rules: an administrator never disables or demotes their own
//! account, and no change leaves the clinic without an active
//! administrator. Disabling ends that person's sessions at once, and a
//! disabled account cannot sign in (it answers as a wrong password does).
//! A new TOTP secret ends the person's other sessions too: whoever held the
//! old one is signed out. Each change is audited under the administrator's
//! id; secrets are returned once and never logged.

use std::fmt;

use chrono::{DateTime, TimeZone as _, Utc};
use sqlx::Row as _;

use super::{
    member_from_row, throttle, totp, totp_aad, Role, Staff, StaffError, StaffMember, StoreFailure,
};
use crate::audit::{Actor, AuditAction, AuditEvent, AuditOutcome};
use crate::store::Backend;

/// An account as administrators manage it: no secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffAccount {
    /// The account.
    pub member: StaffMember,
    /// Whether it is disabled (cannot sign in).
    pub disabled: bool,
    /// Until when failed sign-ins lock it, if they do now.
    pub locked_until: Option<DateTime<Utc>>,
}

/// A new TOTP secret for an account, shown to the administrator once to
/// hand over.
pub struct SecondFactor {
    /// The account's username (the authenticator app's label).
    pub username: String,
    /// The secret in base32, for typing into an authenticator app.
    pub totp_secret_base32: String,
    /// The same secret as an `otpauth://totp/` URI (for a QR code).
    pub otpauth_uri: String,
}

impl fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecondFactor")
            .field("username", &self.username)
            .field("totp_secret_base32", &"<redacted>")
            .field("otpauth_uri", &"<redacted>")
            .finish()
    }
}

impl Staff {
    /// Every account with whether it is disabled or locked, by id.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn accounts(&self) -> Result<Vec<StaffAccount>, StaffError> {
        let rows = sqlx::query(
            "SELECT id, username, display_name, role, disabled_at FROM staff_members ORDER BY id",
        )
        .fetch_all(self.store.pool())
        .await?;
        let now = self.clock.now().timestamp_millis();
        let mut accounts = Vec::with_capacity(rows.len());
        for row in &rows {
            let member = member_from_row(row)?;
            let disabled_at: i64 = row.try_get("disabled_at")?;
            let subject = throttle::account_subject(&self.store, &member.username);
            let locked: Option<i64> = sqlx::query(
                "SELECT locked_until FROM staff_sign_in_failures WHERE subject = $1 AND locked_until > $2",
            )
            .bind(&subject)
            .bind(now)
            .fetch_optional(self.store.pool())
            .await?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?;
            accounts.push(StaffAccount {
                member,
                disabled: disabled_at != 0,
                locked_until: locked.and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
            });
        }
        Ok(accounts)
    }

    /// As [`Staff::add`], audited as done by the administrator `by`.
    ///
    /// # Errors
    /// As [`Staff::add`].
    pub async fn add_by(
        &self,
        by: &StaffMember,
        username: &str,
        display_name: &str,
        role: Role,
        password: &str,
    ) -> Result<super::NewAccount, StaffError> {
        self.add_as(
            Actor::Staff(by.id.to_string()),
            username,
            display_name,
            role,
            password,
        )
        .await
    }

    /// Disables (`true`) or enables an account. Disabling ends its
    /// sessions.
    ///
    /// # Errors
    /// [`StaffError::OwnAccount`] for `by`'s own account,
    /// [`StaffError::LastAdmin`] when it would leave no active
    /// administrator, [`StaffError::NotFound`], or a storage error.
    pub async fn set_disabled_by(
        &self,
        by: &StaffMember,
        id: i64,
        disabled: bool,
    ) -> Result<(), StaffError> {
        if by.id == id {
            return Err(StaffError::OwnAccount);
        }
        let now = self.clock.now().timestamp_millis();
        let mut tx = self.store.begin_write().await.map_err(StaffError::Store)?;
        let admins = active_admins(&mut tx, self.store.backend()).await?;
        let exists = sqlx::query("SELECT id FROM staff_members WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StaffError::NotFound(id));
        }
        if disabled && admins == [id] {
            return Err(StaffError::LastAdmin);
        }
        sqlx::query("UPDATE staff_members SET disabled_at = $2 WHERE id = $1")
            .bind(id)
            .bind(if disabled { now.max(1) } else { 0 })
            .execute(&mut *tx)
            .await?;
        if disabled {
            sqlx::query("DELETE FROM staff_sessions WHERE member_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let action = if disabled {
            AuditAction::StaffAccountDisabled
        } else {
            AuditAction::StaffAccountEnabled
        };
        self.audit_admin(by, action, id).await;
        tracing::info!(member = id, disabled, "staff account state changed");
        Ok(())
    }

    /// Gives an account a new TOTP secret (the old one stops working),
    /// returned once; ends the account's sessions unless it is `by`'s own.
    ///
    /// # Errors
    /// [`StaffError::NotFound`], or a storage error.
    pub async fn reset_totp_by(
        &self,
        by: &StaffMember,
        id: i64,
    ) -> Result<SecondFactor, StaffError> {
        let secret = totp::TotpSecret::generate();
        let username = self.reset_totp_rows(id, by.id != id, &secret).await?;
        self.audit_admin(by, AuditAction::StaffTotpReset, id).await;
        tracing::info!(member = id, "staff TOTP secret replaced");
        let uri = totp::otpauth_uri(&self.issuer, &username, &secret);
        Ok(SecondFactor {
            username,
            totp_secret_base32: secret.to_base32().to_string(),
            otpauth_uri: uri,
        })
    }

    async fn reset_totp_rows(
        &self,
        id: i64,
        end_sessions: bool,
        secret: &totp::TotpSecret,
    ) -> Result<String, StaffError> {
        let sealed = self
            .store
            .seal(&totp_aad(id), secret.as_bytes())
            .map_err(StoreFailure::from)?;
        let mut tx = self.store.begin_write().await.map_err(StaffError::Store)?;
        let row = sqlx::query("SELECT username FROM staff_members WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StaffError::NotFound(id))?;
        let username: String = row.try_get(0)?;
        sqlx::query("UPDATE staff_members SET totp_secret = $2, totp_last_step = 0 WHERE id = $1")
            .bind(id)
            .bind(sealed.as_stored())
            .execute(&mut *tx)
            .await?;
        if end_sessions {
            sqlx::query("DELETE FROM staff_sessions WHERE member_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(username)
    }

    /// Ends the lock that failed sign-ins put on an account (and forgets
    /// its failures).
    ///
    /// # Errors
    /// [`StaffError::NotFound`], or a storage error.
    pub async fn unlock_by(&self, by: &StaffMember, id: i64) -> Result<(), StaffError> {
        let row = sqlx::query("SELECT username FROM staff_members WHERE id = $1")
            .bind(id)
            .fetch_optional(self.store.pool())
            .await?
            .ok_or(StaffError::NotFound(id))?;
        let username: String = row.try_get(0)?;
        let subject = throttle::account_subject(&self.store, &username);
        sqlx::query("DELETE FROM staff_sign_in_failures WHERE subject = $1")
            .bind(&subject)
            .execute(self.store.pool())
            .await?;
        self.audit_admin(by, AuditAction::StaffAccountUnlocked, id)
            .await;
        tracing::info!(member = id, "staff account unlocked");
        Ok(())
    }

    async fn audit_admin(&self, by: &StaffMember, action: AuditAction, id: i64) {
        self.audit
            .record_or_log(
                AuditEvent::new(
                    Actor::Staff(by.id.to_string()),
                    action,
                    AuditOutcome::Success,
                )
                .with_entity("StaffMember", &id.to_string()),
            )
            .await;
    }
}

/// The ids of the administrators who are not disabled, locked for the
/// transaction on PostgreSQL.
pub(super) async fn active_admins(
    tx: &mut crate::store::write::WriteTx,
    backend: Backend,
) -> Result<Vec<i64>, sqlx::Error> {
    let sql = match backend {
        Backend::Sqlite => "SELECT id FROM staff_members WHERE role = 'admin' AND disabled_at = 0",
        Backend::Postgres => {
            "SELECT id FROM staff_members WHERE role = 'admin' AND disabled_at = 0 FOR UPDATE"
        }
    };
    sqlx::query(sql)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_factor_never_prints_its_secret() {
        let factor = SecondFactor {
            username: "ann".into(),
            totp_secret_base32: "SECRETBASE".into(),
            otpauth_uri: "otpauth://totp/x?secret=SECRETBASE".into(),
        };
        assert!(!format!("{factor:?}").contains("SECRETBASE"));
    }
}
