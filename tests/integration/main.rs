//! Medic's integration tests: one binary, a module per area.

mod builtin_plugins;
mod cli;
mod config_files;
mod hostile_plugins;
mod hot_swap;
mod isolation;
mod support;
