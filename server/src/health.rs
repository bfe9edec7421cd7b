//! Liveness and readiness, for load balancers and orchestrators.
//!
//! - `GET /healthz` is liveness: 200 while the process answers HTTP. It
//!   says nothing about what the server depends on, so a restart is never
//!   triggered by a database outage.
//! - `GET /readyz` is readiness: 200 `{"status":"ready"}` when every part
//!   can do its job, else 503 `{"status":"not_ready","failing":[...]}`
//!   naming the parts ([`Part`]: `store`, `audit`, `ehr`) and nothing more;
//!   the reasons go to the log.
//!
//! The parts:
//! - `store`: the database takes writes ([`Store::check_writable`] on
//!   `data_keys`), and for SQLite its disk has at least a MiB free
//!   ([`Store::free_bytes`]: a write that changes nothing succeeds on a full
//!   disk). A read-only, locked or full database would otherwise turn every
//!   consent and verification into an error while health said 200.
//! - `audit`: the audit log's head row (`audit_head`, which every append
//!   updates) can be written.
//! - `ehr`: an optional hook ([`Readiness::with_ehr_check`]). None is
//!   installed: a FHIR server has no cheap, standard health check, and the
//!   EHR's errors already reach patients as "call the clinic".
//!
//! Checks run at most once a second whoever asks (callers in between get
//! the last result), so `/readyz` cannot be used to flood the database with
//! write transactions.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::Store;

/// How long a result is reused.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// Free space below which the SQLite file's disk counts as full.
const MIN_FREE_BYTES: u64 = 1024 * 1024;
/// How long one part's check may take before it counts as failing.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// A part of the server that readiness reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The database.
    Store,
    /// The audit log.
    Audit,
    /// The EHR connection.
    Ehr,
}

impl Part {
    /// The name `/readyz` reports.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Store => "store",
            Self::Audit => "audit",
            Self::Ehr => "ehr",
        }
    }
}

/// The result of one readiness check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// The parts that cannot do their job now; empty when ready.
    pub failing: Vec<Part>,
}

impl Report {
    /// Whether every part passed.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.failing.is_empty()
    }

    /// The body `/readyz` answers with.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        if self.is_ready() {
            serde_json::json!({ "status": "ready" })
        } else {
            let failing: Vec<&str> = self.failing.iter().map(|p| p.as_str()).collect();
            serde_json::json!({ "status": "not_ready", "failing": failing })
        }
    }
}

/// A check of the EHR: `true` when it is usable.
pub type EhrCheck = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// Runs the readiness checks, at most once per [`FRESH_FOR`].
pub struct Readiness {
    store: Store,
    ehr: Option<EhrCheck>,
    last: tokio::sync::Mutex<Option<(Instant, Report)>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("ehr_check", &self.ehr.is_some())
            .finish_non_exhaustive()
    }
}

impl Readiness {
    /// Checks of `store` and the audit log in it.
    #[must_use]
    pub fn new(store: Store) -> Self {
        Self {
            store,
            ehr: None,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Adds a check of the EHR, reported as `ehr`.
    #[must_use]
    pub fn with_ehr_check(mut self, check: EhrCheck) -> Self {
        self.ehr = Some(check);
        self
    }

    /// The parts that cannot do their job now (reusing a result younger
    /// than a second). Each failure is logged with its reason.
    pub async fn check(&self) -> Report {
        let mut last = self.last.lock().await;
        if let Some((at, report)) = last.as_ref() {
            if at.elapsed() < FRESH_FOR {
                return report.clone();
            }
        }
        let report = self.run().await;
        *last = Some((Instant::now(), report.clone()));
        report
    }

    async fn run(&self) -> Report {
        let mut failing = Vec::new();
        // Both live in the database: a disk too full for the next append
        // fails them both, before the first write that would fail.
        let disk_full = self
            .store
            .free_bytes()
            .is_some_and(|free| free < MIN_FREE_BYTES);
        if disk_full {
            tracing::warn!("not ready: the database's disk is (nearly) full");
        }
        for (part, table) in [(Part::Store, "data_keys"), (Part::Audit, "audit_head")] {
            if disk_full {
                failing.push(part);
                continue;
            }
            match tokio::time::timeout(CHECK_TIMEOUT, self.store.check_writable(table)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(part = part.as_str(), error = %e, "not ready");
                    failing.push(part);
                }
                Err(_) => {
                    tracing::warn!(part = part.as_str(), "not ready: the check timed out");
                    failing.push(part);
                }
            }
        }
        if let Some(check) = &self.ehr {
            let ok = tokio::time::timeout(CHECK_TIMEOUT, check())
                .await
                .unwrap_or(false);
            if !ok {
                tracing::warn!(part = Part::Ehr.as_str(), "not ready");
                failing.push(Part::Ehr);
            }
        }
        Report { failing }
    }
}
