//! The built-in plugins, loaded from their real `.wasm` files, judged on
//! fixture kills, and compared with the same logic compiled natively.

use medic::model::{DecisionOutcome, PluginKind, RiskLevel};
use medic::plugin::sandbox::accepts_contract_import;
use medic::plugin::{DecideRequest, LearnRequest, golden, native};

use crate::support::*;

#[test]
fn each_builtin_loads_from_its_wasm_and_describes_itself() {
    let config = default_config();
    for (name, kind) in [
        ("weighted", PluginKind::RiskScorer),
        ("conservative", PluginKind::Strategy),
        ("balanced", PluginKind::Strategy),
        ("aggressive", PluginKind::Strategy),
        ("bounded", PluginKind::ThresholdLearner),
        ("evidence", PluginKind::RiskScorer),
        ("pessimistic", PluginKind::Strategy),
        ("calibrated", PluginKind::ThresholdLearner),
    ] {
        let p = load(&config, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.name(), name);
        assert_eq!(kind_of(&p), kind);
        assert_eq!(p.sha256().len(), 64);
        assert!(!p.info().description.is_empty());
        // Built as core modules and made components at build time: they
        // import the contract and nothing else, so a fresh instance has no
        // WASI stubs to link (host/plugin/build.rs).
        assert!(
            p.imports().iter().all(|i| accepts_contract_import(i)),
            "{name} imports {:?}",
            p.imports()
        );
    }
}

#[test]
fn weighted_scores_fixture_kills_with_a_factor_breakdown() {
    let config = default_config();
    let t = thresholds(&config);
    let scorer = load(&config, "weighted").unwrap();

    let low = case("low-risk");
    let profile = low.profile_or_default();
    let r = scorer.score(&request(&low, &profile, &t)).unwrap();
    assert!(r.level <= RiskLevel::Low, "{r:?}");
    let names: Vec<_> = r.factors.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "smith_confidence",
            "siem_risk_score",
            "false_positive_history",
            "module_criticality",
            "time_of_day"
        ]
    );
    let sum: f64 = r.factors.iter().map(|f| f.contribution).sum();
    assert!((sum - r.score).abs() < 1e-9);

    let crit = case("critical-threat");
    let profile = crit.profile_or_default();
    let r = scorer.score(&request(&crit, &profile, &t)).unwrap();
    assert_eq!(r.level, RiskLevel::Critical, "{r:?}");
}

fn verdict_for(strategy: &str, case_name: &str) -> medic::model::Verdict {
    let config = default_config();
    let t = thresholds(&config);
    let scorer = load(&config, "weighted").unwrap();
    let strat = load(&config, strategy).unwrap();
    let c = case(case_name);
    let profile = c.profile_or_default();
    let req = request(&c, &profile, &t);
    let risk = scorer.score(&req).unwrap();
    strat.decide(&DecideRequest::new(req, &risk)).unwrap()
}

#[test]
fn conservative_sends_everything_to_a_human() {
    for c in [
        "low-risk",
        "critical-threat",
        "always-approve-module",
        "cascade",
        "no-context",
    ] {
        let v = verdict_for("conservative", c);
        assert_eq!(v.outcome, DecisionOutcome::PendingReview, "{c}");
        assert!(
            v.reasoning.iter().any(|r| r.contains("conservative")),
            "{c}: {:?}",
            v.reasoning
        );
    }
}

#[test]
fn balanced_decides_each_fixture_as_documented() {
    assert_eq!(
        verdict_for("balanced", "low-risk").outcome,
        DecisionOutcome::ApproveAuto
    );
    let crit = verdict_for("balanced", "critical-threat");
    assert_eq!(crit.outcome, DecisionOutcome::Deny);
    assert!(
        crit.reasoning.iter().any(|r| r.contains("critical risk")),
        "{:?}",
        crit.reasoning
    );
    let always = verdict_for("balanced", "always-approve-module");
    assert_eq!(always.outcome, DecisionOutcome::PendingReview);
    assert!(
        always
            .reasoning
            .iter()
            .any(|r| r.contains("always requires approval")),
        "{:?}",
        always.reasoning
    );
    let cascade = verdict_for("balanced", "cascade");
    assert!(
        cascade
            .constraints
            .iter()
            .any(|c| c.contains("pdf-renderer") && c.contains("mailer")),
        "{:?}",
        cascade.constraints
    );
    let none = verdict_for("balanced", "no-context");
    assert_ne!(
        none.outcome,
        DecisionOutcome::ApproveAuto,
        "never auto-approve without context"
    );
}

#[test]
fn aggressive_approves_more_but_still_denies_critical() {
    assert_eq!(
        verdict_for("aggressive", "low-risk").outcome,
        DecisionOutcome::ApproveAuto
    );
    assert_eq!(
        verdict_for("aggressive", "cascade").outcome,
        DecisionOutcome::ApproveAuto
    );
    assert_eq!(
        verdict_for("aggressive", "critical-threat").outcome,
        DecisionOutcome::Deny
    );
    assert_eq!(
        verdict_for("aggressive", "always-approve-module").outcome,
        DecisionOutcome::PendingReview
    );
}

#[test]
fn bounded_learner_proposes_bounded_adjustments_and_nothing_below_min_samples() {
    let config = default_config();
    let t = thresholds(&config);
    let learner = load(&config, "bounded").unwrap();
    let settings = medic::plugin::learner_settings_from_config(&config);
    let samples = golden::learner_samples();
    let now = chrono::Utc::now();
    let adj = learner
        .learn(&LearnRequest {
            thresholds: &t,
            samples: &samples,
            settings: &settings,
            now,
        })
        .unwrap();
    assert!(!adj.is_empty());
    for a in &adj {
        let step = (a.new_value - a.old_value).abs() / a.old_value * 100.0;
        assert!(step <= 10.0 + 1e-9, "{a:?}");
        assert!(!a.reason.is_empty());
    }
    let low = adj
        .iter()
        .find(|a| a.name == "risk.low")
        .expect("the failing low band is adjusted");
    assert!(low.new_value < low.old_value);

    let few = &samples[..20];
    let adj = learner
        .learn(&LearnRequest {
            thresholds: &t,
            samples: few,
            settings: &settings,
            now,
        })
        .unwrap();
    assert!(adj.is_empty(), "fewer than min_samples: {adj:?}");
}

/// The evidence scorer and the pessimistic strategy, from their `.wasm`,
/// judge every golden kill exactly as their logic does natively, with and
/// without a history of human verdicts for the module.
#[test]
fn evidence_and_pessimistic_judge_as_natively_with_and_without_history() {
    let config = default_config();
    let t = thresholds(&config);
    let scorer = load(&config, "evidence").unwrap();
    let strat = load(&config, "pessimistic").unwrap();
    for g in golden::cases() {
        let mut profile = g.case.profile_or_default();
        let req = request(&g.case, &profile, &t);
        judged_as_natively(&scorer, ("pessimistic", &strat), req, &g.name);
        profile.human_denials = 4;
        profile.false_positives = 30;
        profile.successful_resurrections = 30;
        profile.resurrections = 31;
        profile.re_kills = 1;
        let req = request(&g.case, &profile, &t);
        judged_as_natively(&scorer, ("pessimistic", &strat), req, &g.name);
    }
    // The human verdicts reach the scorer: denials raise the risk.
    let g = &golden::cases()[0];
    let calm = g.case.profile_or_default();
    let burnt = medic::model::ModuleProfile {
        human_denials: 20,
        ..calm.clone()
    };
    let a = scorer.score(&request(&g.case, &calm, &t)).unwrap();
    let b = scorer.score(&request(&g.case, &burnt, &t)).unwrap();
    assert!(b.score > a.score, "{} -> {}", a.score, b.score);
}

#[test]
fn wasm_and_native_give_the_same_judgement_on_every_golden_kill() {
    let config = default_config();
    let t = thresholds(&config);
    let scorer = load(&config, "weighted").unwrap();
    for strategy in ["conservative", "balanced", "aggressive"] {
        let strat = load(&config, strategy).unwrap();
        for g in golden::cases() {
            let profile = g.case.profile_or_default();
            let req = request(&g.case, &profile, &t);
            judged_as_natively(&scorer, (strategy, &strat), req, &g.name);
        }
    }
}

/// The built-ins allocate in size classes (`plugins/sdk/src/alloc.rs`). One
/// warm instance of each, judging thousands of kills whose strings and
/// lists range over every class and past the largest, reuses its blocks
/// call after call and moves values between classes; every judgement must
/// still be exactly the native one.
#[test]
fn warm_built_ins_judge_kills_of_every_size_as_the_native_logic_does() {
    let config = config_with(|p| p.isolation = medic::config::Isolation::Reuse);
    let t = thresholds(&config);
    let scorer = load(&config, "weighted").unwrap();
    let strategies: Vec<_> = ["conservative", "balanced", "aggressive"]
        .into_iter()
        .map(|s| (s, load(&config, s).unwrap()))
        .collect();
    let cases: Vec<_> = golden::cases().iter().map(|g| g.case.clone()).collect();
    for i in 0..1500usize {
        let mut c = cases[i % cases.len()].clone();
        // Lengths from 0 to ~2.5 KiB, a different mix on every call.
        let len = (i * 37) % 2500;
        c.kill.kill_id = format!("alloc-{i}-{}", "k".repeat(len % 90));
        c.kill.evidence = (0..i % 9)
            .map(|j| "e".repeat((len + j * 131) % 1500))
            .collect();
        c.kill.dependencies = (0..i % 4).map(|j| format!("dep-{j}")).collect();
        c.kill.metadata.insert(
            "note".into(),
            serde_json::Value::String("m".repeat((len * 3) % 2200)),
        );
        let profile = c.profile_or_default();
        let (name, strategy) = &strategies[i % strategies.len()];
        judged_as_natively(
            &scorer,
            (name, strategy),
            request(&c, &profile, &t),
            &format!("kill {i}"),
        );
    }
}

/// `scorer` then `strategy` (its name and plugin) judge `req` exactly as
/// the same logic does natively.
fn judged_as_natively(
    scorer: &medic::plugin::Plugin,
    (name, strategy): (&str, &medic::plugin::Plugin),
    req: medic::plugin::ScoreRequest<'_>,
    what: &str,
) {
    let risk = scorer.score(&req).unwrap();
    assert_eq!(
        risk,
        native::score_with(scorer.name(), &req).unwrap(),
        "{what}"
    );
    let verdict = native::decide(name, &DecideRequest::new(req, &risk)).unwrap();
    assert_eq!(
        strategy.decide(&DecideRequest::new(req, &risk)).unwrap(),
        verdict,
        "{name} {what}"
    );
    // As the engine judges: the scorer's answer lent to the strategy's call
    // (moved into its arguments and back), and returned whole after it.
    let (lent, decided) = medic::plugin::loaded::score_then_decide(
        scorer,
        strategy,
        &mut medic::plugin::Prepared::new(req),
        [None, None],
    );
    assert_eq!(
        lent.unwrap(),
        risk,
        "{what}: the risk after the strategy's call"
    );
    assert_eq!(decided.unwrap().unwrap(), verdict, "{name} {what}, judged");
}
