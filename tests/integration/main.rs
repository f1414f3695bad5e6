//! Medic's integration tests: one binary, a module per area.

mod acting_inprocess;
mod acting_support;
mod acting_workflow;
mod api_routes;
mod authoring;
mod backends;
mod builtin_plugins;
mod cli;
mod config_files;
mod guardrail_tests;
mod hostile_plugins;
mod hot_swap;
mod http_ingest;
mod isolation;
mod learning;
mod learning_e2e;
mod medic_process;
mod pipeline_support;
mod redis_pipeline;
mod redis_server;
mod replay_tests;
mod resurrection_e2e;
mod siem_file;
mod siem_rest;
mod support;
mod test_pki;
