//! The `command` backend: templated restart, rollback and status commands
//! (systemctl, docker, kubectl, …). Each is run directly — argv, never a
//! shell — with the kill's values checked and substituted one argument at
//! a time, under a time limit.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::backend::{Backend, BackendError, call_timeout};
use super::template::Target;
use crate::config::raw::BackendSection;
use crate::enrich::BoxFuture;

/// How much of a failed command's output an error keeps.
const OUTPUT_KEPT: usize = 2048;

pub struct CommandBackend {
    section: BackendSection,
    timeout: Duration,
}

impl CommandBackend {
    pub fn new(section: BackendSection) -> Self {
        CommandBackend {
            timeout: call_timeout(&section),
            section,
        }
    }
}

/// Runs one templated argv for `t`; `Ok(true)` when it exits 0.
pub async fn run(
    action: &'static str,
    template: &[String],
    t: &Target,
    timeout: Duration,
) -> Result<std::process::Output, BackendError> {
    let argv = t.argv(template)?;
    let (program, args) = argv
        .split_first()
        .ok_or(BackendError::Unsupported(action))?;
    let child = Command::new(program)
        .args(args)
        .envs(t.env())
        .env("MEDIC_ACTION", action)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| BackendError::Spawn {
            action,
            detail: format!("{program}: {e}"),
        })?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => Err(BackendError::Timeout {
            action,
            seconds: timeout.as_secs_f64(),
        }),
        Ok(Err(e)) => Err(BackendError::Spawn {
            action,
            detail: e.to_string(),
        }),
        Ok(Ok(out)) => Ok(out),
    }
}

fn tail(out: &std::process::Output) -> String {
    let mut s = String::from_utf8_lossy(&out.stderr).into_owned();
    if s.trim().is_empty() {
        s = String::from_utf8_lossy(&out.stdout).into_owned();
    }
    let s = s.trim();
    let start = s.len().saturating_sub(OUTPUT_KEPT);
    let start = (start..=s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    s[start..].to_string()
}

async fn must_succeed(
    action: &'static str,
    template: &[String],
    t: &Target,
    timeout: Duration,
) -> Result<(), BackendError> {
    if template.is_empty() {
        return Err(BackendError::Unsupported(action));
    }
    let out = run(action, template, t, timeout).await?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BackendError::Exit {
            action,
            code: out.status.to_string(),
            output: tail(&out),
        })
    }
}

impl Backend for CommandBackend {
    fn kind(&self) -> &'static str {
        "command"
    }

    fn restart<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(must_succeed(
            "restart",
            &self.section.restart,
            t,
            self.timeout,
        ))
    }

    fn rollback<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(must_succeed(
            "rollback",
            &self.section.rollback,
            t,
            self.timeout,
        ))
    }

    fn status<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            if self.section.status.is_empty() {
                return Err(BackendError::Unsupported("status"));
            }
            Ok(run("status", &self.section.status, t, self.timeout)
                .await?
                .status
                .success())
        })
    }
}
