//! One loaded plugin: its world, what it says of itself, and calls into it
//! under the configured isolation, with every failure turned into a
//! [`PluginError`] and counted towards quarantine.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;
use wasmtime::Store;
use wasmtime::component::{Component, Resource};

use medic_plugin_logic::values::names::CALL_EXPLAIN;

use super::bindings::{v0_1, v0_2, v0_3};
use super::cache::{compile, sha256_hex};
use super::convert::{v0_1 as c01, v0_2 as c02, v0_3 as c03};
use super::error::{LoadError, PluginError};
use super::sandbox::{
    CapabilityDenied, HostState, LentKill, MemoryLimitExceeded, NoKill, Sandbox, SharedKill,
};
use super::signature::Signer;
use super::validate;
use super::{DecideRequest, LearnRequest, RuntimeSettings, ScoreRequest};
use crate::config::Isolation;
use crate::model::{
    ModuleProfile, NamedValues, PluginInfo, PluginKind, RiskAssessment, ThresholdAdjustment,
    Verdict,
};
use crate::telemetry::Histogram;

/// Where a plugin came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "path")]
pub enum PluginSource {
    /// Embedded in the `medic` binary.
    Builtin,
    /// A `.wasm` file (the plugin directory, an upload, or the command line).
    File(PathBuf),
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::Builtin => f.write_str("builtin"),
            PluginSource::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A plugin's world, ready to instantiate, by line of the contract.
enum Pre {
    Scorer(v0_3::scorer::RiskScorerPre<HostState>),
    Strategy(v0_3::strategy::StrategyPre<HostState>),
    Learner(v0_3::learner::ThresholdLearnerPre<HostState>),
    Scorer02(v0_2::scorer::RiskScorerPre<HostState>),
    Strategy02(v0_2::strategy::StrategyPre<HostState>),
    Learner02(v0_2::learner::ThresholdLearnerPre<HostState>),
    Scorer01(v0_1::scorer::RiskScorerPre<HostState>),
    Strategy01(v0_1::strategy::StrategyPre<HostState>),
    Learner01(v0_1::learner::ThresholdLearnerPre<HostState>),
}

/// The [`Live`] of the same kind and line as a [`Pre`], made from the
/// `Pre` inside by `$make`.
macro_rules! live_from {
    ($pre:expr, $p:ident => $make:expr) => {
        match $pre {
            Pre::Scorer($p) => Live::Scorer($make),
            Pre::Strategy($p) => Live::Strategy($make),
            Pre::Learner($p) => Live::Learner($make),
            Pre::Scorer02($p) => Live::Scorer02($make),
            Pre::Strategy02($p) => Live::Strategy02($make),
            Pre::Learner02($p) => Live::Learner02($make),
            Pre::Scorer01($p) => Live::Scorer01($make),
            Pre::Strategy01($p) => Live::Strategy01($make),
            Pre::Learner01($p) => Live::Learner01($make),
        }
    };
}

impl Pre {
    /// A new instance, its exports' types checked against the contract.
    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Live> {
        Ok(live_from!(self, p => p.instantiate(&mut *store)?))
    }

    /// A new instance, its exports' types not checked again.
    ///
    /// # Safety
    ///
    /// [`Pre::instantiate`] must have succeeded once on this `Pre`.
    unsafe fn instantiate_again(&self, store: &mut Store<HostState>) -> wasmtime::Result<Live> {
        // SAFETY: the caller's guarantee, for the one `Pre` inside.
        Ok(live_from!(self, p => unsafe { p.instantiate_again(&mut *store)? }))
    }
}

enum Live {
    Scorer(v0_3::scorer::RiskScorer),
    Strategy(v0_3::strategy::Strategy),
    Learner(v0_3::learner::ThresholdLearner),
    Scorer02(v0_2::scorer::RiskScorer),
    Strategy02(v0_2::strategy::Strategy),
    Learner02(v0_2::learner::ThresholdLearner),
    Scorer01(v0_1::scorer::RiskScorer),
    Strategy01(v0_1::strategy::Strategy),
    Learner01(v0_1::learner::ThresholdLearner),
}

/// Where one number a plugin reads comes from, found once when it loads.
enum Read {
    /// The module profile's fact at this position
    /// ([`ModuleProfile::fact_names`]).
    Fact(usize),
    /// A threshold or other named number of the call.
    Named(String),
    /// Whether anyone will read the call's details and reasoning
    /// (`call.explain`: 1, or 0 in replay; see [`Prepared::unexplained`]).
    Explain,
}

/// A plugin's named numbers resolved against one set of thresholds
/// ([`Plugin::resolve`]): a caller that judges many kills by the same
/// thresholds (a replay's lane, the registry) resolves them once per set
/// instead of looking each one up by name on every call. It must be
/// resolved again when the thresholds change; debug builds check that it
/// was.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The plugin it was resolved for ([`Plugin`]'s `id`); another
    /// plugin's calls ignore it and look their numbers up.
    plugin: u64,
    /// Per read, in the plugin's order: the named number's value, NaN
    /// where the read is not a named number or there is none of its name.
    named: Vec<f64>,
}

impl Resolved {
    /// Whether it was resolved for `plugin`.
    pub fn belongs_to(&self, plugin: &Plugin) -> bool {
        self.plugin == plugin.id
    }
}

/// A kill in the contract's types, converted once (per line, when a plugin
/// of that line first needs it) for every plugin that judges it; each
/// plugin's own numbers (`values`) are put in per call.
pub struct Prepared<'a> {
    req: ScoreRequest<'a>,
    /// 0.3: the facts every call carries.
    facts: Option<v0_3::types::KillFacts>,
    /// 0.3: the kill the `kill` resource reads, lent to each call's store
    /// for the call (the caller's, or a copy made when a call first needs
    /// one).
    view: Option<Arc<dyn LentKill>>,
    /// 0.2: the whole input, moved into each call and back.
    input: Option<v0_2::types::ScoreInput>,
    explain: bool,
}

impl<'a> Prepared<'a> {
    pub fn new(req: ScoreRequest<'a>) -> Self {
        Prepared {
            req,
            facts: None,
            view: None,
            input: None,
            explain: true,
        }
    }

    /// A kill whose caller shares it ([`LentKill`]: the same kill and
    /// context as `req`'s) for the `kill` resource to read from, so that no
    /// call copies its records unless a plugin asks for them.
    pub fn lending(req: ScoreRequest<'a>, kill: Arc<dyn LentKill>) -> Self {
        debug_assert!(
            std::ptr::eq(kill.kill().0, req.kill),
            "the kill lent is not the request's"
        );
        Prepared {
            view: Some(kill),
            ..Prepared::new(req)
        }
    }

    /// The thresholds the kill is judged by.
    pub fn thresholds(&self) -> &'a NamedValues {
        self.req.thresholds
    }

    /// Nobody will read the factors' details or the reasoning of the calls
    /// on this kill (`medic replay` keeps outcomes, levels, scores and
    /// confidences only): a 0.2 plugin reading `call.explain` gets 0 and
    /// may skip writing them. What it decides must not change.
    pub fn unexplained(mut self) -> Self {
        self.explain = false;
        self
    }

    fn take(&mut self) -> v0_2::types::ScoreInput {
        match self.input.take() {
            Some(input) => input,
            None => c02::score_input(&self.req, Vec::new()),
        }
    }

    /// The 0.3 facts and the records behind the `kill` resource.
    fn kill(&mut self) -> (&v0_3::types::KillFacts, &Arc<dyn LentKill>) {
        let req = &self.req;
        let facts = self.facts.get_or_insert_with(|| c03::facts(req));
        let view = self.view.get_or_insert_with(|| {
            Arc::new(SharedKill {
                kill: req.kill.clone(),
                context: req.context.cloned(),
            })
        });
        (facts, view)
    }
}

/// An instance with its store: used once (strict) or many times (reuse).
struct Warm {
    store: Store<HostState>,
    live: Live,
    calls: u64,
}

/// Calls, failures and quarantine of one plugin.
#[derive(Default)]
struct Health {
    calls: AtomicU64,
    failures: AtomicU64,
    consecutive: AtomicU32,
    quarantined: AtomicBool,
    last_error: Mutex<Option<String>>,
}

/// A snapshot of a plugin's health, for listings and the API.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HealthReport {
    pub calls: u64,
    pub failures: u64,
    pub consecutive_failures: u32,
    pub quarantined: bool,
    pub last_error: Option<String>,
}

/// A plugin that has been compiled, checked against its world and has
/// described itself.
pub struct Plugin {
    info: PluginInfo,
    sha256: String,
    source: PluginSource,
    loaded_at: DateTime<Utc>,
    from_cache: bool,
    name: Arc<str>,
    pre: Pre,
    imports: Vec<String>,
    exports: Vec<String>,
    sandbox: Arc<Sandbox>,
    isolation: Isolation,
    reuse_max_calls: u64,
    max_failures: u32,
    max_adjustment_percent: f64,
    pool: Mutex<Vec<Warm>>,
    health: Health,
    /// Time per call, instantiation included (strict isolation pays it).
    latency: Histogram,
    /// Who signed it (a file's signature is checked before it is loaded).
    signer: Signer,
    /// What each number in a call's `values` is (contract 0.2; empty for
    /// 0.1 plugins, which get every number by name).
    reads: Vec<Read>,
    /// Unique among the plugins this process loaded (a [`Resolved`] names
    /// the plugin it belongs to by it; an address could be reused).
    id: u64,
    /// An instance was made with its exports' types checked against the
    /// contract; later instances skip the check ([`Pre::instantiate_again`]).
    exports_checked: AtomicBool,
}

/// The next [`Plugin`]'s `id`.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Plugin {
    /// Compiles (or loads from cache) and checks a plugin. `expected` is the
    /// kind it must be, when the caller knows.
    pub fn load(
        sandbox: &Arc<Sandbox>,
        settings: &RuntimeSettings,
        bytes: &[u8],
        source: PluginSource,
        expected: Option<PluginKind>,
    ) -> Result<Plugin, LoadError> {
        let origin = source.to_string();
        let sha256 = sha256_hex(bytes);
        let engine = sandbox.engine();
        let (component, from_cache) = compile(
            engine,
            bytes,
            &sha256,
            settings.cache_dir.as_deref(),
            &origin,
        )?;
        let pre = instance_pre(sandbox, &component, &origin)?;
        let ty = component.component_type();
        let imports = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
        let exports = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
        let world = match &pre {
            Pre::Scorer(_) | Pre::Scorer02(_) | Pre::Scorer01(_) => PluginKind::RiskScorer,
            Pre::Strategy(_) | Pre::Strategy02(_) | Pre::Strategy01(_) => PluginKind::Strategy,
            Pre::Learner(_) | Pre::Learner02(_) | Pre::Learner01(_) => PluginKind::ThresholdLearner,
        };
        if let Some(expected) = expected.filter(|k| *k != world) {
            return Err(LoadError::WrongWorld {
                origin,
                expected,
                found: world,
            });
        }
        let signer = match &source {
            PluginSource::Builtin => Signer::Builtin,
            PluginSource::File(_) => Signer::Unsigned,
        };
        let mut plugin = Plugin {
            info: PluginInfo {
                name: origin.clone(),
                version: String::new(),
                kind: world,
                description: String::new(),
                uses: Vec::new(),
            },
            sha256,
            source,
            loaded_at: Utc::now(),
            from_cache,
            name: Arc::from(origin.as_str()),
            pre,
            imports,
            exports,
            sandbox: sandbox.clone(),
            isolation: settings.isolation,
            reuse_max_calls: settings.reuse_max_calls,
            max_failures: settings.max_consecutive_failures,
            max_adjustment_percent: settings.max_adjustment_percent,
            pool: Mutex::new(Vec::new()),
            health: Health::default(),
            latency: Histogram::default(),
            signer,
            reads: Vec::new(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            exports_checked: AtomicBool::new(false),
        };
        let (info, reads) = plugin
            .describe_with_reads()
            .map_err(|source| LoadError::Describe {
                origin: origin.clone(),
                source,
            })?;
        validate::info(&info).map_err(|(field, problem)| LoadError::BadInfo {
            origin: origin.clone(),
            field,
            problem,
        })?;
        if info.kind != world {
            return Err(LoadError::KindMismatch {
                origin,
                declared: info.kind,
                world,
            });
        }
        validate::reads(&reads).map_err(|(field, problem)| LoadError::BadInfo {
            origin: origin.clone(),
            field,
            problem,
        })?;
        if world != PluginKind::ThresholdLearner {
            let facts = ModuleProfile::fact_names();
            plugin.reads = reads
                .into_iter()
                .map(|name| match facts.iter().position(|f| *f == name) {
                    Some(i) => Read::Fact(i),
                    None if name == CALL_EXPLAIN => Read::Explain,
                    None => Read::Named(name),
                })
                .collect();
        }
        plugin.name = Arc::from(info.name.as_str());
        plugin.info = info;
        Ok(plugin)
    }

    pub fn info(&self) -> &PluginInfo {
        &self.info
    }
    /// The plugin, recorded as signed by `signer` (whose signature the
    /// caller has checked).
    pub fn signed_by(mut self, signer: Signer) -> Plugin {
        self.signer = signer;
        self
    }
    pub fn signer(&self) -> &Signer {
        &self.signer
    }
    pub fn name(&self) -> &str {
        &self.info.name
    }
    pub fn kind(&self) -> PluginKind {
        self.info.kind
    }
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
    pub fn source(&self) -> &PluginSource {
        &self.source
    }
    pub fn loaded_at(&self) -> DateTime<Utc> {
        self.loaded_at
    }
    /// Whether the compiled code came from the `.cwasm` cache.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }
    /// The interfaces the component imports (all but the host's are denied).
    pub fn imports(&self) -> &[String] {
        &self.imports
    }
    /// The component's exports.
    pub fn exports(&self) -> &[String] {
        &self.exports
    }
    pub fn is_quarantined(&self) -> bool {
        self.health.quarantined.load(Ordering::Relaxed)
    }

    /// How long its calls take.
    pub fn latency(&self) -> &Histogram {
        &self.latency
    }

    pub fn health(&self) -> HealthReport {
        HealthReport {
            calls: self.health.calls.load(Ordering::Relaxed),
            failures: self.health.failures.load(Ordering::Relaxed),
            consecutive_failures: self.health.consecutive.load(Ordering::Relaxed),
            quarantined: self.is_quarantined(),
            last_error: self.health.last_error.lock().clone(),
        }
    }

    /// Instantiates once and drops the instance, calling nothing: shows the
    /// plugin can still be instantiated, and measures what a fresh instance
    /// costs (strict isolation pays it on every call).
    pub fn instantiate_once(&self) -> Result<(), PluginError> {
        self.instantiate().map(drop)
    }

    /// Calls `describe` (not counted towards health).
    pub fn describe(&self) -> Result<PluginInfo, PluginError> {
        self.describe_with_reads().map(|(info, _)| info)
    }

    /// The contract line the plugin was built against: "0.3", "0.2" or
    /// "0.1".
    pub fn contract_line(&self) -> &'static str {
        match self.pre {
            Pre::Scorer(_) | Pre::Strategy(_) | Pre::Learner(_) => "0.3",
            Pre::Scorer02(_) | Pre::Strategy02(_) | Pre::Learner02(_) => "0.2",
            Pre::Scorer01(_) | Pre::Strategy01(_) | Pre::Learner01(_) => "0.1",
        }
    }

    /// The contract version the plugin was built against, from its imports
    /// of the contract (its line when it imports none).
    pub fn contract_version(&self) -> String {
        self.imports
            .iter()
            .find_map(|i| i.strip_prefix("medic:plugin/"))
            .and_then(|i| i.split_once('@'))
            .map_or_else(|| self.contract_line().to_string(), |(_, v)| v.to_string())
    }

    /// The names of the numbers a 0.2 or 0.3 scorer or strategy reads, in
    /// the order of each call's `values` (none for a learner or a 0.1
    /// plugin).
    pub fn reads(&self) -> Vec<String> {
        let facts = ModuleProfile::fact_names();
        self.reads
            .iter()
            .map(|r| match r {
                Read::Fact(i) => facts[*i].to_string(),
                Read::Named(name) => name.clone(),
                Read::Explain => CALL_EXPLAIN.to_string(),
            })
            .collect()
    }

    /// `describe`, and the names of what a 0.2 or 0.3 plugin reads (none
    /// for 0.1).
    fn describe_with_reads(&self) -> Result<(PluginInfo, Vec<String>), PluginError> {
        self.invoke(None, |store, live| {
            let out = match live {
                Live::Scorer(p) => c03::info(p.call_describe(store)?),
                Live::Strategy(p) => c03::info(p.call_describe(store)?),
                Live::Learner(p) => c03::info(p.call_describe(store)?),
                Live::Scorer02(p) => c02::info(p.call_describe(store)?),
                Live::Strategy02(p) => c02::info(p.call_describe(store)?),
                Live::Learner02(p) => c02::info(p.call_describe(store)?),
                Live::Scorer01(p) => (c01::info(p.call_describe(store)?), Vec::new()),
                Live::Strategy01(p) => (c01::info(p.call_describe(store)?), Vec::new()),
                Live::Learner01(p) => (c01::info(p.call_describe(store)?), Vec::new()),
            };
            Ok(Ok(out))
        })
    }

    /// The numbers a 0.2 or 0.3 plugin reads, in its order, for one call: each
    /// from the call's named numbers or the module's facts, NaN when there
    /// is none of that name.
    fn values(
        &self,
        resolved: Option<&Resolved>,
        thresholds: &NamedValues,
        profile: &ModuleProfile,
        explain: bool,
    ) -> Vec<f64> {
        let named = resolved
            .filter(|r| r.belongs_to(self))
            .map(|r| r.named.as_slice());
        debug_assert!(
            named.is_none_or(|n| {
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                bits(n) == bits(&self.resolve(thresholds).named)
            }),
            "{}: resolved against other thresholds than the call's",
            self.name
        );
        let facts = profile.fact_values();
        self.reads
            .iter()
            .enumerate()
            .map(|(k, r)| match r {
                Read::Fact(i) => facts[*i],
                Read::Named(name) => match named {
                    Some(n) => n[k],
                    None => thresholds.get(name).copied().unwrap_or(f64::NAN),
                },
                Read::Explain => f64::from(u8::from(explain)),
            })
            .collect()
    }

    /// The plugin's named numbers looked up once in `thresholds`, for the
    /// calls of [`Self::score_prepared`] and [`Self::decide_prepared`]
    /// made with the same thresholds.
    pub fn resolve(&self, thresholds: &NamedValues) -> Resolved {
        Resolved {
            plugin: self.id,
            named: self
                .reads
                .iter()
                .map(|r| match r {
                    Read::Named(name) => thresholds.get(name).copied().unwrap_or(f64::NAN),
                    Read::Fact(_) | Read::Explain => f64::NAN,
                })
                .collect(),
        }
    }

    /// Scores one kill (risk scorers only).
    pub fn score(&self, req: &ScoreRequest<'_>) -> Result<RiskAssessment, PluginError> {
        self.score_prepared(&mut Prepared::new(*req), None)
    }

    /// Scores a kill converted once for several plugins, with the
    /// plugin's numbers resolved against the request's thresholds when
    /// the caller has them.
    pub fn score_prepared(
        &self,
        kill: &mut Prepared<'_>,
        resolved: Option<&Resolved>,
    ) -> Result<RiskAssessment, PluginError> {
        let req = kill.req;
        let out = match self.pre {
            Pre::Scorer01(_) => {
                let input = c01::score_input(&req);
                self.invoke(None, |store, live| match live {
                    Live::Scorer01(p) => Ok(p.call_score(store, &input)?.map(c01::risk)),
                    _ => Ok(Err(wrong_kind(PluginKind::RiskScorer))),
                })
            }
            Pre::Scorer02(_) => {
                let mut input = kill.take();
                input.values = self.values(resolved, req.thresholds, req.profile, kill.explain);
                let out = self.invoke(None, |store, live| match live {
                    Live::Scorer02(p) => Ok(p.call_score(store, &input)?.map(c02::risk)),
                    _ => Ok(Err(wrong_kind(PluginKind::RiskScorer))),
                });
                kill.input = Some(input);
                out
            }
            _ => {
                let values = self.values(resolved, req.thresholds, req.profile, kill.explain);
                let (facts, view) = kill.kill();
                self.invoke(Some(view), |store, live| match live {
                    Live::Scorer(p) => {
                        Ok(p.call_score(store, facts, lent(), &values)?.map(c03::risk))
                    }
                    _ => Ok(Err(wrong_kind(PluginKind::RiskScorer))),
                })
            }
        };
        let out = out.and_then(|r| {
            validate::risk(&r, req.thresholds)
                .map(|()| r)
                .map_err(|problem| self.invalid("risk assessment", problem))
        });
        self.record(out)
    }

    /// Decides one scored kill (strategies only).
    pub fn decide(&self, req: &DecideRequest<'_>) -> Result<Verdict, PluginError> {
        let mut kill = Prepared::new(req.scored());
        self.decide_prepared(&mut kill, req.risk, req.thresholds, None)
    }

    /// Decides a kill converted once for several plugins, scored `risk`,
    /// under `thresholds` (a learning candidate's own in replay), with the
    /// plugin's numbers resolved against them when the caller has them.
    pub fn decide_prepared(
        &self,
        kill: &mut Prepared<'_>,
        risk: &RiskAssessment,
        thresholds: &NamedValues,
        resolved: Option<&Resolved>,
    ) -> Result<Verdict, PluginError> {
        self.decide_scored(kill, Scored::Shared(risk), thresholds, resolved)
    }

    /// As [`Self::decide_prepared`], with the risk either shared (copied
    /// into the contract's types for the call) or lent by its owner (moved
    /// into them and back, whatever the call did).
    fn decide_scored(
        &self,
        kill: &mut Prepared<'_>,
        scored: Scored<'_>,
        thresholds: &NamedValues,
        resolved: Option<&Resolved>,
    ) -> Result<Verdict, PluginError> {
        let risk = scored.as_ref();
        let out = match self.pre {
            Pre::Strategy01(_) => {
                let req = DecideRequest {
                    thresholds,
                    ..DecideRequest::new(kill.req, risk)
                };
                let input = c01::decide_input(&req);
                self.invoke(None, |store, live| match live {
                    Live::Strategy01(p) => Ok(p.call_decide(store, &input)?.map(c01::verdict)),
                    _ => Ok(Err(wrong_kind(PluginKind::Strategy))),
                })
            }
            Pre::Strategy02(_) => {
                let values = self.values(resolved, thresholds, kill.req.profile, kill.explain);
                let input = c02::decide_input(kill.take(), risk, values);
                let out = self.invoke(None, |store, live| match live {
                    Live::Strategy02(p) => Ok(p.call_decide(store, &input)?.map(c02::verdict)),
                    _ => Ok(Err(wrong_kind(PluginKind::Strategy))),
                });
                kill.input = Some(c02::score_input_back(input));
                out
            }
            _ => {
                let values = self.values(resolved, thresholds, kill.req.profile, kill.explain);
                let (wit, owner) = match scored {
                    Scored::Shared(r) => (c03::risk_to_wit(r), None),
                    Scored::Lent(r) => (c03::risk_into_wit(r), Some(r)),
                };
                let (facts, view) = kill.kill();
                let out = self.invoke(Some(view), |store, live| match live {
                    Live::Strategy(p) => Ok(p
                        .call_decide(store, facts, lent(), &wit, &values)?
                        .map(c03::verdict)),
                    _ => Ok(Err(wrong_kind(PluginKind::Strategy))),
                });
                if let Some(owner) = owner {
                    *owner = c03::risk(wit);
                }
                out
            }
        };
        let out = out.and_then(|v| {
            validate::verdict(&v)
                .map(|()| v)
                .map_err(|p| self.invalid("verdict", p))
        });
        self.record(out)
    }

    /// Proposes threshold adjustments from outcomes (learners only).
    pub fn learn(&self, req: &LearnRequest<'_>) -> Result<Vec<ThresholdAdjustment>, PluginError> {
        let out = self.invoke(None, |store, live| match live {
            Live::Learner(p) => Ok(p
                .call_learn(store, &c03::learn_input(req))?
                .map(|v| v.into_iter().map(c03::adjustment).collect::<Vec<_>>())),
            Live::Learner02(p) => Ok(p
                .call_learn(store, &c02::learn_input(req))?
                .map(|v| v.into_iter().map(c02::adjustment).collect::<Vec<_>>())),
            Live::Learner01(p) => Ok(p
                .call_learn(store, &c01::learn_input(req))?
                .map(|v| v.into_iter().map(c01::adjustment).collect::<Vec<_>>())),
            _ => Ok(Err(wrong_kind(PluginKind::ThresholdLearner))),
        });
        let max_pct = req
            .settings
            .get(medic_plugin_logic::values::names::MAX_ADJUSTMENT_PERCENT)
            .copied()
            .unwrap_or(self.max_adjustment_percent);
        let out = out.and_then(|a| {
            validate::adjustments(&a, req.thresholds, max_pct)
                .map(|()| a)
                .map_err(|p| self.invalid("threshold adjustment", p))
        });
        self.record(out)
    }

    fn invalid(&self, what: &'static str, problem: String) -> PluginError {
        PluginError::InvalidOutput {
            plugin: self.name.to_string(),
            what,
            problem,
        }
    }

    /// Counts a call's outcome; quarantines after too many failures in a row.
    fn record<R>(&self, out: Result<R, PluginError>) -> Result<R, PluginError> {
        self.health.calls.fetch_add(1, Ordering::Relaxed);
        match &out {
            Ok(_) => self.health.consecutive.store(0, Ordering::Relaxed),
            Err(e) if e.is_plugin_fault() => {
                self.health.failures.fetch_add(1, Ordering::Relaxed);
                *self.health.last_error.lock() = Some(e.to_string());
                let n = self.health.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= self.max_failures && !self.health.quarantined.swap(true, Ordering::Relaxed)
                {
                    tracing::error!(plugin = %self.name, sha256 = %self.sha256, failures = n, error = %e,
                        "Plugin quarantined: its kind falls back to the safe default");
                }
            }
            Err(_) => {}
        }
        out
    }

    /// Runs one call on an instance chosen by the isolation mode, with
    /// `kill` (a 0.3 call's) lent to its store for the call's length and
    /// taken back after it, whatever the call did.
    fn invoke<R>(
        &self,
        kill: Option<&Arc<dyn LentKill>>,
        call: impl FnOnce(&mut Store<HostState>, &Live) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<R, PluginError> {
        if self.is_quarantined() {
            return Err(PluginError::Quarantined {
                plugin: self.name.to_string(),
                failures: self.health.consecutive.load(Ordering::Relaxed),
            });
        }
        let started = std::time::Instant::now();
        let pooled = match self.isolation {
            Isolation::Strict => None,
            Isolation::Reuse => self.pool.lock().pop(),
        };
        let mut warm = match pooled {
            Some(w) => w,
            None => self.instantiate()?,
        };
        warm.store.data_mut().reset_call();
        warm.store.data_mut().kill = kill.cloned();
        warm.store.set_epoch_deadline(self.sandbox.deadline_ticks);
        let out = call(&mut warm.store, &warm.live);
        warm.store.data_mut().kill = None;
        warm.calls += 1;
        let result = match out {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(message)) => Err(PluginError::Refused {
                plugin: self.name.to_string(),
                message,
            }),
            Err(e) => Err(self.classify(&e, warm.store.data())),
        };
        self.latency.observe(started.elapsed());
        let dropped = warm.store.data().dropped_logs;
        if dropped > 0 {
            tracing::warn!(plugin = %self.name, dropped, "Plugin log lines dropped (limit per call)");
        }
        // A trapped instance can never be entered again, and one that erred
        // may hold bad state: only clean instances go back to the pool.
        if self.isolation == Isolation::Reuse && result.is_ok() && warm.calls < self.reuse_max_calls
        {
            self.pool.lock().push(warm);
        }
        result
    }

    fn instantiate(&self) -> Result<Warm, PluginError> {
        let mut store = Store::new(
            self.sandbox.engine(),
            HostState::new(self.name.clone(), self.sandbox.memory_limit),
        );
        store.limiter(|s| s);
        // A fresh store's deadline is 0: set it before instantiating, or
        // instantiation itself is interrupted.
        store.set_epoch_deadline(self.sandbox.deadline_ticks);
        store.epoch_deadline_trap();
        let checked = self.exports_checked.load(Ordering::Acquire);
        let live = if checked {
            // SAFETY: an instance of this `Pre` was instantiated with its
            // exports' types checked (`exports_checked` is set only then).
            unsafe { self.pre.instantiate_again(&mut store) }
        } else {
            self.pre.instantiate(&mut store)
        };
        match live {
            Ok(live) => {
                if !checked {
                    self.exports_checked.store(true, Ordering::Release);
                }
                Ok(Warm {
                    store,
                    live,
                    calls: 0,
                })
            }
            Err(e)
                if e.downcast_ref::<wasmtime::Trap>().is_some() || store.data().memory_denied =>
            {
                Err(self.classify(&e, store.data()))
            }
            Err(e) => Err(PluginError::Host {
                plugin: self.name.to_string(),
                message: format!("{e:#}"),
            }),
        }
    }

    fn classify(&self, e: &wasmtime::Error, state: &HostState) -> PluginError {
        let plugin = self.name.to_string();
        if e.is::<NoKill>() {
            return PluginError::Host {
                plugin,
                message: NoKill.to_string(),
            };
        }
        if state.memory_denied || e.is::<MemoryLimitExceeded>() {
            return PluginError::OutOfMemory {
                plugin,
                limit_mb: self.sandbox.memory_limit_mb,
            };
        }
        if let Some(CapabilityDenied(capability)) = e.downcast_ref::<CapabilityDenied>() {
            return PluginError::CapabilityDenied {
                plugin,
                capability: capability.clone(),
            };
        }
        match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => PluginError::Timeout {
                plugin,
                timeout_ms: self.sandbox.timeout_ms,
            },
            Some(trap) => PluginError::Trap {
                plugin,
                message: trap.to_string(),
            },
            None => {
                let mut message = e.to_string();
                message.truncate(512);
                PluginError::Trap { plugin, message }
            }
        }
    }
}

/// The handle a 0.3 call lends the plugin for the kill in its store: a
/// borrow, which the plugin cannot keep past the call.
fn lent() -> Resource<v0_3::types::Kill> {
    Resource::new_borrow(0)
}

fn wrong_kind(expected: PluginKind) -> String {
    format!("this plugin is not a {expected}")
}

/// Checks the component against each world; the one it implements wins.
fn instance_pre(sandbox: &Sandbox, component: &Component, origin: &str) -> Result<Pre, LoadError> {
    let linker = sandbox.linker(component, origin)?;
    let pre = linker
        .instantiate_pre(component)
        .map_err(|e| LoadError::Compile {
            origin: origin.to_string(),
            message: format!("{e:#}"),
        })?;
    if let Ok(p) = v0_3::scorer::RiskScorerPre::new(pre.clone()) {
        return Ok(Pre::Scorer(p));
    }
    if let Ok(p) = v0_3::strategy::StrategyPre::new(pre.clone()) {
        return Ok(Pre::Strategy(p));
    }
    if let Ok(p) = v0_3::learner::ThresholdLearnerPre::new(pre.clone()) {
        return Ok(Pre::Learner(p));
    }
    if let Ok(p) = v0_2::scorer::RiskScorerPre::new(pre.clone()) {
        return Ok(Pre::Scorer02(p));
    }
    if let Ok(p) = v0_2::strategy::StrategyPre::new(pre.clone()) {
        return Ok(Pre::Strategy02(p));
    }
    if let Ok(p) = v0_2::learner::ThresholdLearnerPre::new(pre.clone()) {
        return Ok(Pre::Learner02(p));
    }
    if let Ok(p) = v0_1::scorer::RiskScorerPre::new(pre.clone()) {
        return Ok(Pre::Scorer01(p));
    }
    if let Ok(p) = v0_1::strategy::StrategyPre::new(pre.clone()) {
        return Ok(Pre::Strategy01(p));
    }
    if let Ok(p) = v0_1::learner::ThresholdLearnerPre::new(pre) {
        return Ok(Pre::Learner01(p));
    }
    let exports: Vec<String> = component
        .component_type()
        .exports(sandbox.engine())
        .map(|(name, _)| name.to_string())
        .collect();
    Err(LoadError::NoWorld {
        origin: origin.to_string(),
        exports: if exports.is_empty() {
            "none".into()
        } else {
            exports.join(", ")
        },
    })
}

/// Scores a kill and, when that succeeds, decides it — converting the
/// kill to the contract's types once for both calls.
/// `resolved`: the scorer's and the strategy's named numbers resolved
/// against the request's thresholds, when the caller keeps them.
pub fn score_then_decide(
    scorer: &Plugin,
    strategy: &Plugin,
    kill: &mut Prepared<'_>,
    resolved: [Option<&Resolved>; 2],
) -> (
    Result<RiskAssessment, PluginError>,
    Option<Result<Verdict, PluginError>>,
) {
    let mut scored = scorer.score_prepared(kill, resolved[0]);
    let thresholds = kill.req.thresholds;
    let decided = match &mut scored {
        Ok(risk) => Some(strategy.decide_scored(kill, Scored::Lent(risk), thresholds, resolved[1])),
        Err(_) => None,
    };
    (scored, decided)
}

/// The risk a strategy decides on: shared by its owner, or lent (the
/// scorer's own answer, moved into the call's arguments and back rather
/// than copied: its strings are most of what a strategy's call lowers).
enum Scored<'r> {
    Shared(&'r RiskAssessment),
    Lent(&'r mut RiskAssessment),
}

impl Scored<'_> {
    fn as_ref(&self) -> &RiskAssessment {
        match self {
            Scored::Shared(r) => r,
            Scored::Lent(r) => r,
        }
    }
}
