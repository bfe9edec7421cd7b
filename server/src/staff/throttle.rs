//! Sign-in limits, shared by every server on the database:
//!
//! - per account: [`MAX_CONSECUTIVE_FAILURES`] failed sign-ins in a row
//!   lock it for [`ACCOUNT_LOCKOUT`]. The count is kept per blind index of
//!   the username typed, so a name that does not exist locks exactly like
//!   one that does;
//! - per client address (an IPv6 address counts by its /64):
//!   at most [`MAX_ADDRESS_FAILURES`] failed sign-ins in a window of
//!   [`ADDRESS_WINDOW`] that opens at the first failure.
//!
//! Each attempt is *reserved* before any password is checked, in one SQL
//! statement (`INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING`),
//! so parallel attempts cannot slip past a limit by racing each other. A
//! successful sign-in then clears the account's count and gives the
//! address its reservation back. The reservation that reaches the account
//! limit sets the lock at once: should that last attempt succeed, the lock
//! is lifted with the count.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sqlx::{AnyPool, Row as _};

use crate::store::Store;

/// Failed sign-ins in a row that lock an account.
pub const MAX_CONSECUTIVE_FAILURES: i64 = 5;
/// How long a lock lasts.
pub const ACCOUNT_LOCKOUT: chrono::Duration = chrono::Duration::minutes(15);
/// Failed sign-ins one address may make per window.
pub const MAX_ADDRESS_FAILURES: i64 = 20;
/// The address window.
pub const ADDRESS_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// The failure-count subject for a typed username (already normalized).
pub(crate) fn account_subject(store: &Store, username: &str) -> String {
    store.blind_index("staff-sign-in-username", username.as_bytes())
}

/// The throttling key for a client address: the address itself for IPv4,
/// its /64 for IPv6 (one host usually holds a whole /64).
pub(crate) fn address_key(store: &Store, addr: IpAddr) -> String {
    let text = match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    };
    store.blind_index("staff-sign-in-address", text.as_bytes())
}

/// Reserves one attempt for the account: `Some(n)` when allowed, `n`
/// counting this one among the consecutive failures; `None` while locked.
pub(crate) async fn reserve_account(
    pool: &AnyPool,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    let t = now.timestamp_millis();
    let row = sqlx::query(
        "INSERT INTO staff_sign_in_failures (subject, failures, locked_until) VALUES ($1, 1, 0) \
         ON CONFLICT (subject) DO UPDATE SET \
           failures = CASE WHEN staff_sign_in_failures.locked_until > 0 THEN 1 \
                           ELSE staff_sign_in_failures.failures + 1 END, \
           locked_until = CASE WHEN staff_sign_in_failures.locked_until = 0 \
                                AND staff_sign_in_failures.failures + 1 >= $3 THEN $4 \
                               ELSE 0 END \
         WHERE staff_sign_in_failures.locked_until <= $2 \
         RETURNING failures",
    )
    .bind(subject)
    .bind(t)
    .bind(MAX_CONSECUTIVE_FAILURES)
    .bind((now + ACCOUNT_LOCKOUT).timestamp_millis())
    .fetch_optional(pool)
    .await?;
    row.map(|r| r.try_get::<i64, _>(0)).transpose()
}

/// Whether the account is locked now, without taking an attempt (a
/// passkey sign-in asks before the authenticator is touched; its finish
/// takes the attempt with [`reserve_account`]).
pub(crate) async fn account_locked(
    pool: &AnyPool,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "SELECT 1 FROM staff_sign_in_failures WHERE subject = $1 AND locked_until > $2",
    )
    .bind(subject)
    .bind(now.timestamp_millis())
    .fetch_optional(pool)
    .await?;
    Ok(row.is_some())
}

/// Clears the account's failures and any lock (after a success).
pub(crate) async fn clear_account(pool: &AnyPool, subject: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM staff_sign_in_failures WHERE subject = $1")
        .bind(subject)
        .execute(pool)
        .await?;
    Ok(())
}

/// Reserves one attempt for the address: false when it has used up its
/// window.
pub(crate) async fn reserve_address(
    pool: &AnyPool,
    key: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let t = now.timestamp_millis();
    let row = sqlx::query(
        "INSERT INTO staff_address_failures (address, window_start, failures) VALUES ($1, $2, 1) \
         ON CONFLICT (address) DO UPDATE SET \
           failures = CASE WHEN staff_address_failures.window_start <= $3 THEN 1 \
                           ELSE staff_address_failures.failures + 1 END, \
           window_start = CASE WHEN staff_address_failures.window_start <= $3 THEN $2 \
                               ELSE staff_address_failures.window_start END \
         WHERE staff_address_failures.window_start <= $3 \
            OR staff_address_failures.failures < $4 \
         RETURNING failures",
    )
    .bind(key)
    .bind(t)
    .bind((now - ADDRESS_WINDOW).timestamp_millis())
    .bind(MAX_ADDRESS_FAILURES)
    .fetch_optional(pool)
    .await?;
    Ok(row.is_some())
}

/// Gives back an address's reservation (the attempt succeeded).
pub(crate) async fn release_address(pool: &AnyPool, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE staff_address_failures SET failures = failures - 1 WHERE address = $1 AND failures > 0",
    )
    .bind(key)
    .execute(pool)
    .await?;
    Ok(())
}
