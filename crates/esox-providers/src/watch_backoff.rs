//! How every esox watch retries after its connection to an API server fails.
//!
//! kube's default (client-go's) doubles from 0.8 s to 30 s: after an outage of 8 to 12 s the next
//! attempt can come 20 s after the server answers again, and every change made meanwhile waits
//! with it. esox promises changes within seconds, so its watches retry at most every
//! [`MAX_DELAY`]: against a server that is down that is one failed connection per watch every
//! two seconds, a negligible load, and once it answers the watch is back within that time.

use std::time::Duration;

/// The first retry.
pub const MIN_DELAY: Duration = Duration::from_millis(100);
/// The longest wait between two attempts (before jitter).
pub const MAX_DELAY: Duration = Duration::from_secs(2);

/// Doubling from [`MIN_DELAY`] to [`MAX_DELAY`], with up to 25% jitter so that the watches of
/// many replicas or stores do not reconnect in step; reset by the watch after a success.
#[derive(Debug, Clone)]
pub struct WatchBackoff {
    next: Duration,
    seed: u64,
}

impl Default for WatchBackoff {
    fn default() -> Self {
        // Jitter needs no cryptographic quality: the clock's nanoseconds and the object's address
        // differ between watches and processes.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut b = Self {
            next: MIN_DELAY,
            seed: u64::from(nanos) | 1,
        };
        b.seed ^= std::ptr::from_ref(&b) as usize as u64;
        b
    }
}

impl WatchBackoff {
    /// A pseudo-random fraction in [0, 1) (xorshift64).
    fn fraction(&mut self) -> f64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let base = self.next;
        self.next = (self.next * 2).min(MAX_DELAY);
        let jitter = base.mul_f64(0.25 * self.fraction());
        Some(base + jitter)
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.next = MIN_DELAY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::utils::Backoff as _;

    #[test]
    fn doubles_to_the_cap_with_bounded_jitter_and_resets() {
        let mut b = WatchBackoff::default();
        let delays: Vec<Duration> = b.by_ref().take(8).collect();
        let bases = [100, 200, 400, 800, 1600, 2000, 2000, 2000];
        for (d, base) in delays.iter().zip(bases) {
            let base = Duration::from_millis(base);
            assert!(*d >= base && *d <= base.mul_f64(1.25), "{d:?} vs {base:?}");
        }
        b.reset();
        let first = b.next().unwrap_or_default();
        assert!(first <= MIN_DELAY.mul_f64(1.25), "{first:?}");
    }
}
