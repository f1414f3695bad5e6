//! Medic: decides, through sandboxed WebAssembly plugins, whether a service
//! killed by Smith should come back. The command lives in this crate; the
//! crates it builds on (the engine, the API, …) are re-exported under the
//! module names the code uses (docs/ARCHITECTURE.md).
//!
//! | module | what lives there |
//! |---|---|
//! | [`config`] | crate `medic-config` (`host/config/`): configuration files, raw serde structs, loading, validation |
//! | [`model`] | crate `medic-model` (`host/model/`): the data model (docs/reference/data-model.md) |
//! | [`authoring`] | `medic plugin new`: plugin projects in Rust, Python and JavaScript |
//! | [`plugin`] | crate `medic-plugin-host` (`host/plugin/`): bindings, sandboxed runtime, registry, hot swap |
//! | [`ingest`] | (in `medic-engine`) kills in: Redis stream consumer, wire formats, validation |
//! | [`enrich`] | (in `medic-engine`) SIEM context: rest (retry, breaker, cache), file, none |
//! | [`event_bus`] | (in `medic-engine`) the connection to Smith's event bus (Redis), for ingest and the veto |
//! | [`decide`] | (in `medic-engine`) one kill's story: enrich, profile, score, decide, guardrails, store |
//! | [`engine`] | (in `medic-engine`) the composition root: builds the stages and hands each what it needs |
//! | [`guardrails`] | (in `medic-engine`) the host's last word over the strategy |
//! | [`fleet`] | (in `medic-engine`) each module's state: recent kills, outcome counts, cooldowns, the resurrection under way |
//! | [`approve`] | (in `medic-engine`) the approval queue: decisions waiting for a human |
//! | [`changes`] | (in `medic-engine`) changes made through another replica sharing the store, applied here |
//! | [`execute`] | (in `medic-engine`) resurrection: workflow state machine, backends, health checks, Smith veto |
//! | [`learn`] | (in `medic-engine`) thresholds learned from outcomes (bounded, audited, revertible); patterns; the weekly report |
//! | [`monitor`] | (in `medic-engine`) watching a resurrected module; anomaly score and rollback |
//! | [`store`] | crate `medic-store` (`host/store/`): kills, decisions, audit log, dead letters, queue, requests, outcomes, calibration |
//! | [`publish`] | (in `medic-engine`) decisions out to Redis |
//! | [`api`] | crate `medic-api` (`host/api/`): HTTP: ingest, reports, health, metrics, the console, OpenAPI; serving over TLS |
//! | [`tls`] | (in `medic-config`) the API's TLS identity: PEM certificate chain and key → rustls config |
//! | [`replay`] | recordings, `simulate`, and replaying strategies against them |
//! | [`report`] | (in `medic-engine`) the daily report |
//! | [`retention`] | (in `medic-engine`) the store's retention sweep in `medic serve` |
//! | [`progress`] | progress of long commands on a terminal (quiet when piped) |
//! | [`loadtest`] | throughput and latency from Redis to durable decision |
//! | [`telemetry`] | crate `medic-telemetry` (`host/telemetry/`): logging, counters, histograms |
//! | [`wire`], [`wire_time`] | (in `medic-model`) wire names; wire times |
//! | [`html`] | (in `medic-engine`) self-contained HTML report pieces (escaping, SVG bars) |
//! | [`http_client`] | (in `medic-engine`) outgoing HTTP clients (timeouts, extra CA) |
//! | [`cli`], [`commands`] | the `medic` command |

// Crates by role (host/<crate>/), under the module names the code uses.
pub use medic_api as api;
pub use medic_config::{self as config, tls};
pub use medic_engine::{
    approve, changes, decide, engine, enrich, event_bus, events, execute, fleet, guardrails, html,
    http_client, ingest, learn, monitor, publish, report, retention, shadow,
};
pub use medic_model::{self as model, wire, wire_time};
pub use medic_plugin_host as plugin;
pub use medic_store as store;
pub use medic_telemetry as telemetry;

pub mod authoring;
pub mod cli;
pub mod commands;
pub mod loadtest;
pub mod progress;
pub mod replay;
