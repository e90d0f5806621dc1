//! Percentiles over measured durations.

use std::time::Duration;

/// The `q`-quantile (0..=1) by the nearest-rank method: the smallest sample with at least
/// `q` of the samples at or below it. `None` for no samples.
pub fn percentile(samples: &[Duration], q: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.saturating_sub(1).min(sorted.len() - 1)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|m| Duration::from_millis(*m)).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let s = ms(&[50, 10, 40, 20, 30]);
        assert_eq!(percentile(&s, 0.5), Some(Duration::from_millis(30)));
        assert_eq!(percentile(&s, 0.99), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&s, 0.0), Some(Duration::from_millis(10)));
        let twenty: Vec<u64> = (1..=20).collect();
        // With 20 samples p50 is the 10th and p99 the 20th.
        assert_eq!(
            percentile(&ms(&twenty), 0.5),
            Some(Duration::from_millis(10))
        );
        assert_eq!(
            percentile(&ms(&twenty), 0.99),
            Some(Duration::from_millis(20))
        );
    }

    #[test]
    fn no_samples_no_percentile() {
        assert_eq!(percentile(&[], 0.5), None);
    }
}
