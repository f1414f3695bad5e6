//! The `medic` command: parse arguments, load configuration, run a
//! subcommand. Errors end here, printed with their causes.

use anyhow::Context;
use clap::Parser;
use medic::cli::{Cli, Command};
use medic::commands;

/// mimalloc instead of the system allocator: deciding a kill allocates and
/// frees many small buffers across threads (JSON, sled nodes), where glibc's
/// malloc spent a quarter of the time (see docs/BENCHMARKS.md, issue 3).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its `mimalloc.h`, version 3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory for reuse instead of handing it back to the kernel a
/// second later: under load the same memory was purged and faulted in again
/// (zeroed by the kernel, 2 MiB at a time), about 3% of all CPU time (see
/// docs/BENCHMARKS.md, issue 3). The heap then stays at its high-water mark.
/// `MIMALLOC_PURGE_DELAY` in the environment still decides when it is set.
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets an integer option; mimalloc reads options atomically.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

fn main() -> std::process::ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve => {
            let config = commands::load_config(&cli.files)?;
            let _logs = medic::telemetry::init(&config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(commands::serve::run(config))
        }
        Command::Config { command } => commands::config::run(&cli.files, command),
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&medic::api::openapi_document())?
            );
            Ok(())
        }
        Command::Loadtest {
            redis,
            kills,
            pace,
            latencies,
        } => {
            let config = commands::load_config(&cli.files)?;
            // Logged as `serve` logs, so the figures include what logging costs.
            let _logs = medic::telemetry::init(&config)?;
            let dir = tempfile_dir()?;
            let runtime = tokio::runtime::Runtime::new()?;
            let report =
                runtime.block_on(medic::loadtest::run(&config, redis, *kills, *pace, &dir));
            let _ = std::fs::remove_dir_all(&dir);
            let (report, acked) = report?;
            // The report first: a file that cannot be written does not lose it.
            println!("{}", serde_json::to_string_pretty(&report)?);
            if let Some(path) = latencies {
                medic::loadtest::write_latencies(path, &acked)
                    .with_context(|| format!("--latencies: cannot write {}", path.display()))?;
            }
            Ok(())
        }
        Command::Simulate { .. } | Command::Replay { .. } | Command::Record { .. } => {
            init_quiet();
            commands::replay::run(&cli.files, &cli.command)
        }
        Command::Report { command } => commands::report::run(&cli.files, command),
        Command::Queue { remote, command } => commands::queue::queue(&cli.files, remote, command),
        Command::Mode { remote, command } => commands::queue::mode(&cli.files, remote, command),
        Command::Learn { remote, command: _ } => commands::thresholds::learn(&cli.files, remote),
        Command::Thresholds { remote, command } => {
            commands::thresholds::thresholds(&cli.files, remote, command)
        }
        Command::Plugin { command } => {
            init_quiet();
            commands::plugin::run(&cli.files, command)
        }
    }
}

/// One-shot commands log warnings and errors to stderr only.
fn init_quiet() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .try_init();
}

/// A fresh working directory for the load test's store and intel file.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("medic-loadtest-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    #[test]
    fn freed_memory_is_kept_unless_the_environment_says_otherwise() {
        super::keep_freed_memory();
        // SAFETY: reads an integer option.
        let delay = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        match std::env::var("MIMALLOC_PURGE_DELAY") {
            Ok(v) => assert_eq!(Some(delay), v.parse().ok()),
            Err(_) => assert_eq!(delay, -1),
        }
    }
}
