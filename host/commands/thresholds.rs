//! `medic learn run` and `medic thresholds …`: through the running engine's
//! API, so every change is checked, recorded and audited there.

use anyhow::bail;
use serde_json::{Value, json};

use super::remote::{Api, print_json};
use crate::cli::{ConfigFiles, Remote, ThresholdsCommand};

pub fn learn(files: &ConfigFiles, remote: &Remote) -> anyhow::Result<()> {
    let api = Api::new(files, remote)?;
    let run = api.call(
        reqwest::Method::POST,
        "/api/v1/config/thresholds/learn",
        None,
    )?;
    match run["change"].as_object() {
        None => println!(
            "the learner saw {} outcome(s) and proposed no change",
            run["samples"]
        ),
        Some(c) => {
            println!("change {} from {} outcome(s):", c["id"], run["samples"]);
            print_changes(&run["change"]);
        }
    }
    Ok(())
}

fn print_changes(change: &Value) {
    if let Some(after) = change["after"].as_object() {
        for (k, v) in after {
            println!("  {k}: {} -> {}", rounded(&change["before"][k]), rounded(v));
        }
    }
    if let Some(reasons) = change["reasons"].as_array() {
        for r in reasons {
            println!("  because {}", r.as_str().unwrap_or(""));
        }
    }
}

pub fn thresholds(
    files: &ConfigFiles,
    remote: &Remote,
    command: &ThresholdsCommand,
) -> anyhow::Result<()> {
    let api = Api::new(files, remote)?;
    match command {
        ThresholdsCommand::Show => {
            let data = api.call(reqwest::Method::GET, "/api/v1/config/thresholds", None)?;
            print_json(&data["current"])
        }
        ThresholdsCommand::History => {
            let data = api.call(reqwest::Method::GET, "/api/v1/config/thresholds", None)?;
            for c in data["history"].as_array().cloned().unwrap_or_default() {
                println!(
                    "#{} {} {} by {}",
                    c["id"],
                    c["at"].as_str().unwrap_or(""),
                    c["source"].as_str().unwrap_or(""),
                    c["actor"].as_str().unwrap_or("")
                );
                print_changes(&c);
            }
            Ok(())
        }
        ThresholdsCommand::Set { values, reason } => {
            let mut map = serde_json::Map::new();
            for v in values {
                let Some((k, n)) = v.split_once('=') else {
                    bail!("{v:?}: write NAME=VALUE (e.g. risk.low=0.35)");
                };
                let n: f64 = n
                    .parse()
                    .map_err(|_| anyhow::anyhow!("{v:?}: {n:?} is not a number"))?;
                map.insert(k.to_string(), json!(n));
            }
            let change = api.call(
                reqwest::Method::PUT,
                "/api/v1/config/thresholds",
                Some(json!({"values": map, "reason": reason})),
            )?;
            println!("change {}:", change["id"]);
            print_changes(&change);
            Ok(())
        }
        ThresholdsCommand::Revert { id } => {
            let change = api.call(
                reqwest::Method::POST,
                &format!("/api/v1/config/thresholds/{id}/revert"),
                None,
            )?;
            println!("change {} reverts {id}:", change["id"]);
            print_changes(&change);
            Ok(())
        }
    }
}

/// A threshold as people read it: at most four decimals, no trailing
/// zeros (0.5720000000000001 is 0.572); anything not a number as it is.
fn rounded(v: &Value) -> String {
    match v.as_f64() {
        Some(n) if n.is_finite() => {
            let s = format!("{n:.4}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            if s == "-0" {
                "0".to_string()
            } else {
                s.to_string()
            }
        }
        _ => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_printed_rounded() {
        assert_eq!(rounded(&json!(0.5720000000000001)), "0.572");
        assert_eq!(rounded(&json!(0.85)), "0.85");
        assert_eq!(rounded(&json!(0.12345678)), "0.1235");
        assert_eq!(rounded(&json!(60.0)), "60");
        assert_eq!(rounded(&json!(-0.00001)), "0");
        assert_eq!(rounded(&Value::Null), "null");
    }
}
