//! Staff in the console, for the tests that call its backend: an account
//! made through `Staff::add`, signed in with its password and the current
//! TOTP code, and the facts its browser would then send.

use std::sync::Arc;

use carechat::audit::AuditLog;
use carechat::staff::{Role, SessionPolicy, Staff};
use carechat::store::Store;
use carechat_console::api::{ConsoleBackend, RequestFacts};
use chrono::Utc;

/// Every test account's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// Makes an account of `role` named `username` (display name
/// `Staff <username>`) and signs it in from `origin`.
pub async fn signed_in_as(
    store: &Store,
    audit: &AuditLog,
    console: &dyn ConsoleBackend,
    origin: &str,
    role: Role,
    username: &str,
) -> RequestFacts {
    let staff = Staff::new(
        store.clone(),
        Arc::new(carechat::clock::SystemClock),
        audit.clone(),
        SessionPolicy::default(),
    );
    let account = staff
        .add(username, &format!("Staff {username}"), role, PASSWORD)
        .await
        .unwrap();
    let code = Staff::totp_now(&account.totp_secret_base32, Utc::now()).unwrap();
    let mut facts = RequestFacts {
        origin: Some(origin.to_owned()),
        ..RequestFacts::default()
    };
    let (me, cookie) = console
        .sign_in(&facts, username, PASSWORD, &code)
        .await
        .unwrap();
    let token = cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap();
    facts.session = Some(token);
    facts.csrf = Some(me.csrf);
    facts
}
