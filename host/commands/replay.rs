//! `medic simulate` and `medic replay`.

use anyhow::{Context, bail};

use crate::cli::{Command, ConfigFiles, Format};
use crate::config::{Isolation, Mode};
use crate::replay::summary::CostModel;
use crate::replay::{self, Options, Reviewer, simulate};

pub fn run(files: &ConfigFiles, command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Simulate {
            scenario,
            seed,
            kills,
            out,
        } => {
            let s = simulate::Scenario::load(scenario)?;
            let file = std::fs::File::create(out)
                .with_context(|| format!("cannot write {}", out.display()))?;
            // Lines written: the header, then one per kill.
            let progress =
                crate::progress::Progress::counting("lines written", Some(*kills as u64 + 1));
            simulate::simulate(
                &s,
                *seed,
                *kills,
                crate::progress::CountingLines::new(file, progress),
            )
            .with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "wrote {kills} kills of scenario {} (seed {seed}) to {}",
                s.name,
                out.display()
            );
            Ok(())
        }
        Command::Replay {
            recording,
            strategies,
            scorer,
            threads,
            strict,
            mode,
            format,
            decisions,
            html,
            timing,
            learn,
            learner,
            reviewer,
            review_delay_minutes,
            costs,
            no_calibration,
        } => {
            let config = super::load_config_caching(files)?;
            let mode = match mode {
                None => None,
                Some(m) => match serde_yaml::from_str::<Mode>(m) {
                    Ok(m) => Some(m),
                    Err(_) => {
                        bail!("--mode {m:?} is not one of observer, manual, semi_auto, full_auto")
                    }
                },
            };
            let mut opts = Options::new(
                recording.clone(),
                strategies.clone(),
                threads
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
                    .max(1),
            );
            opts.scorer = scorer.clone();
            opts.isolation = if *strict {
                Isolation::Strict
            } else {
                Isolation::Reuse
            };
            opts.mode = mode;
            opts.decisions = decisions.clone();
            opts.learn = *learn;
            opts.learner = learner.clone();
            opts.reviewer = if reviewer == "none" {
                Reviewer::None
            } else {
                Reviewer::Label
            };
            opts.review_delay_minutes = *review_delay_minutes;
            opts.calibration = !*no_calibration;
            opts.costs = CostModel::default()
                .with_overrides(costs)
                .map_err(anyhow::Error::msg)?;
            let (report, measured) = replay::run(&config, &opts)?;
            match format {
                Format::Table => print!("{}", report.table()),
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            }
            if let Some(path) = html {
                std::fs::write(path, replay::html::render(&report, &measured))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            if *timing {
                eprintln!("{}", serde_json::to_string_pretty(&measured)?);
            }
            Ok(())
        }
        Command::Record {
            out,
            redis,
            stream,
            hours,
        } => {
            let file = std::fs::File::create(out)
                .with_context(|| format!("cannot write {}", out.display()))?;
            let captured = match redis {
                Some(url) => tokio::runtime::Runtime::new()?
                    .block_on(replay::record::from_redis(url, stream, file))?,
                None => {
                    let config = super::load_config(files)?;
                    let path = &config.medic.learning.database.path;
                    let store = crate::store::Store::open(std::path::Path::new(path))
                        .with_context(|| format!("opening the store at {path} (is a medic running? stop it, or record from Redis)"))?;
                    replay::record::from_store(&config, &store, *hours, file)?
                }
            };
            eprintln!(
                "wrote {} kills to {} ({} invalid entries skipped)",
                captured.written,
                out.display(),
                captured.skipped_invalid
            );
            Ok(())
        }
        _ => bail!("not a replay command"),
    }
}
