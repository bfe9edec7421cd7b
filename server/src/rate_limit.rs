//! Per-address rate limiting for handshakes: a token bucket per client
//! address, so one browser (or one script) cannot mint sessions without
//! bound while everyone else keeps being served.

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
}
