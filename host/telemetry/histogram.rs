//! A latency histogram: fixed buckets counted with atomics, so observing
//! on the hot path takes no lock, written to `/metrics` by prometheus-client's
//! encoder (it implements the crate's `EncodeMetric`).
//!
//! Kept instead of `prometheus_client::metrics::histogram::Histogram`, which
//! takes a mutex per observation and has no way to read its buckets back:
//! [`Histogram::tally`] gives `medic loadtest` its flush figures, and
//! docs/BENCHMARKS.md ("Metrics") has the cost of an observation with each.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

/// Bucket upper bounds in microseconds.
const BUCKETS_US: [u64; 14] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 500_000, 1_000_000,
];

/// What [`Histogram::tally`] counts; subtract two to get an interval's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    pub over: u64,
    pub sum_us: u64,
}

impl std::ops::Sub for Tally {
    type Output = Tally;
    fn sub(self, earlier: Tally) -> Tally {
        Tally {
            count: self.count.saturating_sub(earlier.count),
            over: self.over.saturating_sub(earlier.over),
            sum_us: self.sum_us.saturating_sub(earlier.sum_us),
        }
    }
}

#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative: the encoder sums them),
    /// the last one for those above every bound.
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe_us(&self, us: u64) {
        let i = BUCKETS_US.partition_point(|b| *b < us);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    pub fn observe(&self, d: Duration) {
        self.observe_us(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Observations so far: how many, how many took longer than `over_us`
    /// (rounded up to a bucket bound), and their total in microseconds.
    pub fn tally(&self, over_us: u64) -> Tally {
        let within = BUCKETS_US.partition_point(|b| *b < over_us) + 1;
        let at_most: u64 = self.buckets[..within.min(self.buckets.len())]
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .sum();
        let count = self.count();
        Tally {
            count,
            over: count.saturating_sub(at_most),
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

impl EncodeMetric for Histogram {
    /// The buckets in seconds; the encoder adds `+Inf` with the count.
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets: [(f64, u64); BUCKETS_US.len()] = std::array::from_fn(|i| {
            (
                BUCKETS_US[i] as f64 / 1e6,
                self.buckets[i].load(Ordering::Relaxed),
            )
        });
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        encoder.encode_histogram::<NoLabelSet>(sum, self.count(), &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// How long the durable parts of each `Store::flush` took (both run at
/// once): the record log's write and fsync, and sled's flush when one was
/// needed (a durable tree was written). They bound the latency from a kill
/// to its acknowledged decision from below, whatever Medic does.
#[derive(Debug, Default)]
pub struct FlushTimes {
    pub record_log: Histogram,
    pub sled: Histogram,
}

#[cfg(test)]
mod tests {
    use super::{Histogram, Tally};
    use prometheus_client::collector::Collector;
    use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
    use prometheus_client::metrics::MetricType;

    /// `h` alone in an exposition, as `name` with `labels`.
    fn exposition(
        h: Histogram,
        name: &'static str,
        labels: &'static [(&'static str, &'static str)],
    ) -> String {
        #[derive(Debug)]
        struct One(
            Histogram,
            &'static str,
            &'static [(&'static str, &'static str)],
        );
        impl Collector for One {
            fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
                let mut e = enc.encode_descriptor(self.1, "h", None, MetricType::Histogram)?;
                if self.2.is_empty() {
                    self.0.encode(e)
                } else {
                    self.0.encode(e.encode_family(&self.2)?)
                }
            }
        }
        crate::exposition::render(vec![Box::new(One(h, name, labels))])
    }

    #[test]
    fn buckets_are_cumulative_and_bounds_inclusive() {
        let h = Histogram::default();
        for us in [5, 10, 11, 300, 2_000_000] {
            h.observe_us(us);
        }
        let out = exposition(h, "x_seconds", &[("plugin", "p")]);
        for line in [
            "x_seconds_bucket{plugin=\"p\",le=\"1e-05\"} 2\n",
            "x_seconds_bucket{plugin=\"p\",le=\"2.5e-05\"} 3\n",
            "x_seconds_bucket{plugin=\"p\",le=\"0.0005\"} 4\n",
            "x_seconds_bucket{plugin=\"p\",le=\"1\"} 4\n",
            "x_seconds_bucket{plugin=\"p\",le=\"+Inf\"} 5\n",
            "x_seconds_sum{plugin=\"p\"} 2.000326\n",
            "x_seconds_count{plugin=\"p\"} 5\n",
        ] {
            assert!(out.contains(line), "{line} in {out}");
        }
        assert!(
            out.starts_with("# HELP x_seconds h\n# TYPE x_seconds histogram\n"),
            "{out}"
        );
        let bare = exposition(Histogram::default(), "y", &[]);
        assert!(
            bare.contains("y_bucket{le=\"+Inf\"} 0\ny_sum 0.0\ny_count 0\n"),
            "{bare}"
        );
    }

    #[test]
    fn a_tally_counts_what_took_longer_than_a_bound_and_subtracts() {
        let h = Histogram::default();
        for us in [900, 9_000, 10_000, 10_001, 40_000] {
            h.observe_us(us);
        }
        let first = h.tally(10_000);
        assert_eq!(
            first,
            Tally {
                count: 5,
                over: 2,
                sum_us: 69_901
            }
        );
        h.observe_us(2_000_000);
        assert_eq!(
            h.tally(10_000) - first,
            Tally {
                count: 1,
                over: 1,
                sum_us: 2_000_000
            }
        );
        assert_eq!(
            h.tally(7_000).over,
            3,
            "rounded up to the 10 ms bound: {:?}",
            h.tally(7_000)
        );
    }
}
