//! `medic loadtest`: sustained throughput from a Redis stream to durable
//! decisions (file SIEM, a store on disk), against the same run's Redis-only
//! ceiling (XADD, XREADGROUP, XACK with no Medic in between).
//!
//! Latency is kill to durable decision: from the time Redis stamped the
//! entry (its id) to the acknowledgement that follows the store's flush.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use parking_lot::Mutex;
use redis::AsyncCommands;
use redis::streams::{StreamReadOptions, StreamReadReply};
use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::config::raw::{EventBusType, SiemAdapterType};
use crate::engine::{Engine, Parts};
use crate::enrich;
use crate::ingest::redis::RedisConsumer;
use crate::plugin::Registry;
use crate::progress::Progress;
use crate::store::Store;
use crate::telemetry::{Metrics, Tally};

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub kills: usize,
    pub isolation: String,
    /// The store the decisions went to: `sled` or `postgres`.
    pub store: String,
    pub redis_only_per_second: f64,
    pub saturated_per_second: f64,
    pub saturated_ratio_to_redis_only: f64,
    /// CPU time (user + system, all of Medic's threads) per kill in the
    /// saturated phase: steadier than the rate on a shared, noisy machine.
    pub saturated_cpu_us_per_kill: f64,
    /// How long the engine was left idle between the two phases, so the
    /// paced phase measures steady arrivals, not the aftermath of the
    /// saturated phase's burst.
    pub settle_ms_between_phases: u64,
    pub paced_target_per_second: f64,
    pub paced_achieved_per_second: f64,
    /// CPU time per kill in the paced phase: all of Medic's threads, the
    /// load generator's sending thread left out (it is reported on its
    /// own). Usually higher than the saturated phase's: batches are
    /// smaller, and the engine shares the cores with the sender and Redis.
    pub paced_cpu_us_per_kill: f64,
    pub paced_sender_cpu_us_per_kill: f64,
    /// How busy the machine's cores were in the paced phase, everything on
    /// it counted (Medic, Redis, the sender): with the time stolen below,
    /// the headroom left, which the latency depends on. `null` without
    /// `/proc/stat`.
    pub paced_machine_busy_percent: Option<f64>,
    /// The share of the cores' time the hypervisor gave to other guests
    /// while this one had work (a virtual machine's steal time).
    pub paced_machine_steal_percent: Option<f64>,
    pub paced_latency_ms_p50: u64,
    pub paced_latency_ms_p99: u64,
    pub paced_latency_ms_max: u64,
    /// The store's flushes in the paced phase (each makes a batch durable
    /// before it is acknowledged), and how long their fsyncs took: the
    /// record log's, and sled's for the few that needed it (a dead letter
    /// or another write only sled holds). The disk's share of the latency,
    /// which no engine change removes.
    pub paced_flushes: u64,
    pub paced_record_log_sync_ms_mean: f64,
    pub paced_record_log_syncs_over_10ms: u64,
    pub paced_sled_flush_ms_mean: f64,
    pub paced_sled_flushes_over_10ms: u64,
}

/// The mean of a tally's observations, in milliseconds (two decimals).
fn mean_ms(t: Tally) -> f64 {
    if t.count == 0 {
        return 0.0;
    }
    (t.sum_us as f64 / t.count as f64 / 10.0).round() / 100.0
}

/// `us` of CPU time spread over `kills`, in microseconds (one decimal).
fn per_kill(us: f64, kills: usize) -> f64 {
    (us / kills as f64 * 10.0).round() / 10.0
}

fn entry_ms(id: &str) -> u64 {
    id.split('-')
        .next()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system) used so far by `who` (`RUSAGE_SELF`: this
/// process; `RUSAGE_THREAD`: the calling thread), in microseconds.
fn cpu_us(who: libc::c_int) -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole `rusage` into the pointer it is given.
    let usage = unsafe {
        if libc::getrusage(who, usage.as_mut_ptr()) != 0 {
            return 0.0;
        }
        usage.assume_init()
    };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

/// The machine's CPU time so far, in clock ticks, from the `cpu` line of
/// `/proc/stat`. `None` where there is none.
#[derive(Clone, Copy, Debug, PartialEq)]
struct MachineTicks {
    /// Running something: user, nice, system, irq, softirq.
    busy: u64,
    /// Taken by the hypervisor for other guests while this one had work.
    steal: u64,
    /// All of them, idle and iowait included (guest time is already in
    /// user).
    all: u64,
}

impl MachineTicks {
    fn now() -> Option<MachineTicks> {
        MachineTicks::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    fn parse(stat: &str) -> Option<MachineTicks> {
        let t: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|t| t.parse().ok())
            .collect::<Option<_>>()?;
        // user nice system idle iowait irq softirq steal …
        let (steal, idle) = (*t.get(7)?, t.get(3)? + t.get(4)?);
        let all: u64 = t.iter().take(8).sum();
        Some(MachineTicks {
            busy: all - idle - steal,
            steal,
            all,
        })
    }
}

/// The share of the machine's cores busy and stolen between two readings,
/// in percent (one decimal each).
fn machine_use(before: Option<MachineTicks>, after: Option<MachineTicks>) -> Option<(f64, f64)> {
    let (b, a) = (before?, after?);
    let all = a.all.checked_sub(b.all).filter(|t| *t > 0)? as f64;
    let pct = |from: u64, to: u64| (to.saturating_sub(from) as f64 * 1000.0 / all).round() / 10.0;
    Some((pct(b.busy, a.busy), pct(b.steal, a.steal)))
}

/// The pause between the saturated and the paced phase. Right after the
/// burst, the first ~100 ms of kills at 20,000/s waited up to 20–40 ms
/// (cause not found): enough to set a run's p99 alone. After this pause
/// they still did — the kernel zeroing fresh 2 MiB huge pages at first
/// touch — until Medic turned huge pages off for itself (`no_huge_pages`
/// in `main.rs`; docs/benchmarks-history.md, issue 3).
const SETTLE: Duration = Duration::from_secs(1);

fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

fn kill(i: usize, run: &str) -> String {
    json!({"version": "1.0", "message_type": "KILL_REPORT", "correlation_id": format!("lt-{i}"), "payload": {
        "kill_id": format!("{run}-{i}"), "timestamp": Utc::now().to_rfc3339(), "target_module": format!("svc-{}", i % 50),
        "target_instance_id": format!("svc-{}-1", i % 50), "kill_reason": "anomaly_behavior", "severity": "low",
        "confidence_score": 0.5, "evidence": ["load"], "dependencies": [], "source_agent": "loadtest", "metadata": {}
    }})
    .to_string()
}

/// Kills `from..from + n`, encoded before any timing starts (as a load
/// generator prepares its payloads), so encoding them is not measured.
fn kills_of(from: usize, n: usize, run: &str) -> Vec<String> {
    (from..from + n).map(|i| kill(i, run)).collect()
}

async fn produce(
    conn: &mut redis::aio::MultiplexedConnection,
    stream: &str,
    kills: &[String],
) -> anyhow::Result<()> {
    for chunk in kills.chunks(500) {
        let mut pipe = redis::pipe();
        for k in chunk {
            pipe.xadd(stream, "*", &[("data", k)]).ignore();
        }
        pipe.query_async::<()>(conn).await?;
    }
    Ok(())
}

/// Sends `kills` at `pace` per second from a thread and runtime of its
/// own, as Smith would from its own process: the engine's work never
/// delays a send. Every millisecond (the timer's grain) it sends the
/// kills due by then, so arrivals are as smooth as this can send and the
/// rate is exact (kills per tick are not rounded); a late tick sends what
/// it missed. Its result is the CPU time the sending took (this thread's,
/// in microseconds), which the engine's figures leave out.
fn send_paced(client: redis::Client, stream: String, kills: Vec<String>, pace: f64) -> Sender {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let mut conn = client.get_multiplexed_async_connection().await?;
            let tick = Duration::from_millis(1);
            let started = Instant::now();
            let mut next = started;
            let mut sent = 0;
            while sent < kills.len() {
                let due = ((started.elapsed().as_secs_f64() * pace) as usize + 1).min(kills.len());
                if due > sent {
                    produce(&mut conn, &stream, &kills[sent..due]).await?;
                    sent = due;
                }
                next += tick;
                tokio::time::sleep_until(next.into()).await;
            }
            Ok(cpu_us(libc::RUSAGE_THREAD))
        })
    })
}

/// The paced sender's thread.
type Sender = std::thread::JoinHandle<anyhow::Result<f64>>;

/// XREADGROUP + XACK as fast as Redis allows, with no work in between.
async fn redis_only(
    client: &redis::Client,
    stream: &str,
    n: usize,
    run: &str,
) -> anyhow::Result<f64> {
    let mut conn = client.get_multiplexed_async_connection().await?;
    produce(&mut conn, stream, &kills_of(0, n, run)).await?;
    let _: () = conn.xgroup_create_mkstream(stream, "g", "0").await?;
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let opts = StreamReadOptions::default().group("g", "c").count(256);
        let reply: StreamReadReply = conn.xread_options(&[stream], &[">"], &opts).await?;
        let ids: Vec<String> = reply
            .keys
            .into_iter()
            .flat_map(|k| k.ids)
            .map(|e| e.id)
            .collect();
        done += ids.len();
        let _: usize = conn.xack(stream, "g", &ids).await?;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _: usize = conn.del(stream).await?;
    Ok(rate)
}

pub async fn run(
    base: &Config,
    redis_url: &str,
    kills: usize,
    pace: f64,
    work_dir: &Path,
    database_url: Option<&str>,
) -> anyhow::Result<(Report, Vec<Acked>)> {
    anyhow::ensure!(kills > 0, "--kills: must be at least 1");
    anyhow::ensure!(
        pace.is_finite() && pace > 0.0,
        "--pace: must be a positive number of kills per second, not {pace}"
    );
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let client = redis::Client::open(redis_url)?;
    let ceiling = redis_only(
        &client,
        &format!("medic.loadtest.{run}.ceiling"),
        kills,
        &run,
    )
    .await?;

    let intel = work_dir.join("intel.yaml");
    std::fs::write(
        &intel,
        "default: {risk_score: 0.1, false_positive_history: 3}\n",
    )?;
    let mut config = base.clone();
    let bus = &mut config.medic.smith.event_bus;
    bus.kind = EventBusType::Redis;
    bus.url = Some(
        redis_url
            .parse()
            .with_context(|| format!("--redis: {redis_url:?} is not a URL"))?,
    );
    bus.topic = format!("medic.loadtest.{run}.kills");
    bus.response_topic = format!("medic.loadtest.{run}.responses");
    bus.dead_letter_topic = format!("medic.loadtest.{run}.dead");
    bus.block = std::time::Duration::from_millis(50);
    config.medic.siem.adapter = SiemAdapterType::File;
    config.medic.siem.intel_file = Some(intel.to_path_buf());
    let config = Arc::new(config);
    let registry = Arc::new(Registry::new(&config)?);
    let store = match database_url {
        Some(url) => Store::connect(url).context("--database-url")?,
        None => Store::open(&work_dir.join("store")).context("store")?,
    };
    let siem = enrich::from_config(&config, &|_| None)?;
    let decider = Engine::recording(Parts {
        config: config.clone(),
        registry,
        store,
        siem,
        metrics: Arc::new(Metrics::default()),
    })?
    .decider;

    let latencies: Arc<Mutex<Vec<Acked>>> = Arc::new(Mutex::new(Vec::with_capacity(kills * 2)));
    let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hook = {
        let latencies = latencies.clone();
        let acked = acked.clone();
        Arc::new(move |ids: &[String]| {
            let now = now_ms();
            acked.fetch_add(ids.len(), std::sync::atomic::Ordering::Relaxed);
            latencies.lock().extend(ids.iter().map(|id| Acked {
                at_ms: now,
                latency_ms: now.saturating_sub(entry_ms(id)),
            }));
        })
    };
    let stop = CancellationToken::new();
    let consumer = RedisConsumer::new(&config.medic.smith.event_bus, decider.clone())?.on_ack(hook);
    let mut producer = client.get_multiplexed_async_connection().await?;
    let topic = config.medic.smith.event_bus.topic.clone();

    // Saturated: a backlog of `kills`, consumed as fast as Medic can.
    produce(&mut producer, &topic, &kills_of(0, kills, &run)).await?;
    let started = Instant::now();
    let cpu_before = cpu_us(libc::RUSAGE_SELF);
    let task = tokio::spawn(consumer.run(stop.clone()));
    let progress = Progress::counting("kills decided (saturated)", Some(kills as u64));
    wait_for(
        &acked,
        0..kills,
        Duration::from_secs(600),
        &mut None,
        &progress,
    )
    .await?;
    progress.finish();
    let saturated = kills as f64 / started.elapsed().as_secs_f64();
    let saturated_cpu = cpu_us(libc::RUSAGE_SELF) - cpu_before;

    // Paced: kills arrive at `pace` per second; latency is measured here.
    latencies.lock().clear();
    let flush_times = decider.store.flush_times();
    let tallies = || {
        (
            flush_times.record_log.tally(10_000),
            flush_times.sled.tally(10_000),
        )
    };
    let paced = kills_of(kills, kills, &run);
    tokio::time::sleep(SETTLE).await;
    let before = tallies();
    let (cpu_before, machine_before) = (cpu_us(libc::RUSAGE_SELF), MachineTicks::now());
    let started = Instant::now();
    let mut sender = Some(send_paced(client.clone(), topic.clone(), paced, pace));
    let progress = Progress::counting(
        &format!("kills decided (paced at {pace}/s)"),
        Some(kills as u64),
    );
    let sender_cpu = wait_for(
        &acked,
        kills..2 * kills,
        Duration::from_secs(600),
        &mut sender,
        &progress,
    )
    .await?;
    progress.finish();
    let paced_elapsed = started.elapsed().as_secs_f64();
    let paced_cpu = cpu_us(libc::RUSAGE_SELF) - cpu_before - sender_cpu;
    let machine = machine_use(machine_before, MachineTicks::now());
    let after = tallies();
    let (log_sync, sled_flush) = (after.0 - before.0, after.1 - before.1);
    stop.cancel();
    let _ = task.await;

    // The engine has stopped: the acknowledgements are taken, not copied.
    let acked = std::mem::take(&mut *latencies.lock());
    let mut l: Vec<u64> = acked.iter().map(|a| a.latency_ms).collect();
    l.sort_unstable();
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let mut conn = client.get_multiplexed_async_connection().await?;
    let _: usize = conn
        .del(&[&topic, &config.medic.smith.event_bus.response_topic])
        .await?;
    let report = Report {
        kills,
        isolation: format!("{:?}", config.medic.plugins.isolation).to_lowercase(),
        store: if database_url.is_some() {
            "postgres"
        } else {
            "sled"
        }
        .into(),
        redis_only_per_second: ceiling.round(),
        saturated_per_second: saturated.round(),
        saturated_ratio_to_redis_only: (saturated / ceiling * 1000.0).round() / 1000.0,
        saturated_cpu_us_per_kill: per_kill(saturated_cpu, kills),
        settle_ms_between_phases: SETTLE.as_millis() as u64,
        paced_target_per_second: pace,
        paced_achieved_per_second: (kills as f64 / paced_elapsed).round(),
        paced_cpu_us_per_kill: per_kill(paced_cpu, kills),
        paced_sender_cpu_us_per_kill: per_kill(sender_cpu, kills),
        paced_machine_busy_percent: machine.map(|m| m.0),
        paced_machine_steal_percent: machine.map(|m| m.1),
        paced_latency_ms_p50: pct(0.50),
        paced_latency_ms_p99: pct(0.99),
        paced_latency_ms_max: l.last().copied().unwrap_or(0),
        paced_flushes: log_sync.count,
        paced_record_log_sync_ms_mean: mean_ms(log_sync),
        paced_record_log_syncs_over_10ms: log_sync.over,
        paced_sled_flush_ms_mean: mean_ms(sled_flush),
        paced_sled_flushes_over_10ms: sled_flush.over,
    };
    Ok((report, acked))
}

/// One kill of the paced phase: when its acknowledgement was sent and how
/// long after Redis stamped it.
#[derive(Clone, Copy, Debug)]
pub struct Acked {
    pub at_ms: u64,
    pub latency_ms: u64,
}

/// Writes the paced phase's kills as CSV, in acknowledgement order.
pub fn write_latencies(path: &Path, acked: &[Acked]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "acked_ms,latency_ms")?;
    for a in acked {
        writeln!(out, "{},{}", a.at_ms, a.latency_ms)?;
    }
    out.flush()
}

/// The paced sender's result.
fn joined(sender: Sender) -> anyhow::Result<f64> {
    sender
        .join()
        .map_err(|_| anyhow::anyhow!("the paced sender panicked"))?
}

/// Waits until the kills of `phase` are acknowledged (`phase.end` in all),
/// counting them on `progress` (shown on a terminal only); a sender that
/// stops with an error ends the wait with that error. Returns the CPU time the sender
/// used (0 without one).
async fn wait_for(
    acked: &std::sync::atomic::AtomicUsize,
    phase: std::ops::Range<usize>,
    limit: Duration,
    sender: &mut Option<Sender>,
    progress: &Progress,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut sent_cpu = 0.0;
    let n = phase.end;
    loop {
        if let Some(done) = sender.take_if(|s| s.is_finished()) {
            sent_cpu = joined(done)?;
        }
        let done = acked.load(std::sync::atomic::Ordering::Relaxed);
        progress.set(done.saturating_sub(phase.start) as u64);
        if done >= n {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < limit,
            "only {} of {n} kills decided in {limit:?}",
            acked.load(std::sync::atomic::Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Everything was sent before it could be acknowledged: this thread is
    // at its end.
    if let Some(done) = sender.take() {
        sent_cpu = joined(done)?;
    }
    Ok(sent_cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machines_busy_and_stolen_shares_are_read_from_proc_stat() {
        let at = |user, idle, steal| {
            // user nice system idle iowait irq softirq steal guest guest_nice
            let line = format!("cpu  {user} 0 10 {idle} 5 1 4 {steal} 7 0\ncpu0 1 2 3\n");
            MachineTicks::parse(&line).expect("a cpu line")
        };
        let before = at(100, 1000, 20);
        assert_eq!(
            before,
            MachineTicks {
                busy: 115,
                steal: 20,
                all: 1140
            },
            "guest time is not counted twice, iowait is idle"
        );
        // 200 more ticks: 120 busy, 30 stolen, 50 idle.
        let after = at(220, 1050, 50);
        assert_eq!(machine_use(Some(before), Some(after)), Some((60.0, 15.0)));
        assert_eq!(
            machine_use(Some(before), Some(before)),
            None,
            "no time passed"
        );
        assert_eq!(machine_use(None, Some(after)), None);
        assert_eq!(MachineTicks::parse("intr 1 2\n"), None);
        assert_eq!(MachineTicks::parse("cpu  1 2 x 4 5 6 7 8\n"), None);
        assert_eq!(MachineTicks::parse("cpu  1 2 3\n"), None, "too few fields");
    }

    #[test]
    fn a_threads_cpu_time_is_its_own() {
        // Another thread works until its own CPU time has grown by 50 ms
        // (however loaded the machine) while this one sleeps: the process's
        // time grows by that much, this thread's hardly at all.
        let (mine, all) = (cpu_us(libc::RUSAGE_THREAD), cpu_us(libc::RUSAGE_SELF));
        let worker = std::thread::spawn(|| {
            let (from, started) = (cpu_us(libc::RUSAGE_THREAD), Instant::now());
            let mut x = 0u64;
            while cpu_us(libc::RUSAGE_THREAD) - from < 50_000.0 {
                x = x.wrapping_add(std::hint::black_box(1));
                if started.elapsed() > Duration::from_secs(20) {
                    return None;
                }
            }
            Some(cpu_us(libc::RUSAGE_THREAD) - from)
        });
        while !worker.is_finished() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let worked = worker.join().unwrap().expect("the thread's CPU time grew");
        assert!(worked >= 50_000.0);
        assert!(cpu_us(libc::RUSAGE_SELF) - all >= 50_000.0, "the process's");
        assert!(
            cpu_us(libc::RUSAGE_THREAD) - mine < 25_000.0,
            "a sleeping thread was charged the other's work"
        );
    }
}
