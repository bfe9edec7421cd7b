//! Staff sign-in under attack and in daily use, on SQLite and on a real
//! PostgreSQL server: every wrong factor gets one answer, five failures
//! lock a username whether or not it exists, an address is throttled, a
//! TOTP code works once and within one step of now, sessions end when idle
//! and absolutely, CSRF tokens are checked, and the audit log records it
//! all without a secret. Time is a manual clock: no sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod backends;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use carechat::audit::AuditLog;
use carechat::clock::{Clock as _, ManualClock};
use carechat::staff::{
    NewAccount, Role, SessionError, SessionPolicy, SignInError, Staff, StaffError,
};
use carechat::store::Store;
use chrono::{Duration, TimeZone as _, Utc};
use protocol::IdentityKey;
use sqlx::Row as _;

use backends::Db;

on_both_backends!(
    every_wrong_factor_gets_the_same_answer,
    five_failures_lock_a_username_whether_or_not_it_exists,
    an_address_is_throttled_after_twenty_failures,
    a_code_works_once_and_within_one_step_of_now,
    sessions_end_when_idle_or_past_the_absolute_limit,
    csrf_tokens_are_checked_and_sign_out_ends_the_session,
    usernames_are_unique_and_passwords_long,
    roles_change_at_once_and_the_last_admin_stays,
    the_audit_log_records_staff_events_without_secrets,
);

const PASSWORD: &str = "correct horse battery staple";

struct Fixture {
    staff: Staff,
    clock: ManualClock,
    store: Store,
    _db: Db,
}

async fn fixture(db: Db, policy: SessionPolicy) -> Fixture {
    let store = Store::open(&db.config()).await.unwrap();
    // Mid-step, so one step either side is a whole step away.
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 15).unwrap());
    let identity = Arc::new(IdentityKey::generate(&mut rand_core::OsRng));
    let audit = AuditLog::new(store.clone(), identity).with_clock(Arc::new(clock.clone()));
    let staff = Staff::new(store.clone(), Arc::new(clock.clone()), audit, policy);
    Fixture {
        staff,
        clock,
        store,
        _db: db,
    }
}

impl Fixture {
    async fn account(&self, username: &str, role: Role) -> NewAccount {
        self.staff
            .add(username, "Ann Lee", role, PASSWORD)
            .await
            .unwrap()
    }

    fn code(&self, account: &NewAccount) -> String {
        Staff::totp_now(&account.totp_secret_base32, self.clock.now()).unwrap()
    }

    fn code_at(&self, account: &NewAccount, steps: i64) -> String {
        let at = self.clock.now() + Duration::seconds(30 * steps);
        Staff::totp_now(&account.totp_secret_base32, at).unwrap()
    }

    /// Moves to the next TOTP step (codes of earlier steps are used up).
    fn next_step(&self) {
        self.clock.advance(Duration::seconds(30));
    }
}

fn addr(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

async fn every_wrong_factor_gets_the_same_answer(db: Db) {
    let f = fixture(db, SessionPolicy::default()).await;
    let ann = f.account("ann", Role::Nurse).await;
    let client = addr("192.0.2.10");
    let wrong_code = if f.code(&ann) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let attempts = [
        ("ann", "wrong password here", f.code(&ann)),
        ("ann", PASSWORD, wrong_code.to_owned()),
        ("nobody", PASSWORD, f.code(&ann)),
        ("ann", PASSWORD, String::new()),
    ];
    for (user, password, code) in &attempts {
        let e = f
            .staff
            .sign_in(user, password, code, client)
            .await
            .unwrap_err();
        assert_eq!(e, SignInError::Refused, "{user}");
        assert_eq!(e.to_string(), "the username, password or code is not right");
    }
    // A failure does not spend the code: the right three factors work, and
    // the username is case-insensitive.
    let signed = f
        .staff
        .sign_in(" Ann ", PASSWORD, &f.code(&ann), client)
        .await
        .unwrap();
    assert_eq!(signed.member, ann.member);
    assert_eq!(signed.token.len(), 43);
    assert_ne!(signed.token, signed.csrf);
}

async fn five_failures_lock_a_username_whether_or_not_it_exists(db: Db) {
    let f = fixture(db, SessionPolicy::default()).await;
    let ann = f.account("ann", Role::FrontDesk).await;
    let mut real = Vec::new();
    let mut ghost = Vec::new();
    for _ in 0..6 {
        real.push(
            f.staff
                .sign_in("ann", "not the password", &f.code(&ann), None)
                .await
                .unwrap_err(),
        );
        ghost.push(
            f.staff
                .sign_in("ghost", "not the password", "123456", None)
                .await
                .unwrap_err(),
        );
    }
    use SignInError::{Locked, Refused};
    assert_eq!(real, [Refused, Refused, Refused, Refused, Locked, Locked]);
    assert_eq!(real, ghost, "an unknown username answers like a real one");
    assert_eq!(
        Locked.to_string(),
        "this account is locked; try again later or ask an administrator"
    );
    // Locked even with every factor right, for the whole lockout.
    assert_eq!(
        f.staff
            .sign_in("ann", PASSWORD, &f.code(&ann), None)
            .await
            .unwrap_err(),
        Locked
    );
    f.clock.advance(Duration::minutes(14));
    assert_eq!(
        f.staff
            .sign_in("ann", PASSWORD, &f.code(&ann), None)
            .await
            .unwrap_err(),
        Locked
    );
    assert_eq!(
        f.staff
            .sign_in("ghost", PASSWORD, "123456", None)
            .await
            .unwrap_err(),
        Locked
    );
    // After 15 minutes: a fresh count; success clears it.
    f.clock.advance(Duration::minutes(1) + Duration::seconds(1));
    for _ in 0..4 {
        assert_eq!(
            f.staff
                .sign_in("ann", "not the password", "000000", None)
                .await
                .unwrap_err(),
            Refused
        );
    }
    f.staff
        .sign_in("ann", PASSWORD, &f.code(&ann), None)
        .await
        .unwrap();
    f.next_step();
    for _ in 0..4 {
        assert_eq!(
            f.staff
                .sign_in("ann", "not the password", "000000", None)
                .await
                .unwrap_err(),
            Refused,
            "a success starts the count afresh"
        );
    }
}

async fn an_address_is_throttled_after_twenty_failures(db: Db) {
    let f = fixture(db, SessionPolicy::default()).await;
    let ann = f.account("ann", Role::Nurse).await;
    let attacker = addr("2001:db8:1:2::10");
    // Twenty usernames, one guess each: no account locks.
    for i in 0..20 {
        assert_eq!(
            f.staff
                .sign_in(
                    &format!("user{i}"),
                    "a guessed password",
                    "123456",
                    attacker
                )
                .await
                .unwrap_err(),
            SignInError::Refused
        );
    }
    // The 21st attempt from that address (any host of its /64) is refused
    // without a look, even with the right factors.
    for from in ["2001:db8:1:2::10", "2001:db8:1:2::99"] {
        let e = f
            .staff
            .sign_in("ann", PASSWORD, &f.code(&ann), addr(from))
            .await
            .unwrap_err();
        assert_eq!(e, SignInError::Throttled);
    }
    // Another address is not affected.
    f.staff
        .sign_in("ann", PASSWORD, &f.code(&ann), addr("198.51.100.7"))
        .await
        .unwrap();
    // The window passes.
    f.clock
        .advance(Duration::minutes(15) + Duration::seconds(1));
    f.staff
        .sign_in("ann", PASSWORD, &f.code(&ann), attacker)
        .await
        .unwrap();
    // Successes do not count: twenty sign-ins from one address go through.
    let office = addr("203.0.113.5");
    for _ in 0..21 {
        f.next_step();
        f.staff
            .sign_in("ann", PASSWORD, &f.code(&ann), office)
            .await
            .unwrap();
    }
}

async fn a_code_works_once_and_within_one_step_of_now(db: Db) {
    let f = fixture(db, SessionPolicy::default()).await;
    let ann = f.account("ann", Role::Nurse).await;
    let code = f.code(&ann);
    f.staff.sign_in("ann", PASSWORD, &code, None).await.unwrap();
    // The same code again, in the same step: refused as replayed.
    assert_eq!(
        f.staff
            .sign_in("ann", PASSWORD, &code, None)
            .await
            .unwrap_err(),
        SignInError::Refused
    );
    // One step of drift either way is accepted; two steps are not.
    for _ in 0..3 {
        f.next_step();
    }
    for steps in [-2, 2] {
        assert_eq!(
            f.staff
                .sign_in("ann", PASSWORD, &f.code_at(&ann, steps), None)
                .await
                .unwrap_err(),
            SignInError::Refused,
            "{steps} steps"
        );
    }
    f.staff
        .sign_in("ann", PASSWORD, &f.code_at(&ann, -1), None)
        .await
        .unwrap();
    f.staff
        .sign_in("ann", PASSWORD, &f.code_at(&ann, 1), None)
        .await
        .unwrap();
    // The step after now was used: now's code (an earlier step) is refused.
    assert_eq!(
        f.staff
            .sign_in("ann", PASSWORD, &f.code(&ann), None)
            .await
            .unwrap_err(),
        SignInError::Refused
    );
}

async fn sessions_end_when_idle_or_past_the_absolute_limit(db: Db) {
    let policy = SessionPolicy::new(
        StdDuration::from_secs(15 * 60),
        StdDuration::from_secs(3600),
    )
    .unwrap();
    let f = fixture(db, policy).await;
    let ann = f.account("ann", Role::Nurse).await;
    // Idle: each request moves the idle limit on.
    let idle = f
        .staff
        .sign_in("ann", PASSWORD, &f.code(&ann), None)
        .await
        .unwrap();
    for _ in 0..3 {
        f.clock.advance(Duration::minutes(14));
        let s = f.staff.session(&idle.token).await.unwrap();
        assert_eq!(s.member, ann.member);
        assert_eq!(s.csrf, idle.csrf);
    }
    f.clock.advance(Duration::minutes(15));
    assert_eq!(
        f.staff.session(&idle.token).await.unwrap_err(),
        SessionError::Expired
    );
    assert_eq!(
        f.staff.session(&idle.token).await.unwrap_err(),
        SessionError::SignedOut,
        "an expired session is gone"
    );
    // Absolute: an hour after sign-in, however busy.
    f.next_step();
    let busy = f
        .staff
        .sign_in("ann", PASSWORD, &f.code(&ann), None)
        .await
        .unwrap();
    for _ in 0..5 {
        f.clock.advance(Duration::minutes(10));
        f.staff.session(&busy.token).await.unwrap();
    }
    f.clock.advance(Duration::minutes(9));
    f.staff.session(&busy.token).await.unwrap();
    f.clock.advance(Duration::minutes(1));
    assert_eq!(
        f.staff.session(&busy.token).await.unwrap_err(),
        SessionError::Expired
    );
    assert_eq!(
        f.staff.session("no such token").await.unwrap_err(),
        SessionError::SignedOut
    );
    // Only the token's keyed hash is stored.
    let stored: Vec<String> = sqlx::query("SELECT token_hash, csrf FROM staff_sessions")
        .fetch_all(f.store.pool())
        .await
        .unwrap()
        .iter()
        .flat_map(|r| [r.get::<String, _>(0), r.get::<String, _>(1)])
        .collect();
    for value in stored {
        assert_ne!(value, busy.token);
        assert_ne!(value, busy.csrf);
    }
}

async fn csrf_tokens_are_checked_and_sign_out_ends_the_session(db: Db) {
    let f = fixture(db, SessionPolicy::default()).await;
    let ann = f.account("ann", Role::Nurse).await;
    let one = f
        .staff
        .sign_in("ann", PASSWORD, &f.code(&ann), None)
        .await
        .unwrap();
    f.next_step();
    let two = f
        .staff
        .sign_in("ann", PASSWORD, &f.code(&ann), None)
        .await
        .unwrap();
    let session = f.staff.session(&one.token).await.unwrap();
    assert!(f.staff.check_csrf(&session, &one.csrf).await);
    assert!(!f.staff.check_csrf(&session, &two.csrf).await);
    assert!(!f.staff.check_csrf(&session, "").await);
    assert!(!f.staff.check_csrf(&session, &one.csrf[..20]).await);
    f.staff.sign_out(&one.token).await;
    assert_eq!(
        f.staff.session(&one.token).await.unwrap_err(),
        SessionError::SignedOut
    );
    // The other session is untouched; signing out twice is harmless.
    f.staff.session(&two.token).await.unwrap();
    f.staff.sign_out(&one.token).await;
}

async fn usernames_are_unique_and_passwords_long(db: Db) {
    let f = fixture(db, SessionPolicy::default()).await;
    let ann = f.account("ann", Role::Admin).await;
    assert_eq!(ann.member.id, 1);
    assert!(ann
        .otpauth_uri
        .starts_with("otpauth://totp/CareChat:ann?secret="));
    assert!(ann.otpauth_uri.contains(&ann.totp_secret_base32));
    let e = f
        .staff
        .add("ANN", "Another Ann", Role::Nurse, PASSWORD)
        .await
        .unwrap_err();
    assert!(matches!(e, StaffError::DuplicateUsername(_)), "{e}");
    assert!(e.to_string().contains("already"), "{e}");
    let e = f
        .staff
        .add("bob", "Bob", Role::Nurse, "elevenchars")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the password must be at least 12 characters long"
    );
    assert!(matches!(
        f.staff.add("bob smith", "Bob", Role::Nurse, PASSWORD).await,
        Err(StaffError::InvalidUsername)
    ));
    let bob = f
        .staff
        .add("bob", "Bob Ray", Role::Nurse, "twelve chars")
        .await
        .unwrap();
    assert_eq!(bob.member.id, 2);
    assert_ne!(bob.totp_secret_base32, ann.totp_secret_base32);
    let listed = f.staff.list().await.unwrap();
    assert_eq!(listed, [ann.member.clone(), bob.member.clone()]);
    // The secret and the password are not stored in the clear.
    let row = sqlx::query("SELECT password_hash, totp_secret FROM staff_members WHERE id = 1")
        .fetch_one(f.store.pool())
        .await
        .unwrap();
    let hash: String = row.get(0);
    let sealed: String = row.get(1);
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(!hash.contains(PASSWORD));
    assert!(sealed.starts_with("v1."));
    assert!(!sealed.contains(&ann.totp_secret_base32));
}

async fn roles_change_at_once_and_the_last_admin_stays(db: Db) {
    let f = fixture(db, SessionPolicy::default()).await;
    let admin = f.account("root", Role::Admin).await;
    let ann = f.account("ann", Role::FrontDesk).await;
    let signed = f
        .staff
        .sign_in("ann", PASSWORD, &f.code(&ann), None)
        .await
        .unwrap();
    assert_eq!(
        f.staff.session(&signed.token).await.unwrap().member.role,
        Role::FrontDesk
    );
    f.staff
        .set_role_by(&admin.member, ann.member.id, Role::Compliance)
        .await
        .unwrap();
    let now = f.staff.session(&signed.token).await.unwrap().member.role;
    assert_eq!(now, Role::Compliance);
    assert!(now.can_read_audit() && !now.can_chat());
    assert!(matches!(
        f.staff.set_role(admin.member.id, Role::Nurse).await,
        Err(StaffError::LastAdmin)
    ));
    assert!(matches!(
        f.staff.set_role(99, Role::Nurse).await,
        Err(StaffError::NotFound(99))
    ));
    f.staff.set_role(ann.member.id, Role::Admin).await.unwrap();
    f.staff
        .set_role(admin.member.id, Role::Nurse)
        .await
        .unwrap();
}

async fn the_audit_log_records_staff_events_without_secrets(db: Db) {
    let f = fixture(db, SessionPolicy::default()).await;
    let ann = f.account("ann", Role::Nurse).await;
    let client = addr("192.0.2.44");
    let _ = f
        .staff
        .sign_in("ann", "hunter2hunter2", &f.code(&ann), client)
        .await
        .unwrap_err();
    let _ = f
        .staff
        .sign_in("mistyped-secret-name", PASSWORD, "123456", client)
        .await
        .unwrap_err();
    let code = f.code(&ann);
    let signed = f
        .staff
        .sign_in("ann", PASSWORD, &code, client)
        .await
        .unwrap();
    f.staff
        .set_role(ann.member.id, Role::FrontDesk)
        .await
        .unwrap();
    f.staff.sign_out(&signed.token).await;
    let rows = sqlx::query(
        "SELECT actor, action, COALESCE(entity_type, ''), COALESCE(entity_id, ''), outcome, COALESCE(client_addr, ''), COALESCE(session, '') FROM audit_events ORDER BY seq",
    )
    .fetch_all(f.store.pool())
    .await
    .unwrap();
    let events: Vec<Vec<String>> = rows
        .iter()
        .map(|r| (0..7).map(|i| r.get::<String, _>(i)).collect())
        .collect();
    let actions: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| (e[0].as_str(), e[1].as_str(), e[4].as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("system", "staff.account_created", "success"),
            ("staff:1", "staff.sign_in_failed", "failure"),
            ("system", "staff.sign_in_failed", "failure"),
            ("staff:1", "staff.sign_in", "success"),
            ("system", "staff.role_changed", "success"),
            ("staff:1", "staff.sign_out", "success"),
        ]
    );
    assert_eq!(events[3][5], "192.0.2.44");
    assert_eq!(
        events[3][6], events[5][6],
        "sign-in and sign-out share a session digest"
    );
    let all = format!("{events:?}");
    for secret in [
        PASSWORD,
        "hunter2hunter2",
        code.as_str(),
        "mistyped-secret-name",
        signed.token.as_str(),
        signed.csrf.as_str(),
        ann.totp_secret_base32.as_str(),
    ] {
        assert!(!all.contains(secret), "the audit log holds {secret:?}");
    }
}

fn carechat() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_carechat"))
}

#[test]
fn the_command_line_creates_the_first_admin_and_lists_staff() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("carechat.toml");
    let data = dir.path().join("data");
    let out = carechat()
        .args(["init", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = |args: &[&str], password: Option<&str>| {
        let mut cmd = carechat();
        cmd.args(args)
            .arg("--config")
            .arg(&config)
            .env("CARECHAT_DATA_DIR", &data)
            .env_remove("CARECHAT_DATABASE_URL")
            .env_remove("CARECHAT_MASTER_KEY")
            .env_remove("CARECHAT_STAFF_PASSWORD")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(p) = password {
            cmd.env("CARECHAT_STAFF_PASSWORD", p);
        }
        let mut child = cmd.spawn().unwrap();
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    };
    let add = [
        "staff",
        "add",
        "--username",
        "Root",
        "--name",
        "Robin Admin",
        "--role",
        "admin",
    ];
    let out = run(&add, Some(PASSWORD));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Created staff account root"), "{stdout}");
    assert!(stdout.contains("otpauth://totp/"), "{stdout}");
    assert!(stdout.contains("first administrator"), "{stdout}");
    assert!(!stdout.contains(PASSWORD));
    let secret = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret: "))
        .unwrap();
    assert!(Staff::totp_now(secret, Utc::now()).is_some());
    // The same name again is refused; so is a short password.
    let out = run(&add, Some(PASSWORD));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already"));
    let nurse = [
        "staff",
        "add",
        "--username",
        "ann",
        "--name",
        "Ann Lee",
        "--role",
        "nurse",
    ];
    let out = run(&nurse, Some("short"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12 characters"));
    let out = run(&["staff", "list"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "1\troot\tadmin\tRobin Admin");
}
