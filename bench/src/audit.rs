//! Durable audit appends per second, on the server's own audit code
//! ([`carechat::audit::AuditLog`]) over the single-machine default store
//! (SQLite in a fresh data directory): many writers at once, as many
//! patients' events arrive at once, and the chain verified afterwards so
//! that only appends that really landed are counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use carechat::audit::{Actor, AuditAction, AuditEvent, AuditLog, AuditOutcome};
use carechat::store::{RawStorage, Store};
use protocol::IdentityKey;
use serde::Serialize;

/// What the run came to.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct AuditRun {
    /// Concurrent writers.
    pub writers: usize,
    /// Appends committed in the window.
    pub appends: u64,
    /// Appends per second.
    pub per_second: f64,
}

/// Appends from `writers` tasks for `span`, then verifies the whole chain.
pub async fn measure(writers: usize, span: Duration) -> Result<AuditRun> {
    let dir = tempfile::tempdir()?;
    let config = RawStorage {
        url: None,
        master_key_file: None,
    }
    .validate(dir.path(), |_| None)
    .map_err(|(setting, why)| anyhow::anyhow!("{setting}: {why}"))?;
    let store = Store::open(&config).await?;
    let log = AuditLog::new(
        store,
        Arc::new(IdentityKey::generate(&mut rand_core::OsRng)),
    );
    let appended = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let log = log.clone();
            let appended = appended.clone();
            tokio::spawn(async move {
                while started.elapsed() < span {
                    let event = AuditEvent::new(
                        Actor::PatientSession,
                        AuditAction::Handshake,
                        AuditOutcome::Success,
                    );
                    log.record(event).await?;
                    appended.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    let appends = appended.load(Ordering::Relaxed);
    let report = log.verify().await?;
    ensure!(
        report.first_problem.is_none() && report.checkpoint_problems.is_empty(),
        "the audit chain did not verify after the run"
    );
    ensure!(
        report.events >= appends,
        "the chain holds {} events, {appends} were acknowledged",
        report.events
    );
    Ok(AuditRun {
        writers,
        appends,
        per_second: appends as f64 / elapsed.as_secs_f64(),
    })
}
