//! The judgement of Medic's built-in plugins as plain Rust.
//!
//! The same code runs inside the built-in WebAssembly plugins (through the
//! guest SDK's conversions) and natively in the host's benchmarks, so "WASM vs
//! native" compares one logic. Everything here is a pure function of its
//! inputs: no clock, no randomness, no I/O.

pub mod evidence;
#[cfg(test)]
mod fixtures;
pub mod learner;
pub mod scoring;
pub mod stats;
pub mod strategies;
pub mod types;
pub mod values;

pub use types::*;
