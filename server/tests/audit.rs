//! The audit log: any single edit, deletion or reordering of a stored event
//! is caught and named, concurrent appends keep one unbroken chain,
//! checkpoint signatures are checked, `carechat audit verify` names the bad
//! event, and the FHIR export passes an independent validator
//! (`fhir.resources` from PyPI). Each scenario runs on SQLite and on a real
//! PostgreSQL server started by the test binary (`pg`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod backends;

use std::net::IpAddr;
use std::process::Command;
use std::sync::Arc;

use carechat::audit::{
    verify_log, Actor, AuditAction, AuditEvent, AuditLog, AuditOutcome, ChainProblem,
    CheckpointProblem, VerifyReport,
};
use carechat::store::Store;
use protocol::IdentityKey;
use sqlx::Row as _;

use backends::Db;

/// The store and a log signing with the data dir's identity key.
async fn log_of(db: &Db, checkpoint_every: u64) -> (Store, AuditLog, Arc<IdentityKey>) {
    let store = Store::open(&db.config()).await.unwrap();
    let (key, _) = carechat::server_key::load_or_generate(db.dir.path()).unwrap();
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
    checkpoint_tampering_is_caught,
    cli_audit_verify_names_the_bad_event,
    fhir_export_passes_an_independent_validator,
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

    // A forged signature.
    sqlx::query("UPDATE audit_checkpoints SET signature = 'A' || substr(signature, 2) WHERE seq = 5 AND substr(signature, 1, 1) <> 'A'")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_checkpoints SET signature = 'B' || substr(signature, 2) WHERE seq = 5 AND substr(signature, 1, 1) = 'A'")
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
