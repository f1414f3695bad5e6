//! Medic: decides, through sandboxed WebAssembly plugins, whether a service
//! killed by Smith should come back.
//!
//! | module | what lives there |
//! |---|---|
//! | [`config`] | configuration files: raw serde structs, loading, validation |
//! | [`model`] | the spec §2 data model |
//! | [`plugin`] | the plugin host: bindings, sandboxed runtime, registry, hot swap |
//! | [`cli`] | command-line definitions |

pub mod cli;
pub mod commands;
pub mod config;
pub mod model;
pub mod plugin;
pub mod telemetry;
