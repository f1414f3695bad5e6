//! Medic: decides, through sandboxed WebAssembly plugins, whether a service
//! killed by Smith should come back.
//!
//! | module | what lives there |
//! |---|---|
//! | [`config`] | configuration files: raw serde structs, loading, validation |
//! | [`model`] | the data model (docs/reference/data-model.md) |
//! | [`authoring`] | `medic plugin new`: plugin projects in Rust, Python and JavaScript |
//! | [`plugin`] | the plugin host: bindings, sandboxed runtime, registry, hot swap |
//! | [`ingest`] | kills in: Redis stream consumer, wire formats, validation |
//! | [`enrich`] | SIEM context: rest (retry, breaker, cache), file, none |
//! | [`event_bus`] | the connection to Smith's event bus (Redis), for ingest and the veto |
//! | [`decide`] | one kill's story: enrich, profile, score, decide, guardrails, store |
//! | [`guardrails`] | the host's last word over the strategy |
//! | [`approve`] | the approval queue: decisions waiting for a human |
//! | [`execute`] | resurrection: workflow state machine, backends, health checks, Smith veto |
//! | [`learn`] | thresholds learned from outcomes (bounded, audited, revertible); patterns; the weekly report |
//! | [`monitor`] | watching a resurrected module; anomaly score and rollback |
//! | [`store`] | sled: kills, decisions, audit log, dead letters, queue, requests, outcomes |
//! | [`publish`] | decisions out to Redis |
//! | [`api`] | HTTP: ingest, reports, health, metrics; serving over TLS |
//! | [`tls`] | the API's TLS identity: PEM certificate chain and key → rustls config |
//! | [`replay`] | recordings, `simulate`, and replaying strategies against them |
//! | [`report`] | the daily report |
//! | [`loadtest`] | throughput and latency from Redis to durable decision |
//! | [`telemetry`] | logging and counters |
//! | [`sync`] | locking that outlives a panic elsewhere |
//! | [`html`] | self-contained HTML report pieces (escaping, SVG bars) |
//! | [`http_client`] | outgoing HTTP clients (timeouts, extra CA) |
//! | [`cli`], [`commands`] | the `medic` command |

pub mod api;
pub mod approve;
pub mod authoring;
pub mod cli;
pub mod commands;
pub mod config;
pub mod decide;
pub mod enrich;
pub mod event_bus;
pub mod execute;
pub mod guardrails;
pub mod html;
pub mod http_client;
pub mod ingest;
pub mod learn;
pub mod loadtest;
pub mod model;
pub mod monitor;
pub mod plugin;
pub mod publish;
pub mod replay;
pub mod report;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod tls;
pub mod wire;
pub mod wire_time;
