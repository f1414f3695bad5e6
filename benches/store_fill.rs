//! Fills a store on disk with decided kills through the store's own API
//! (`Store::store_decision` and `Store::audit`, as `medic serve` writes
//! them), for measuring what a large store costs `medic serve`: its
//! resident memory after start and across reports (`benches/store_memory.sh`).
//!
//! Run: `cargo bench --bench store_fill -- STORE_PATH [RECORDS] [DAYS]`
//! (defaults: 1,000,000 records spread evenly over the last 7 days, the
//! newest a minute ago; 200 modules; one audit event per decision).
//! A million records take about 2.6 GB of disk.

use std::path::PathBuf;

// The filling itself is shared with the store's `open_memory` example.
#[path = "../host/store/examples/common/fill.rs"]
mod fill;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench` to every bench binary: skip flags.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(path) = args.first().map(PathBuf::from) else {
        eprintln!("usage: cargo bench --bench store_fill -- STORE_PATH [RECORDS] [DAYS]");
        return Ok(());
    };
    let records: usize = args.get(1).map_or(Ok(1_000_000), |s| s.parse())?;
    let days: i64 = args.get(2).map_or(Ok(7), |s| s.parse())?;
    fill::fill(&path, records, days)
}
