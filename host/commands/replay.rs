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
            remote,
        } => {
            if *hours <= 0 {
                bail!("--hours must be at least 1, not {hours}");
            }
            let file = std::fs::File::create(out)
                .with_context(|| format!("cannot write {}", out.display()))?;
            let lines = crate::progress::CountingLines::new(
                file,
                crate::progress::Progress::counting("lines written", None),
            );
            let captured = match redis {
                Some(url) => tokio::runtime::Runtime::new()?
                    .block_on(replay::record::from_redis(url, stream, lines))?,
                None => {
                    let config = super::load_config(files)?;
                    let path = crate::store::Store::describe(&config.medic.learning.database);
                    match crate::store::Store::open_configured(&config.medic.learning.database) {
                        Ok(store) => replay::record::from_store(&config, &store, *hours, lines)?,
                        Err(crate::store::StoreError::Locked { .. }) => {
                            // A running Medic holds the store: ask it.
                            let api = super::remote::Api::new(files, remote).with_context(|| {
                                format!("the store at {path} is held by a running medic, so the export goes through its API")
                            })?;
                            from_api(&config, &api, *hours, lines)?
                        }
                        Err(e) => {
                            return Err(e).with_context(|| format!("opening the store at {path}"));
                        }
                    }
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

/// `medic record` through a running Medic's API
/// (`GET /api/v1/decisions/records`, a page of 1,000 at a time).
fn from_api<W: std::io::Write>(
    config: &crate::config::Config,
    api: &super::remote::Api,
    hours: i64,
    out: W,
) -> anyhow::Result<replay::record::Captured> {
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    replay::record::from_pages(config, hours, out, |from, to, cursor| {
        let mut path = format!(
            "/api/v1/decisions/records?limit=1000&from={}&to={}",
            at(from),
            at(to)
        );
        if let Some(c) = cursor {
            path.push_str("&cursor=");
            path.extend(form_urlencoded::byte_serialize(c.as_bytes()));
        }
        let page = api.call(reqwest::Method::GET, &path, None)?;
        let records = serde_json::from_value(page["records"].clone())
            .context("the running Medic's records are not as this medic reads them")?;
        Ok((records, page["next_cursor"].as_str().map(str::to_string)))
    })
}
