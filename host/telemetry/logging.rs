//! Logging from the `logging:` section: level, `json` (one line per event:
//! timestamp, level, logger, message, context, trace_id, span_id; see
//! docs/reference/logging.md) or `text`, to the console and/or files rotated
//! daily with `retention_days` kept. Fields of enclosing spans (a kill's
//! `kill_id`) join every line's context.

use std::fmt::Write as _;
use std::io::Write;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber, span};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use super::log_writer::{self, LogWriterGuard};
use crate::config::Config;
use crate::config::raw::{LogFormat, LogLevel, LogOutputType, Rotation as RotateEvery};

/// Maps the configuration's levels (WARNING, CRITICAL) to tracing's.
pub fn filter_level(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warning => "warn",
        LogLevel::Error | LogLevel::Critical => "error",
    }
}

/// The logger of an event from one of the crates by role reads as the
/// module it stands for in `medic` (`medic_store::log` → `medic.store.log`;
/// the engine's modules are each one of `medic`'s, `medic_engine::decide`
/// → `medic.decide`), so log queries do not depend on which crate holds
/// the code.
fn logger_root(crate_name: &str) -> &str {
    match crate_name {
        "medic_model" => "medic.model",
        "medic_config" => "medic.config",
        "medic_telemetry" => "medic.telemetry",
        "medic_store" => "medic.store",
        "medic_plugin_host" => "medic.plugin",
        "medic_engine" => "medic",
        "medic_api" => "medic.api",
        other => other,
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

/// An event's or span's fields, each as its name and its value already
/// encoded as JSON (by serde_json), all in one buffer: a line is written
/// straight from these, with no map (and no string per field) built per
/// event.
#[derive(Default)]
struct Members {
    json: Vec<u8>,
    names: Vec<(&'static str, std::ops::Range<usize>)>,
    /// Where a `Debug` value is formatted before it is encoded (reused).
    debug: String,
}

impl Members {
    fn iter(&self) -> impl Iterator<Item = (&'static str, &[u8])> {
        self.names
            .iter()
            .map(|(name, at)| (*name, self.text(at.clone())))
    }

    /// The JSON at `at` (written by serde_json, so UTF-8: the line is
    /// copied as bytes, with no check per field).
    fn text(&self, at: std::ops::Range<usize>) -> &[u8] {
        self.json.get(at).unwrap_or(b"null")
    }

    /// Empties it for the next event, keeping its buffers.
    fn clear(&mut self) {
        self.json.clear();
        self.names.clear();
    }

    /// Appends one field, its value encoded by serde_json into the buffer.
    fn push(&mut self, f: &Field, v: &(impl serde::Serialize + ?Sized)) {
        let from = self.json.len();
        if serde_json::to_writer(&mut self.json, v).is_err() {
            self.json.truncate(from);
            self.json.extend_from_slice(b"null");
        }
        self.names.push((f.name(), from..self.json.len()));
    }

    /// Takes out the `message` field's JSON, if the event has one.
    fn take_message(&mut self) -> Option<&[u8]> {
        let i = self.names.iter().position(|(name, _)| *name == "message")?;
        let (_, at) = self.names.remove(i);
        Some(self.text(at))
    }
}

impl Visit for Members {
    fn record_str(&mut self, f: &Field, v: &str) {
        self.push(f, v);
    }
    fn record_f64(&mut self, f: &Field, v: f64) {
        self.push(f, &v);
    }
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.push(f, &v);
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.push(f, &v);
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.push(f, &v);
    }
    fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
        let mut debug = std::mem::take(&mut self.debug);
        debug.clear();
        let _ = write!(debug, "{v:?}");
        self.push(f, debug.as_str());
        self.debug = debug;
    }
}

struct SpanFields(Members);

/// Writes each event as one JSON line (docs/reference/logging.md), in one
/// write.
pub struct SpecJson<W> {
    make_writer: W,
}

impl<S, W> Layer<S> for SpecJson<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut members = Members::default();
        attrs.record(&mut members);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(members));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // One scratch per thread, so an event allocates nothing once the
        // buffers have grown (a fresh one if an event is logged while
        // another is being written on the same thread).
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => self.write_event(event, &ctx, &mut scratch),
            Err(_) => self.write_event(event, &ctx, &mut Scratch::default()),
        });
    }
}

/// What writing an event needs, kept between events.
#[derive(Default)]
struct Scratch {
    fields: Members,
    line: Vec<u8>,
    written: Vec<&'static str>,
    time: String,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

impl<W> SpecJson<W>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    fn write_event<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>, scratch: &mut Scratch)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Scratch {
            fields,
            line,
            written,
            time,
        } = scratch;
        fields.clear();
        line.clear();
        written.clear();
        time.clear();
        event.record(fields);
        let meta = event.metadata();
        line.extend_from_slice(b"{\"timestamp\":\"");
        crate::wire_time::push_millis(&chrono::Utc::now(), time);
        line.extend_from_slice(time.as_bytes());
        line.extend_from_slice(b"\",\"level\":\"");
        line.extend_from_slice(spec_level(meta.level()).as_bytes());
        line.extend_from_slice(b"\",\"logger\":\"");
        for (i, part) in meta.target().split("::").enumerate() {
            if i > 0 {
                line.push(b'.');
            }
            line.extend_from_slice(if i == 0 { logger_root(part) } else { part }.as_bytes());
        }
        line.extend_from_slice(b"\",\"message\":");
        line.extend_from_slice(fields.take_message().unwrap_or(b"\"\""));
        line.extend_from_slice(b",\"context\":{");
        // The event's own fields, then its spans' from the innermost out;
        // a name already written (an inner value) is not written again.
        let member = |line: &mut Vec<u8>,
                      written: &mut Vec<&'static str>,
                      name: &'static str,
                      json: &[u8]| {
            if written.contains(&name) {
                return;
            }
            if !written.is_empty() {
                line.push(b',');
            }
            written.push(name);
            line.push(b'"');
            line.extend_from_slice(name.as_bytes());
            line.extend_from_slice(b"\":");
            line.extend_from_slice(json);
        };
        for (name, json) in fields.iter() {
            member(line, written, name, json);
        }
        let (mut trace_id, mut span_id) = (None, None);
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                span_id.get_or_insert(span.id().into_u64());
                trace_id = Some(span.id().into_u64());
                if let Some(SpanFields(members)) = span.extensions().get::<SpanFields>() {
                    for (name, json) in members.iter() {
                        member(line, written, name, json);
                    }
                }
            }
        }
        line.extend_from_slice(b"},\"trace_id\":");
        hex_id(line, trace_id);
        line.extend_from_slice(b",\"span_id\":");
        hex_id(line, span_id);
        line.extend_from_slice(b"}\n");
        let mut w = self.make_writer.make_writer();
        let _ = w.write_all(line);
    }
}

/// A span id as 16 hex digits in quotes, or `null`.
fn hex_id(line: &mut Vec<u8>, id: Option<u64>) {
    match id {
        Some(id) => {
            let _ = write!(line, "\"{id:016x}\"");
        }
        None => line.extend_from_slice(b"null"),
    }
}

/// Keeps the log writers' threads writing until dropped, then lets them
/// write what is queued (hold it for the process).
pub struct LogGuard {
    _guards: Vec<LogWriterGuard>,
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
            LogOutputType::Console => {
                let (writer, guard) = log_writer::spawn("medic-log-console", std::io::stderr())
                    .map_err(|e| {
                        anyhow::anyhow!("logging: cannot start the console writer: {e}")
                    })?;
                guards.push(guard);
                layers.push(layer_for(logging.format, writer));
            }
            LogOutputType::File => {
                let path = output
                    .path
                    .as_deref()
                    .unwrap_or(std::path::Path::new("logs/medic.log"));
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
                let rotation = match output.rotation {
                    Some(RotateEvery::Never) => Rotation::NEVER,
                    Some(RotateEvery::Daily) | None => Rotation::DAILY,
                };
                let mut builder = RollingFileAppender::builder()
                    .rotation(rotation)
                    .filename_prefix(prefix);
                if let Some(kept) = output.retention {
                    // Validation keeps this a whole number of days.
                    let days = kept.as_secs().div_ceil(86_400);
                    builder = builder.max_log_files(usize::try_from(days).unwrap_or(usize::MAX));
                }
                let appender = builder.build(dir).map_err(|e| {
                    anyhow::anyhow!("logging.outputs: cannot open {}: {e}", path.display())
                })?;
                let (writer, guard) = log_writer::spawn("medic-log-file", appender)
                    .map_err(|e| anyhow::anyhow!("logging: cannot start the file writer: {e}"))?;
                guards.push(guard);
                layers.push(layer_for(logging.format, writer));
            }
        }
    }
    tracing_subscriber::registry()
        .with(layers)
        .with(EnvFilter::new(filter_level(logging.level)))
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))?;
    Ok(LogGuard { _guards: guards })
}

#[cfg(test)]
mod tests {
    use parking_lot::Mutex;
    use std::sync::Arc;

    use serde_json::Value;

    use super::*;

    /// What was written through it, and in how many writes.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>, Arc<Mutex<usize>>);

    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            *self.1.lock() += 1;
            self.0.lock().extend_from_slice(b);
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

    /// The lines `f` logs through a [`SpecJson`] layer, each parsed.
    fn logged(f: impl FnOnce()) -> Vec<Value> {
        let buf = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(SpecJson {
            make_writer: buf.clone(),
        });
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buf.0.lock().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn lines_have_the_spec_shape_with_the_kill_id_from_the_span() {
        let lines = logged(|| {
            let span = tracing::info_span!("kill", kill_id = "k-42");
            let _g = span.enter();
            tracing::warn!(
                outcome = "deny",
                confidence = 0.9,
                "Resurrection decision made"
            );
        });
        let [line] = &lines[..] else {
            panic!("one line: {lines:?}")
        };
        assert_eq!(line["level"], "WARNING");
        assert_eq!(line["message"], "Resurrection decision made");
        assert_eq!(line["context"]["kill_id"], "k-42");
        assert_eq!(line["context"]["outcome"], "deny");
        assert_eq!(line["context"]["confidence"], 0.9);
        assert_eq!(line["logger"], "medic.telemetry.logging.tests");
        assert!(line["trace_id"].is_string() && line["span_id"].is_string());
        assert!(chrono::DateTime::parse_from_rfc3339(line["timestamp"].as_str().unwrap()).is_ok());
    }

    #[test]
    fn a_crate_by_role_logs_under_the_module_it_stands_for_in_medic() {
        assert_eq!(logger_root("medic"), "medic");
        assert_eq!(logger_root("medic_store"), "medic.store");
        assert_eq!(logger_root("medic_engine"), "medic");
        assert_eq!(logger_root("medic_api"), "medic.api");
    }

    #[test]
    fn an_event_carries_nothing_of_the_one_before_it_on_the_same_thread() {
        // Events share a scratch buffer per thread: each line is its own.
        let lines = logged(|| {
            {
                let span = tracing::info_span!("kill", kill_id = "k-1");
                let _g = span.enter();
                tracing::info!(
                    outcome = "deny",
                    risk_score = 0.75,
                    "Resurrection decision made with a long message"
                );
            }
            tracing::warn!("Short");
        });
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["context"]["kill_id"], "k-1");
        assert_eq!(lines[0]["context"]["risk_score"], 0.75);
        assert_eq!(lines[1]["message"], "Short");
        assert_eq!(lines[1]["level"], "WARNING");
        assert_eq!(lines[1]["context"], serde_json::json!({}));
        assert!(lines[1]["trace_id"].is_null() && lines[1]["span_id"].is_null());
    }

    #[test]
    fn field_values_are_escaped_and_numbered_as_json_reads_them_back() {
        let tricky = "quote \" back \\ nl \n cr \r tab \t bell \u{7} nul \u{0} é ✓";
        let lines = logged(|| {
            tracing::info!(
                text = tricky,
                debugged = ?tricky,
                whole = 3.0f64,
                small = 1e-7f64,
                big = 1e300f64,
                nan = f64::NAN,
                neg = -2.5f64,
                "{tricky}"
            )
        });
        let [line] = &lines[..] else {
            panic!("one line: {lines:?}")
        };
        let c = &line["context"];
        assert_eq!(c["text"], tricky);
        assert_eq!(c["debugged"], format!("{tricky:?}"));
        assert_eq!(line["message"], tricky);
        assert_eq!(c["whole"].as_f64(), Some(3.0));
        assert!(c["whole"].is_f64(), "3.0 stays a float: {}", c["whole"]);
        assert_eq!(c["small"].as_f64(), Some(1e-7));
        assert_eq!(c["big"].as_f64(), Some(1e300));
        assert!(c["nan"].is_null());
        assert_eq!(c["neg"].as_f64(), Some(-2.5));
    }

    #[test]
    fn a_line_is_one_write_of_valid_json_with_inner_fields_winning() {
        let buf = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(SpecJson {
            make_writer: buf.clone(),
        });
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("kill", kill_id = "k-1", module = "svc \"a\"");
            let _o = outer.enter();
            let inner = tracing::info_span!("step", module = "inner", attempt = 2u64);
            let _i = inner.enter();
            tracing::info!(
                module = "event",
                reason = ?Some("a\nb"),
                ok = true,
                delta = -3i64,
                "Line with \"quotes\""
            );
        });
        assert_eq!(*buf.1.lock(), 1, "one write per line");
        tracing::subscriber::with_default(
            tracing_subscriber::registry().with(SpecJson {
                make_writer: buf.clone(),
            }),
            || tracing::error!("No span"),
        );
        let text = String::from_utf8(buf.0.lock().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let first = lines[0];
        assert_eq!(first.matches("\"module\"").count(), 1, "{first}");
        let line: Value = serde_json::from_str(first).unwrap();
        assert_eq!(line["message"], "Line with \"quotes\"");
        let ctx = &line["context"];
        assert_eq!(ctx["module"], "event", "the event's own value wins");
        assert_eq!(ctx["kill_id"], "k-1", "the outer span's field");
        assert_eq!(ctx["attempt"], 2);
        assert_eq!(ctx["reason"], "Some(\"a\\nb\")");
        assert_eq!(ctx["ok"], true);
        assert_eq!(ctx["delta"], -3);
        assert_ne!(line["trace_id"], line["span_id"], "root and innermost span");
        let bare: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(bare["level"], "ERROR");
        assert_eq!(bare["context"], serde_json::json!({}));
        assert!(bare["trace_id"].is_null() && bare["span_id"].is_null());
    }
}
