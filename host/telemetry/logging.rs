//! Logging from the `logging:` section: level, `json` (the spec §10.2 shape:
//! timestamp, level, logger, message, context, trace_id, span_id) or `text`,
//! to the console and/or files rotated daily with `retention_days` kept.
//! Fields of enclosing spans (a kill's `kill_id`) join every line's context.

use std::io::Write;

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber, span};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::Config;
use crate::config::raw::{LogFormat, LogOutputType};

/// Maps the spec's level names (WARNING, CRITICAL) to tracing's.
pub fn filter_level(name: &str) -> &'static str {
    match name.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "WARNING" | "WARN" => "warn",
        "ERROR" | "CRITICAL" => "error",
        _ => "info",
    }
}

fn spec_level(l: &tracing::Level) -> &'static str {
    match *l {
        tracing::Level::TRACE | tracing::Level::DEBUG => "DEBUG",
        tracing::Level::INFO => "INFO",
        tracing::Level::WARN => "WARNING",
        tracing::Level::ERROR => "ERROR",
    }
}

/// Collects an event's or span's fields as JSON.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, f: &Field, v: &str) {
        self.0.insert(f.name().into(), Value::String(v.into()));
    }
    fn record_f64(&mut self, f: &Field, v: f64) {
        self.0.insert(f.name().into(), json!(v));
    }
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.0.insert(f.name().into(), json!(v));
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.0.insert(f.name().into(), json!(v));
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.0.insert(f.name().into(), json!(v));
    }
    fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
        self.0
            .insert(f.name().into(), Value::String(format!("{v:?}")));
    }
}

struct SpanFields(Map<String, Value>);

/// Writes each event as one spec §10.2 JSON line.
pub struct SpecJson<W> {
    make_writer: W,
}

impl<S, W> Layer<S> for SpecJson<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut map = Map::new();
        attrs.record(&mut Fields(&mut map));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(map));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        event.record(&mut Fields(&mut fields));
        let message = fields
            .remove("message")
            .and_then(|m| m.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut context = Map::new();
        let (mut trace_id, mut span_id) = (None, None);
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                trace_id.get_or_insert(span.id().into_u64());
                span_id = Some(span.id().into_u64());
                if let Some(SpanFields(map)) = span.extensions().get::<SpanFields>() {
                    context.extend(map.clone());
                }
            }
        }
        context.extend(fields);
        let meta = event.metadata();
        let line = json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "level": spec_level(meta.level()),
            "logger": meta.target().replace("::", "."),
            "message": message,
            "context": context,
            "trace_id": trace_id.map(|t| format!("{t:016x}")),
            "span_id": span_id.map(|s| format!("{s:016x}")),
        });
        let mut w = self.make_writer.make_writer();
        let _ = writeln!(w, "{line}");
    }
}

/// Keeps file writers flushing until dropped (hold it for the process).
pub struct LogGuard {
    _guards: Vec<tracing_appender::non_blocking::WorkerGuard>,
}

type Boxed = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;

fn layer_for<W>(format: LogFormat, writer: W) -> Boxed
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Json => Box::new(SpecJson {
            make_writer: writer,
        }),
        LogFormat::Text => Box::new(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false),
        ),
    }
}

/// Sets up logging for the process from the configuration.
pub fn init(config: &Config) -> anyhow::Result<LogGuard> {
    let logging = &config.medic.logging;
    let mut layers: Vec<Boxed> = Vec::new();
    let mut guards = Vec::new();
    for output in &logging.outputs {
        match output.kind {
            LogOutputType::Console => layers.push(layer_for(logging.format, std::io::stderr)),
            LogOutputType::File => {
                let path = std::path::Path::new(output.path.as_deref().unwrap_or("logs/medic.log"));
                let dir = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                std::fs::create_dir_all(dir).map_err(|e| {
                    anyhow::anyhow!("logging.outputs: cannot create {}: {e}", dir.display())
                })?;
                let prefix = path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "medic.log".into());
                let rotation = if output.rotation.as_deref() == Some("never") {
                    Rotation::NEVER
                } else {
                    Rotation::DAILY
                };
                let mut builder = RollingFileAppender::builder()
                    .rotation(rotation)
                    .filename_prefix(prefix);
                if let Some(days) = output.retention_days {
                    builder = builder.max_log_files(days as usize);
                }
                let appender = builder.build(dir).map_err(|e| {
                    anyhow::anyhow!("logging.outputs: cannot open {}: {e}", path.display())
                })?;
                let (writer, guard) = tracing_appender::non_blocking(appender);
                guards.push(guard);
                layers.push(layer_for(logging.format, writer));
            }
        }
    }
    tracing_subscriber::registry()
        .with(layers)
        .with(EnvFilter::new(filter_level(&logging.level)))
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))?;
    Ok(LogGuard { _guards: guards })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    #[test]
    fn lines_have_the_spec_shape_with_the_kill_id_from_the_span() {
        let buf = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(SpecJson {
            make_writer: buf.clone(),
        });
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("kill", kill_id = "k-42");
            let _g = span.enter();
            tracing::warn!(
                outcome = "deny",
                confidence = 0.9,
                "Resurrection decision made"
            );
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["level"], "WARNING");
        assert_eq!(line["message"], "Resurrection decision made");
        assert_eq!(line["context"]["kill_id"], "k-42");
        assert_eq!(line["context"]["outcome"], "deny");
        assert_eq!(line["context"]["confidence"], 0.9);
        assert!(line["logger"].as_str().unwrap().starts_with("medic."));
        assert!(line["trace_id"].is_string() && line["span_id"].is_string());
        assert!(chrono::DateTime::parse_from_rfc3339(line["timestamp"].as_str().unwrap()).is_ok());
    }
}
