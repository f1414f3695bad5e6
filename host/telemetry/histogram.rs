//! A latency histogram for the Prometheus text format: fixed buckets,
//! counted with atomics so observing on the hot path takes no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

#[derive(Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative; summed when rendered),
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

    /// The series of `name` with `labels` (`key="value",…`, may be empty),
    /// in seconds.
    pub fn render(&self, name: &str, labels: &str, out: &mut String) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, b) in BUCKETS_US.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            out.push_str(&format!(
                "{name}_bucket{{{labels}{sep}le=\"{}\"}} {cumulative}\n",
                *b as f64 / 1e6
            ));
        }
        let count = self.count();
        out.push_str(&format!(
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}\n"
        ));
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        sample(out, &format!("{name}_sum"), labels, sum);
        sample(out, &format!("{name}_count"), labels, count);
    }
}

/// A label value in the text format: backslash, quote and newline escaped.
pub fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `key="value",…`, each value escaped.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", label_value(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// A metric family's `# HELP` and `# TYPE` lines.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
}

/// One sample: `name{labels} value` (no braces without labels).
pub fn sample(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    if labels.is_empty() {
        out.push_str(&format!("{name} {value}\n"));
    } else {
        out.push_str(&format!("{name}{{{labels}}} {value}\n"));
    }
}

/// How long the durable parts of each `Store::flush` took (both run at
/// once): the record log's write and fsync, and sled's flush when one was
/// needed (a durable tree was written). They bound the latency from a kill
/// to its acknowledged decision from below, whatever Medic does.
#[derive(Default)]
pub struct FlushTimes {
    pub record_log: Histogram,
    pub sled: Histogram,
}

#[cfg(test)]
mod tests {
    use super::{Histogram, Tally, label_value};

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn buckets_are_cumulative_and_bounds_inclusive() {
        let h = Histogram::default();
        for us in [5, 10, 11, 300, 2_000_000] {
            h.observe_us(us);
        }
        let mut out = String::new();
        h.render("x_seconds", "plugin=\"p\"", &mut out);
        assert!(
            out.contains("x_seconds_bucket{plugin=\"p\",le=\"0.00001\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{plugin=\"p\",le=\"0.000025\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{plugin=\"p\",le=\"0.0005\"} 4\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{plugin=\"p\",le=\"1\"} 4\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{plugin=\"p\",le=\"+Inf\"} 5\n"),
            "{out}"
        );
        assert!(out.contains("x_seconds_count{plugin=\"p\"} 5\n"), "{out}");
        let mut bare = String::new();
        Histogram::default().render("y", "", &mut bare);
        assert!(
            bare.contains("y_bucket{le=\"+Inf\"} 0\ny_sum 0\ny_count 0\n"),
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
