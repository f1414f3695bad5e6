//! For tests of Medic acting on decisions: a real demo service process to
//! kill and bring back, and a real `medic serve` on a private Redis with its
//! API, configured by editing the embedded YAML.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use serde_yaml::Value as Yaml;

use crate::redis_server::RedisServer;

pub const DEMO: &str = env!("CARGO_BIN_EXE_medic-demo-service");
pub const STREAM: &str = "smith.events.kill_notifications";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pid_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks the pid exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// Sets `path` (dotted) in a YAML document, creating maps on the way.
pub fn yaml_set(doc: &mut Yaml, path: &str, value: Yaml) {
    let mut node = doc;
    let keys: Vec<&str> = path.split('.').collect();
    for (i, k) in keys.iter().enumerate() {
        let map = node.as_mapping_mut().expect("a mapping");
        let key = Yaml::String((*k).to_string());
        if i == keys.len() - 1 {
            map.insert(key, value);
            return;
        }
        if !map.contains_key(&key) {
            map.insert(key.clone(), Yaml::Mapping(Default::default()));
        }
        node = map.get_mut(&key).expect("just inserted");
    }
}

/// Every entry of a stream: its `data` field parsed as JSON.
pub fn stream_json(conn: &mut redis::Connection, stream: &str) -> Vec<Value> {
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query(conn)
        .unwrap_or_default();
    reply
        .ids
        .iter()
        .filter_map(|e| e.get::<String>("data"))
        .filter_map(|d| serde_json::from_str(&d).ok())
        .collect()
}

pub fn yaml(v: Value) -> Yaml {
    serde_yaml::to_value(v).expect("json is yaml")
}

/// A real service: `medic-demo-service` on its own port.
pub struct DemoService {
    pub module: String,
    pub port: u16,
    pub pidfile: PathBuf,
    pub health_file: PathBuf,
    first: Option<Child>,
}

impl DemoService {
    pub fn new(dir: &Path, module: &str) -> DemoService {
        DemoService {
            module: module.to_string(),
            port: free_port(),
            pidfile: dir.join(format!("{module}.pid")),
            health_file: dir.join(format!("{module}.health")),
            first: None,
        }
    }

    /// Its `process` backend entry, health-checked over HTTP.
    pub fn backend(&self) -> Value {
        json!({
            "modules": [self.module],
            "type": "process",
            "command": DEMO,
            "args": ["--port", self.port.to_string(), "--pidfile", self.pidfile.display().to_string(),
                     "--health-file", self.health_file.display().to_string()],
            "health_check": {"type": "http", "url": format!("http://127.0.0.1:{}/health", self.port),
                             "expect_status": 200, "timeout_seconds": 1},
        })
    }

    /// Starts it as if it had been running before Medic.
    pub fn start(&mut self) -> u32 {
        let child = Command::new(DEMO)
            .args(["--port", &self.port.to_string(), "--pidfile"])
            .arg(&self.pidfile)
            .arg("--health-file")
            .arg(&self.health_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("demo service starts");
        let pid = child.id();
        self.first = Some(child);
        wait_for("the demo service to answer", 20, || self.healthy());
        pid
    }

    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(&self.pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Whether a process answers on its port.
    pub fn running(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.port)).is_ok()
    }

    /// GET /health answers 200.
    pub fn healthy(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /health HTTP/1.0\r\n\r\n").is_err() {
            return false;
        }
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.starts_with("HTTP/1.1 200")
    }

    pub fn set_unhealthy(&self, unhealthy: bool) {
        std::fs::write(
            &self.health_file,
            if unhealthy { "unhealthy" } else { "ok" },
        )
        .unwrap();
    }

    /// What Smith does: SIGKILL, and the port is free again.
    pub fn kill(&mut self) -> u32 {
        let pid = self.pid().expect("a running service has a pidfile");
        // SAFETY: killing the demo service's pid, which this test owns.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
        if let Some(mut c) = self.first.take() {
            let _ = c.wait();
        }
        wait_for("the killed service to be gone", 10, || !self.running());
        pid
    }

    /// Whether the pid last written is a live process.
    pub fn pid_alive(&self) -> bool {
        self.pid().is_some_and(pid_alive)
    }
}

impl Drop for DemoService {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            // SAFETY: the demo service's own pid.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        if let Some(mut c) = self.first.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A running `medic serve` that acts, on a private Redis.
pub struct Engine {
    /// Holds the configuration and the store for the engine's lifetime.
    _dir: tempfile::TempDir,
    pub redis: Arc<RedisServer>,
    pub api: String,
    /// `metrics.port`'s base URL.
    pub metrics: String,
    pub key: String,
    pub log: PathBuf,
    /// The engine's store (open it after [`Engine::stop`]).
    pub store: PathBuf,
    /// Its configuration files (medic.yaml, constitution.yaml).
    pub config: (PathBuf, PathBuf),
    child: Option<Child>,
}

/// The base configuration: semi-auto (phases 0-3), auto-approval on, file
/// SIEM with low-risk intel, Redis ingest, fast monitoring, the API on a
/// free port; `backends` as given.
pub fn acting_config(
    dir: &Path,
    redis_url: &str,
    api_port: u16,
    backends: Vec<Value>,
) -> (Yaml, Yaml) {
    let intel = dir.join("intel.yaml");
    std::fs::write(&intel, crate::pipeline_support::LOW_RISK_INTEL).unwrap();
    let mut m: Yaml = serde_yaml::from_str(medic::config::EMBEDDED_MEDIC).unwrap();
    for (path, v) in [
        ("mode.current", json!("semi_auto")),
        ("smith.event_bus.type", json!("redis")),
        ("smith.event_bus.url", json!(redis_url)),
        ("smith.event_bus.block_ms", json!(100)),
        ("siem.adapter", json!("file")),
        ("siem.intel_file", json!(intel.display().to_string())),
        ("decision.auto_approve.enabled", json!(true)),
        ("resurrection.monitoring_duration_minutes", json!(0.05)),
        ("resurrection.health_check_interval_seconds", json!(0.25)),
        ("resurrection.startup_grace_seconds", json!(5)),
        ("resurrection.cooldown_seconds", json!(0)),
        ("resurrection.backends", json!(backends)),
        ("interfaces.web.port", json!(api_port)),
        (
            "learning.database.path",
            json!(dir.join("store").display().to_string()),
        ),
        ("logging.format", json!("text")),
        ("plugins.timeout_ms", json!(5000)),
        ("plugins.watch", json!(false)),
    ] {
        yaml_set(&mut m, path, yaml(v));
    }
    let mut c: Yaml = serde_yaml::from_str(medic::config::EMBEDDED_CONSTITUTION).unwrap();
    for phase in ["phase_2_manual", "phase_3_semi_auto"] {
        yaml_set(
            &mut c,
            &format!("phases.{phase}.enabled"),
            yaml(json!(true)),
        );
    }
    // These tests follow the resurrection path; they use the verdicts of
    // `balanced`, which brings a low-risk kill back on a fresh store. The
    // shipped default waits until outcomes on the fleet are known
    // (`replay_tests`, docs/decision-quality.md "Calibration").
    for (kind, name) in [
        ("risk_scorer", "weighted"),
        ("strategy", "balanced"),
        ("threshold_learner", "bounded"),
    ] {
        yaml_set(
            &mut c,
            &format!("plugins.phase_3_semi_auto.{kind}.name"),
            yaml(json!(name)),
        );
    }
    (m, c)
}

impl Engine {
    /// Starts `medic serve` with the configuration `edit` leaves, on a
    /// private Redis of its own.
    pub fn start(backends: Vec<Value>, edit: impl FnOnce(&mut Yaml, &mut Yaml)) -> Engine {
        Engine::launch(Arc::new(RedisServer::start()), backends, edit)
    }

    /// [`Engine::start`] on `redis`, which other engines may share (the
    /// replicas of one deployment).
    pub fn launch(
        redis: Arc<RedisServer>,
        backends: Vec<Value>,
        edit: impl FnOnce(&mut Yaml, &mut Yaml),
    ) -> Engine {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let metrics_port = free_port();
        let (mut m, mut c) = acting_config(dir.path(), &redis.url(), port, backends);
        yaml_set(&mut m, "metrics.port", yaml(json!(metrics_port)));
        edit(&mut m, &mut c);
        let medic_path = dir.path().join("medic.yaml");
        let constitution_path = dir.path().join("constitution.yaml");
        std::fs::write(&medic_path, serde_yaml::to_string(&m).unwrap()).unwrap();
        std::fs::write(&constitution_path, serde_yaml::to_string(&c).unwrap()).unwrap();
        let log = dir.path().join("medic.log");
        let key = "test-admin-key-0123456789".to_string();
        let store = dir.path().join("store");
        let mut engine = Engine {
            config: (medic_path, constitution_path),
            store,
            _dir: dir,
            redis,
            api: format!("http://127.0.0.1:{port}"),
            metrics: format!("http://127.0.0.1:{metrics_port}"),
            key,
            log,
            child: None,
        };
        engine.respawn();
        engine
    }

    /// Starts the process again, on the same configuration (after
    /// [`Engine::stop`] or [`Engine::kill_hard`]), and waits until it
    /// answers.
    pub fn respawn(&mut self) {
        assert!(self.child.is_none(), "the engine is running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_medic"))
            .args(["serve", "--config"])
            .arg(&self.config.0)
            .arg("--constitution")
            .arg(&self.config.1)
            .env_remove("MEDIC_CONFIG_PATH")
            .env("MEDIC_API_KEY", &self.key)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("medic starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.get("/health").0 != 200 {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!("medic exited with {status}; log:\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "medic did not come up; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the process with SIGKILL: no drain, no flush.
    pub fn kill_hard(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Smith reports a kill on the stream.
    pub fn report_kill(&self, kill: &Value) {
        let mut conn = self.redis.conn();
        let env = json!({"version": "1.0", "message_type": "KILL_REPORT", "payload": kill,
                         "correlation_id": format!("c-{}", kill["kill_id"].as_str().unwrap_or(""))});
        let _: String = redis::cmd("XADD")
            .arg(STREAM)
            .arg("*")
            .arg("data")
            .arg(env.to_string())
            .query(&mut conn)
            .unwrap();
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut req = reqwest::Client::new()
                .request(method, format!("{}{path}", self.api))
                .header("X-API-Key", &self.key);
            if let Some(b) = body {
                req = req.json(&b);
            }
            match req.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    (status, r.json().await.unwrap_or(Value::Null))
                }
                Err(_) => (0, Value::Null),
            }
        })
    }

    /// The engine's Prometheus exposition (`GET /metrics`).
    pub fn metrics(&self) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            reqwest::Client::new()
                .get(format!("{}/metrics", self.api))
                .header("X-API-Key", &self.key)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body))
    }

    pub fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(body))
    }

    /// Runs the `medic` CLI against this engine.
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_medic"))
            .args(args)
            .args(["--url", &self.api])
            .env("MEDIC_API_KEY", &self.key)
            .output()
            .expect("medic runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The outcome recorded for a kill, once there is one.
    pub fn wait_outcome(&self, kill_id: &str, secs: u64) -> Value {
        let mut found = Value::Null;
        let log = self.log_text();
        wait_for(&format!("an outcome for {kill_id}"), secs, || {
            let (_, body) = self.get("/api/v1/outcomes?limit=1000");
            if let Some(o) = body["data"]
                .as_array()
                .and_then(|a| a.iter().find(|o| o["kill_id"] == kill_id))
            {
                found = o.clone();
            }
            !found.is_null()
        });
        assert!(!found.is_null(), "log:\n{log}");
        found
    }

    /// The resurrection requests for a kill.
    pub fn requests_for(&self, kill_id: &str) -> Vec<Value> {
        let (_, body) = self.get("/api/v1/resurrections?limit=1000");
        body["data"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|r| r["kill_id"] == kill_id)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The pending queue item for a kill, once there is one.
    pub fn wait_queued(&self, kill_id: &str) -> Value {
        let mut found = Value::Null;
        wait_for(&format!("{kill_id} in the queue"), 60, || {
            let (_, body) = self.get("/api/v1/queue?all=true");
            if let Some(i) = body["data"]["items"]
                .as_array()
                .and_then(|a| a.iter().find(|i| i["kill"]["kill_id"] == kill_id))
            {
                found = i.clone();
            }
            !found.is_null()
        });
        found
    }

    /// The decision for a kill, as published on `medic.responses`.
    pub fn decision(&self, kill_id: &str) -> Value {
        let mut conn = self.redis.conn();
        let mut found = Value::Null;
        wait_for(&format!("a decision for {kill_id}"), 60, || {
            if let Some(d) = stream_json(&mut conn, "medic.responses")
                .into_iter()
                .find(|d| d["kill_id"] == kill_id)
            {
                found = d;
            }
            !found.is_null()
        });
        found
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Engine {
    /// Stops the engine gracefully (SIGTERM), releasing its store.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: our own child.
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
