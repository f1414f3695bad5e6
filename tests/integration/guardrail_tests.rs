//! Each constitution constraint and guardrail, on real decisions through the
//! built-in plugins.

use medic::decide::{Decider, Handled};
use medic::model::{ContextStatus, Decision, DecisionOutcome, KillReason, RiskLevel, Severity};
use medic_plugin_logic::values::names;

use crate::pipeline_support::*;

fn intel() -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), LOW_RISK_INTEL).unwrap();
    f
}

/// Makes `name` the strategy that judges in the semi-auto phase.
fn bind_semi_auto_strategy(config: &mut medic::config::Config, name: &str) {
    let phase = config
        .constitution
        .plugins
        .get_mut("phase_3_semi_auto")
        .expect("semi-auto bindings");
    phase.strategy.name = name.into();
}

fn outcome(h: &Handled) -> DecisionOutcome {
    h.decision().outcome
}

/// Intel under which the `balanced` strategy denies kills of `modules`.
fn threat_intel_file(modules: &[&str]) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), threat_intel(modules)).unwrap();
    f
}

/// A kill Smith is sure of: with threat intel it scores critical.
async fn decide_severe(d: &Decider, kill_id: &str, module: &str) -> Handled {
    let mut k = kill(kill_id, module);
    k.severity = Severity::Critical;
    k.kill_reason = KillReason::ThreatDetected;
    k.confidence_score = 0.95;
    d.handle(incoming(k)).await.expect("handled")
}

/// The strategy denied; the guardrail `guardrail` sent it to a human, who
/// sees the strategy's deny as its recommendation.
fn assert_deny_sent_to_review(dec: &Decision, guardrail: &str) {
    assert_eq!(
        dec.strategy_outcome,
        Some(DecisionOutcome::Deny),
        "{dec:#?}"
    );
    assert_eq!(dec.outcome, DecisionOutcome::PendingReview, "{dec:#?}");
    assert!(dec.requires_human_review);
    assert_eq!(dec.guardrails, [guardrail]);
    assert_eq!(
        dec.recommended_action,
        format!("queue {} for human review", dec.target_module)
    );
    let advice = format!(
        "strategy recommended deny: keep {} down and investigate",
        dec.target_module
    );
    assert!(
        dec.reasoning.iter().any(|r| r == &advice),
        "{:#?}",
        dec.reasoning
    );
}

#[tokio::test]
async fn a_low_risk_kill_is_auto_approved_when_everything_allows_it() {
    let intel = intel();
    let d = decider_with(semi_auto(intel.path(), 10), None);
    let h = decide(&d, "k-ok", "report-renderer").await;
    let dec = h.decision();
    assert_eq!(
        dec.outcome,
        DecisionOutcome::ApproveAuto,
        "{:#?}",
        dec.reasoning
    );
    assert!(dec.guardrails.is_empty());
    assert!(dec.auto_approve_eligible);
    assert_eq!(dec.context_status, ContextStatus::Ok);
    assert_eq!(dec.strategy.name, "balanced");
    assert!(
        !dec.executed,
        "a decider with no resurrector attached only records"
    );
}

#[tokio::test]
async fn blacklisted_modules_are_denied() {
    let intel = intel();
    let mut config = semi_auto(intel.path(), 10);
    config.constitution.constraints.blacklisted_modules = vec!["legacy-ftp".into()];
    let d = decider_with(config, None);
    let h = decide(&d, "k-bl", "legacy-ftp").await;
    assert_eq!(outcome(&h), DecisionOutcome::Deny);
    assert_eq!(h.decision().guardrails, ["blacklisted"]);
    assert!(
        h.decision()
            .reasoning
            .iter()
            .any(|r| r.contains("blacklisted"))
    );
    // The action follows the outcome, not the strategy's approval, which
    // stays visible.
    assert_eq!(
        h.decision().recommended_action,
        "keep legacy-ftp down and investigate"
    );
    assert_eq!(
        h.decision().strategy_outcome,
        Some(DecisionOutcome::ApproveAuto)
    );
    assert!(
        h.decision()
            .reasoning
            .iter()
            .any(|r| r == "strategy recommended approve_auto: resurrect legacy-ftp and monitor it"),
        "{:?}",
        h.decision().reasoning
    );
}

#[tokio::test]
async fn a_blacklisted_module_stays_denied_whatever_else_applies() {
    // Critical, always requiring approval and denied by the strategy: the
    // operator's blacklist still has the last word.
    let intel = threat_intel_file(&["auth-service"]);
    let mut config = semi_auto(intel.path(), 10);
    config.constitution.constraints.blacklisted_modules = vec!["auth-service".into()];
    let d = decider_with(config, None);
    let h = decide(&d, "k-bl-auth", "auth-service").await;
    let dec = h.decision();
    assert_eq!(dec.outcome, DecisionOutcome::Deny, "{:#?}", dec.reasoning);
    assert_eq!(dec.strategy_outcome, Some(DecisionOutcome::Deny));
    assert_eq!(dec.guardrails, ["blacklisted"]);
    assert!(!dec.requires_human_review);
    assert_eq!(
        dec.recommended_action,
        "keep auth-service down and investigate"
    );
}

#[tokio::test]
async fn always_require_approval_modules_go_to_a_human() {
    let intel = intel();
    let mut config = semi_auto(intel.path(), 10);
    // balanced would already refuse (it sees the flag in the profile); the
    // aggressive strategy shows the host's own guardrail too.
    bind_semi_auto_strategy(&mut config, "aggressive");
    config.medic.modules.criticality.remove("payment-processor");
    let d = decider_with(config, None);
    let h = decide(&d, "k-pay", "payment-processor").await;
    assert_eq!(outcome(&h), DecisionOutcome::PendingReview);
    assert!(h.decision().requires_human_review);
}

#[tokio::test]
async fn an_always_require_approval_module_is_never_denied_without_a_human() {
    let intel = threat_intel_file(&["data-pipeline"]);
    let mut config = semi_auto(intel.path(), 10);
    // Not critical either way: only the approval list sends it to a human.
    config
        .constitution
        .constraints
        .require_human_review_for_critical = false;
    let d = decider_with(config, None);
    let h = decide_severe(&d, "k-dp", "data-pipeline").await;
    let dec = h.decision();
    assert_deny_sent_to_review(dec, "always_require_approval");
    assert!(
        dec.reasoning.iter().any(|r| r
            == "guardrail always_require_approval: data-pipeline always requires approval: never denied for good without a human"),
        "{:#?}",
        dec.reasoning
    );
}

#[tokio::test]
async fn critical_modules_need_review_when_the_constitution_says_so() {
    let intel = intel();
    let mut config = semi_auto(intel.path(), 10);
    bind_semi_auto_strategy(&mut config, "aggressive");
    config
        .medic
        .modules
        .criticality
        .insert("ledger".into(), medic::model::Criticality::Critical);
    let d = decider_with(config.clone(), None);
    let h = decide(&d, "k-ledger", "ledger").await;
    assert_eq!(
        outcome(&h),
        DecisionOutcome::PendingReview,
        "{:?}",
        h.decision().reasoning
    );
    assert_eq!(h.decision().guardrails, ["critical_review"]);
    assert_eq!(
        h.decision().recommended_action,
        "queue ledger for human review"
    );
    assert!(
        h.decision()
            .reasoning
            .iter()
            .any(|r| r == "strategy recommended approve_auto: resurrect ledger and monitor it"),
        "{:?}",
        h.decision().reasoning
    );

    config
        .constitution
        .constraints
        .require_human_review_for_critical = false;
    let d = decider_with(config, None);
    let h = decide(&d, "k-ledger-2", "ledger").await;
    assert_ne!(h.decision().guardrails, ["critical_review"]);
}

#[tokio::test]
async fn a_deny_for_a_critical_module_goes_to_a_human() {
    let intel = threat_intel_file(&["ledger"]);
    let mut config = semi_auto(intel.path(), 10);
    config
        .medic
        .modules
        .criticality
        .insert("ledger".into(), medic::model::Criticality::Critical);
    let d = decider_with(config.clone(), None);
    let h = decide(&d, "k-ledger-deny", "ledger").await;
    let dec = h.decision();
    // High risk with a strong indicator: the module, not the risk, is critical.
    assert_eq!(dec.risk_level, RiskLevel::High, "{:#?}", dec.reasoning);
    assert_deny_sent_to_review(dec, "critical_review");

    // Without the constitution's requirement the strategy's deny stands.
    config
        .constitution
        .constraints
        .require_human_review_for_critical = false;
    let d = decider_with(config, None);
    let h = decide(&d, "k-ledger-deny-2", "ledger").await;
    let dec = h.decision();
    assert_eq!(dec.outcome, DecisionOutcome::Deny, "{:#?}", dec.reasoning);
    assert!(dec.guardrails.is_empty(), "{:?}", dec.guardrails);
    assert!(!dec.requires_human_review);
    assert_eq!(dec.recommended_action, "keep ledger down and investigate");
    assert!(
        !dec.reasoning
            .iter()
            .any(|r| r.starts_with("strategy recommended")),
        "the strategy was followed: {:?}",
        dec.reasoning
    );
}

#[tokio::test]
async fn a_deny_at_critical_risk_goes_to_a_human() {
    let intel = threat_intel_file(&["billing"]);
    let d = decider_with(semi_auto(intel.path(), 10), None);
    let h = decide_severe(&d, "k-billing", "billing").await;
    let dec = h.decision();
    assert_eq!(dec.risk_level, RiskLevel::Critical, "{:#?}", dec.reasoning);
    assert_deny_sent_to_review(dec, "critical_review");
}

/// Semi-auto with the `aggressive` strategy, which does not read
/// `auto_approve.min_confidence` itself: only the host's gate does.
fn aggressive_config(intel: &std::path::Path) -> medic::config::Config {
    let mut config = semi_auto(intel, 10);
    bind_semi_auto_strategy(&mut config, "aggressive");
    config
}

/// Puts `name = value` in the thresholds in force, as the learner or an
/// operator does.
fn set_in_force(d: &Decider, name: &str, value: f64) {
    let mut t = (*d.registry.thresholds()).clone();
    t.insert(name.to_string(), value);
    d.registry.set_thresholds(t);
}

#[tokio::test]
async fn a_lowered_min_confidence_in_force_lets_a_kill_through() {
    let intel = intel();
    let mut config = aggressive_config(intel.path());
    config.medic.decision.auto_approve.min_confidence = 0.95;
    let d = decider_with(config, None);
    let h = decide(&d, "k-held", "renderer-1").await;
    assert_eq!(outcome(&h), DecisionOutcome::PendingReview);
    assert_eq!(h.decision().guardrails, ["auto_approve_confidence"]);

    set_in_force(&d, names::AUTO_APPROVE_MIN_CONFIDENCE, 0.5);
    let h = decide(&d, "k-through", "renderer-2").await;
    let dec = h.decision();
    assert_eq!(
        dec.outcome,
        DecisionOutcome::ApproveAuto,
        "{:#?}",
        dec.reasoning
    );
    assert!(dec.guardrails.is_empty());
    assert_eq!(
        dec.recommended_action,
        "resurrect renderer-2 and monitor it"
    );
}

#[tokio::test]
async fn a_raised_min_confidence_in_force_holds_a_kill_back() {
    let intel = intel();
    let d = decider_with(aggressive_config(intel.path()), None);
    let h = decide(&d, "k-passes", "renderer-1").await;
    assert_eq!(outcome(&h), DecisionOutcome::ApproveAuto);

    set_in_force(&d, names::AUTO_APPROVE_MIN_CONFIDENCE, 0.99);
    let h = decide(&d, "k-held-back", "renderer-2").await;
    let dec = h.decision();
    assert_eq!(dec.outcome, DecisionOutcome::PendingReview);
    assert_eq!(dec.guardrails, ["auto_approve_confidence"]);
    assert!(
        dec.reasoning
            .iter()
            .any(|r| r.contains("below auto_approve.min_confidence 0.99")),
        "{:#?}",
        dec.reasoning
    );
    assert_eq!(dec.recommended_action, "queue renderer-2 for human review");
}

#[tokio::test]
async fn a_risk_score_above_the_limit_in_force_is_not_auto_approved() {
    let intel = intel();
    let d = decider_with(aggressive_config(intel.path()), None);
    set_in_force(&d, names::AUTO_APPROVE_MAX_RISK_SCORE, 0.01);
    let h = decide(&d, "k-score", "renderer-1").await;
    let dec = h.decision();
    assert_eq!(dec.strategy_outcome, Some(DecisionOutcome::ApproveAuto));
    assert_eq!(dec.outcome, DecisionOutcome::PendingReview);
    assert_eq!(dec.guardrails, ["auto_approve_risk"]);
    assert!(
        dec.reasoning
            .iter()
            .any(|r| r.contains("above auto_approve.max_risk_score 0.01")),
        "{:#?}",
        dec.reasoning
    );
}

#[tokio::test]
async fn the_hourly_cap_holds_under_a_burst() {
    let intel = intel();
    let d = decider_with(semi_auto(intel.path(), 5), None);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            decide(&d, &format!("burst-{i}"), &format!("svc-{i}")).await
        }));
    }
    let mut approved = 0;
    let mut capped = 0;
    for t in tasks {
        let h = t.await.unwrap();
        match outcome(&h) {
            DecisionOutcome::ApproveAuto => approved += 1,
            DecisionOutcome::PendingReview if h.decision().guardrails == ["hourly_cap"] => {
                capped += 1
            }
            other => panic!("unexpected {other:?}: {:?}", h.decision().reasoning),
        }
    }
    assert_eq!(approved, 5);
    assert_eq!(capped, 35);
}

#[tokio::test]
async fn the_default_configuration_never_auto_approves() {
    // Observer mode, auto-approval off, phase 3 off: secure by default.
    let d = decider_with(medic::config::Config::embedded().unwrap(), None);
    let h = decide(&d, "k-default", "report-renderer").await;
    assert_ne!(outcome(&h), DecisionOutcome::ApproveAuto);
    assert!(
        h.decision()
            .reasoning
            .iter()
            .any(|r| r.contains("observer mode"))
    );
    assert_eq!(h.decision().context_status, ContextStatus::Disabled);
}

#[tokio::test]
async fn a_kill_is_never_decided_twice() {
    let intel = intel();
    let d = decider_with(semi_auto(intel.path(), 10), None);
    let kill = kill("k-dup", "svc");
    let first = d.handle(incoming(kill.clone())).await.unwrap();
    // The same kill delivered again.
    let again = d.handle(incoming(kill)).await.unwrap();
    assert!(matches!(again, Handled::Duplicate(_)));
    assert_eq!(first.decision().decision_id, again.decision().decision_id);
    assert_eq!(d.store.decision_count(), 1);
}

#[tokio::test]
async fn a_failing_plugin_sends_the_kill_to_review_with_the_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::support::wasm("hostile-wasi"),
        dir.path().join("wasi.wasm"),
    )
    .unwrap();
    let intel = intel();
    let mut config = semi_auto(intel.path(), 10);
    config.medic.plugins.directory = Some(dir.path().to_path_buf());
    config.medic.plugins.watch = false;
    bind_semi_auto_strategy(&mut config, "hostile-wasi");
    let d = decider_with(config, None);
    let mut k = kill("k-fail", "svc");
    k.metadata
        .insert("attempt".into(), serde_json::json!("file"));
    let h = d.handle(incoming(k)).await.unwrap();
    let dec = h.decision();
    assert_eq!(dec.outcome, DecisionOutcome::PendingReview);
    assert_eq!(dec.guardrails, ["plugin_error"]);
    assert!(
        dec.reasoning.iter().any(|r| r.contains("wasi:filesystem")),
        "{:?}",
        dec.reasoning
    );
}
