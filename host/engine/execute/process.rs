//! The `process` backend: Medic starts the module's process itself, from
//! the command, arguments, environment and working directory in config,
//! and keeps the child so it can tell whether it runs and stop it on
//! rollback. Children get their own process group, so stopping Medic does
//! not take the services down with it.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::process::{Child, Command};

use super::backend::{Backend, BackendError};
use super::template::Target;
use crate::config::raw::BackendSection;
use crate::enrich::BoxFuture;

/// How long a stopped process has between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

pub struct ProcessBackend {
    section: BackendSection,
    /// The child Medic started for each module.
    children: Mutex<HashMap<String, Child>>,
}

impl ProcessBackend {
    pub fn new(section: BackendSection) -> Self {
        ProcessBackend {
            section,
            children: Mutex::new(HashMap::new()),
        }
    }

    fn take(&self, module: &str) -> Option<Child> {
        self.children.lock().remove(module)
    }

    fn spawn(&self, t: &Target) -> Result<Child, BackendError> {
        t.check()?;
        let s = &self.section;
        let program = t.fill(&s.command);
        let mut cmd = Command::new(&program);
        cmd.args(s.args.iter().map(|a| t.fill(a)))
            .env_clear()
            .envs(std::env::var_os("PATH").map(|p| ("PATH", p)))
            .envs(&s.env)
            .envs(t.env())
            .stdin(Stdio::null())
            .kill_on_drop(false)
            .process_group(0);
        if let Some(dir) = &s.working_dir {
            cmd.current_dir(dir);
        }
        if let Some(log_file) = &s.log_file {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_file)
                .map_err(|e| BackendError::Spawn {
                    action: "restart",
                    detail: format!("log_file {}: {e}", log_file.display()),
                })?;
            let err = log.try_clone().map_err(|e| BackendError::Spawn {
                action: "restart",
                detail: e.to_string(),
            })?;
            cmd.stdout(log).stderr(err);
        } else {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        cmd.spawn().map_err(|e| BackendError::Spawn {
            action: "restart",
            detail: format!("{program}: {e}"),
        })
    }
}

/// SIGTERM, then SIGKILL after the grace period; reaps the child.
async fn stop(mut child: Child) {
    if let Some(pid) = child.id() {
        // SAFETY: signalling a pid this process spawned and has not reaped.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
        if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.kill().await;
}

impl Backend for ProcessBackend {
    fn kind(&self) -> &'static str {
        "process"
    }

    fn restart<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            // A restart replaces whatever this backend started before.
            if let Some(old) = self.take(&t.module) {
                stop(old).await;
            }
            let mut child = self.spawn(t)?;
            if let Ok(Some(status)) = child.try_wait() {
                return Err(BackendError::Exit {
                    action: "restart",
                    code: status.to_string(),
                    output: "the process exited at once".into(),
                });
            }
            tracing::info!(module = %t.module, request_id = %t.request_id, pid = child.id(), "Process started");
            self.children.lock().insert(t.module.clone(), child);
            Ok(())
        })
    }

    fn rollback<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            match self.take(&t.module) {
                Some(child) => {
                    stop(child).await;
                    Ok(())
                }
                None => Err(BackendError::Unsupported(
                    "rollback of a process this Medic did not start",
                )),
            }
        })
    }

    fn status<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            let mut children = self.children.lock();
            Ok(children
                .get_mut(&t.module)
                .is_some_and(|c| matches!(c.try_wait(), Ok(None))))
        })
    }
}
