//! The Prometheus text exposition (format 0.0.4) that `/metrics` serves,
//! written by prometheus-client's encoder from collectors: the engine's
//! [`Metrics`](crate::Metrics), the process figures, and what the API reads
//! at scrape time. Every family's name, labels and help text are listed in
//! docs/guide.md ("Metrics").

use prometheus_client::collector::Collector;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The exposition of `collectors`, in order.
pub fn render(collectors: Vec<Box<dyn Collector>>) -> String {
    let mut registry = Registry::default();
    for c in collectors {
        registry.register_collector(c);
    }
    let mut out = String::new();
    // Writing to a String does not fail, and the encoder itself fails only
    // on what its writer refuses.
    let _ = prometheus_text::encode(&mut out, &registry);
    out
}

/// The name given to the encoder for the family served as `name`: the
/// encoder appends `_total` to a counter's.
fn base(name: &str, kind: MetricType) -> &str {
    match kind {
        MetricType::Counter => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    }
}

/// One family served as `name`, with `help` as it is (the registry's
/// `register` would append a full stop), holding `metric` (a single series,
/// or a `Family` of them).
pub fn family(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric: &impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    let kind = metric.metric_type();
    metric.encode(enc.encode_descriptor(base(name, kind), help, None, kind)?)
}

/// One family of `kind` served as `name`, one series per labels and metric.
pub fn series<'a, S: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    each: impl IntoIterator<Item = (S, &'a dyn EncodeMetric)>,
) -> Result<(), std::fmt::Error> {
    let mut family = enc.encode_descriptor(base(name, kind), help, None, kind)?;
    for (labels, metric) in each {
        metric.encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;

    use super::*;

    #[derive(Debug)]
    struct Sample;

    impl Collector for Sample {
        fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            family(
                &mut enc,
                "a_total",
                "Things counted",
                &ConstCounter::new(3u64),
            )?;
            let (one, zero) = (ConstGauge::new(1i64), ConstGauge::new(0i64));
            series(
                &mut enc,
                "b",
                "By kind",
                MetricType::Gauge,
                [
                    ([("kind", "x\"y\\z\nw")], &one as &dyn EncodeMetric),
                    ([("kind", "plain")], &zero),
                ],
            )
        }
    }

    #[test]
    fn names_help_and_escaped_labels_are_served_as_given() {
        let out = render(vec![Box::new(Sample)]);
        assert_eq!(
            out,
            "# HELP a_total Things counted\n# TYPE a_total counter\na_total 3\n\
             # HELP b By kind\n# TYPE b gauge\n\
             b{kind=\"x\\\"y\\\\z\\nw\"} 1\nb{kind=\"plain\"} 0\n"
        );
    }
}
