//! Command-line definitions (clap). Running them is `main.rs`'s job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "medic",
    version,
    about = "Decides whether services killed by Smith should come back, through sandboxed WebAssembly plugins."
)]
pub struct Cli {
    #[command(flatten)]
    pub files: ConfigFiles,
    #[command(subcommand)]
    pub command: Command,
}

/// Where configuration comes from; each file defaults to the embedded one.
#[derive(Debug, Clone, Args)]
pub struct ConfigFiles {
    /// medic.yaml (docs/reference/configuration.md).
    #[arg(long, global = true, env = "MEDIC_CONFIG_PATH")]
    pub config: Option<PathBuf>,
    /// constitution.yaml (docs/reference/configuration.md).
    #[arg(long, global = true, env = "MEDIC_CONSTITUTION_PATH")]
    pub constitution: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the engine.
    Serve,
    /// Print the API's OpenAPI 3.1 document (the one served at
    /// /api/v1/openapi.json), for client generators and gateways.
    Openapi,
    /// Check configuration files and print every problem.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Inspect, check and try plugins.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Measure sustained throughput and latency from Redis to durable
    /// decision, against the same run's Redis-only ceiling.
    Loadtest {
        /// The Redis to use (streams get unique names and are deleted after).
        #[arg(long, default_value = "redis://127.0.0.1:6379")]
        redis: String,
        /// Kills per phase.
        #[arg(long, default_value_t = 50_000)]
        kills: usize,
        /// Arrival rate of the paced phase, kills per second.
        #[arg(long, default_value_t = 20_000.0)]
        pace: f64,
        /// Also write the paced phase's kills to this CSV file, one line
        /// per kill in acknowledgement order (`acked_ms,latency_ms`), to
        /// see when the slow ones happened.
        #[arg(long)]
        latencies: Option<PathBuf>,
        /// Store the run's decisions in this PostgreSQL database (tables
        /// created if missing) instead of a sled store in a temporary
        /// directory. The run's kill ids are its own, so nothing it finds
        /// there is decided again; its rows stay.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
    /// Generate a labelled recording from a scenario (same seed, same file).
    Simulate {
        /// The scenario (YAML; see config/scenarios/).
        #[arg(long)]
        scenario: PathBuf,
        /// The random seed: the same seed and scenario give the same file.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many kills to generate.
        #[arg(long, default_value_t = 10_000)]
        kills: usize,
        /// Where to write the recording.
        #[arg(long)]
        out: PathBuf,
    },
    /// Replay a recording through candidate strategies and compare them.
    Replay {
        /// The recording: JSON lines from `medic simulate` or `medic record`
        /// (labelled kills are scored, unlabelled ones only counted).
        recording: PathBuf,
        /// A candidate: a strategy's name or a .wasm path, optionally with its
        /// own scorer as STRATEGY@SCORER (repeat for more).
        #[arg(long = "strategy", required = true)]
        strategies: Vec<String>,
        /// The risk scorer (name or .wasm); default: the phase's.
        #[arg(long)]
        scorer: Option<String>,
        /// Worker threads (default: the machine's cores).
        #[arg(long)]
        threads: Option<usize>,
        /// A fresh plugin instance per call instead of warm ones.
        #[arg(long)]
        strict: bool,
        /// Judge as if in this mode (observer, manual, semi_auto, full_auto).
        #[arg(long)]
        mode: Option<String>,
        /// Output: a table for people, or JSON for scripts.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Also write every decision as a JSON line here.
        #[arg(long)]
        decisions: Option<PathBuf>,
        /// Also write a self-contained HTML report (charts, no scripts) here.
        #[arg(long)]
        html: Option<PathBuf>,
        /// Print plugin latency and throughput (to stderr; they vary by run).
        #[arg(long)]
        timing: bool,
        /// Also replay each strategy with the threshold learner in the loop
        /// (thresholds adjusted as the recording's outcomes arrive).
        #[arg(long)]
        learn: bool,
        /// The threshold learner for --learn (name or .wasm); default: the phase's.
        #[arg(long)]
        learner: Option<String>,
        /// Who decides kills put to a human: `label` (the recording's label,
        /// after --review-delay-minutes; approved false positives come back
        /// and their outcomes reach the learner) or `none` (they stay queued).
        #[arg(long, default_value = "label", value_parser = ["label", "none"])]
        reviewer: String,
        /// How long the simulated reviewer takes to decide.
        #[arg(long, default_value_t = 30)]
        review_delay_minutes: u32,
        /// Override a cost of the report's cost model, NAME=NUMBER
        /// (threat_revived, fp_left_down, review, correct; repeatable).
        #[arg(long = "cost")]
        costs: Vec<String>,
        /// Judge without what outcomes taught (the scorer's model alone, as
        /// on a fresh store): to see what calibration is worth.
        #[arg(long)]
        no_calibration: bool,
    },
    /// Capture kills into a recording (for replay): exported from the store
    /// (with the context Medic saw; through the running Medic's API while it
    /// holds the store) or read from a Redis stream without consuming it.
    Record {
        /// Where to write the recording.
        #[arg(long)]
        out: PathBuf,
        /// Read this Redis stream (XRANGE: nothing is consumed or acknowledged).
        #[arg(long)]
        redis: Option<String>,
        /// The stream to read with --redis.
        #[arg(long, default_value = "smith.events.kill_notifications")]
        stream: String,
        /// From the store: decisions made in the last this many hours.
        #[arg(long, default_value_t = 24)]
        hours: i64,
        /// While `medic serve` holds the store, the export goes through its
        /// API (a viewer's key in MEDIC_API_KEY).
        #[command(flatten)]
        remote: Remote,
    },
    /// Reports over what was decided (from the store, or through the running
    /// Medic's API while it holds the store).
    Report {
        #[command(flatten)]
        remote: Remote,
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// The approval queue of the running Medic (over its API).
    Queue {
        #[command(flatten)]
        remote: Remote,
        #[command(subcommand)]
        command: QueueCommand,
    },
    /// Run the threshold learner now on the outcomes since its last run
    /// (through the running engine; admin key).
    Learn {
        #[command(flatten)]
        remote: Remote,
        #[command(subcommand)]
        command: LearnCommand,
    },
    /// The thresholds in force: show, history, set, revert (admin key to change).
    Thresholds {
        #[command(flatten)]
        remote: Remote,
        #[command(subcommand)]
        command: ThresholdsCommand,
    },
    /// The running Medic's mode: show it, or switch it (audited).
    Mode {
        #[command(flatten)]
        remote: Remote,
        #[command(subcommand)]
        command: ModeCommand,
    },
    /// The active phase's shadow strategy: its record against what
    /// happened, and promoting it (the running Medic, over its API).
    Shadow {
        #[command(flatten)]
        remote: Remote,
        #[command(subcommand)]
        command: ShadowCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ShadowCommand {
    /// Agreement with the plugins in force, and the kills where it would
    /// have revived a threat, recovered sooner, or held a threat.
    Report {
        /// Kills decided in the last this many hours.
        #[arg(long, default_value_t = 168)]
        hours: i64,
        /// Output: a summary for people, or JSON for scripts.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Make a phase's shadow its scorer and strategy (through the replay
    /// gate; admin key), audited.
    Promote {
        /// The phase (phase_3_semi_auto, phase_5_full_auto, …).
        #[arg(long)]
        phase: String,
        /// Let it through the replay gate if the gate refuses it: why.
        #[arg(long)]
        override_reason: Option<String>,
    },
}

/// How to reach the running engine.
#[derive(Debug, Args)]
pub struct Remote {
    /// The engine's API (default: interfaces.web.host and port from the
    /// config, https:// when interfaces.web.tls is enabled).
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// An API key (approver role to decide, admin to switch modes).
    #[arg(long, global = true, env = "MEDIC_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// A PEM file of a CA to trust, besides the public roots, when the API
    /// serves HTTPS (`interfaces.web.tls`) with a private CA's certificate.
    #[arg(long, global = true, env = "MEDIC_CA_FILE")]
    pub ca_file: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Items waiting for a human, oldest first, with the queue's stats.
    List {
        /// Decided items too.
        #[arg(long)]
        all: bool,
        /// Output: a table for people, or JSON for scripts.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// One item, whole: the kill, the decision and its reasoning.
    Show {
        /// The item's id (from `queue list`).
        id: String,
    },
    /// Approve: the module is resurrected.
    Approve {
        /// The item's id (from `queue list`).
        id: String,
        /// Why, for the audit log.
        #[arg(long)]
        notes: Option<String>,
    },
    /// Deny: the module stays down.
    Deny {
        /// The item's id (from `queue list`).
        id: String,
        /// Why it stays down, for the audit log and the learner.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LearnCommand {
    /// Run the learner once; its proposal is checked, applied and recorded,
    /// or refused with the reason.
    Run,
}

#[derive(Debug, Subcommand)]
pub enum ThresholdsCommand {
    /// The values in force.
    Show,
    /// Every change: when, who, what, why.
    History,
    /// Change values by hand (checked like the learner's), with a reason.
    Set {
        /// NAME=VALUE, e.g. risk.low=0.35 (repeat for more).
        #[arg(required = true)]
        values: Vec<String>,
        /// Why, for the audit log and the thresholds' history.
        #[arg(long)]
        reason: String,
    },
    /// Undo a change: its keys go back to their values before it.
    Revert {
        /// The change's id (from `thresholds history`).
        id: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModeCommand {
    /// The mode in force, the configured one and the fallback.
    Show,
    /// Switch mode (observer, manual, semi_auto, full_auto).
    Set {
        /// observer, manual, semi_auto or full_auto.
        mode: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Counts by outcome, risk level, module and reason, plugin errors and
    /// dead letters for one day (UTC). Reads the store, or asks the running
    /// engine (with MEDIC_API_KEY) when it holds the store.
    Daily {
        /// The day, YYYY-MM-DD (default: today).
        #[arg(long)]
        date: Option<String>,
    },
    /// The week ending on a day (UTC): outcome and success-rate trends,
    /// threshold changes and their effect, patterns. JSON, or a page with
    /// charts.
    Weekly {
        /// The week's last day, YYYY-MM-DD (default: today).
        #[arg(long)]
        date: Option<String>,
        /// Output: JSON, or a self-contained HTML page with charts.
        #[arg(long, value_enum, default_value_t = ReportFormat::Json)]
        format: ReportFormat,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Json,
    Html,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration (exit 1 with every problem listed).
    Check,
    /// Print the effective configuration as YAML.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List built-in and directory plugins: name, kind, version, sha256,
    /// status, signer, source; and the files of the directory that would be
    /// refused, with why.
    List {
        /// Output: a table for people, or JSON for scripts.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Check a plugin file: world, exports, imports, and a run on the golden kills.
    Check {
        /// The plugin: a .wasm component.
        file: PathBuf,
        /// The kind it must be.
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
    },
    /// Run a plugin on recorded input and print one JSON line per item.
    Run {
        /// The plugin: a .wasm component.
        file: PathBuf,
        /// Kills as JSON lines: a kill report, or {"kill", "context", "profile"}
        /// (for risk scorers and strategies).
        #[arg(long, required_unless_present = "outcomes")]
        kills: Option<PathBuf>,
        /// Outcome samples as JSON lines (for threshold learners).
        #[arg(long, conflicts_with = "kills")]
        outcomes: Option<PathBuf>,
    },
    /// Create a plugin project: the plugin with a working example, its WIT,
    /// fixtures with expectations, build and test scripts, a README.
    New {
        /// The plugin's name (a-z 0-9 -); also the project's directory.
        name: String,
        /// What it judges: risk-scorer, strategy or threshold-learner.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// The language of the project: rust, python or js.
        #[arg(long, value_enum)]
        lang: crate::authoring::Lang,
        /// Where to create it (default: here).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Create an ECDSA P-256 key pair for signing plugins: KEY (private,
    /// PKCS#8 PEM, readable by its owner only) and KEY.pub (the public key
    /// to list in plugins.trust.keys).
    Keygen {
        /// Where to write the private key; the public key goes to KEY.pub.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a plugin file: writes FILE.sigstore.json (a Sigstore bundle)
    /// beside it and prints the bare signature (base64), which the upload
    /// API takes.
    Sign {
        /// The plugin: a .wasm component.
        file: PathBuf,
        /// The private key (PEM: PKCS#8, or SEC1 as openssl writes it).
        #[arg(long)]
        key: PathBuf,
    },
    /// Verify a plugin file's signature (FILE.sigstore.json or FILE.sig)
    /// against the keys of plugins.trust and any --key given; exits non-zero
    /// if it would be refused.
    Verify {
        /// The plugin: a .wasm component.
        file: PathBuf,
        /// A public key to trust as well (PEM); repeatable.
        #[arg(long)]
        key: Vec<PathBuf>,
    },
    /// Measure a plugin: latency percentiles and calls per second, on the
    /// golden kills or on kills from a file (JSON lines, or a recording).
    Bench {
        /// The plugin: a .wasm component.
        file: PathBuf,
        /// Kills to run it on (JSON lines, or a recording); default: the
        /// golden kills.
        #[arg(long)]
        kills: Option<PathBuf>,
        /// Calls to time (cycling through the kills).
        #[arg(long, default_value_t = 20_000)]
        calls: usize,
        /// A fresh instance per call (strict) or warm instances (reuse).
        #[arg(long, value_enum, default_value_t = Isolating::Reuse)]
        isolation: Isolating,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Isolating {
    Strict,
    Reuse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    RiskScorer,
    Strategy,
    ThresholdLearner,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every subcommand and every option says what it is for in `--help`.
    #[test]
    fn every_command_and_option_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let here = format!("{path} {}", cmd.get_name()).trim().to_string();
            if cmd.get_about().is_none() && cmd.get_name() != "help" {
                missing.push(format!("{here}: no about"));
            }
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{here} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &here, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(
            missing.is_empty(),
            "without help text:\n{}",
            missing.join("\n")
        );
    }
}
