//! The `medic` command: parse arguments, load configuration, run a
//! subcommand. Errors end here, printed with their causes.

use anyhow::Context;
use clap::Parser;
use medic::cli::{Cli, Command};
use medic::commands;

/// mimalloc instead of the system allocator: deciding a kill allocates and
/// frees many small buffers across threads (JSON, sled nodes), where glibc's
/// malloc spent a quarter of the time (see docs/benchmarks-history.md,
/// issue 3).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its `mimalloc.h`, version 3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory for reuse instead of handing it back to the kernel a
/// second later: under load the same memory was purged and faulted in again
/// (zeroed by the kernel, 2 MiB at a time), about 3% of all CPU time (see
/// docs/benchmarks-history.md, issue 3). The heap then stays at its
/// high-water mark. `MIMALLOC_PURGE_DELAY` in the environment still decides
/// when it is set.
fn keep_freed_memory() {
    set_mimalloc_option("MIMALLOC_PURGE_DELAY", MI_OPTION_PURGE_DELAY, -1);
}

/// `medic serve` reads the whole time index as it opens the store (the
/// claims, host/store/claims.rs), and loads and compiles the plugins:
/// memory freed meanwhile, kept for reuse, stayed resident for good (with
/// `MIMALLOC_PURGE_DELAY=0` throughout, 15 MB less after start at a million
/// stored decisions: docs/BENCHMARKS.md, "Memory of a large store"). While
/// it starts, freed memory is handed back to the kernel at once
/// ([`started`] then keeps it again). Whether this was set (not when
/// `MIMALLOC_PURGE_DELAY` in the environment decides).
fn hand_back_freed_memory_while_starting() -> bool {
    set_mimalloc_option("MIMALLOC_PURGE_DELAY", MI_OPTION_PURGE_DELAY, 0)
}

/// `medic serve` has started: the pages this thread freed while starting
/// and still holds go back to the kernel, then freed memory is kept for
/// reuse as by every command ([`keep_freed_memory`]).
fn started(handing_back: bool) {
    if !handing_back {
        return;
    }
    // SAFETY: frees this thread's empty pages; takes no pointer.
    unsafe { libmimalloc_sys::mi_collect(true) };
    keep_freed_memory();
}

/// Sets a mimalloc option unless `env`, the variable mimalloc reads it
/// from, is set (then that decides); whether it was set here.
fn set_mimalloc_option(
    env: &str,
    option: libmimalloc_sys::mi_option_t,
    value: std::ffi::c_long,
) -> bool {
    if std::env::var_os(env).is_some() {
        return false;
    }
    // SAFETY: sets an integer option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(option, value) };
    true
}

/// mimalloc's `mi_option_allow_thp` (its `mimalloc.h`, version 3).
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// Turns transparent huge pages off for this process (mimalloc's own option,
/// and the kernel's per-process switch, which also covers memory mapped
/// before `main` and on systems where THP is `always`). With them, the first
/// touch of each fresh 2 MiB region had the kernel zero all of it: after an
/// idle second, the first 150 ms of kills at 20,000/s spent a quarter of
/// their CPU time there and up to 2,400 of them waited over 10 ms; without,
/// none did in five runs of six (see docs/benchmarks-history.md, issue 3).
/// `MIMALLOC_ALLOW_THP` in the environment still decides when it is set.
fn no_huge_pages() {
    if !set_mimalloc_option("MIMALLOC_ALLOW_THP", MI_OPTION_ALLOW_THP, 0) {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments and touches no
    // memory of ours; a kernel without it returns an error, ignored.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Lets a command that writes its answer to standard output end quietly
/// when the reader goes away (`medic plugin list | head`), as Unix tools
/// do, instead of panicking on the broken pipe: the default action of
/// SIGPIPE, which Rust's runtime sets to "ignore". Only for commands that
/// hold no network connection, where a peer going away must stay an error
/// to handle (`serve`, `loadtest`, `record`, and those that call the API).
fn end_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal, before any
    // thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> std::process::ExitCode {
    keep_freed_memory();
    no_huge_pages();
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Config { .. }
            | Command::Openapi
            | Command::Plugin { .. }
            | Command::Simulate { .. }
            | Command::Replay { .. }
    ) {
        end_quietly_on_a_closed_pipe();
    }
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause once: an error whose
/// message already quotes its source (`cannot read x: No such file…`) does
/// not have that source printed again after it.
fn chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve => {
            let config = commands::load_config(&cli.files)?;
            let _logs = medic::telemetry::init(&config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            let handing_back = hand_back_freed_memory_while_starting();
            runtime.block_on(commands::serve::run(config, || started(handing_back)))
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
            database_url,
        } => {
            let config = commands::load_config(&cli.files)?;
            // Logged as `serve` logs, so the figures include what logging costs.
            let _logs = medic::telemetry::init(&config)?;
            let dir = tempfile_dir()?;
            let runtime = tokio::runtime::Runtime::new()?;
            let report = runtime.block_on(medic::loadtest::run(
                &config,
                redis,
                *kills,
                *pace,
                &dir,
                database_url.as_deref(),
            ));
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
        Command::Report { remote, command } => commands::report::run(&cli.files, remote, command),
        Command::Queue { remote, command } => commands::queue::queue(&cli.files, remote, command),
        Command::Mode { remote, command } => commands::queue::mode(&cli.files, remote, command),
        Command::Shadow { remote, command } => commands::queue::shadow(&cli.files, remote, command),
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
    /// One test for the one option (tests run side by side): handed back
    /// while `serve` starts, kept from then on and by every command.
    #[test]
    fn freed_memory_is_handed_back_while_starting_then_kept_unless_the_environment_says_otherwise()
    {
        // SAFETY: reads an integer option.
        let delay = || unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        let set = std::env::var("MIMALLOC_PURGE_DELAY").ok();
        let handing_back = super::hand_back_freed_memory_while_starting();
        assert_eq!(handing_back, set.is_none());
        match &set {
            Some(v) => assert_eq!(Some(delay()), v.parse().ok()),
            None => assert_eq!(delay(), 0, "handed back at once while starting"),
        }
        super::started(handing_back);
        match &set {
            Some(v) => assert_eq!(Some(delay()), v.parse().ok()),
            None => assert_eq!(delay(), -1, "kept once started"),
        }
        super::keep_freed_memory();
        match &set {
            Some(v) => assert_eq!(Some(delay()), v.parse().ok()),
            None => assert_eq!(delay(), -1),
        }
    }

    #[test]
    fn huge_pages_are_off_unless_the_environment_says_otherwise() {
        super::no_huge_pages();
        // SAFETY: reads an integer option.
        let allowed = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_ALLOW_THP) };
        if let Ok(v) = std::env::var("MIMALLOC_ALLOW_THP") {
            assert_eq!(Some(allowed), v.parse().ok());
            return;
        }
        assert_eq!(allowed, 0);
        #[cfg(target_os = "linux")]
        {
            // SAFETY: PR_GET_THP_DISABLE only returns the process's flag.
            let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
            assert_eq!(disabled, 1, "the kernel's THP switch for this process");
        }
    }
}
