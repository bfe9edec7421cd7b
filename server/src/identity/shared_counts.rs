//! Verification starts and codes counted by every instance on one
//! PostgreSQL, so that a balancer spreading one address, one session or
//! one patient over N instances does not allow N times the limit
//! ([`super::limits`] says what is counted, and why).
//!
//! One row an event (`limit_events`), under a keyed digest of the count's
//! key ([`Store::blind_index`]). A take is one transaction: it locks each
//! key (PostgreSQL advisory locks, in sorted order so two takes never wait
//! on each other in a circle), counts each key's events in its window,
//! and adds one event to every key only if all have room: all or nothing,
//! as in memory.
//!
//! SQLite, the single-machine default, has one instance: the counts stay
//! in its memory.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use sqlx::Row as _;

use crate::store::{Store, StoreError};

/// How often (in takes) events older than every window are swept.
const SWEEP_EVERY: u64 = 256;

/// One count to take: its key, its limit and its window.
pub(super) struct SharedWant<'a> {
    pub key: &'a str,
    pub max: u32,
    pub window: Duration,
}

/// The counts in the database.
pub(super) struct SharedCounts {
    store: Store,
    /// The longest window of any count: older events count for nothing.
    longest: Duration,
    takes: AtomicU64,
}

impl SharedCounts {
    pub(super) fn new(store: Store, longest: Duration) -> Self {
        Self {
            store,
            longest,
            takes: AtomicU64::new(0),
        }
    }

    fn digest(&self, key: &str) -> String {
        self.store.blind_index("limit_events.key", key.as_bytes())
    }

    /// Adds an event at `now` under every key if each has room; whether
    /// it did.
    ///
    /// # Errors
    /// When the database fails (nothing is taken then).
    pub(super) async fn take(
        &self,
        wants: &[SharedWant<'_>],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if self.takes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep(now).await;
        }
        let at = now.timestamp_millis();
        let keys: Vec<String> = wants.iter().map(|w| self.digest(w.key)).collect();
        let mut locks = keys.clone();
        locks.sort_unstable();
        locks.dedup();
        let mut tx = self.store.begin_write().await?;
        for key in &locks {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        for (want, key) in wants.iter().zip(&keys) {
            let since = (now - want.window).timestamp_millis();
            let count: i64 =
                sqlx::query("SELECT COUNT(*) FROM limit_events WHERE key = $1 AND at > $2")
                    .bind(key)
                    .bind(since)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
            if count >= i64::from(want.max) {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        for key in &keys {
            sqlx::query("INSERT INTO limit_events (id, key, at) VALUES ($1, $2, $3)")
                .bind(super::otp::random_id())
                .bind(key)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Removes one event at `now` from every key (a take that did not
    /// count after all).
    ///
    /// # Errors
    /// When the database fails.
    pub(super) async fn give_back(
        &self,
        wants: &[SharedWant<'_>],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = now.timestamp_millis();
        for want in wants {
            sqlx::query(
                "DELETE FROM limit_events WHERE id IN \
                 (SELECT id FROM limit_events WHERE key = $1 AND at = $2 LIMIT 1)",
            )
            .bind(self.digest(want.key))
            .bind(at)
            .execute(self.store.pool())
            .await?;
        }
        Ok(())
    }

    async fn sweep(&self, now: DateTime<Utc>) {
        if let Err(e) = sqlx::query("DELETE FROM limit_events WHERE at <= $1")
            .bind((now - self.longest).timestamp_millis())
            .execute(self.store.pool())
            .await
        {
            tracing::debug!(error = %e, "old verification counts not swept");
        }
    }
}
