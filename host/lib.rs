//! Medic: decides, through sandboxed WebAssembly plugins, whether a service
//! killed by Smith should come back. The engine, the API and the command
//! live in this crate; the crates it builds on are re-exported under the
//! module names the code uses (docs/ARCHITECTURE.md).
//!
//! | module | what lives there |
//! |---|---|
//! | [`config`] | crate `medic-config` (`host/config/`): configuration files, raw serde structs, loading, validation |
//! | [`model`] | crate `medic-model` (`host/model/`): the data model (docs/reference/data-model.md) |
//! | [`authoring`] | `medic plugin new`: plugin projects in Rust, Python and JavaScript |
//! | [`plugin`] | crate `medic-plugin-host` (`host/plugin/`): bindings, sandboxed runtime, registry, hot swap |
//! | [`ingest`] | kills in: Redis stream consumer, wire formats, validation |
//! | [`enrich`] | SIEM context: rest (retry, breaker, cache), file, none |
//! | [`event_bus`] | the connection to Smith's event bus (Redis), for ingest and the veto |
//! | [`decide`] | one kill's story: enrich, profile, score, decide, guardrails, store |
//! | [`engine`] | the composition root: builds the stages and hands each what it needs |
//! | [`guardrails`] | the host's last word over the strategy |
//! | [`fleet`] | each module's state: recent kills, outcome counts, cooldowns, the resurrection under way |
//! | [`approve`] | the approval queue: decisions waiting for a human |
//! | [`execute`] | resurrection: workflow state machine, backends, health checks, Smith veto |
//! | [`learn`] | thresholds learned from outcomes (bounded, audited, revertible); patterns; the weekly report |
//! | [`monitor`] | watching a resurrected module; anomaly score and rollback |
//! | [`store`] | crate `medic-store` (`host/store/`): kills, decisions, audit log, dead letters, queue, requests, outcomes, calibration |
//! | [`publish`] | decisions out to Redis |
//! | [`api`] | HTTP: ingest, reports, health, metrics; serving over TLS |
//! | [`tls`] | (in `medic-config`) the API's TLS identity: PEM certificate chain and key → rustls config |
//! | [`replay`] | recordings, `simulate`, and replaying strategies against them |
//! | [`report`] | the daily report |
//! | [`loadtest`] | throughput and latency from Redis to durable decision |
//! | [`telemetry`] | crate `medic-telemetry` (`host/telemetry/`): logging, counters, histograms |
//! | [`sync`], [`wire`], [`wire_time`] | (in `medic-model`) locking that outlives a panic elsewhere; wire names; wire times |
//! | [`html`] | self-contained HTML report pieces (escaping, SVG bars) |
//! | [`http_client`] | outgoing HTTP clients (timeouts, extra CA) |
//! | [`cli`], [`commands`] | the `medic` command |

// Crates by role (host/<crate>/), under the module names the code uses.
pub use medic_config::{self as config, tls};
pub use medic_model::{self as model, sync, wire, wire_time};
pub use medic_plugin_host as plugin;
pub use medic_store as store;
pub use medic_telemetry as telemetry;

pub mod api;
pub mod approve;
pub mod authoring;
pub mod cli;
pub mod commands;
pub mod decide;
pub mod engine;
pub mod enrich;
pub mod event_bus;
pub mod execute;
pub mod fleet;
pub mod guardrails;
pub mod html;
pub mod http_client;
pub mod ingest;
pub mod learn;
pub mod loadtest;
pub mod monitor;
pub mod publish;
pub mod replay;
pub mod report;
