//! Rate limits: a token bucket per client address for handshakes, so one
//! browser (or one script) cannot mint sessions without bound while
//! everyone else keeps being served, and a [`MessageAllowance`] per session,
//! so one chat cannot flood the transcript and the audit log.
//!
//! Addresses are counted by [`crate::client_addr::limit_key`] (an IPv6
//! client by its /64).
//!
//! [`HandshakeLimit`] is what the handshake checks: this instance's
//! bucket, then, on PostgreSQL, the bucket every instance shares
//! ([`shared`]).

pub mod shared;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Addresses tracked before idle buckets are swept.
const SWEEP_AT: usize = 10_000;

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// A token bucket per client address.
pub struct RateLimiter {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// Allows `per_minute` events per address, in bursts of up to `per_minute`.
    #[must_use]
    pub fn per_minute(per_minute: u32) -> Self {
        Self {
            capacity: f64::from(per_minute),
            per_second: f64::from(per_minute) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `addr`; `Err` carries how long to wait.
    ///
    /// # Errors
    /// The time until a token is available.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let addr = crate::client_addr::limit_key(addr);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= SWEEP_AT {
            let (capacity, rate) = (self.capacity, self.per_second);
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < capacity
            });
        }
        let bucket = buckets.entry(addr).or_insert(Bucket {
            tokens: self.capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }
}

/// The handshake limit: this instance's own bucket per address, then,
/// when instances share a PostgreSQL, the bucket they all share (which
/// holds when a balancer spreads one address over them all).
pub struct HandshakeLimit {
    local: RateLimiter,
    shared: Option<shared::SharedBuckets>,
    /// Whether the shared bucket's last check failed (warned once).
    shared_failing: std::sync::atomic::AtomicBool,
}

impl HandshakeLimit {
    /// `local`, and `shared` if the instances share one.
    #[must_use]
    pub fn new(local: RateLimiter, shared: Option<shared::SharedBuckets>) -> Self {
        Self {
            local,
            shared,
            shared_failing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Takes one handshake for `addr`; `Err` carries how long to wait.
    /// When the shared bucket cannot be read, this instance's own is the
    /// limit.
    ///
    /// # Errors
    /// The time until a handshake is allowed.
    pub async fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        use std::sync::atomic::Ordering;
        self.local.check(addr, now)?;
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        match shared.take(addr).await {
            Ok(taken) => {
                if self.shared_failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("the shared handshake limit is back");
                }
                taken
            }
            Err(e) => {
                if !self.shared_failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "the shared handshake limit cannot be read; this instance's own limit holds until it can");
                }
                Ok(())
            }
        }
    }
}

/// What one session may still send: a token bucket (`per_minute`, in
/// bursts of as many) and a total for the session's life. Serializable for
/// the session snapshot: `updated` as wall-clock time
/// ([`crate::clock::instant_serde`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MessageAllowance {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    #[serde(with = "crate::clock::instant_serde")]
    updated: Instant,
    left_in_session: u32,
}

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverAllowance {
    /// Too many too fast; try again after this long.
    TooFast(Duration),
    /// The session has sent all it may.
    SessionFull,
}

impl MessageAllowance {
    /// A full allowance.
    #[must_use]
    pub fn new(per_minute: u32, per_session: u32, now: Instant) -> Self {
        let capacity = f64::from(per_minute.max(1));
        Self {
            capacity,
            per_second: capacity / 60.0,
            tokens: capacity,
            updated: now,
            left_in_session: per_session,
        }
    }

    /// Takes one message from the allowance.
    ///
    /// # Errors
    /// [`OverAllowance`] when the message must be refused (nothing is
    /// taken then).
    pub fn take(&mut self, now: Instant) -> Result<(), OverAllowance> {
        if self.left_in_session == 0 {
            return Err(OverAllowance::SessionFull);
        }
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.updated = now;
        if self.tokens < 1.0 {
            return Err(OverAllowance::TooFast(Duration::from_secs_f64(
                (1.0 - self.tokens) / self.per_second,
            )));
        }
        self.tokens -= 1.0;
        self.left_in_session -= 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn limits_one_address_and_not_another_and_refills() {
        let limiter = RateLimiter::per_minute(3);
        let now = Instant::now();
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        for _ in 0..3 {
            assert!(limiter.check(a, now).is_ok());
        }
        let wait = limiter.check(a, now).unwrap_err();
        assert!(wait <= Duration::from_secs(20) && wait > Duration::ZERO);
        assert!(limiter.check(b, now).is_ok());
        assert!(limiter.check(a, now + Duration::from_secs(20)).is_ok());
    }

    #[test]
    fn one_ipv6_64_shares_one_bucket() {
        let limiter = RateLimiter::per_minute(2);
        let now = Instant::now();
        let a: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        let b: IpAddr = "2001:db8:0:1::2".parse().unwrap();
        let other: IpAddr = "2001:db8:0:2::1".parse().unwrap();
        assert!(limiter.check(a, now).is_ok());
        assert!(limiter.check(b, now).is_ok());
        assert!(limiter.check(a, now).is_err());
        assert!(limiter.check(other, now).is_ok());
    }

    #[test]
    fn a_session_allowance_limits_bursts_and_the_session_total() {
        let now = Instant::now();
        let mut allowance = MessageAllowance::new(3, 5, now);
        for _ in 0..3 {
            assert_eq!(allowance.take(now), Ok(()));
        }
        assert!(
            matches!(allowance.take(now), Err(OverAllowance::TooFast(wait)) if wait <= Duration::from_secs(20))
        );
        let later = now + Duration::from_secs(40);
        assert_eq!(allowance.take(later), Ok(()));
        assert_eq!(allowance.take(later), Ok(()));
        let much_later = later + Duration::from_secs(600);
        assert_eq!(allowance.take(much_later), Err(OverAllowance::SessionFull));
    }

    #[test]
    fn a_session_allowance_survives_a_snapshot() {
        let now = Instant::now();
        let mut allowance = MessageAllowance::new(3, 5, now);
        for _ in 0..3 {
            assert_eq!(allowance.take(now), Ok(()));
        }
        let json = serde_json::to_string(&allowance).unwrap();
        let mut back: MessageAllowance = serde_json::from_str(&json).unwrap();
        assert_eq!(back.left_in_session, 2);
        assert!(back.tokens < 1.0, "the burst was spent");
        assert!(matches!(
            back.take(Instant::now()),
            Err(OverAllowance::TooFast(_))
        ));
        assert_eq!(back.take(Instant::now() + Duration::from_secs(21)), Ok(()));
    }
}
