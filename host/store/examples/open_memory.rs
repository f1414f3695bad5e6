//! Resident memory of opening a large store, with mimalloc set as `medic`
//! sets it (freed memory kept, host/main.rs): what the store's own start
//! costs `medic serve`, without building all of Medic
//! (docs/BENCHMARKS.md, "Memory of a large store").
//!
//! Run: `cargo run --release -p medic-store --example open_memory -- fill
//! STORE [RECORDS] [DAYS]` (decided kills through `Store::store_decision`
//! and `Store::audit`, as `benches/store_fill.rs` writes them: defaults
//! 1,000,000 over the last 7 days, 200 modules), then `... -- open STORE
//! [keep]`:
//! VmRSS from `/proc/self/status` before and after `Store::open`, then
//! after handing back the pages freed while opening, as `medic serve`
//! does once started (`keep`: freed memory kept throughout instead); and
//! the time of the claim check each kill makes (`Store::decision_for_kill`)
//! for a million kills never decided and 100,000 decided before.

use std::path::PathBuf;
use std::time::Instant;

use medic_store::Store;

// The filling is shared with `benches/store_fill.rs`.
#[path = "common/fill.rs"]
mod fill;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its `mimalloc.h`, version 3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn rss_mb() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    format!("RSS {} MB (peak {} MB)", field("VmRSS:"), field("VmHWM:"))
}

/// mimalloc's `mi_option_allow_thp` (its `mimalloc.h`, version 3).
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// No transparent huge pages, as `medic` (host/main.rs): with them a
/// partly used 2 MiB page counts whole.
fn no_huge_pages() {
    // SAFETY: sets an integer option; PR_SET_THP_DISABLE takes integer
    // arguments and touches no memory of ours.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn purge_delay(ms: std::ffi::c_long) {
    // SAFETY: sets an integer option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms) };
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    no_huge_pages();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode), Some(path)) = (args.first(), args.get(1).map(PathBuf::from)) else {
        eprintln!("usage: open_memory fill STORE [RECORDS] [DAYS] | open STORE [keep]");
        return Ok(());
    };
    match mode.as_str() {
        "fill" => {
            let records: usize = args.get(2).map_or(Ok(1_000_000), |s| s.parse())?;
            let days: i64 = args.get(3).map_or(Ok(7), |s| s.parse())?;
            fill::fill(&path, records, days)
        }
        "open" => {
            // As `medic serve` starts: freed memory handed back at once
            // (`keep`: kept throughout, as before it did).
            let keep = args.get(2).is_some_and(|a| a == "keep");
            purge_delay(if keep { -1 } else { 0 });
            println!("before open: {}", rss_mb());
            let started = Instant::now();
            let store = Store::open(&path)?;
            println!(
                "after open ({} claims, {:.1} s): {}",
                store.decision_count(),
                started.elapsed().as_secs_f64(),
                rss_mb()
            );
            // The claim check every kill makes: kills never decided (the
            // common case), then kills decided before the store opened.
            let n = 1_000_000;
            let started = Instant::now();
            let mut found = 0;
            for i in 0..n {
                found += usize::from(store.decision_for_kill(&format!("new-{i:08}"))?.is_some());
            }
            let absent = started.elapsed().as_nanos() / n as u128;
            let started = Instant::now();
            for i in (0..n).step_by(10) {
                found += usize::from(store.decision_for_kill(&format!("fill-{i:08}"))?.is_some());
            }
            let present = started.elapsed().as_nanos() / (n as u128 / 10);
            println!(
                "claim check: {absent} ns a kill never decided, {present} ns a kill decided before ({found} found)"
            );
            // SAFETY: frees this thread's empty pages; takes no pointer.
            unsafe { libmimalloc_sys::mi_collect(true) };
            purge_delay(-1);
            println!("after handing back: {}", rss_mb());
            drop(store);
            Ok(())
        }
        other => Err(format!("unknown mode {other}: fill or open").into()),
    }
}
