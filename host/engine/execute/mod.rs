//! Acting on decisions: the resurrection workflow and its state machine, the
//! backends that bring modules back, health checks, and the Smith veto
//! protocol.

pub mod backend;
pub mod command;
pub mod health;
mod negotiate;
mod outcome;
pub mod process;
pub mod resurrector;
pub mod template;
pub mod veto;
pub mod webhook;
pub mod workflow;

pub use backend::{Backend, BackendError, Backends};
pub use resurrector::{Links, Refusal, Resurrector};
pub use template::Target;
