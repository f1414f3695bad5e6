//! The recording format (version 1): JSON lines. The first line is a header
//! `{"medic_recording": 1, ...}`; every other line is one kill with the SIEM
//! context Medic saw and, optionally, a module profile and a label of what
//! really happened:
//!
//! ```json
//! {"kill": {…a kill report…}, "context": {…SIEM context…} | null,
//!  "profile": {"criticality": "high"},
//!  "label": {"truth": "true_threat" | "false_positive", "outcome": "success" | "partial" | "failure" | "re_killed" | "rollback"}}
//! ```
//!
//! Readers stream: a recording is never held in memory whole.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::{Criticality, KillReport, OutcomeResult, SiemContext};

pub const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}: not a Medic recording (the first line must be a header with \"medic_recording\": {VERSION})"
    )]
    NoHeader { path: String },
    #[error("{path}: recording version {found} is not supported (this Medic reads {VERSION})")]
    Version { path: String, found: u64 },
    #[error("{path}:{line}: {problem}")]
    Line {
        path: String,
        line: usize,
        problem: String,
    },
}

/// The first line of a recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub medic_recording: u32,
    #[serde(default)]
    pub generator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// What really happened to a recorded kill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Truth {
    TrueThreat,
    FalsePositive,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<Truth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomeResult>,
}

/// Profile facts a recording may carry (history is rebuilt by the replay).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criticality: Option<Criticality>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    pub kill: KillReport,
    #[serde(default)]
    pub context: Option<SiemContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<RecordedProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
}

/// Streams the kills of a recording, checking its header first.
pub struct Reader {
    path: String,
    lines: std::io::Lines<BufReader<Box<dyn Read + Send>>>,
    line: usize,
    pub header: Header,
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader, RecordingError> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| RecordingError::Io {
            path: name.clone(),
            source,
        })?;
        Reader::new(name, Box::new(file))
    }

    pub fn new(path: String, input: Box<dyn Read + Send>) -> Result<Reader, RecordingError> {
        let mut lines = BufReader::with_capacity(1 << 20, input).lines();
        let first = lines
            .next()
            .transpose()
            .map_err(|source| RecordingError::Io {
                path: path.clone(),
                source,
            })?
            .unwrap_or_default();
        let value: serde_json::Value = serde_json::from_str(&first)
            .map_err(|_| RecordingError::NoHeader { path: path.clone() })?;
        let found = value
            .get("medic_recording")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| RecordingError::NoHeader { path: path.clone() })?;
        if found != u64::from(VERSION) {
            return Err(RecordingError::Version { path, found });
        }
        let header = serde_json::from_value(value)
            .map_err(|_| RecordingError::NoHeader { path: path.clone() })?;
        Ok(Reader {
            path,
            lines,
            line: 1,
            header,
        })
    }

    /// Up to `n` more kills (fewer at the end; none when done).
    pub fn next_batch(&mut self, n: usize) -> Result<Vec<Recorded>, RecordingError> {
        self.next_lines(n)?
            .iter()
            .map(|(line, text)| parse_line(&self.path, *line, text))
            .collect()
    }

    /// Up to `n` more non-empty lines with their numbers, unparsed (so
    /// callers can parse them in parallel with [`parse_line`]).
    pub fn next_lines(&mut self, n: usize) -> Result<Vec<(usize, String)>, RecordingError> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let Some(text) = self.lines.next() else { break };
            self.line += 1;
            let text = text.map_err(|source| RecordingError::Io {
                path: self.path.clone(),
                source,
            })?;
            if !text.trim().is_empty() {
                out.push((self.line, text));
            }
        }
        Ok(out)
    }

    /// The recording's path, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// Parses one kill line of the recording at `path`.
pub fn parse_line(path: &str, line: usize, text: &str) -> Result<Recorded, RecordingError> {
    serde_json::from_str(text).map_err(|e| RecordingError::Line {
        path: path.to_string(),
        line,
        problem: e.to_string(),
    })
}

/// Writes a recording: the header, then one line per kill.
pub struct Writer<W: Write> {
    out: BufWriter<W>,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W, header: &Header) -> std::io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 20, out);
        serde_json::to_writer(&mut out, header)?;
        out.write_all(b"\n")?;
        Ok(Writer { out })
    }

    pub fn write(&mut self, rec: &Recorded) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, rec)?;
        self.out.write_all(b"\n")
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
