//! The sandbox every plugin runs in: one wasmtime engine with the pooling
//! allocator and epoch interruption, a per-store memory limit, a bounded
//! `log` import, and nothing else — every other import (the WASI interfaces
//! a `wasm32-wasip2` guest's std pulls in, or anything foreign) is linked to
//! a stub that stops the call with [`CapabilityDenied`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceType, Val};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::{v0_1, v0_2, v0_3};
use super::error::LoadError;
use crate::config::raw::PluginsSection;
use crate::model::{KillReport, SiemContext};

/// The epoch ticks every 5 ms; deadlines are counted in ticks, so a call
/// is stopped between `timeout_ms` and `timeout_ms` + 5 ms. Each tick wakes
/// a thread on cores the engine's workers share: ticking every millisecond
/// cost ~4% more CPU per kill at 20,000 kills/s on two cores
/// (docs/benchmarks-history.md).
pub const TICK: Duration = Duration::from_millis(5);

/// The contract version this host implements (`wit/`).
pub const CONTRACT_VERSION: (u64, u64, u64) = (0, 3, 0);

/// The newest version of each line of the contract this host serves: its
/// own (0.3, `wit/`) and the two before (0.2, `wit/v0.2/`; 0.1,
/// `wit/v0.1/`).
const LINES: [(u64, u64, u64); 3] = [CONTRACT_VERSION, (0, 2, 0), (0, 1, 1)];

/// The contract versions a plugin may be built against, in words.
pub const ACCEPTED_CONTRACT: &str = "0.3.0, 0.2.0, or 0.1.0 to 0.1.1";

/// The name under which a 0.3 component imports the `kill` resource type a
/// second time: its world's `use types.{kill}` (the same resource as
/// `types`'s; the linker defines it as such).
const KILL_TYPE: &str = "kill";

/// Whether an import of the contract is one this host serves: the `kill`
/// type of a 0.3 world, or `host` or
/// `types` of one of its lines (same major, and same minor while major is
/// 0), no newer than the line's newest version. Types never change within a
/// line, so an older plugin's imports are satisfied by this host's
/// definitions.
pub fn accepts_contract_import(name: &str) -> bool {
    if name == KILL_TYPE {
        return true;
    }
    let Some(rest) = name.strip_prefix("medic:plugin/") else {
        return false;
    };
    let Some((iface, version)) = rest.split_once('@') else {
        return false;
    };
    if iface != "host" && iface != "types" {
        return false;
    }
    let parts: Vec<u64> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    let [major, minor, patch] = parts[..] else {
        return false;
    };
    LINES
        .iter()
        .any(|&(hm, hn, hp)| major == hm && (hm > 0 || minor == hn) && (minor, patch) <= (hn, hp))
}

/// Lines one call may log; the rest are dropped (and counted).
const MAX_LOG_LINES_PER_CALL: u32 = 32;
/// Characters of one logged line kept.
const MAX_LOG_LINE: usize = 1024;

/// The error a stubbed import returns: the plugin reached for a capability.
#[derive(Debug, thiserror::Error)]
#[error("plugin called `{0}`, which is not granted")]
pub struct CapabilityDenied(pub String);

/// The error the memory limiter returns when a plugin grows past its limit.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {0} bytes exceeded")]
pub struct MemoryLimitExceeded(pub usize);

/// The kill a contract 0.3 call judges, as its caller shares it for the
/// call: the `kill` resource converts the record a plugin asks for, when
/// it asks (most never do: the built-ins read only the facts), rather
/// than every call converting every record.
pub trait LentKill: Send + Sync {
    /// The kill and its SIEM context.
    fn kill(&self) -> (&KillReport, Option<&SiemContext>);
}

/// A kill owned for the call, for a caller that has no other way to share
/// it (see [`crate::Prepared::lending`]).
#[derive(Clone, Debug)]
pub struct SharedKill {
    pub kill: KillReport,
    pub context: Option<SiemContext>,
}

impl LentKill for SharedKill {
    fn kill(&self) -> (&KillReport, Option<&SiemContext>) {
        (&self.kill, self.context.as_ref())
    }
}

/// What the host keeps per store: the plugin's name for its log lines, the
/// kill of the call under way (0.3), and what its last call did to the
/// limits.
pub struct HostState {
    plugin: Arc<str>,
    memory_limit: usize,
    pub(crate) kill: Option<Arc<dyn LentKill>>,
    pub(crate) memory_denied: bool,
    logged: u32,
    pub(crate) dropped_logs: u32,
}

impl HostState {
    pub fn new(plugin: Arc<str>, memory_limit: usize) -> Self {
        HostState {
            plugin,
            memory_limit,
            kill: None,
            memory_denied: false,
            logged: 0,
            dropped_logs: 0,
        }
    }

    /// Clears what one call recorded, before the next call on this store.
    pub fn reset_call(&mut self) {
        self.memory_denied = false;
        self.logged = 0;
        self.dropped_logs = 0;
    }
}

impl wasmtime::ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_denied = true;
            return Err(wasmtime::Error::new(MemoryLimitExceeded(self.memory_limit)));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The `types` interfaces of 0.2 and 0.1 have no functions; their traits
/// are empty. 0.3's has the `kill` resource.
impl v0_3::types::Host for HostState {}
impl v0_2::types::Host for HostState {}
impl v0_1::types::Host for HostState {}

/// The error behind a `kill` method called with no kill in the store: a
/// host fault (every 0.3 call puts one there), never the plugin's.
#[derive(Debug, thiserror::Error)]
#[error("no kill is held for this call")]
pub struct NoKill;

impl HostState {
    fn view(&self) -> wasmtime::Result<(&KillReport, Option<&SiemContext>)> {
        self.kill
            .as_ref()
            .map(|k| k.kill())
            .ok_or_else(|| wasmtime::Error::new(NoKill))
    }
}

/// A 0.3 plugin reading the kill: a copy of the record it asks for. The
/// handle is only ever the borrow the host lent for the call (a plugin can
/// neither forge one nor keep it), so there is one kill to read.
impl v0_3::types::HostKill for HostState {
    fn report(
        &mut self,
        _kill: Resource<v0_3::types::Kill>,
    ) -> wasmtime::Result<v0_3::types::KillReport> {
        Ok(crate::convert::v0_3::kill(self.view()?.0))
    }

    fn dependencies(
        &mut self,
        _kill: Resource<v0_3::types::Kill>,
    ) -> wasmtime::Result<Vec<String>> {
        Ok(self.view()?.0.dependencies.clone())
    }

    fn context(
        &mut self,
        _kill: Resource<v0_3::types::Kill>,
    ) -> wasmtime::Result<Option<v0_3::types::SiemContext>> {
        Ok(self.view()?.1.map(crate::convert::v0_3::context))
    }

    fn drop(&mut self, _kill: Resource<v0_3::types::Kill>) -> wasmtime::Result<()> {
        Ok(())
    }
}

/// The `log` import of one line of the contract, into [`HostState::log_line`].
macro_rules! log_import {
    ($line:ident) => {
        impl $line::host::Host for HostState {
            fn log(&mut self, level: $line::host::LogLevel, message: String) {
                use $line::host::LogLevel as L;
                let level = match level {
                    L::Trace => tracing::Level::TRACE,
                    L::Debug => tracing::Level::DEBUG,
                    L::Info => tracing::Level::INFO,
                    L::Warn => tracing::Level::WARN,
                    L::Error => tracing::Level::ERROR,
                };
                self.log_line(level, message);
            }
        }
    };
}

log_import!(v0_3);
log_import!(v0_2);
log_import!(v0_1);

impl HostState {
    /// One line a plugin logs, within the limits of a call.
    fn log_line(&mut self, level: tracing::Level, message: String) {
        if self.logged >= MAX_LOG_LINES_PER_CALL {
            self.dropped_logs += 1;
            return;
        }
        self.logged += 1;
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let plugin = &*self.plugin;
        match level {
            tracing::Level::TRACE => tracing::trace!(plugin, "{message}"),
            tracing::Level::DEBUG => tracing::debug!(plugin, "{message}"),
            tracing::Level::INFO => tracing::info!(plugin, "{message}"),
            tracing::Level::WARN => tracing::warn!(plugin, "{message}"),
            _ => tracing::error!(plugin, "{message}"),
        }
    }
}

/// The engine plus the thread that advances its epoch.
pub struct Sandbox {
    engine: Engine,
    pub(crate) memory_limit: usize,
    pub(crate) deadline_ticks: u64,
    pub(crate) timeout_ms: u64,
    pub(crate) memory_limit_mb: u64,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl Sandbox {
    pub fn new(settings: &PluginsSection) -> Result<Sandbox, LoadError> {
        let memory_limit =
            usize::try_from(settings.memory_limit_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        let engine =
            Engine::new(&engine_config(settings.max_instances, memory_limit)).map_err(|e| {
                LoadError::Engine {
                    message: format!("{e:#}"),
                }
            })?;
        let timeout_ms = u64::try_from(settings.timeout.as_millis()).unwrap_or(u64::MAX);
        let stop = Arc::new(AtomicBool::new(false));
        // Its own OS thread: as a task on an async runtime it could starve,
        // and a starved ticker is a deadline that never fires.
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("medic-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| LoadError::Engine {
                    message: format!("cannot start the epoch thread: {e}"),
                })?
        };
        Ok(Sandbox {
            engine,
            memory_limit,
            // One extra tick: the first may come at once.
            deadline_ticks: timeout_ms.div_ceil(TICK.as_millis() as u64) + 1,
            timeout_ms,
            memory_limit_mb: settings.memory_limit_mb,
            stop,
            ticker: Some(ticker),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A linker for one component: the host `log`, a deterministic seed for
    /// std's hash maps, and a denying stub for every other import.
    pub fn linker(
        &self,
        component: &Component,
        origin: &str,
    ) -> Result<Linker<HostState>, LoadError> {
        let engine_err = |e: wasmtime::Error| LoadError::Engine {
            message: format!("{e:#}"),
        };
        let mut linker: Linker<HostState> = Linker::new(&self.engine);
        v0_3::scorer::RiskScorer::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(engine_err)?;
        v0_2::scorer::RiskScorer::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(engine_err)?;
        v0_1::scorer::RiskScorer::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(engine_err)?;
        let ty = component.component_type();
        for (name, item) in ty.imports(&self.engine) {
            if name == KILL_TYPE && matches!(item.ty, ComponentItem::Resource(_)) {
                linker
                    .root()
                    .resource(
                        KILL_TYPE,
                        ResourceType::host::<v0_3::types::Kill>(),
                        |_, _| Ok(()),
                    )
                    .map_err(engine_err)?;
                continue;
            }
            if accepts_contract_import(name) {
                continue;
            }
            if name.starts_with("medic:") {
                return Err(LoadError::ForeignContract {
                    origin: origin.to_string(),
                    import: name.to_string(),
                });
            }
            match item.ty {
                ComponentItem::ComponentInstance(instance) => {
                    let mut inst = linker.instance(name).map_err(engine_err)?;
                    for (func, item) in instance.exports(&self.engine) {
                        if !matches!(item.ty, ComponentItem::ComponentFunc(_)) {
                            continue;
                        }
                        let full = format!("{name}#{func}");
                        let (iface, f) = (name.to_string(), func.to_string());
                        if deterministic_stub(&iface, &f, &[]).is_some() {
                            inst.func_new(func, move |_, _, params, results| {
                                results[0] = deterministic_stub(&iface, &f, params)
                                    .unwrap_or(Val::Bool(false));
                                Ok(())
                            })
                        } else {
                            inst.func_new(func, move |_, _, _, _| {
                                Err(wasmtime::Error::new(CapabilityDenied(full.clone())))
                            })
                        }
                        .map_err(engine_err)?;
                    }
                }
                ComponentItem::ComponentFunc(_) => {
                    let full = name.to_string();
                    linker
                        .root()
                        .func_new(name, move |_, _, _, _| {
                            Err(wasmtime::Error::new(CapabilityDenied(full.clone())))
                        })
                        .map_err(engine_err)?;
                }
                _ => {}
            }
        }
        // Resource types and anything left: defined, and trapping if used.
        linker
            .define_unknown_imports_as_traps(component)
            .map_err(engine_err)?;
        Ok(linker)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

/// Imports answered with a fixed value instead of a denial, because guest
/// runtimes call them on ordinary paths: Rust's std (hash maps, panics) and
/// the Python and JavaScript interpreters (hash seeds at start-up). A fixed
/// hash seed, an empty environment, no arguments, no working directory, and
/// "random" bytes that are the same on every call — so a plugin's answers
/// stay a pure function of its inputs and replay stays exact. None of them
/// gives a plugin anything from the host. `params` are the call's
/// arguments (empty when only asking whether a stub exists).
fn deterministic_stub(interface: &str, func: &str, params: &[Val]) -> Option<Val> {
    let unversioned = interface.split('@').next().unwrap_or(interface);
    match (unversioned, func) {
        ("wasi:random/insecure-seed", "insecure-seed") => Some(Val::Tuple(vec![
            Val::U64(0x006d_6564_6963),
            Val::U64(0x706c_7567),
        ])),
        (
            "wasi:random/random" | "wasi:random/insecure",
            "get-random-u64" | "get-insecure-random-u64",
        ) => Some(Val::U64(0x6d65_6469_6370_6c67)),
        (
            "wasi:random/random" | "wasi:random/insecure",
            "get-random-bytes" | "get-insecure-random-bytes",
        ) => {
            let len = match params.first() {
                Some(Val::U64(n)) => (*n).min(FIXED_BYTES_MAX),
                _ => 0,
            };
            Some(Val::List(fixed_bytes(len).map(Val::U8).collect()))
        }
        ("wasi:cli/environment", "get-environment" | "get-arguments") => {
            Some(Val::List(Vec::new()))
        }
        ("wasi:cli/environment", "initial-cwd") => Some(Val::Option(None)),
        _ => None,
    }
}

/// The most "random" bytes one call gets.
const FIXED_BYTES_MAX: u64 = 4096;

/// A fixed byte sequence (xorshift from a constant seed).
fn fixed_bytes(len: u64) -> impl Iterator<Item = u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len).map(move |_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 24) as u8
    })
}

/// How much of a plugin's linear memory a freed slot keeps resident, reset
/// with `memset` rather than handed back with `madvise`. Every `strict`
/// kill frees two instances; on this 2-core machine each `madvise` cost a
/// TLB shootdown across cores (a third of all CPU in the load test's
/// profile). The built-in plugins (a 64 KiB stack: plugins/.cargo/
/// config.toml) fit in it whole. Measured with `medic loadtest --kills 50000 --pace 20000` on the
/// shipped `strict` config (docs/BENCHMARKS.md, "Plugin isolation at full
/// speed"): CPU per kill 393 µs with neither setting, 277 µs with batched
/// decommits alone, 191–219 µs with both. A reused slot is reset to the
/// module's initial image either way: nothing a kill wrote survives.
const KEEP_RESIDENT_MEMORY: usize = 4 << 20;
/// The same for tables.
const KEEP_RESIDENT_TABLE: usize = 64 << 10;
/// Memory handed back to the kernel goes in batches of this many slots, so
/// one TLB shootdown serves many.
const DECOMMIT_BATCH: usize = 32;
/// Where the kernel can say which pages of a freed slot were written (the
/// `PAGEMAP_SCAN` ioctl, Linux 6.7 and later), only those are reset; without
/// it the whole of each memory up to [`KEEP_RESIDENT_MEMORY`] is (wasmtime's
/// default: every `strict` instance's 128 KiB, though a built-in writes a
/// few pages of it). A page is reset to the module's initial image either
/// way.
const PAGEMAP_SCAN: Enabled = Enabled::Auto;

fn engine_config(max_instances: u32, memory_limit: usize) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    // For profiling plugins with `perf`: names the compiled guest functions
    // in /tmp/perf-<pid>.map (docs/BENCHMARKS.md, "Plugin host").
    if std::env::var_os("MEDIC_PLUGIN_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(max_instances)
        .total_core_instances(max_instances.saturating_mul(8))
        .total_memories(max_instances.saturating_mul(2))
        .total_tables(max_instances.saturating_mul(4))
        .max_memories_per_component(4)
        .max_tables_per_component(8)
        .max_core_instances_per_component(16)
        .max_memory_size(memory_limit)
        .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY.min(memory_limit))
        .table_keep_resident(KEEP_RESIDENT_TABLE)
        .decommit_batch_size(DECOMMIT_BATCH)
        .pagemap_scan(PAGEMAP_SCAN);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

#[cfg(test)]
mod contract_tests {
    use super::accepts_contract_import as ok;

    #[test]
    fn each_served_line_up_to_its_newest_version_is_accepted() {
        assert!(ok("medic:plugin/host@0.3.0"));
        assert!(ok("medic:plugin/types@0.3.0"));
        assert!(ok("kill"), "a 0.3 world's use of the kill resource");
        assert!(ok("medic:plugin/host@0.2.0"));
        assert!(ok("medic:plugin/types@0.2.0"));
        assert!(ok("medic:plugin/host@0.1.1"));
        assert!(ok("medic:plugin/types@0.1.0"));
        assert!(!ok("medic:plugin/host@0.1.2"), "newer than this host's 0.1");
        assert!(!ok("medic:plugin/host@0.2.1"), "newer than this host's 0.2");
        assert!(!ok("medic:plugin/host@0.3.1"), "newer than this host");
        assert!(!ok("medic:plugin/host@0.4.0"), "another line");
        assert!(!ok("medic:plugin/host@0.0.9"), "another line");
        assert!(!ok("medic:plugin/host@1.1.0"));
        assert!(!ok("medic:plugin/other@0.1.0"));
        assert!(!ok("medic:plugin/host"));
        assert!(!ok("wasi:cli/environment@0.2.9"));
    }
}
