//! One-time codes under attack, on SQLite and on a real PostgreSQL server:
//! within the limits no code is guessable, racing guesses cannot slip past
//! a limit, a resend never resets the failure count, and after a lockout
//! even the right code is refused. Time is a manual clock, so expiry and
//! cooldowns are exact.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[macro_use]
mod backends;

use carechat::identity::otp::{Check, IssueRefused, OtpCode, OtpPolicy, Verifier};
use carechat::store::Store;
use chrono::{Duration, TimeZone as _, Utc};

use backends::Db;

on_both_backends!(
    an_attacker_gets_at_most_the_failure_cap_in_guesses_then_nothing,
    racing_guesses_cannot_exceed_the_attempts_per_code,
    codes_expire_are_single_use_and_resends_wait,
    decoys_take_the_same_steps_and_no_code_opens_them,
    wrong_codes_bring_growing_waits_then_a_lockout_only_front_desk_ends,
);

fn policy() -> OtpPolicy {
    OtpPolicy::default()
}

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
}

/// Every code but `avoid`, in an order an attacker might try.
fn guesses(avoid: &str) -> impl Iterator<Item = OtpCode> + '_ {
    (0..1_000_000u32)
        .map(|n| format!("{:06}", (n * 7919 + 13) % 1_000_000))
        .filter(move |g| g != avoid)
        .map(|g| OtpCode::parse(&g).unwrap())
}

async fn an_attacker_gets_at_most_the_failure_cap_in_guesses_then_nothing(db: Db) {
    let store = Store::open(&db.config()).await.unwrap();
    let verifier = Verifier::new(store.clone(), policy());
    let subject = verifier.patient_subject("Patient/p-1");
    let mut now = t0();
    let mut compared = 0;
    let mut last_code = None;
    let mut wrong = guesses("");
    // The attacker asks for codes and guesses as fast as the limits allow,
    // for up to 50 codes.
    'codes: for _ in 0..50 {
        let issued = match verifier.issue(&subject, true, now).await.unwrap() {
            Ok(issued) => issued,
            Err(IssueRefused::Locked) => break,
            Err(IssueRefused::TooSoon(wait)) => {
                now += wait;
                continue;
            }
        };
        let code = issued.code.unwrap();
        loop {
            let mut guess = wrong.next().unwrap();
            if guess == code {
                guess = wrong.next().unwrap();
            }
            match verifier
                .check(&subject, &issued.challenge, &guess, now)
                .await
                .unwrap()
            {
                Check::Wrong { .. } => compared += 1,
                Check::Spent => {
                    compared += 1;
                    break;
                }
                Check::Locked => {
                    compared += 1;
                    last_code = Some((issued.challenge, code));
                    break 'codes;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        now += policy().resend_cooldown;
    }
    let cap = policy().max_consecutive_failures;
    assert_eq!(compared, cap, "guesses compared before the lockout");
    println!(
        "brute force: {compared} guesses compared before lockout; chance of guessing a code within the limits = {cap}/1000000"
    );
    // Locked: no new code, and the right code of the last challenge fails.
    let (challenge, code) = last_code.expect("locked out");
    assert_eq!(
        verifier
            .check(&subject, &challenge, &code, now)
            .await
            .unwrap(),
        Check::Locked
    );
    assert_eq!(
        verifier
            .issue(&subject, true, now)
            .await
            .unwrap()
            .unwrap_err(),
        IssueRefused::Locked
    );
    // After the lockout a code works again, and success resets the count.
    now += policy().lockout + Duration::seconds(1);
    let issued = verifier.issue(&subject, true, now).await.unwrap().unwrap();
    let code = issued.code.unwrap();
    assert_eq!(
        verifier
            .check(&subject, &issued.challenge, &code, now)
            .await
            .unwrap(),
        Check::Verified
    );
}

async fn racing_guesses_cannot_exceed_the_attempts_per_code(db: Db) {
    let store = Store::open(&db.config()).await.unwrap();
    let verifier = Verifier::new(store.clone(), policy());
    let subject = verifier.patient_subject("Patient/p-2");
    let now = t0();
    let issued = verifier.issue(&subject, true, now).await.unwrap().unwrap();
    let code = issued.code.unwrap();
    let mut tasks = Vec::new();
    for guess in guesses(code.digits()).take(40) {
        let verifier = verifier.clone();
        let subject = subject.clone();
        let challenge = issued.challenge.clone();
        tasks.push(tokio::spawn(async move {
            verifier
                .check(&subject, &challenge, &guess, now)
                .await
                .unwrap()
        }));
    }
    let mut compared = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), Check::Wrong { .. } | Check::Spent) {
            compared += 1;
        }
    }
    assert_eq!(compared, policy().attempts_per_code, "40 racing guesses");
    // The code is spent: even the right one fails now.
    assert_eq!(
        verifier
            .check(&subject, &issued.challenge, &code, now)
            .await
            .unwrap(),
        Check::Expired
    );
}

async fn codes_expire_are_single_use_and_resends_wait(db: Db) {
    let store = Store::open(&db.config()).await.unwrap();
    let verifier = Verifier::new(store.clone(), policy());
    let subject = verifier.patient_subject("Patient/p-3");
    let now = t0();
    let first = verifier.issue(&subject, true, now).await.unwrap().unwrap();
    let code = first.code.unwrap();
    assert_eq!(code.digits().len(), 6);
    // One wrong entry, then a resend: the failure count carries over.
    let wrong = guesses(code.digits()).next().unwrap();
    assert!(matches!(
        verifier
            .check(&subject, &first.challenge, &wrong, now)
            .await
            .unwrap(),
        Check::Wrong { left: 4 }
    ));
    assert!(matches!(
        verifier
            .issue(&subject, true, now + Duration::seconds(5))
            .await
            .unwrap(),
        Err(IssueRefused::TooSoon(_))
    ));
    let later = now + policy().resend_cooldown;
    let second = verifier
        .issue(&subject, true, later)
        .await
        .unwrap()
        .unwrap();
    // A newer code replaces the older one.
    assert_eq!(
        verifier
            .check(&subject, &first.challenge, &code, later)
            .await
            .unwrap(),
        Check::Expired
    );
    // Expired after 10 minutes, even when right.
    let code2 = second.code.unwrap();
    let expired = later + Duration::minutes(10);
    assert_eq!(
        verifier
            .check(&subject, &second.challenge, &code2, expired)
            .await
            .unwrap(),
        Check::Expired
    );
    // Single use.
    let third_at = expired + policy().resend_cooldown;
    let third = verifier
        .issue(&subject, true, third_at)
        .await
        .unwrap()
        .unwrap();
    let code3 = third.code.unwrap();
    assert_eq!(
        verifier
            .check(&subject, &third.challenge, &code3, third_at)
            .await
            .unwrap(),
        Check::Verified
    );
    assert_eq!(
        verifier
            .check(&subject, &third.challenge, &code3, third_at)
            .await
            .unwrap(),
        Check::Expired
    );
    // Nothing but a keyed hash is stored.
    use sqlx::Row as _;
    let rows = sqlx::query("SELECT code_hash FROM otp_challenges")
        .fetch_all(store.pool())
        .await
        .unwrap();
    for row in rows {
        let hash: String = row.try_get(0).unwrap();
        for c in [&code, &code2, &code3] {
            assert!(!hash.contains(c.digits()));
        }
    }
}

async fn decoys_take_the_same_steps_and_no_code_opens_them(db: Db) {
    let store = Store::open(&db.config()).await.unwrap();
    let verifier = Verifier::new(store.clone(), policy());
    let subject = verifier.details_subject("1990-01-01|nobody|");
    let now = t0();
    let issued = verifier.issue(&subject, false, now).await.unwrap().unwrap();
    assert!(issued.code.is_none());
    // Every guess is wrong, counted like a real patient's, to the lockout.
    let mut results = Vec::new();
    for guess in guesses("").take(5) {
        results.push(
            verifier
                .check(&subject, &issued.challenge, &guess, now)
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        results,
        [
            Check::Wrong { left: 4 },
            Check::Wrong { left: 3 },
            Check::Wrong { left: 2 },
            Check::Wrong { left: 1 },
            Check::Spent
        ]
    );
}

/// Five wrong entries on one fresh code.
async fn five_wrong(
    verifier: &Verifier,
    subject: &carechat::identity::otp::Subject,
    now: chrono::DateTime<Utc>,
) -> Vec<Check> {
    let issued = verifier.issue(subject, true, now).await.unwrap().unwrap();
    let code = issued.code.unwrap();
    let mut results = Vec::new();
    for guess in guesses(code.digits()).take(5) {
        results.push(
            verifier
                .check(subject, &issued.challenge, &guess, now)
                .await
                .unwrap(),
        );
    }
    results
}

async fn wrong_codes_bring_growing_waits_then_a_lockout_only_front_desk_ends(db: Db) {
    let store = Store::open(&db.config()).await.unwrap();
    let verifier = Verifier::new(store.clone(), policy());
    let subject = verifier.patient_subject("Patient/p-4");
    let mut now = t0();
    let mut waits = Vec::new();
    // Ten wrong entries (two codes) at a time, each time the wait is over.
    for _ in 0..10 {
        assert!(!five_wrong(&verifier, &subject, now)
            .await
            .contains(&Check::Locked));
        now += policy().resend_cooldown;
        let last = five_wrong(&verifier, &subject, now).await;
        assert_eq!(last.last(), Some(&Check::Locked));
        // How long until a code can be issued again (within a day).
        let locked_at = now;
        let mut probe = now;
        while probe - locked_at <= Duration::hours(25) {
            if verifier.issue(&subject, true, probe).await.unwrap().is_ok() {
                break;
            }
            probe += Duration::minutes(5);
        }
        waits.push((probe - locked_at).num_minutes());
        now = probe + policy().resend_cooldown;
    }
    // Fifteen minutes, then twice as long each time up to an hour; the
    // hundredth wrong entry in a row locks until front desk ends it.
    assert_eq!(waits[..9], [15, 30, 60, 60, 60, 60, 60, 60, 60]);
    assert!(waits[9] > 24 * 60, "{waits:?}");
    assert!(verifier
        .locked(&subject, now + Duration::days(365))
        .await
        .unwrap());
    assert!(verifier.unlock(&subject, now).await.unwrap());
    let issued = verifier.issue(&subject, true, now).await.unwrap().unwrap();
    assert_eq!(
        verifier
            .check(&subject, &issued.challenge, &issued.code.unwrap(), now)
            .await
            .unwrap(),
        Check::Verified
    );
}

/// Verification starts and codes counted in PostgreSQL (as instances
/// sharing it count them): the same limits as in memory, and parallel
/// takes from two "instances" (two counters on one database) cannot slip
/// past a limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_counts_shared_in_postgresql_hold_across_instances() {
    use carechat::identity::limits::{Counters, PatientKeys, VerificationLimits};
    use carechat::identity::otp::Subject;
    use carechat::records::Requester;

    let db = Db::postgres().await;
    let store = Store::open(&db.config()).await.unwrap();
    let limits = VerificationLimits {
        starts_per_session: 2,
        starts_per_address_per_hour: 3,
        codes_per_patient_per_hour: 2,
        ..VerificationLimits::default()
    };
    let a = std::sync::Arc::new(Counters::new(limits).shared_in(store.clone()));
    let b = std::sync::Arc::new(Counters::new(limits).shared_in(store.clone()));
    let who = |session: &str, addr: &str| Requester {
        session: session.to_owned(),
        client: Some(addr.parse().unwrap()),
    };
    let t0 = t0();
    assert!(a.take_start(&who("s1", "192.0.2.1"), t0).await);
    assert!(b.take_start(&who("s1", "192.0.2.1"), t0).await);
    assert!(
        !a.take_start(&who("s1", "192.0.2.1"), t0).await,
        "session, across instances"
    );
    assert!(b.take_start(&who("s2", "192.0.2.1"), t0).await);
    assert!(
        !a.take_start(&who("s3", "192.0.2.1"), t0).await,
        "address, across instances"
    );
    // A start given back does not count; refused ones took nothing.
    b.give_back_start(&who("s2", "192.0.2.1"), t0).await;
    assert!(a.take_start(&who("s4", "192.0.2.1"), t0).await);
    // An hour later the address has room again; the session never does.
    let later = t0 + Duration::hours(1);
    assert!(b.take_start(&who("s5", "192.0.2.1"), later).await);
    assert!(!a.take_start(&who("s1", "192.0.2.9"), later).await);

    // Codes: a key in common is enough to share the count.
    let one = PatientKeys::new(&Subject("p1".into()), ["n-sample".to_owned()]);
    let other = PatientKeys::new(
        &Subject("p2".into()),
        ["n-morgan-sample".to_owned(), "n-sample".to_owned()],
    );
    assert!(a.take_code(&one, t0).await);
    assert!(b.take_code(&other, t0).await);
    assert!(!a.take_code(&one, t0).await);

    // Twenty parallel starts on one fresh address, half on each
    // instance: exactly the limit gets through.
    let mut tasks = Vec::new();
    for n in 0..20 {
        let counters = if n % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let who = Requester {
                session: format!("race{n}"),
                client: Some("198.51.100.7".parse().unwrap()),
            };
            counters.take_start(&who, t0).await
        }));
    }
    let mut taken = 0;
    for task in tasks {
        taken += usize::from(task.await.unwrap());
    }
    assert_eq!(taken, 3, "the address limit held under racing takes");
}
