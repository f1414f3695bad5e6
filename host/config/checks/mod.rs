//! Each section of `medic.yaml` checks itself: the ranges, orderings and
//! names its settings must have, every problem recorded with its key path
//! (`validate::Checker`). `validate::check_medic` runs them all; the checks
//! across the two files stay in `validate`.

mod interfaces;
mod judgement;
mod learning;
mod observability;
mod plugins;
mod resurrection;
mod siem;
mod smith;
