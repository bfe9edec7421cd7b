//! The handshake limit as every instance on one PostgreSQL sees it: one
//! token bucket per client address, as a `rate_buckets` row, so that N
//! instances behind a round-robin balancer allow an address what one
//! would, not N times as much.
//!
//! A check is one statement: an upsert that refills the bucket for the
//! time since it was last used, takes a token if there is one, and
//! returns a row only if it did. The bucket is named by a keyed digest of
//! the limit and the address ([`Store::blind_index`]), never the address.
//!
//! When the database cannot answer, the instance's own bucket (checked
//! first, see [`super::HandshakeLimit`]) is the limit: a database outage
//! must not turn every patient away.
//!
//! SQLite, the single-machine default, has one instance: its own bucket
//! is the whole limit, and a handshake costs no write for it.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::Row as _;

use crate::store::{now_ms, Store, StoreError};

/// How often (in checks) buckets that have refilled are swept.
const SWEEP_EVERY: u64 = 1024;

/// Buckets in the database, for one limit.
pub struct SharedBuckets {
    store: Store,
    /// Names the limit in the digest, so two limits never share a bucket.
    limit: &'static str,
    capacity: f64,
    per_ms: f64,
    checks: AtomicU64,
}

impl SharedBuckets {
    /// `per_minute` events per address across every instance on `store`,
    /// in bursts of up to as many.
    #[must_use]
    pub fn per_minute(store: Store, limit: &'static str, per_minute: u32) -> Self {
        let capacity = f64::from(per_minute.max(1));
        Self {
            store,
            limit,
            capacity,
            per_ms: capacity / 60_000.0,
            checks: AtomicU64::new(0),
        }
    }

    /// Takes a token for `addr`: `Ok(Ok(()))` when there was one,
    /// `Ok(Err(wait))` when the address must wait that long.
    ///
    /// # Errors
    /// When the database fails (nothing is known then).
    pub async fn take(&self, addr: IpAddr) -> Result<Result<(), Duration>, StoreError> {
        let key = crate::client_addr::limit_key(addr).to_string();
        let bucket = self.store.blind_index(
            "rate_buckets.bucket",
            format!("{}:{key}", self.limit).as_bytes(),
        );
        let now = now_ms();
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep(now).await;
        }
        // `$2` is the capacity, `$3` now, `$4` the refill per millisecond.
        let taken = sqlx::query(
            "INSERT INTO rate_buckets (bucket, tokens, updated_at) VALUES ($1, $2 - 1, $3) \
             ON CONFLICT (bucket) DO UPDATE \
             SET tokens = LEAST($2, rate_buckets.tokens + ($3 - rate_buckets.updated_at) * $4) - 1, updated_at = $3 \
             WHERE LEAST($2, rate_buckets.tokens + ($3 - rate_buckets.updated_at) * $4) >= 1 \
             RETURNING tokens",
        )
        .bind(&bucket)
        .bind(self.capacity)
        .bind(now)
        .bind(self.per_ms)
        .fetch_optional(self.store.pool())
        .await?;
        if taken.is_some() {
            return Ok(Ok(()));
        }
        let row = sqlx::query("SELECT tokens, updated_at FROM rate_buckets WHERE bucket = $1")
            .bind(&bucket)
            .fetch_optional(self.store.pool())
            .await?;
        let wait_ms = match row {
            Some(row) => {
                let tokens: f64 = row.try_get(0)?;
                let updated: i64 = row.try_get(1)?;
                #[allow(clippy::cast_precision_loss)] // milliseconds, far below 2^52
                let now_tokens = tokens + (now - updated) as f64 * self.per_ms;
                ((1.0 - now_tokens) / self.per_ms).max(0.0)
            }
            None => 0.0,
        };
        Ok(Err(Duration::from_secs_f64(wait_ms / 1000.0)))
    }

    /// Deletes the buckets that have refilled (no row means full).
    async fn sweep(&self, now: i64) {
        #[allow(clippy::cast_possible_truncation)] // a minute or so, in ms
        let full_after = (self.capacity / self.per_ms).ceil() as i64;
        if let Err(e) = sqlx::query("DELETE FROM rate_buckets WHERE updated_at < $1")
            .bind(now.saturating_sub(full_after))
            .execute(self.store.pool())
            .await
        {
            tracing::debug!(error = %e, "refilled rate buckets not swept");
        }
    }
}
