//! Medic's engine: the forward pass of a kill, from ingest to learning, and
//! the composition root that builds it ([`engine::Engine`]). The `medic`
//! crate re-exports each module under its own name (`medic::decide` is
//! `medic_engine::decide`); the API (`medic-api`) builds on this crate,
//! never the reverse (docs/ARCHITECTURE.md).
//!
//! | module | what lives there |
//! |---|---|
//! | [`ingest`] | kills in: Redis stream consumer, wire formats, validation |
//! | [`enrich`] | SIEM context: rest (retry, breaker, cache), file, none |
//! | [`event_bus`] | the connection to Smith's event bus (Redis), for ingest and the veto |
//! | [`events`] | what Medic publishes on the events stream, one type per kind of event |
//! | [`decide`] | one kill's story: enrich, profile, score, decide, guardrails, store |
//! | [`engine`] | the composition root: builds the stages and hands each what it needs |
//! | [`guardrails`] | the host's last word over the strategy |
//! | [`fleet`] | each module's state: recent kills, outcome counts, cooldowns, the resurrection under way |
//! | [`approve`] | the approval queue: decisions waiting for a human |
//! | [`changes`] | changes made through another replica sharing the store (bindings, thresholds, mode), applied here |
//! | [`execute`] | resurrection: workflow state machine, backends, health checks, Smith veto |
//! | [`monitor`] | watching a resurrected module; anomaly score and rollback |
//! | [`learn`] | thresholds learned from outcomes (bounded, audited, revertible); patterns; the weekly report |
//! | [`publish`] | decisions out to Redis |
//! | [`report`] | the daily report |
//! | [`retention`] | the store's retention sweep (`learning.database.retention_days`) |
//! | [`shadow`] | a shadow scorer and strategy judging live kills beside the plugins in force; its record joined with what happened |
//! | [`html`] | self-contained HTML report pieces (escaping, SVG bars) |
//! | [`http_client`] | outgoing HTTP clients (timeouts, extra CA) |

// The modules of the crates below, under the names the code uses.
use medic_config as config;
use medic_model as model;
use medic_plugin_host as plugin;
use medic_store as store;
use medic_telemetry as telemetry;

pub mod approve;
pub mod backoff;
pub mod changes;
pub mod decide;
pub mod engine;
pub mod enrich;
pub mod event_bus;
pub mod events;
pub mod execute;
pub mod fleet;
pub mod guardrails;
pub mod html;
pub mod http_client;
pub mod ingest;
pub mod learn;
pub mod monitor;
pub mod publish;
pub mod report;
pub mod retention;
pub mod shadow;
