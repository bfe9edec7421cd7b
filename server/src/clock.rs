//! Time as a dependency: the server reads the wall clock only through
//! [`Clock`], so tests can move time (a code expiring after ten minutes, a
//! lockout ending, "next Tuesday") without sleeping.
//!
//! [`instant_serde`] writes a monotonic [`std::time::Instant`] into a
//! session snapshot as a wall-clock time, and reads it back.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

/// The source of the current time.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// A clock showing `start`.
    #[must_use]
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Serde for a [`std::time::Instant`] in a session snapshot:
/// `#[serde(with = "crate::clock::instant_serde")]`.
///
/// An `Instant` is a reading of this process's monotonic clock: it means
/// nothing to another process (another server resuming the session, or
/// this one after a restart), and serde cannot write it. So it is written
/// as what it stands for, a moment: Unix milliseconds of wall-clock time,
/// the system time now minus the instant's age. Reading it back gives the
/// instant that is as old now: `Instant::now()` minus the age, so the time
/// the session spent in the database counts as time passed (a rate limit
/// refills meanwhile). A moment in the future (the other server's clock
/// was ahead) reads as now; an age the monotonic clock cannot go back to
/// (longer than it has run) reads as the oldest instant it can.
/// Millisecond precision is plenty for what these instants time.
pub mod instant_serde {
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes `instant` as Unix milliseconds of wall-clock time.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(instant: &Instant, serializer: S) -> Result<S::Ok, S::Error> {
        to_unix_ms(*instant, Instant::now(), SystemTime::now()).serialize(serializer)
    }

    /// Reads Unix milliseconds written by [`serialize`] as an instant.
    ///
    /// # Errors
    /// The deserializer's.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Instant, D::Error> {
        let ms = u64::deserialize(deserializer)?;
        Ok(from_unix_ms(ms, Instant::now(), SystemTime::now()))
    }

    /// `instant` as Unix milliseconds, given the two clocks' readings now.
    pub(crate) fn to_unix_ms(instant: Instant, now: Instant, wall_now: SystemTime) -> u64 {
        let age = now.saturating_duration_since(instant);
        let at = wall_now.checked_sub(age).unwrap_or(UNIX_EPOCH);
        let ms = at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        u64::try_from(ms).unwrap_or(u64::MAX)
    }

    /// The instant as old as the Unix milliseconds `ms`, given the two
    /// clocks' readings now (saturating: see the module documentation).
    pub(crate) fn from_unix_ms(ms: u64, now: Instant, wall_now: SystemTime) -> Instant {
        let at = UNIX_EPOCH
            .checked_add(Duration::from_millis(ms))
            .unwrap_or(wall_now);
        // In the future: now.
        let age = wall_now.duration_since(at).unwrap_or_default();
        if let Some(instant) = now.checked_sub(age) {
            return instant;
        }
        // Older than the monotonic clock can go: the oldest instant it can,
        // to the millisecond.
        let (mut reachable, mut unreachable) = (Duration::ZERO, age);
        while unreachable - reachable > Duration::from_millis(1) {
            let mid = reachable + (unreachable - reachable) / 2;
            if now.checked_sub(mid).is_some() {
                reachable = mid;
            } else {
                unreachable = mid;
            }
        }
        now.checked_sub(reachable).unwrap_or(now)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime};

    use super::instant_serde::{from_unix_ms, to_unix_ms};

    #[test]
    fn an_instant_keeps_its_age_through_wall_clock_milliseconds() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let Some(earlier) = now.checked_sub(Duration::from_secs(90)) else {
            return; // a machine up for less than 90 s: nothing to test
        };
        let ms = to_unix_ms(earlier, now, wall);
        // Read back 5 s later, by another process: 95 s old.
        let later = now + Duration::from_secs(5);
        let back = from_unix_ms(ms, later, wall + Duration::from_secs(5));
        let age = later.duration_since(back);
        assert!(
            age >= Duration::from_millis(94_999) && age <= Duration::from_millis(95_001),
            "{age:?}"
        );
    }

    #[test]
    fn a_future_moment_is_now_and_an_ancient_one_saturates() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let ahead = to_unix_ms(now, now, wall + Duration::from_secs(60));
        assert_eq!(from_unix_ms(ahead, now, wall), now);
        // 1970: older than any monotonic clock; no panic, and in the past.
        let ancient = from_unix_ms(0, now, wall);
        assert!(ancient <= now);
    }
}
