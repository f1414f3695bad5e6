//! The `medic` command: parse arguments, load configuration, run a
//! subcommand. Errors end here, printed with their causes.

use clap::Parser;
use medic::cli::{Cli, Command};
use medic::commands;

fn main() -> std::process::ExitCode {
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
        Command::Report { command } => commands::report::run(&cli.files, command),
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
