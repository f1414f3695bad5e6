//! The configuration files as written: serde structs with their defaults
//! (every key: docs/reference/configuration.md). Unknown keys are caught by
//! the loader (see `load.rs`), which reports every one of them, not just
//! the first. Values are read into their types as they are parsed
//! (`units`): durations into `Duration`s from the unit their key names,
//! texts that may be left out into `Option`s, closed sets into enums.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::model::RiskLevel;
use crate::units;

/// `config/medic.yaml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MedicFile {
    pub version: String,
    pub mode: ModeSection,
    pub smith: SmithSection,
    pub siem: SiemSection,
    pub decision: DecisionSection,
    pub risk: RiskSection,
    pub resurrection: ResurrectionSection,
    pub interfaces: InterfacesSection,
    pub learning: LearningSection,
    pub logging: LoggingSection,
    pub metrics: MetricsSection,
    pub plugins: PluginsSection,
    pub modules: ModulesSection,
}

impl Default for MedicFile {
    fn default() -> Self {
        MedicFile {
            version: "1.0".into(),
            mode: ModeSection::default(),
            smith: SmithSection::default(),
            siem: SiemSection::default(),
            decision: DecisionSection::default(),
            risk: RiskSection::default(),
            resurrection: ResurrectionSection::default(),
            interfaces: InterfacesSection::default(),
            learning: LearningSection::default(),
            logging: LoggingSection::default(),
            metrics: MetricsSection::default(),
            plugins: PluginsSection::default(),
            modules: ModulesSection::default(),
        }
    }
}

/// Operating modes, from only watching to acting alone.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Observer,
    Manual,
    SemiAuto,
    FullAuto,
}

impl Mode {
    /// The configuration's name for the mode.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Observer => "observer",
            Mode::Manual => "manual",
            Mode::SemiAuto => "semi_auto",
            Mode::FullAuto => "full_auto",
        }
    }

    /// The mode the configuration's name names, if any.
    pub fn named(name: &str) -> Option<Mode> {
        serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModeSection {
    pub current: Mode,
    pub fallback: Mode,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmithSection {
    pub event_bus: EventBusSection,
    pub veto_protocol: VetoSection,
}

/// Where kills come from: `redis` (Smith's stream) or `http`
/// (`POST /api/v1/kills`, the embedded default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventBusType {
    Redis,
    Http,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventBusSection {
    #[serde(rename = "type")]
    pub kind: EventBusType,
    /// `redis://` or `rediss://` URL; when set it wins over host and port.
    #[serde(with = "units::optional")]
    pub url: Option<Url>,
    /// For `rediss://`: a PEM file of the CA to trust (none: the public roots).
    #[serde(with = "units::optional")]
    pub tls_ca_file: Option<PathBuf>,
    pub host: String,
    pub port: u16,
    pub topic: String,
    pub response_topic: String,
    /// The streams a kill's `reply_to` may name (names, or patterns with
    /// `*`); a kill asking for any other is refused. None of them may be a
    /// stream Medic or Smith uses for something else.
    pub reply_streams: Vec<String>,
    /// Where resurrection events are published.
    pub events_topic: String,
    /// Where invalid input goes, with the reason.
    pub dead_letter_topic: String,
    pub consumer_group: String,
    /// Stable across restarts, so this consumer's pending entries are its
    /// own; one per replica. Default: this machine's host name
    /// ([`host_name`]).
    pub consumer_name: String,
    /// Entries read per XREADGROUP.
    pub batch_size: u32,
    /// How long one XREADGROUP waits for entries.
    #[serde(rename = "block_ms", with = "units::millis")]
    pub block: Duration,
    /// Entries pending this long with another consumer are claimed.
    #[serde(rename = "claim_idle_ms", with = "units::millis")]
    pub claim_idle: Duration,
    /// Kills being decided at once.
    pub max_in_flight: u32,
    /// A new consumer group starts at the stream's beginning or its end.
    pub start_from: StartFrom,
}

/// This machine's host name as a consumer name (each replica of Medic on
/// its own host, or pod, gets its own), or `medic-1` when it has none that
/// is a safe name.
pub fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|n| n.trim().to_string())
        .unwrap_or_default();
    if crate::validate::is_safe_name(&name) {
        name
    } else {
        "medic-1".into()
    }
}

/// Where a newly created consumer group starts reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartFrom {
    Earliest,
    Latest,
}

impl Default for EventBusSection {
    fn default() -> Self {
        EventBusSection {
            kind: EventBusType::Http,
            url: None,
            tls_ca_file: None,
            host: "localhost".into(),
            port: 6379,
            topic: "smith.events.kill_notifications".into(),
            response_topic: "medic.responses".into(),
            reply_streams: vec!["medic.responses".into(), "medic.responses.*".into()],
            events_topic: "medic.events".into(),
            dead_letter_topic: "smith.events.kill_notifications.dead".into(),
            consumer_group: "medic".into(),
            consumer_name: host_name(),
            batch_size: 256,
            block: Duration::from_secs(1),
            claim_idle: Duration::from_secs(30),
            max_in_flight: 1024,
            start_from: StartFrom::Earliest,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VetoSection {
    pub enabled: bool,
    #[serde(rename = "timeout_seconds", with = "units::seconds")]
    pub timeout: Duration,
    /// The stream PRE_RESURRECTION_NOTICEs are written to.
    pub notice_topic: String,
    /// The stream Smith answers on with RESURRECTION_VETO.
    pub response_topic: String,
    /// What an unanswered notice means.
    pub on_timeout: VetoTimeout,
}

impl Default for VetoSection {
    fn default() -> Self {
        VetoSection {
            enabled: false,
            timeout: Duration::from_secs(30),
            notice_topic: "medic.veto.notices".into(),
            response_topic: "smith.veto.responses".into(),
            on_timeout: VetoTimeout::Queue,
        }
    }
}

/// What Medic does when Smith does not answer a notice in time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VetoTimeout {
    /// A human decides (the safe default).
    #[default]
    Queue,
    /// Silence is consent.
    Proceed,
    /// Silence is a veto.
    Deny,
}

/// Where SIEM context comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiemAdapterType {
    Rest,
    File,
    None,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SiemSection {
    pub adapter: SiemAdapterType,
    pub endpoint: Url,
    pub auth: SiemAuth,
    #[serde(rename = "timeout_seconds", with = "units::seconds")]
    pub timeout: Duration,
    pub retry: RetrySection,
    /// The local intel file of the `file` adapter (YAML or JSON).
    #[serde(with = "units::optional")]
    pub intel_file: Option<PathBuf>,
    /// For an https endpoint: a PEM file of a CA to trust besides the
    /// public roots (none: the public roots only).
    #[serde(with = "units::optional")]
    pub tls_ca_file: Option<PathBuf>,
    pub circuit_breaker: BreakerSection,
    pub cache: CacheSection,
}

impl Default for SiemSection {
    fn default() -> Self {
        SiemSection {
            adapter: SiemAdapterType::None,
            endpoint: Url::parse("http://localhost:8080/siem")
                .expect("the default SIEM endpoint is a URL"),
            auth: SiemAuth::default(),
            timeout: Duration::from_secs(30),
            retry: RetrySection::default(),
            intel_file: None,
            tls_ca_file: None,
            circuit_breaker: BreakerSection::default(),
            cache: CacheSection::default(),
        }
    }
}

/// The circuit breaker around the SIEM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BreakerSection {
    pub failure_threshold: u32,
    #[serde(rename = "recovery_timeout_seconds", with = "units::seconds")]
    pub recovery_timeout: Duration,
    pub half_open_max_calls: u32,
}

impl Default for BreakerSection {
    fn default() -> Self {
        BreakerSection {
            failure_threshold: 5,
            recovery_timeout: Duration::from_secs(60),
            half_open_max_calls: 3,
        }
    }
}

/// Recent SIEM answers kept per module.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheSection {
    #[serde(rename = "ttl_seconds", with = "units::seconds")]
    pub ttl: Duration,
    pub max_entries: u32,
}

impl Default for CacheSection {
    fn default() -> Self {
        CacheSection {
            ttl: Duration::from_secs(60),
            max_entries: 1024,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SiemAuth {
    #[serde(rename = "type")]
    pub kind: SiemAuthType,
    /// The environment variable that holds the key.
    pub key_env: String,
}

/// How Medic authenticates to the SIEM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiemAuthType {
    /// The key in the `X-API-Key` header.
    #[default]
    ApiKey,
}

impl Default for SiemAuth {
    fn default() -> Self {
        SiemAuth {
            kind: SiemAuthType::ApiKey,
            key_env: "SIEM_API_KEY".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetrySection {
    pub max_attempts: u32,
    /// The first delay; each retry doubles it, up to `max_backoff_seconds`.
    #[serde(rename = "backoff_seconds", with = "units::seconds")]
    pub backoff: Duration,
    #[serde(rename = "max_backoff_seconds", with = "units::seconds")]
    pub max_backoff: Duration,
    /// Randomise each delay (between itself and twice itself).
    pub jitter: bool,
}

impl Default for RetrySection {
    fn default() -> Self {
        RetrySection {
            max_attempts: 3,
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
            jitter: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecisionSection {
    pub default_timeout_minutes: u32,
    pub confidence_threshold: f64,
    pub auto_approve: AutoApproveSection,
    pub auto_deny: AutoDenySection,
}

impl Default for DecisionSection {
    fn default() -> Self {
        DecisionSection {
            default_timeout_minutes: 60,
            confidence_threshold: 0.7,
            auto_approve: AutoApproveSection::default(),
            auto_deny: AutoDenySection::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoDenySection {
    /// The starting value of the `auto_deny.min_risk_score` threshold: a
    /// kill scored at or over it is denied without a person by the
    /// strategies that read it (1: only by their own rule).
    pub min_risk_score: f64,
}

impl Default for AutoDenySection {
    fn default() -> Self {
        AutoDenySection {
            min_risk_score: 1.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoApproveSection {
    pub enabled: bool,
    pub max_risk_level: RiskLevel,
    /// The starting value of the `auto_approve.min_confidence` threshold;
    /// the auto-approval gate reads the value in force.
    pub min_confidence: f64,
}

impl Default for AutoApproveSection {
    fn default() -> Self {
        AutoApproveSection {
            enabled: false,
            max_risk_level: RiskLevel::Low,
            min_confidence: 0.85,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RiskSection {
    pub thresholds: RiskThresholds,
    pub weights: RiskWeights,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RiskThresholds {
    pub minimal: f64,
    pub low: f64,
    pub medium: f64,
    pub high: f64,
}

impl Default for RiskThresholds {
    fn default() -> Self {
        RiskThresholds {
            minimal: 0.2,
            low: 0.4,
            medium: 0.6,
            high: 0.8,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RiskWeights {
    pub smith_confidence: f64,
    pub siem_risk_score: f64,
    pub false_positive_history: f64,
    pub module_criticality: f64,
    pub time_of_day: f64,
}

impl Default for RiskWeights {
    fn default() -> Self {
        RiskWeights {
            smith_confidence: 0.3,
            siem_risk_score: 0.25,
            false_positive_history: 0.2,
            module_criticality: 0.15,
            time_of_day: 0.1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResurrectionSection {
    #[serde(rename = "monitoring_duration_minutes", with = "units::minutes")]
    pub monitoring_duration: Duration,
    #[serde(rename = "health_check_interval_seconds", with = "units::seconds")]
    pub health_check_interval: Duration,
    pub max_retry_attempts: u32,
    /// Bound on one whole execution, every attempt included.
    #[serde(rename = "execution_timeout_seconds", with = "units::seconds")]
    pub execution_timeout: Duration,
    /// How long a restarted service has to pass its first health check.
    #[serde(rename = "startup_grace_seconds", with = "units::seconds")]
    pub startup_grace: Duration,
    /// A module resurrected less than this long ago is not resurrected
    /// again automatically (a human may still approve it).
    #[serde(rename = "cooldown_seconds", with = "units::seconds")]
    pub cooldown: Duration,
    pub flapping: FlappingSection,
    pub rollback: RollbackSection,
    /// How modules are brought back: the first entry whose `modules`
    /// matches wins. A module no entry matches cannot be resurrected.
    pub backends: Vec<BackendSection>,
}

impl Default for ResurrectionSection {
    fn default() -> Self {
        ResurrectionSection {
            monitoring_duration: Duration::from_secs(30 * 60),
            health_check_interval: Duration::from_secs(30),
            max_retry_attempts: 2,
            execution_timeout: Duration::from_secs(120),
            startup_grace: Duration::from_secs(30),
            cooldown: Duration::from_secs(600),
            flapping: FlappingSection::default(),
            rollback: RollbackSection::default(),
            backends: Vec::new(),
        }
    }
}

/// A module killed this often is flapping: its kills go to a human and it
/// is not resurrected automatically for a while.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FlappingSection {
    pub max_kills_per_hour: u32,
    #[serde(rename = "cooldown_minutes", with = "units::minutes")]
    pub cooldown: Duration,
}

impl Default for FlappingSection {
    fn default() -> Self {
        FlappingSection {
            max_kills_per_hour: 3,
            cooldown: Duration::from_secs(3_600),
        }
    }
}

/// Which resurrection backend serves a module.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendType {
    /// Medic starts the process itself (command, args, env, working dir).
    #[default]
    Process,
    /// Templated commands (systemctl, docker, kubectl, …), run without a shell.
    Command,
    /// POST to an orchestration endpoint.
    Webhook,
}

/// One resurrection backend and the modules it serves. Which keys apply
/// depends on `type`; placeholders `{module}`, `{instance}`, `{kill_id}` and
/// `{request_id}` are substituted in arguments and URLs, one argument at a
/// time and never through a shell.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackendSection {
    /// Module names, or patterns with `*` (`web-*`, `*`).
    pub modules: Vec<String>,
    #[serde(rename = "type")]
    pub kind: BackendType,
    /// process: the program to start.
    pub command: String,
    /// process: its arguments.
    pub args: Vec<String>,
    /// process: its environment (added to a cleared one, plus PATH).
    pub env: BTreeMap<String, String>,
    /// process: its working directory (none: Medic's).
    #[serde(with = "units::optional")]
    pub working_dir: Option<PathBuf>,
    /// process: where its stdout and stderr go (none: discarded).
    #[serde(with = "units::optional")]
    pub log_file: Option<PathBuf>,
    /// command: the restart command, as argv.
    pub restart: Vec<String>,
    /// command: the rollback command, as argv ([] = none).
    pub rollback: Vec<String>,
    /// command: the status command, as argv (exit 0 = running; [] = none).
    pub status: Vec<String>,
    /// webhook: the endpoint actions are POSTed to.
    pub url: String,
    pub auth: WebhookAuth,
    /// webhook: a PEM file of an extra CA to trust (none: public roots).
    #[serde(with = "units::optional")]
    pub tls_ca_file: Option<PathBuf>,
    /// command and webhook: the limit of one call (0: the backend's own
    /// default).
    #[serde(rename = "timeout_seconds", with = "units::seconds")]
    pub timeout: Duration,
    pub health_check: HealthCheckSection,
}

/// How a webhook authenticates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookAuth {
    #[serde(rename = "type")]
    pub kind: WebhookAuthType,
    /// The environment variable that holds the secret.
    pub token_env: String,
}

/// How a webhook authenticates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookAuthType {
    /// No secret sent (`""` reads as this too).
    #[default]
    #[serde(alias = "")]
    None,
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// `X-API-Key: <secret>`.
    ApiKey,
}

/// How a resurrected module's health is checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthCheckType {
    /// The backend's own status (process running, status command, webhook).
    #[default]
    Backend,
    /// An HTTP GET answering `expect_status`.
    Http,
    /// A TCP connect to `address`.
    Tcp,
    /// A command exiting 0.
    Command,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthCheckSection {
    #[serde(rename = "type")]
    pub kind: HealthCheckType,
    /// http: the URL to GET.
    pub url: String,
    /// http: the status that means healthy.
    pub expect_status: u16,
    /// tcp: `host:port`.
    pub address: String,
    /// command: argv.
    pub command: Vec<String>,
    #[serde(rename = "timeout_seconds", with = "units::seconds")]
    pub timeout: Duration,
}

impl Default for HealthCheckSection {
    fn default() -> Self {
        HealthCheckSection {
            kind: HealthCheckType::Backend,
            url: String::new(),
            expect_status: 200,
            address: String::new(),
            command: Vec::new(),
            timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RollbackSection {
    pub enabled: bool,
    pub auto_trigger_on_anomaly: bool,
    pub anomaly_threshold: f64,
}

impl Default for RollbackSection {
    fn default() -> Self {
        RollbackSection {
            enabled: true,
            auto_trigger_on_anomaly: true,
            anomaly_threshold: 0.7,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InterfacesSection {
    pub cli: CliSection,
    pub web: WebSection,
    pub approval_queue: ApprovalQueueSection,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CliSection {
    pub enabled: bool,
}

impl Default for CliSection {
    fn default() -> Self {
        CliSection { enabled: true }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebSection {
    pub enabled: bool,
    pub port: u16,
    pub host: String,
    /// API keys, stored as the sha256 of the key; a key can also come from
    /// the environment variable `MEDIC_API_KEY` (role admin).
    pub api_keys: Vec<ApiKeySection>,
    /// Requests per second one key may make, sustained (0 = no limit).
    pub rate_limit_per_second: f64,
    /// Requests one key may make in a burst above the sustained rate.
    pub rate_limit_burst: f64,
    /// The longest one request may take before it is answered 503.
    #[serde(rename = "request_timeout_seconds", with = "units::seconds")]
    pub request_timeout: Duration,
    /// Reads of the store (decision lists, reports, outcomes, audit) run
    /// at most this many at once, off the threads that decide kills.
    pub max_concurrent_reads: u32,
    /// How long one scan of the store may run before it answers what it
    /// found with a cursor to go on from.
    #[serde(rename = "read_budget_ms", with = "units::millis")]
    pub read_budget: Duration,
    /// Wrong API keys one client address may present in a minute before
    /// its requests are refused for the rest of it (0 = no limit).
    pub auth_failures_per_minute: u32,
    /// HTTPS for the API (off: plain HTTP, meant for a loopback address).
    pub tls: WebTlsSection,
}

impl Default for WebSection {
    fn default() -> Self {
        WebSection {
            enabled: false,
            port: 8000,
            host: "127.0.0.1".into(),
            api_keys: Vec::new(),
            rate_limit_per_second: 100.0,
            rate_limit_burst: 200.0,
            request_timeout: Duration::from_secs(60),
            max_concurrent_reads: 1,
            read_budget: Duration::from_secs(1),
            auth_failures_per_minute: 10,
            tls: WebTlsSection::default(),
        }
    }
}

/// `interfaces.web.tls`: the API serves HTTPS only (no plain HTTP beside it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebTlsSection {
    pub enabled: bool,
    /// PEM file: the server certificate first, then any intermediates.
    #[serde(with = "units::optional")]
    pub cert_file: Option<PathBuf>,
    /// PEM file: the certificate's private key (PKCS#8, PKCS#1 or SEC1).
    #[serde(with = "units::optional")]
    pub key_file: Option<PathBuf>,
}

/// What an API key may do.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Ingest,
    Approver,
    Admin,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKeySection {
    pub name: String,
    pub role: Role,
    /// sha256 of the key, lowercase hex.
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApprovalQueueSection {
    pub max_pending: u32,
    #[serde(rename = "timeout_hours", with = "units::hours")]
    pub timeout: Duration,
}

impl Default for ApprovalQueueSection {
    fn default() -> Self {
        ApprovalQueueSection {
            max_pending: 100,
            timeout: Duration::from_secs(24 * 3_600),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LearningSection {
    pub enabled: bool,
    pub database: LearningDatabase,
    pub analysis: LearningAnalysis,
    pub threshold_adjustment: ThresholdAdjustmentSection,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LearningDatabase {
    #[serde(rename = "type")]
    pub kind: DatabaseType,
    /// The embedded store's directory (`type: sled`).
    pub path: PathBuf,
    /// The PostgreSQL database (`type: postgres`), as
    /// `postgres://user:password@host:port/database`; `MEDIC_DATABASE_URL`
    /// overrides it (and chooses `postgres`), so the password need not be
    /// in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<url::Url>,
    /// Days a decision and everything about its kill (outcomes, verdicts,
    /// decided queue items, shadow decisions, dead letters, finished
    /// requests) are kept; 0 keeps everything.
    #[serde(rename = "retention_days", with = "units::days")]
    pub retention: Duration,
    /// Days audit events are kept (default: `retention_days`; never
    /// fewer). They share the record log's segments with decisions, so
    /// a longer audit retention keeps those segments on disk as long.
    #[serde(rename = "audit_retention_days", with = "units::days::optional")]
    pub audit_retention: Option<Duration>,
}

impl Default for LearningDatabase {
    fn default() -> Self {
        LearningDatabase {
            kind: DatabaseType::Sled,
            path: "data/medic.db".into(),
            url: None,
            retention: Duration::from_secs(90 * 86_400),
            audit_retention: None,
        }
    }
}

/// Where the store lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseType {
    /// Embedded, in the directory `path` (one process at a time).
    #[default]
    Sled,
    /// A PostgreSQL database at `url`, which replicas share.
    Postgres,
}

/// The fewest days retention may keep: a kill older than the 30 days
/// validation accepts is refused, so a redelivery of a kill whose decision
/// retention removed is never decided again.
pub const MIN_RETENTION_DAYS: u64 = 31;

impl LearningDatabase {
    /// How long decisions and audit events are kept; `None` when retention
    /// is off (`retention_days: 0`).
    pub fn kept_for(&self) -> Option<(Duration, Duration)> {
        (!self.retention.is_zero()).then(|| {
            let audit = self
                .audit_retention
                .unwrap_or(self.retention)
                .max(self.retention);
            (self.retention, audit)
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    Daily,
    Weekly,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LearningAnalysis {
    pub schedule: Schedule,
    pub min_samples: u32,
}

impl Default for LearningAnalysis {
    fn default() -> Self {
        LearningAnalysis {
            schedule: Schedule::Weekly,
            min_samples: 50,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThresholdAdjustmentSection {
    pub enabled: bool,
    pub max_adjustment_percent: f64,
}

impl Default for ThresholdAdjustmentSection {
    fn default() -> Self {
        ThresholdAdjustmentSection {
            enabled: false,
            max_adjustment_percent: 10.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggingSection {
    pub level: LogLevel,
    pub format: LogFormat,
    pub outputs: Vec<LogOutput>,
    pub structured_fields: Vec<String>,
}

impl Default for LoggingSection {
    fn default() -> Self {
        LoggingSection {
            level: LogLevel::Info,
            format: LogFormat::Json,
            outputs: vec![LogOutput {
                kind: LogOutputType::Console,
                path: None,
                rotation: None,
                retention: None,
            }],
            structured_fields: vec!["kill_id".into(), "decision_id".into(), "request_id".into()],
        }
    }
}

/// How much Medic logs: `logging.level`, in any case (`info`, `INFO`);
/// `WARN` reads as `WARNING`, and `CRITICAL` logs what `ERROR` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl std::str::FromStr for LogLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<LogLevel, String> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "TRACE" => LogLevel::Trace,
            "DEBUG" => LogLevel::Debug,
            "INFO" => LogLevel::Info,
            "WARNING" | "WARN" => LogLevel::Warning,
            "ERROR" => LogLevel::Error,
            "CRITICAL" => LogLevel::Critical,
            _ => {
                return Err(format!(
                    "{s:?} is not a level (TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL)"
                ));
            }
        })
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<LogLevel, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// When a log file starts afresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rotation {
    Daily,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogOutputType {
    Console,
    File,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogOutput {
    #[serde(rename = "type")]
    pub kind: LogOutputType,
    #[serde(default)]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub rotation: Option<Rotation>,
    #[serde(rename = "retention_days", default, with = "units::days::optional")]
    pub retention: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsSection {
    pub enabled: bool,
    pub exporter: Exporter,
    pub port: u16,
    pub labels: BTreeMap<String, String>,
}

/// How metrics are exported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exporter {
    /// The Prometheus text format on `GET /metrics`.
    #[default]
    Prometheus,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection {
            enabled: true,
            exporter: Exporter::Prometheus,
            port: 9090,
            labels: BTreeMap::new(),
        }
    }
}

/// What Medic knows of the modules it guards: the criticality that module
/// profiles carry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModulesSection {
    pub default_criticality: crate::model::Criticality,
    pub criticality: BTreeMap<String, crate::model::Criticality>,
}

/// How plugins run: a fresh instance per call, or warm instances reused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    #[default]
    Strict,
    Reuse,
}

/// The plugin runtime: Medic's judgement runs as plugins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginsSection {
    /// Extra plugins (`*.wasm`), watched for changes. None: no extra plugins.
    #[serde(with = "units::optional")]
    pub directory: Option<PathBuf>,
    /// Where compiled plugins are cached. None: no cache.
    #[serde(with = "units::optional")]
    pub cache_dir: Option<PathBuf>,
    pub isolation: Isolation,
    /// Wall-clock limit of one plugin call.
    #[serde(rename = "timeout_ms", with = "units::millis")]
    pub timeout: Duration,
    /// Linear-memory limit of one plugin instance.
    pub memory_limit_mb: u64,
    /// Failures in a row after which a plugin is quarantined.
    pub max_consecutive_failures: u32,
    /// In `reuse` mode, calls after which an instance is replaced.
    pub reuse_max_calls: u64,
    /// Instances that may exist at once across all plugins.
    pub max_instances: u32,
    /// Threads that run the plugin calls of kills being decided, off the
    /// async runtime's workers (0: one per core).
    pub threads: u32,
    /// Reload plugins when files in `directory` change.
    pub watch: bool,
    /// Who may sign plugin files (docs/plugins.md, "Shipping a plugin to
    /// production").
    pub trust: TrustSection,
    /// The replay gate before every swap of what judges.
    pub gate: GateSection,
}

/// Before a new plugin version or binding changes the scorer or strategy
/// serving the active phase, it is replayed beside them on the kills whose
/// truth became known in the window; it is refused if it would have
/// revived one known to be a threat, or if it decides otherwise on more
/// than `max_disagreement` of them, unless an admin overrides with a reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateSection {
    pub enabled: bool,
    /// How far back the kills replayed became known.
    #[serde(rename = "window_days", with = "units::days")]
    pub window: Duration,
    /// The largest share of those kills the candidate may decide otherwise.
    pub max_disagreement: f64,
}

impl Default for GateSection {
    fn default() -> Self {
        GateSection {
            enabled: true,
            window: Duration::from_secs(30 * 86_400),
            max_disagreement: 0.2,
        }
    }
}

/// Signed plugins: the public keys whose signatures are trusted, and
/// whether a plugin file without a valid one is refused.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrustSection {
    /// Refuse every plugin file (dropped in `directory` or uploaded) that
    /// has no signature by one of `keys`. Built-in plugins are trusted by
    /// being part of the binary.
    pub require_signature: bool,
    /// Public keys (ECDSA P-256, PEM files) whose signatures are trusted.
    /// With keys and `require_signature` off, a file that has a signature
    /// must still verify; a file without one loads.
    pub keys: Vec<TrustedKey>,
}

/// One trusted signer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    /// What the key is called in logs, audit and listings.
    pub name: String,
    /// Its PEM file (`-----BEGIN PUBLIC KEY-----`).
    pub public_key_file: PathBuf,
}

impl Default for PluginsSection {
    fn default() -> Self {
        PluginsSection {
            directory: None,
            cache_dir: None,
            isolation: Isolation::Strict,
            timeout: Duration::from_millis(50),
            memory_limit_mb: 32,
            max_consecutive_failures: 3,
            reuse_max_calls: 10_000,
            max_instances: 256,
            threads: 0,
            watch: true,
            trust: TrustSection::default(),
            gate: GateSection::default(),
        }
    }
}

/// `config/constitution.yaml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConstitutionFile {
    pub version: String,
    pub phases: BTreeMap<String, PhaseSection>,
    pub constraints: ConstraintsSection,
    /// Phase name → the plugins that judge in that phase.
    pub plugins: BTreeMap<String, PhasePlugins>,
    /// Tunable (a threshold name) → the operators' bounds on a learner's
    /// changes to it. A tunable without an entry is bounded only by the
    /// checks every threshold set passes and `max_adjustment_percent`.
    pub learning_bounds: BTreeMap<String, LearningBound>,
}

/// The operators' bounds on a learner's changes to one tunable. Every field
/// is required: a bound is written out in full or not at all. (Unknown keys
/// are reported by the loader, which sees every section's ignored keys, so
/// one typo does not hide the other problems.)
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearningBound {
    /// The lowest value a learner may set.
    pub floor: f64,
    /// The highest value a learner may set.
    pub ceiling: f64,
    /// The largest change in one run, in the tunable's own units.
    pub max_step: f64,
    /// The fewest outcomes a run must have learned from to change it.
    pub min_samples: u32,
}

impl Default for ConstitutionFile {
    fn default() -> Self {
        ConstitutionFile {
            version: "1.0".into(),
            phases: BTreeMap::new(),
            constraints: ConstraintsSection::default(),
            plugins: BTreeMap::new(),
            learning_bounds: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhaseSection {
    pub enabled: bool,
    pub features: BTreeMap<String, bool>,
    /// For a phase that resurrects alone (semi- and full-automatic): how
    /// many automatic resurrections may go wrong (rolled back, re-killed,
    /// failed) in a sliding window before Medic steps the mode down
    /// (full_auto → semi_auto → manual). None: no automatic demotion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_budget: Option<ErrorBudget>,
}

/// An acting phase's error budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBudget {
    /// Automatic resurrections gone wrong that burn the budget.
    pub max_failures: u32,
    /// The sliding window they are counted in.
    #[serde(rename = "window_minutes", with = "units::minutes")]
    pub window: Duration,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConstraintsSection {
    pub max_auto_resurrections_per_hour: u32,
    pub require_human_review_for_critical: bool,
    pub blacklisted_modules: Vec<String>,
    pub always_require_approval: Vec<String>,
}

impl Default for ConstraintsSection {
    fn default() -> Self {
        ConstraintsSection {
            max_auto_resurrections_per_hour: 10,
            require_human_review_for_critical: true,
            blacklisted_modules: Vec::new(),
            always_require_approval: Vec::new(),
        }
    }
}

/// The plugin of each kind that judges in one phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhasePlugins {
    pub risk_scorer: PluginBinding,
    pub strategy: PluginBinding,
    pub threshold_learner: PluginBinding,
    /// A candidate judging every live kill beside these, off the kill's
    /// path, its would-be decisions recorded, never acted on
    /// (docs/plugins.md, "Shipping a plugin to production").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowPlugins>,
}

/// The scorer and strategy of a shadow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowPlugins {
    pub risk_scorer: PluginBinding,
    pub strategy: PluginBinding,
}

/// A plugin by name, optionally pinned to the sha256 of its `.wasm`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginBinding {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}
