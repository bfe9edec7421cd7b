//! The audit log: any single edit, deletion or reordering of a stored event
//! is caught and named, concurrent appends keep one unbroken chain,
//! checkpoint signatures are checked, `carechat audit verify` names the bad
//! event, and the FHIR export passes an independent validator
//! (`fhir.resources` from PyPI). Each scenario runs on SQLite and on a real
//! PostgreSQL server started by the test binary (`pg`).
//!
//! Issue 9's attacks each have a test named for them: cutting the tail with
//! its checkpoints and moving the head back, deleting checkpoints,
//! rewriting the whole chain, cutting the unsigned tail a crash left, and a
//! full disk (an unwritable audit table) while a patient reads records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod backends;
mod common;

use std::net::IpAddr;
use std::process::Command;
use std::sync::Arc;

use carechat::audit::search::{search, Filter};
use carechat::audit::{
    verify_log, Actor, AnchorProblem, AuditAction, AuditEvent, AuditLog, AuditOutcome,
    ChainProblem, CheckpointProblem, RecoveryPolicy, VerifyReport, GENESIS_HASH,
};
use carechat::store::Store;
use protocol::IdentityKey;
use sqlx::Row as _;

use backends::Db;

/// The store and a log signing with the store's audit signing key.
async fn log_of(db: &Db, checkpoint_every: u64) -> (Store, AuditLog, Arc<IdentityKey>) {
    let store = Store::open(&db.config()).await.unwrap();
    let (key, _) = store.audit_signing_key().unwrap();
    let key = Arc::new(key);
    let log = AuditLog::new(store.clone(), key.clone()).with_checkpoint_every(checkpoint_every);
    (store, log, key)
}

on_both_backends!(
    an_intact_log_verifies,
    editing_any_field_of_any_event_is_named,
    deleting_any_single_event_is_named,
    swapping_any_two_events_is_named,
    truncating_past_a_checkpoint_is_caught,
    concurrent_appends_from_several_servers_form_one_chain,
    concurrent_appends_share_commits_and_each_caller_learns_its_own_position,
    checkpoint_tampering_is_caught,
    cli_audit_verify_names_the_bad_event,
    fhir_export_passes_an_independent_validator,
    cutting_the_tail_with_its_checkpoints_and_moving_the_head_back_is_caught_by_the_anchor,
    deleting_a_required_checkpoint_is_caught,
    deleting_every_checkpoint_is_caught,
    rewriting_the_whole_chain_is_caught,
    checkpoints_signed_with_the_identity_key_are_not_trusted,
    cutting_the_unsigned_tail_a_crash_left_is_caught,
    sessions_a_crash_ended_get_a_session_end_at_start_up,
    cli_audit_verify_checks_the_anchor_file,
    a_phi_read_while_the_audit_store_is_unwritable_is_refused_and_the_patient_is_told_to_call,
);

/// Twelve events, one per action, with every actor and outcome and with
/// optional fields both present and absent.
fn sample_events() -> Vec<AuditEvent> {
    let actors = [
        Actor::PatientSession,
        Actor::Staff("u-17".into()),
        Actor::System,
    ];
    // Twelve events, the first twelve actions: the chain, checkpoint and
    // export tests below count positions in this sample.
    AuditAction::ALL
        .iter()
        .take(12)
        .enumerate()
        .map(|(i, action)| {
            let outcome = AuditOutcome::ALL[i % AuditOutcome::ALL.len()];
            let mut event = AuditEvent::new(actors[i % 3].clone(), *action, outcome);
            if i % 2 == 0 {
                event = event.with_entity("Appointment", &format!("a{i}"));
            }
            if i % 3 != 2 {
                let addr: IpAddr = if i % 2 == 0 {
                    "192.0.2.7".parse().unwrap()
                } else {
                    "2001:db8::7".parse().unwrap()
                };
                event = event.with_client(addr).with_session_id(&format!("sid-{i}"));
            }
            event
        })
        .collect()
}

async fn record_all(log: &AuditLog) {
    for (i, event) in sample_events().into_iter().enumerate() {
        assert_eq!(
            log.record(event).await.unwrap(),
            u64::try_from(i + 1).unwrap()
        );
    }
}

const COLUMNS: &str =
    "seq, at, actor, action, entity_type, entity_id, outcome, client_addr, session, prev_hash, hash";

/// The stored rows, as text (NULL as None), for restoring after tampering.
async fn snapshot(store: &Store) -> Vec<Vec<Option<String>>> {
    // Qualified: PostgreSQL would otherwise sort by the text column.
    let rows = sqlx::query(
        "SELECT CAST(seq AS TEXT), CAST(at AS TEXT), actor, action, entity_type, entity_id, outcome, client_addr, session, prev_hash, hash FROM audit_events ORDER BY audit_events.seq",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    rows.iter()
        .map(|row| (0..11).map(|i| row.get::<Option<String>, _>(i)).collect())
        .collect()
}

async fn restore(store: &Store, rows: &[Vec<Option<String>>]) {
    sqlx::query("DELETE FROM audit_events")
        .execute(store.pool())
        .await
        .unwrap();
    let insert = format!(
        "INSERT INTO audit_events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    );
    for row in rows {
        let num = |i: usize| row[i].as_deref().unwrap().parse::<i64>().unwrap();
        let mut q = sqlx::query(&insert).bind(num(0)).bind(num(1));
        for value in &row[2..] {
            q = q.bind(value.clone());
        }
        q.execute(store.pool()).await.unwrap();
    }
}

fn assert_names(report: &VerifyReport, seq: u64, what: &str) {
    assert!(!report.is_intact(), "{what}: verify passed");
    let problem = report
        .first_problem
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no chain problem in {report:?}"));
    assert_eq!(problem.seq(), seq, "{what}: {problem}");
    assert!(
        problem.to_string().contains(&format!("event {seq}")),
        "{what}: {problem}"
    );
}

async fn an_intact_log_verifies(db: Db) {
    let (_store, log, _) = log_of(&db, 5).await;
    let empty = log.verify().await.unwrap();
    assert!(empty.is_intact());
    assert_eq!(empty.events, 0);
    record_all(&log).await;
    assert_eq!(log.checkpoint().await.unwrap(), Some(12));
    let report = log.verify().await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events, 12);
    assert_eq!(report.last_seq, 12);
    // At 5 and 10 by count, and 12 on request.
    assert_eq!(report.checkpoints_verified, 3);
}

async fn editing_any_field_of_any_event_is_named(db: Db) {
    let (store, log, _) = log_of(&db, 5).await;
    record_all(&log).await;
    let original = snapshot(&store).await;
    let edits = [
        ("seq", "seq + 1000"),
        ("at", "at + 1"),
        ("actor", "actor || 'x'"),
        ("action", "action || 'x'"),
        ("entity_type", "COALESCE(entity_type, '') || 'x'"),
        ("entity_id", "COALESCE(entity_id, '') || 'x'"),
        ("outcome", "outcome || 'x'"),
        ("client_addr", "COALESCE(client_addr, '') || 'x'"),
        ("session", "COALESCE(session, '') || 'x'"),
        ("prev_hash", "prev_hash || 'x'"),
        ("hash", "hash || 'x'"),
    ];
    let mut checked = 0;
    for seq in 1..=12_i64 {
        for (column, expr) in edits {
            sqlx::query(&format!(
                "UPDATE audit_events SET {column} = {expr} WHERE seq = $1"
            ))
            .bind(seq)
            .execute(store.pool())
            .await
            .unwrap();
            let report = log.verify().await.unwrap();
            assert_names(
                &report,
                u64::try_from(seq).unwrap(),
                &format!("edit {column} of {seq}"),
            );
            restore(&store, &original).await;
            checked += 1;
        }
        // Setting an optional field that is present to NULL, too.
        for column in ["entity_type", "client_addr", "session"] {
            let done = sqlx::query(&format!(
                "UPDATE audit_events SET {column} = NULL WHERE seq = $1 AND {column} IS NOT NULL"
            ))
            .bind(seq)
            .execute(store.pool())
            .await
            .unwrap();
            if done.rows_affected() == 1 {
                let report = log.verify().await.unwrap();
                assert_names(
                    &report,
                    u64::try_from(seq).unwrap(),
                    &format!("null {column} of {seq}"),
                );
                restore(&store, &original).await;
            }
        }
    }
    assert_eq!(checked, 12 * 11);
    assert!(log.verify().await.unwrap().is_intact());
}

async fn deleting_any_single_event_is_named(db: Db) {
    let (store, log, _) = log_of(&db, 5).await;
    record_all(&log).await;
    let original = snapshot(&store).await;
    for seq in 1..=12_i64 {
        sqlx::query("DELETE FROM audit_events WHERE seq = $1")
            .bind(seq)
            .execute(store.pool())
            .await
            .unwrap();
        let report = log.verify().await.unwrap();
        assert_names(
            &report,
            u64::try_from(seq).unwrap(),
            &format!("delete {seq}"),
        );
        if seq < 12 {
            assert_eq!(
                report.first_problem,
                Some(ChainProblem::Missing {
                    seq: u64::try_from(seq).unwrap()
                })
            );
        }
        restore(&store, &original).await;
    }
    assert!(log.verify().await.unwrap().is_intact());
}

async fn swapping_any_two_events_is_named(db: Db) {
    let (store, log, _) = log_of(&db, 5).await;
    record_all(&log).await;
    let original = snapshot(&store).await;
    for k in 1..=12_usize {
        for j in (k + 1)..=12 {
            // Exchange everything but the position.
            let mut swapped = original.clone();
            for column in 1..11 {
                let a = original[k - 1][column].clone();
                swapped[k - 1][column] = original[j - 1][column].clone();
                swapped[j - 1][column] = a;
            }
            restore(&store, &swapped).await;
            let report = log.verify().await.unwrap();
            let k64 = u64::try_from(k).unwrap();
            assert_names(&report, k64, &format!("swap {k} and {j}"));
            assert!(
                matches!(
                    report.first_problem,
                    Some(ChainProblem::Reordered { seq, .. }) if seq == k64
                ),
                "swap {k} and {j}: {:?}",
                report.first_problem
            );
        }
    }
    restore(&store, &original).await;
    assert!(log.verify().await.unwrap().is_intact());
}

async fn truncating_past_a_checkpoint_is_caught(db: Db) {
    let (store, log, _) = log_of(&db, 5).await;
    record_all(&log).await;
    // Cut the tail back to event 8 and move the head to match it: the
    // signed checkpoint at 10 still says the log reached 10.
    sqlx::query("DELETE FROM audit_events WHERE seq > 8")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_head SET seq = 8, hash = (SELECT hash FROM audit_events WHERE seq = 8) WHERE id = 1")
        .execute(store.pool())
        .await
        .unwrap();
    let report = log.verify().await.unwrap();
    assert_names(&report, 9, "truncate to 8");
    assert!(report
        .checkpoint_problems
        .contains(&CheckpointProblem::MissingEvent { seq: 10 }));
}

async fn concurrent_appends_from_several_servers_form_one_chain(db: Db) {
    let (_, first, key) = log_of(&db, 10).await;
    let mut tasks = Vec::new();
    for server in 0..4 {
        // Each "server" has its own store and connection pool.
        let store = Store::open(&db.config()).await.unwrap();
        let log = AuditLog::new(store, key.clone()).with_checkpoint_every(10);
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..15 {
                let event = AuditEvent::new(
                    Actor::Staff(format!("server-{server}")),
                    AuditAction::PhiRead,
                    AuditOutcome::Success,
                )
                .with_entity("Patient", &format!("p{i}"));
                seqs.push(log.record(event).await.unwrap());
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=60).collect::<Vec<u64>>());
    let report = first.verify().await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events, 60);
    assert_eq!(report.checkpoints_verified, 6);
}

async fn checkpoint_tampering_is_caught(db: Db) {
    let (store, log, key) = log_of(&db, 5).await;
    record_all(&log).await;
    assert!(log.verify().await.unwrap().is_intact());

    // A forged signature: its first character changed, in one statement
    // (two, "to A unless A" then "A to B", put back a signature that
    // began with B: one run in 64 tampered with nothing).
    sqlx::query("UPDATE audit_checkpoints SET signature = CASE WHEN substr(signature, 1, 1) = 'A' THEN 'B' ELSE 'A' END || substr(signature, 2) WHERE seq = 5")
        .execute(store.pool())
        .await
        .unwrap();
    let report = log.verify().await.unwrap();
    assert!(!report.is_intact());
    assert_eq!(
        report.checkpoint_problems,
        [CheckpointProblem::BadSignature { seq: 5 }]
    );

    // A checkpoint re-pointed at another hash.
    sqlx::query("UPDATE audit_checkpoints SET hash = (SELECT hash FROM audit_events WHERE seq = 9) WHERE seq = 10")
        .execute(store.pool())
        .await
        .unwrap();
    let report = log.verify().await.unwrap();
    assert!(report
        .checkpoint_problems
        .contains(&CheckpointProblem::BadSignature { seq: 10 }));

    // Another server's key is not trusted.
    let stranger = IdentityKey::generate(&mut rand_core::OsRng);
    let report = verify_log(&store, &[stranger.public()]).await.unwrap();
    assert!(report
        .checkpoint_problems
        .iter()
        .all(|p| matches!(p, CheckpointProblem::UnknownKey { .. })));
    assert_eq!(report.checkpoint_problems.len(), 2);
    drop(key);
}

fn carechat(db: &Db, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_carechat"));
    command
        .args(args)
        .env_remove("CARECHAT_CONFIG")
        .env_remove("CARECHAT_MASTER_KEY")
        .env("CARECHAT_DATA_DIR", db.dir.path())
        .env("CARECHAT_DATABASE_URL", &db.url)
        .env("CARECHAT_LOG", "warn");
    command.output().unwrap()
}

async fn cli_audit_verify_names_the_bad_event(db: Db) {
    let (store, log, _) = log_of(&db, 5).await;
    record_all(&log).await;
    let ok = carechat(&db, &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains("intact: 12 events"), "{stdout}");

    sqlx::query("UPDATE audit_events SET outcome = 'success' WHERE seq = 7")
        .execute(store.pool())
        .await
        .unwrap();
    let bad = carechat(&db, &["audit", "verify"]);
    assert!(!bad.status.success());
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(
        stdout.contains("first bad event: event 7 was altered"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("event 7"));
}

/// The Python `scripts/setup` prepares, with `fhir.resources`.
fn python() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = root.join(".tools/venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/setup",
        venv.display()
    );
    venv
}

async fn fhir_export_passes_an_independent_validator(db: Db) {
    let (_store, log, _) = log_of(&db, 5).await;
    record_all(&log).await;
    let mut out = Vec::new();
    assert_eq!(log.export_fhir(&mut out).await.unwrap(), 12);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 12);
    let phi_read = &lines[8];
    assert_eq!(phi_read["resourceType"], "AuditEvent");
    assert_eq!(phi_read["type"]["code"], "110110");
    assert_eq!(phi_read["action"], "R");
    assert_eq!(phi_read["entity"][0]["what"]["reference"], "Appointment/a8");
    assert_eq!(phi_read["agent"][0]["requestor"], false, "the system acted");
    assert!(phi_read["recorded"].as_str().unwrap().ends_with('Z'));
    let by_patient = &lines[6];
    assert_eq!(by_patient["agent"][0]["requestor"], true);
    assert_eq!(by_patient["agent"][0]["network"]["address"], "192.0.2.7");
    assert_eq!(by_patient["agent"][0]["altId"].as_str().unwrap().len(), 32);
    assert!(
        !text.contains("sid-6"),
        "the session id itself is never exported"
    );
    let outcomes: Vec<&str> = lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(&outcomes[..4], ["0", "4", "4", "8"]);
    assert_eq!(
        lines[0]["subtype"][0]["code"], "110122",
        "handshake is a login"
    );

    // The CLI writes the same file.
    let file = db.dir.path().join("audit.ndjson");
    let run = carechat(
        &db,
        &["audit", "export", "--fhir", "--out", file.to_str().unwrap()],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 12);

    // The same independent validator the FHIR client's writes go through.
    let validator =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fhir-server/validate.py");
    let checked = Command::new(python())
        .arg(validator)
        .arg(&file)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success(),
        "fhir.resources rejected the export: {report}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_eq!(report.matches("ok AuditEvent").count(), 12, "{report}");
}

/// A directory outside the data directory for the anchor file.
fn anchor_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// What an attacker with the database does to hide the newest events:
/// delete events after `keep` (and the checkpoints after them, when
/// `checkpoints_too`) and move `audit_head` back to `keep`.
async fn cut_tail(store: &Store, keep: i64, checkpoints_too: bool) {
    sqlx::query("DELETE FROM audit_events WHERE seq > $1")
        .bind(keep)
        .execute(store.pool())
        .await
        .unwrap();
    if checkpoints_too {
        sqlx::query("DELETE FROM audit_checkpoints WHERE seq > $1")
            .bind(keep)
            .execute(store.pool())
            .await
            .unwrap();
    }
    sqlx::query("UPDATE audit_head SET seq = $1, hash = (SELECT hash FROM audit_events WHERE seq = $1) WHERE id = 1")
        .bind(keep)
        .execute(store.pool())
        .await
        .unwrap();
}

async fn phi_reads(log: &AuditLog, n: usize) {
    for i in 0..n {
        let event = AuditEvent::new(
            Actor::PatientSession,
            AuditAction::PhiRead,
            AuditOutcome::Success,
        )
        .with_entity("Appointment", &format!("a{i}"))
        .with_session_id("sid-crash");
        log.record(event).await.unwrap();
    }
}

/// Group commit: 300 callers at once on one server. Each learns the
/// position of its own event, the chain is whole with its required
/// checkpoints, and the events shared transactions (the anchor gets one
/// signed head per commit, and there were far fewer commits than events).
async fn concurrent_appends_share_commits_and_each_caller_learns_its_own_position(db: Db) {
    let anchors = anchor_dir();
    let anchor = anchors.path().join("audit-anchor");
    let (store, log, _) = log_of(&db, 100).await;
    let log = log.with_anchor(&anchor);
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move {
                let event = AuditEvent::new(
                    Actor::PatientSession,
                    AuditAction::PhiRead,
                    AuditOutcome::Success,
                )
                .with_entity("Patient", &format!("p{i}"));
                (i, log.record(event).await.unwrap())
            })
        })
        .collect();
    let mut positions = Vec::new();
    for task in tasks {
        let (i, seq) = task.await.unwrap();
        let row = sqlx::query("SELECT entity_id FROM audit_events WHERE seq = $1")
            .bind(i64::try_from(seq).unwrap())
            .fetch_one(store.pool())
            .await
            .unwrap();
        let entity: String = row.try_get(0).unwrap();
        assert_eq!(
            entity,
            format!("p{i}"),
            "caller {i} was told another event's position"
        );
        positions.push(seq);
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=300).collect::<Vec<u64>>());
    let report = log.verify().await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.events, report.checkpoints_verified), (300, 3));
    assert_eq!(report.anchored_seq, Some(300));
    let commits = std::fs::read_to_string(&anchor).unwrap().lines().count();
    assert!(
        (1..100).contains(&commits),
        "{commits} commits for 300 concurrent events: they were not batched"
    );
}

async fn cutting_the_tail_with_its_checkpoints_and_moving_the_head_back_is_caught_by_the_anchor(
    db: Db,
) {
    let anchors = anchor_dir();
    let anchor = anchors.path().join("audit-anchor");
    let (store, log, _) = log_of(&db, 5).await;
    let log = log.with_anchor(&anchor);
    record_all(&log).await;
    assert_eq!(log.checkpoint().await.unwrap(), Some(12));
    let report = log.verify().await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.anchored_seq, Some(12));
    assert_eq!(
        std::fs::read_to_string(&anchor).unwrap().lines().count(),
        13,
        "one signed head per append and one for the checkpoint"
    );

    // Events 9 to 12 and the checkpoints at 10 and 12 gone, the head at 8:
    // consistent in itself, and without the anchor it would pass.
    cut_tail(&store, 8, true).await;
    let unanchored = verify_log(&store, &[log.public_key()]).await.unwrap();
    assert!(unanchored.is_intact(), "{unanchored:?}");
    let report = log.verify().await.unwrap();
    assert_names(&report, 9, "cut to 8 with its checkpoints");
    assert_eq!(
        report.first_problem,
        Some(ChainProblem::Truncated {
            first_missing: 9,
            expected_last: 12
        })
    );
    assert!(report.problems()[0].contains("truncated"), "{report:?}");
}

async fn deleting_a_required_checkpoint_is_caught(db: Db) {
    let (store, log, _) = log_of(&db, 5).await;
    record_all(&log).await;
    sqlx::query("DELETE FROM audit_checkpoints WHERE seq = 5")
        .execute(store.pool())
        .await
        .unwrap();
    let report = log.verify().await.unwrap();
    assert!(!report.is_intact());
    assert_eq!(report.first_problem, None);
    assert_eq!(
        report.checkpoint_problems,
        [CheckpointProblem::Missing { seq: 5, every: 5 }]
    );
    assert!(
        report.problems()[0].contains("checkpoint at event 5 is missing"),
        "{:?}",
        report.problems()
    );
}

async fn deleting_every_checkpoint_is_caught(db: Db) {
    let (store, log, _) = log_of(&db, 5).await;
    record_all(&log).await;
    sqlx::query("DELETE FROM audit_checkpoints")
        .execute(store.pool())
        .await
        .unwrap();
    let report = log.verify().await.unwrap();
    assert!(!report.is_intact());
    assert_eq!(
        report.checkpoint_problems,
        [CheckpointProblem::AllRemoved {
            events: 12,
            every: 5
        }]
    );
    assert!(report.problems()[0].starts_with("all checkpoints removed"));
}

/// Re-hashes every event after changing the outcome of event 3, so the
/// chain is consistent again, and moves the head to the new last hash.
async fn rewrite_chain(store: &Store) {
    let mut events = search(store, &Filter::default(), false, 1000)
        .await
        .unwrap();
    events[2].outcome = if events[2].outcome == "success" {
        "denied".into()
    } else {
        "success".into()
    };
    let mut prev = GENESIS_HASH.to_owned();
    for event in &mut events {
        event.prev_hash = prev.clone();
        event.hash = event.compute_hash();
        prev = event.hash.clone();
    }
    sqlx::query("DELETE FROM audit_events")
        .execute(store.pool())
        .await
        .unwrap();
    let insert = format!(
        "INSERT INTO audit_events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    );
    for e in &events {
        sqlx::query(&insert)
            .bind(e.seq)
            .bind(e.at)
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&e.entity_type)
            .bind(&e.entity_id)
            .bind(&e.outcome)
            .bind(&e.client_addr)
            .bind(&e.session)
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .execute(store.pool())
            .await
            .unwrap();
    }
    let last = events.last().unwrap();
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(last.seq)
        .bind(&last.hash)
        .execute(store.pool())
        .await
        .unwrap();
}

/// Replaces every checkpoint with one signed by `key` over the stored hash.
async fn forge_checkpoints(store: &Store, key: &IdentityKey, seqs: &[i64]) {
    use base64::Engine as _;
    sqlx::query("DELETE FROM audit_checkpoints")
        .execute(store.pool())
        .await
        .unwrap();
    for &seq in seqs {
        let hash: String = sqlx::query("SELECT hash FROM audit_events WHERE seq = $1")
            .bind(seq)
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get(0);
        let at = 1_700_000_000_000_i64;
        let signature = key.sign(&carechat::audit::chain::checkpoint_message(seq, at, &hash));
        sqlx::query("INSERT INTO audit_checkpoints (seq, at, hash, key_id, signature) VALUES ($1, $2, $3, $4, $5)")
            .bind(seq)
            .bind(at)
            .bind(&hash)
            .bind(key.public().key_id())
            .bind(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature))
            .execute(store.pool())
            .await
            .unwrap();
    }
}

async fn rewriting_the_whole_chain_is_caught(db: Db) {
    let anchors = anchor_dir();
    let (store, log, _) = log_of(&db, 5).await;
    let log = log.with_anchor(anchors.path().join("audit-anchor"));
    record_all(&log).await;
    assert!(log.verify().await.unwrap().is_intact());

    // Re-hashed: every event matches its hash and link, and the head
    // matches; the signed checkpoints at 5 and 10 do not.
    rewrite_chain(&store).await;
    let report = log.verify().await.unwrap();
    assert!(!report.is_intact());
    assert_eq!(
        report.checkpoint_problems,
        [
            CheckpointProblem::HashMismatch { seq: 5 },
            CheckpointProblem::HashMismatch { seq: 10 }
        ]
    );
    // The anchored head at 12 has another hash now.
    assert_eq!(
        report.first_problem,
        Some(ChainProblem::AnchorMismatch { seq: 12 })
    );
    assert!(report.problems()[0].contains("rewritten"), "{report:?}");

    // Re-signing the checkpoints needs the audit key, sealed by the master
    // key: a key of the attacker's own is not trusted.
    let own = IdentityKey::generate(&mut rand_core::OsRng);
    forge_checkpoints(&store, &own, &[5, 10]).await;
    let report = log.verify().await.unwrap();
    assert!(report
        .checkpoint_problems
        .iter()
        .all(|p| matches!(p, CheckpointProblem::UnknownKey { .. })));
    assert_eq!(report.checkpoint_problems.len(), 2);
    assert_eq!(
        report.first_problem,
        Some(ChainProblem::AnchorMismatch { seq: 12 })
    );
}

async fn checkpoints_signed_with_the_identity_key_are_not_trusted(db: Db) {
    // The identity key is in the data directory and signs handshakes; it
    // no longer vouches for the log.
    let (store, log, _) = log_of(&db, 5).await;
    record_all(&log).await;
    let (identity, _) = carechat::server_key::load_or_generate(db.dir.path()).unwrap();
    assert_ne!(identity.public(), log.public_key());
    rewrite_chain(&store).await;
    forge_checkpoints(&store, &identity, &[5, 10]).await;
    let report = log.verify().await.unwrap();
    assert!(!report.is_intact());
    let identity_id = identity.public().key_id();
    assert_eq!(
        report.checkpoint_problems,
        [
            CheckpointProblem::UnknownKey {
                seq: 5,
                key_id: identity_id.clone()
            },
            CheckpointProblem::UnknownKey {
                seq: 10,
                key_id: identity_id
            }
        ]
    );
}

fn policy() -> RecoveryPolicy {
    RecoveryPolicy {
        end_sessions: true,
        max_session_age: std::time::Duration::from_secs(12 * 60 * 60),
        max_sessions: 10_000,
    }
}

async fn cutting_the_unsigned_tail_a_crash_left_is_caught(db: Db) {
    // 60 events, then kill -9: no checkpoint (one is due at 100).
    let anchors = anchor_dir();
    let anchor = anchors.path().join("audit-anchor");
    let (store, log, key) = log_of(&db, 100).await;
    phi_reads(&log.clone().with_anchor(&anchor), 60).await;
    drop(log);

    // Cut while the server is down: events 41 to 60, head moved back. Only
    // the anchor outside the database still knows.
    let original = snapshot(&store).await;
    let head: (i64, String) = (60, original[59][10].clone().unwrap());
    cut_tail(&store, 40, true).await;
    let restarted = AuditLog::new(store.clone(), key.clone()).with_anchor(&anchor);
    let report = restarted.verify().await.unwrap();
    assert_names(&report, 41, "cut 41-60 after a crash");
    assert_eq!(
        report.first_problem,
        Some(ChainProblem::Truncated {
            first_missing: 41,
            expected_last: 60
        })
    );
    restore(&store, &original).await;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(head.0)
        .bind(&head.1)
        .execute(store.pool())
        .await
        .unwrap();

    // The restart signs the unsigned tail at once, so even without an
    // anchor the cut is caught afterwards.
    let restarted = AuditLog::new(store.clone(), key.clone());
    let done = restarted
        .recover(&RecoveryPolicy {
            end_sessions: false,
            ..policy()
        })
        .await
        .unwrap();
    assert_eq!(done.signed_checkpoint, Some(60));
    assert!(restarted.verify().await.unwrap().is_intact());
    // A second start has nothing to sign.
    let again = restarted.recover(&policy()).await.unwrap();
    assert_eq!(again.signed_checkpoint, None);
    cut_tail(&store, 40, false).await;
    let report = restarted.verify().await.unwrap();
    assert_names(&report, 41, "cut 41-60 after the restart signed 60");
    assert!(report
        .checkpoint_problems
        .contains(&CheckpointProblem::MissingEvent { seq: 60 }));
}

async fn sessions_a_crash_ended_get_a_session_end_at_start_up(db: Db) {
    let (store, log, _) = log_of(&db, 100).await;
    for sid in ["s1", "s2", "s3"] {
        log.record(
            AuditEvent::new(
                Actor::PatientSession,
                AuditAction::Handshake,
                AuditOutcome::Success,
            )
            .with_session_id(sid),
        )
        .await
        .unwrap();
    }
    log.record(
        AuditEvent::new(
            Actor::PatientSession,
            AuditAction::SessionEnd,
            AuditOutcome::Success,
        )
        .with_session_id("s2"),
    )
    .await
    .unwrap();
    // kill -9: s1 and s3 were live.
    let done = log.recover(&policy()).await.unwrap();
    assert_eq!(done.sessions_ended, 2);
    assert_eq!(
        done.signed_checkpoint,
        Some(6),
        "after the ends are recorded"
    );
    let ends = search(
        &store,
        &Filter {
            action_prefix: Some("session.end".into()),
            outcome: Some("interrupted".into()),
            ..Filter::default()
        },
        false,
        100,
    )
    .await
    .unwrap();
    let sessions: Vec<String> = ends.iter().map(|e| e.session.clone().unwrap()).collect();
    assert_eq!(
        sessions,
        [
            carechat::audit::session_digest("s1"),
            carechat::audit::session_digest("s3")
        ]
    );
    assert!(ends.iter().all(|e| e.actor == "system"));
    // Bounded and idempotent: a second start ends nothing more.
    assert_eq!(log.recover(&policy()).await.unwrap(), Default::default());
    assert!(log.verify().await.unwrap().is_intact());
    // The FHIR export calls it a serious failure, not a logout that worked.
    let mut out = Vec::new();
    log.export_fhir(&mut out).await.unwrap();
    let last: serde_json::Value =
        serde_json::from_str(String::from_utf8(out).unwrap().lines().last().unwrap()).unwrap();
    assert_eq!(last["outcome"], "8");
    assert_eq!(last["outcomeDesc"], "interrupted");
}

async fn cli_audit_verify_checks_the_anchor_file(db: Db) {
    let anchors = anchor_dir();
    let anchor = anchors.path().join("audit-anchor");
    let (store, log, _) = log_of(&db, 100).await;
    phi_reads(&log.clone().with_anchor(&anchor), 12).await;
    let verify = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_carechat"));
        command
            .args(["audit", "verify"])
            .env_remove("CARECHAT_CONFIG")
            .env_remove("CARECHAT_MASTER_KEY")
            .env("CARECHAT_DATA_DIR", db.dir.path())
            .env("CARECHAT_DATABASE_URL", &db.url)
            .env("CARECHAT_AUDIT_ANCHOR_FILE", &anchor)
            .env("CARECHAT_LOG", "warn");
        command.output().unwrap()
    };
    let ok = verify();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains("intact: 12 events"), "{stdout}");

    cut_tail(&store, 9, true).await;
    let bad = verify();
    assert!(!bad.status.success());
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(
        stdout.contains("first bad event: event 10 is missing: the log was truncated"),
        "{stdout}"
    );

    // A forged anchor line is named too.
    let mut text = std::fs::read_to_string(&anchor).unwrap();
    text.push_str("v1 99 1 abc 0011223344556677 AAAA\n");
    std::fs::write(&anchor, text).unwrap();
    let stdout = String::from_utf8_lossy(&verify().stdout).into_owned();
    assert!(stdout.contains("anchor line 13"), "{stdout}");
    let report = log.clone().with_anchor(&anchor).verify().await.unwrap();
    assert!(report.anchor_problems.contains(&AnchorProblem::UnknownKey {
        line: 13,
        key_id: "0011223344556677".into()
    }));
}

/// The demo EHR's main patient (synthetic): Morgan Sample, phone ending 01.
const MORGAN: &str = "03/02/1984 Sample";

/// A reply's intent and text, and whether a card followed it.
async fn ask(
    conn: &mut common::Conn,
    session: &mut protocol::Session,
    id: &str,
    text: &str,
) -> (String, String, bool) {
    use futures_util::StreamExt as _;
    conn.send(session, &common::say(id, text)).await;
    let protocol::ServerMessage::Reply { intent, text, .. } = conn.recv(session).await else {
        panic!("expected a reply")
    };
    // A card, when there is one, follows its reply at once.
    let card =
        match tokio::time::timeout(std::time::Duration::from_millis(400), conn.ws.next()).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                let frame = protocol::Frame::from_json(t.as_str()).unwrap();
                matches!(
                    session.open_message(&frame).unwrap(),
                    protocol::ServerMessage::Card { .. }
                )
            }
            _ => false,
        };
    (intent, text, card)
}

async fn outbox_code(server: &common::TestServer) -> String {
    let path = server.data_dir.path().join("dev-outbox.jsonl");
    for _ in 0..250 {
        if let Some(line) = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .last()
        {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            return value["code"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no code in the outbox");
}

async fn phi_read_count(pool: &sqlx::AnyPool) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM audit_events WHERE action = 'phi.read'")
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0)
}

async fn a_phi_read_while_the_audit_store_is_unwritable_is_refused_and_the_patient_is_told_to_call(
    db: Db,
) {
    let url = db.url.clone();
    let server = common::TestServer::start_with(move |k| {
        (k == "CARECHAT_DATABASE_URL").then(|| url.clone())
    })
    .await;
    let (mut session, mut conn) = common::consented(&server).await;
    let (intent, _, _) = ask(
        &mut conn,
        &mut session,
        "m1",
        "When is my next appointment?",
    )
    .await;
    assert_eq!(intent, "identity.details_needed");
    let (intent, _, _) = ask(&mut conn, &mut session, "m2", MORGAN).await;
    assert_eq!(intent, "identity.code_sent");
    let code = outbox_code(&server).await;
    let (intent, text, card) = ask(&mut conn, &mut session, "m3", &code).await;
    assert_eq!(intent, "appointments.list", "{text}");
    assert!(card);

    // The disk fills up: no audit event can be written any more.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let postgres = db.url.starts_with("postgres");
    if postgres {
        sqlx::query("CREATE FUNCTION audit_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("CREATE TRIGGER audit_disk_full BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_disk_full()")
            .execute(&pool)
            .await
            .unwrap();
    } else {
        let mut c = pool.acquire().await.unwrap();
        sqlx::query("PRAGMA busy_timeout = 10000")
            .execute(&mut *c)
            .await
            .unwrap();
        sqlx::query("CREATE TRIGGER audit_disk_full BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
            .execute(&mut *c)
            .await
            .unwrap();
    }
    let reads_before = phi_read_count(&pool).await;

    for (id, question) in [
        ("m4", "show my appointments"),
        ("m5", "are my lab results back?"),
        ("m6", "what about my prescription refills"),
    ] {
        let (intent, text, card) = ask(&mut conn, &mut session, id, question).await;
        assert_eq!(intent, "ehr.error", "{question}: {text}");
        assert!(!card, "{question}: records were shown");
        assert!(text.contains("Please call us at"), "{text}");
        assert!(text.contains("(555) 010-4477"), "{text}");
        assert!(
            text.contains("could not keep the required record"),
            "{text}"
        );
        for phi in ["Patel", "Checkup", "lab", "prescription"] {
            assert!(!text.contains(phi), "{phi} in {text}");
        }
    }
    assert_eq!(phi_read_count(&pool).await, reads_before);

    // Space again: the same question is answered, and audited.
    let drop = if postgres {
        "DROP TRIGGER audit_disk_full ON audit_events"
    } else {
        "DROP TRIGGER audit_disk_full"
    };
    sqlx::query(drop).execute(&pool).await.unwrap();
    let (intent, text, card) = ask(&mut conn, &mut session, "m7", "show my appointments").await;
    assert_eq!(intent, "appointments.list", "{text}");
    assert!(card);
    assert!(phi_read_count(&pool).await > reads_before);
}
