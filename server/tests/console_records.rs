//! Compliance and patient records from the console, tested from outside
//! the server's code: who may search, verify and export the audit log,
//! unlock a patient's verification lockout, and read past transcripts;
//! that an unlock lets a locked-out patient verify again and the log says
//! who unlocked whom and why; and that nothing is unlocked when the audit
//! event cannot be written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use carechat::config::{Overrides, RawConfig};
use carechat::handoff::Reason;
use carechat::identity::details;
use carechat::identity::otp::OtpCode;
use carechat::identity::Started;
use carechat::records::Requester;
use carechat::staff::Role as StaffRole;
use carechat::AppState;
use carechat_console::api::records::{
    AuditQuery, RecordsBackend as _, UnlockReason, UnlockRequest, Unlocked,
};
use carechat_console::api::{ConsoleBackend as _, Refusal, RequestFacts, Speaker};
use carechat_language::lang::Locale;
use chrono::Utc;
use protocol::SessionId;

/// The demo EHR's main patient (synthetic).
const MORGAN: &str = "03/02/1984 Sample";

struct World {
    app: AppState,
    origin: String,
    _dir: tempfile::TempDir,
}

/// A server whose patients are locked out after one wrong code and may
/// ask for a new code after a second.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = RawConfig::demo().unwrap();
    raw.apply_env(|name| match name {
        "CARECHAT_MAX_CONSECUTIVE_FAILURES" => Some("1".into()),
        "CARECHAT_RESEND_COOLDOWN_SECS" => Some("1".into()),
        _ => None,
    })
    .unwrap();
    raw.apply_overrides(Overrides {
        data_dir: Some(dir.path().to_owned()),
        ..Overrides::default()
    });
    let config = raw.validate().unwrap();
    let identity = carechat::open_identity(&config).unwrap();
    let app = AppState::open(config, identity).await.unwrap();
    let origin = app.config.public_url.clone();
    World {
        app,
        origin,
        _dir: dir,
    }
}

impl World {
    /// Signs a new account of `role` in as `username`; the facts its
    /// browser would send.
    async fn signed_in_as(&self, role: StaffRole, username: &str) -> RequestFacts {
        common::console::signed_in_as(
            &self.app.store,
            &self.app.audit,
            self.app.console.as_ref(),
            &self.origin,
            role,
            username,
        )
        .await
    }

    async fn signed_in(&self, role: StaffRole) -> RequestFacts {
        self.signed_in_as(role, &format!("user.{}", role.as_str()))
            .await
    }

    /// A patient session's requester.
    fn patient(n: u8) -> Requester {
        Requester {
            session: format!("patient-session-{n}"),
            client: None,
        }
    }

    /// Starts verification as Morgan; what the patient would be told.
    async fn start_verifying(&self, n: u8) -> Started {
        let details = details::parse(MORGAN, false).unwrap();
        self.app
            .conversation
            .identity()
            .start(&Self::patient(n), &details, Utc::now())
            .await
    }

    /// Locks Morgan out: one wrong code (the limit is one).
    async fn lock_morgan_out(&self) {
        let Started::CodeSent(pending) = self.start_verifying(1).await else {
            panic!("a code should be sent")
        };
        // No six digits are the right code with certainty, so try two.
        for guess in ["000000", "999999"] {
            let _ = self
                .app
                .conversation
                .identity()
                .check(
                    &Self::patient(1),
                    &pending,
                    &OtpCode::parse(guess).unwrap(),
                    Utc::now(),
                )
                .await;
        }
        assert!(
            matches!(self.start_verifying(2).await, Started::Locked),
            "Morgan should be locked out"
        );
    }

    fn queue_one(&self, n: u8) -> String {
        self.app.handoffs.enqueue(
            &SessionId([n; 16]),
            &format!("session-{n}"),
            Reason::AskedForPerson,
            Locale::En,
            None,
            Utc::now(),
        );
        self.app
            .handoffs
            .queue()
            .into_iter()
            .find(|e| e.session_ref == format!("session-{n}"))
            .unwrap()
            .id
    }
}

fn morgan(reason: UnlockReason) -> UnlockRequest {
    UnlockRequest {
        family: "Sample".into(),
        birth_date: "1984-03-02".into(),
        identifier: String::new(),
        reason,
    }
}

/// What one role gets from every call of this area, in a fixed order.
async fn outcomes(w: &World, facts: &RequestFacts) -> Vec<(&'static str, Result<(), Refusal>)> {
    let b = &w.app.console;
    let query = AuditQuery::default();
    vec![
        (
            "audit_search",
            b.audit_search(facts, &query).await.map(|_| ()),
        ),
        ("audit_verify", b.audit_verify(facts).await.map(|_| ())),
        (
            "audit_export",
            b.audit_export(facts, &query).await.map(|_| ()),
        ),
        (
            "unlock",
            b.unlock(facts, &morgan(UnlockReason::PhoneCall))
                .await
                .map(|_| ()),
        ),
        ("transcripts", b.transcripts(facts).await.map(|_| ())),
    ]
}

#[tokio::test]
async fn each_role_gets_the_records_calls_it_may_and_no_other() {
    let w = world().await;
    let allowed: &[(StaffRole, &[&str])] = &[
        (StaffRole::FrontDesk, &["unlock"]),
        (StaffRole::Nurse, &["unlock", "transcripts"]),
        (
            StaffRole::Compliance,
            &["audit_search", "audit_verify", "audit_export"],
        ),
        (StaffRole::Admin, &[]),
    ];
    for (role, calls) in allowed {
        let facts = w.signed_in(*role).await;
        for (call, result) in outcomes(&w, &facts).await {
            let expected = if calls.contains(&call) {
                Ok(())
            } else {
                Err(Refusal::NotAllowed)
            };
            assert_eq!(result, expected, "{role}: {call}");
        }
    }
    let nobody = RequestFacts {
        origin: Some(w.origin.clone()),
        ..RequestFacts::default()
    };
    for (call, result) in outcomes(&w, &nobody).await {
        assert_eq!(result, Err(Refusal::SignedOut), "signed out: {call}");
    }
    assert_eq!(
        w.app.console.transcript(&nobody, "anything").await,
        Err(Refusal::SignedOut)
    );
}

#[tokio::test]
async fn a_front_desk_unlock_lets_a_locked_out_patient_verify_and_the_log_says_who_whom_and_why() {
    let w = world().await;
    w.lock_morgan_out().await;
    let desk = w.signed_in(StaffRole::FrontDesk).await;

    // A state change: the CSRF token and this server's origin are needed.
    let foreign = RequestFacts {
        origin: Some("https://evil.example".into()),
        ..desk.clone()
    };
    let no_csrf = RequestFacts {
        csrf: None,
        ..desk.clone()
    };
    for facts in [&foreign, &no_csrf] {
        assert_eq!(
            w.app
                .console
                .unlock(facts, &morgan(UnlockReason::PhoneCall))
                .await,
            Err(Refusal::BadRequest)
        );
    }
    assert!(matches!(w.start_verifying(3).await, Started::Locked));

    // Bad input is refused with a clear answer, and unlocks nothing.
    for bad in [
        UnlockRequest {
            birth_date: "02/03/1984".into(),
            ..morgan(UnlockReason::PhoneCall)
        },
        UnlockRequest {
            family: "  ".into(),
            ..morgan(UnlockReason::PhoneCall)
        },
        UnlockRequest {
            family: "x".repeat(500),
            ..morgan(UnlockReason::PhoneCall)
        },
    ] {
        assert_eq!(
            w.app.console.unlock(&desk, &bad).await,
            Err(Refusal::Invalid)
        );
    }
    let nobody_like_that = UnlockRequest {
        family: "Nobody".into(),
        ..morgan(UnlockReason::InPerson)
    };
    assert_eq!(
        w.app.console.unlock(&desk, &nobody_like_that).await,
        Ok(Unlocked::NoMatch)
    );
    assert!(matches!(w.start_verifying(4).await, Started::Locked));

    let done = w
        .app
        .console
        .unlock(&desk, &morgan(UnlockReason::PhoneCall))
        .await
        .unwrap();
    assert_eq!(
        done,
        Unlocked::Unlocked {
            given_name: "Morgan".into()
        }
    );
    // (A second after the last code, the shortest cooldown there is.)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(
        matches!(w.start_verifying(5).await, Started::CodeSent(_)),
        "after the unlock, Morgan gets a code again"
    );
    assert_eq!(
        w.app
            .console
            .unlock(&desk, &morgan(UnlockReason::NotTheirAttempts))
            .await
            .unwrap(),
        Unlocked::NotLocked {
            given_name: "Morgan".into()
        }
    );

    // Compliance finds who unlocked whom, and why.
    let compliance = w.signed_in(StaffRole::Compliance).await;
    let found = w
        .app
        .console
        .audit_search(
            &compliance,
            &AuditQuery {
                action: "verification.unlocked".into(),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    let morgan_record = found.rows[0].entity.clone().unwrap();
    assert!(morgan_record.starts_with("Patient/"), "{morgan_record}");
    let actions: Vec<(&str, Option<&str>, &str)> = found
        .rows
        .iter()
        .map(|r| (r.action.as_str(), r.entity.as_deref(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            (
                "verification.unlocked.not_their_attempts",
                Some(morgan_record.as_str()),
                "success"
            ),
            (
                "verification.unlocked.phone_call",
                Some(morgan_record.as_str()),
                "success"
            ),
            ("verification.unlocked.in_person", None, "failure"),
        ],
        "newest first"
    );
    for row in &found.rows {
        assert!(row.actor.starts_with("staff:"), "{row:?}");
        assert_eq!(
            row.staff.as_deref(),
            Some("Staff user.front_desk (user.front_desk)")
        );
    }
    // The desk's read of the record is in the log too.
    let reads = w
        .app
        .console
        .audit_search(
            &compliance,
            &AuditQuery {
                actor: "staff".into(),
                action: "phi.read".into(),
                entity: morgan_record.clone(),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(reads.rows.len(), 2, "{:?}", reads.rows);
}

#[tokio::test]
async fn nothing_is_unlocked_when_the_audit_event_cannot_be_written() {
    let w = world().await;
    w.lock_morgan_out().await;
    let desk = w.signed_in(StaffRole::FrontDesk).await;
    // The log's table refuses every write from here on.
    sqlx::query(
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    )
    .execute(w.app.store.pool())
    .await
    .unwrap();
    assert_eq!(
        w.app
            .console
            .unlock(&desk, &morgan(UnlockReason::PhoneCall))
            .await,
        Err(Refusal::Unavailable)
    );
    sqlx::query("DROP TRIGGER no_audit")
        .execute(w.app.store.pool())
        .await
        .unwrap();
    assert!(
        matches!(w.start_verifying(9).await, Started::Locked),
        "still locked: the unlock did not happen"
    );
}

#[tokio::test]
async fn compliance_searches_pages_verifies_and_exports_the_log() {
    let w = world().await;
    let compliance = w.signed_in(StaffRole::Compliance).await;
    let b = &w.app.console;
    // Enough events for more than one page.
    for n in 0..60 {
        let _ = w.start_verifying(n).await;
    }
    let first = b
        .audit_search(&compliance, &AuditQuery::default())
        .await
        .unwrap();
    assert_eq!(first.rows.len(), 100);
    assert!(first.more);
    assert!(first.rows.windows(2).all(|p| p[0].seq > p[1].seq));
    let next = b
        .audit_search(
            &compliance,
            &AuditQuery {
                before: first.rows.last().unwrap().seq,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(next.rows.iter().all(|r| r.seq < first.rows[99].seq));

    // Filters narrow; a bad one is refused, not ignored.
    let failures = b
        .audit_search(
            &compliance,
            &AuditQuery {
                outcome: "denied".into(),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(failures.rows.iter().all(|r| r.outcome == "denied"));
    let today = Utc::now().date_naive().format("%Y-%m-%d").to_string();
    let dated = b
        .audit_search(
            &compliance,
            &AuditQuery {
                from: today.clone(),
                to: today,
                action: "verification.start".into(),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(dated.rows.len(), 60);
    let yesterday = (Utc::now().date_naive() - chrono::Days::new(1))
        .format("%Y-%m-%d")
        .to_string();
    let none = b
        .audit_search(
            &compliance,
            &AuditQuery {
                to: yesterday,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(none.rows.is_empty());
    for bad in [
        AuditQuery {
            outcome: "maybe".into(),
            ..AuditQuery::default()
        },
        AuditQuery {
            from: "last tuesday".into(),
            ..AuditQuery::default()
        },
        AuditQuery {
            entity: "Patient/".into(),
            ..AuditQuery::default()
        },
    ] {
        assert_eq!(
            b.audit_search(&compliance, &bad).await,
            Err(Refusal::Invalid)
        );
    }

    let verified = b.audit_verify(&compliance).await.unwrap();
    assert!(verified.intact, "{verified:?}");
    assert!(verified.events > 100);

    let export = b
        .audit_export(
            &compliance,
            &AuditQuery {
                action: "verification.start".into(),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(export.events, 60);
    assert!(!export.truncated);
    let resources: Vec<serde_json::Value> = export
        .ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(resources.len(), 60);
    assert!(resources.iter().all(|r| r["resourceType"] == "AuditEvent"));

    // Each of those reads is itself in the log, by this officer.
    let own = b
        .audit_search(
            &compliance,
            &AuditQuery {
                action: "audit.".into(),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    let names: Vec<&str> = own.rows.iter().map(|r| r.action.as_str()).collect();
    assert!(names.contains(&"audit.verified"), "{names:?}");
    assert!(names.contains(&"audit.exported"), "{names:?}");
    assert!(names.iter().filter(|n| **n == "audit.searched").count() >= 5);
    assert!(own.rows.iter().all(|r| r.actor.starts_with("staff:")));

    // Tampering shows.
    sqlx::query("UPDATE audit_events SET action = action || '.edited' WHERE seq = 3")
        .execute(w.app.store.pool())
        .await
        .unwrap();
    let broken = b.audit_verify(&compliance).await.unwrap();
    assert!(!broken.intact);
    assert!(!broken.problems.is_empty());
}

#[tokio::test]
async fn a_nurse_reads_again_only_the_conversations_they_took_part_in() {
    let w = world().await;
    let nurse = w.signed_in_as(StaffRole::Nurse, "nurse.one").await;
    let other = w.signed_in_as(StaffRole::Nurse, "nurse.two").await;
    let b = &w.app.console;

    let id = w.queue_one(1);
    b.pick_up(&nurse, &id).await.unwrap();
    b.send(&nurse, &id, "This is the nurse, how can I help?")
        .await
        .unwrap();
    b.close(&nurse, &id).await.unwrap();
    // Another conversation she never wrote in.
    let _unseen = w.queue_one(2);

    let mine = b.transcripts(&nurse).await.unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    let lines = b.transcript(&nurse, &mine[0].id).await.unwrap();
    assert!(lines.iter().any(|l| l.speaker
        == Speaker::Staff {
            name: "Staff nurse.one".into()
        }
        && l.text == "This is the nurse, how can I help?"));

    assert!(b.transcripts(&other).await.unwrap().is_empty());
    assert_eq!(
        b.transcript(&other, &mine[0].id).await,
        Err(Refusal::Gone),
        "another nurse cannot read it"
    );
    let desk = w.signed_in(StaffRole::FrontDesk).await;
    assert_eq!(
        b.transcript(&desk, &mine[0].id).await,
        Err(Refusal::NotAllowed)
    );
    assert_eq!(b.transcript(&nurse, "made-up").await, Err(Refusal::Gone));

    // The read is recorded, naming the transcript.
    let compliance = w.signed_in(StaffRole::Compliance).await;
    let reads = b
        .audit_search(
            &compliance,
            &AuditQuery {
                action: "handoff.transcript_read".into(),
                entity: format!("Transcript/{}", mine[0].id),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(reads.rows.len(), 1);
}
