//! Latency summaries: percentiles over every sample, nothing sampled away.

use std::time::Duration;

use serde::Serialize;

/// What one measured run of turns came to.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Summary {
    /// Replies received in the measured window.
    pub replies: usize,
    /// Replies per second over the window.
    pub per_second: f64,
    /// Median time from sending a `say` to opening its reply, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// The slowest reply, ms.
    pub max_ms: f64,
    /// Questions sent in the window that got no reply before the run ended.
    pub unanswered: usize,
}

impl Summary {
    /// Summarises `samples` collected over `window`.
    pub fn of(mut samples: Vec<Duration>, window: Duration, unanswered: usize) -> Self {
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let at = |q: f64| -> f64 {
            if samples.is_empty() {
                return 0.0;
            }
            // Nearest rank: the smallest sample with at least q of all
            // samples at or below it.
            let rank = (q * samples.len() as f64).ceil() as usize;
            ms(samples[rank.clamp(1, samples.len()) - 1])
        };
        Self {
            replies: samples.len(),
            per_second: samples.len() as f64 / window.as_secs_f64(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: samples.last().copied().map_or(0.0, ms),
            unanswered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = Summary::of(samples, Duration::from_secs(2), 0);
        assert_eq!(s.replies, 100);
        assert!((s.per_second - 50.0).abs() < 1e-9);
        assert!((s.p50_ms - 50.0).abs() < 1e-9);
        assert!((s.p99_ms - 99.0).abs() < 1e-9);
        assert!((s.max_ms - 100.0).abs() < 1e-9);
    }

    #[test]
    fn no_samples_is_all_zero() {
        let s = Summary::of(Vec::new(), Duration::from_secs(1), 3);
        assert_eq!((s.replies, s.unanswered), (0, 3));
        assert!(s.p99_ms == 0.0 && s.max_ms == 0.0);
    }
}
