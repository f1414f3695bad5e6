//! A private `redis-server` per test, on a free port, with its own data
//! directory (append-only, so a restart keeps the stream), stopped on drop.
//! It can speak TLS only, with a certificate from a CA made for the test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// PEM of the CA that signed the server's certificate, when it speaks TLS.
    tls_ca: Option<PathBuf>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut server = RedisServer {
            port: free_port(),
            dir,
            child: None,
            tls_ca: None,
        };
        server.spawn();
        server
    }

    /// A server that only speaks TLS, with a certificate for 127.0.0.1
    /// signed by a CA made for the test (its PEM: [`RedisServer::ca_file`]).
    pub fn start_tls() -> RedisServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = crate::test_pki::make();
        let write = |name: &str, pem: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, pem).expect("write pem");
            p
        };
        let ca_file = write("ca.pem", &pki.ca_pem);
        write("server.pem", &pki.cert_pem);
        write("server.key", &pki.key_pem);
        let mut server = RedisServer {
            port: free_port(),
            dir,
            child: None,
            tls_ca: Some(ca_file),
        };
        server.spawn();
        server
    }

    pub fn ca_file(&self) -> Option<&Path> {
        self.tls_ca.as_deref()
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls_ca.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    fn client(&self) -> redis::RedisResult<redis::Client> {
        match &self.tls_ca {
            Some(ca) => redis::Client::build_with_tls(
                self.url(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(std::fs::read(ca).expect("ca pem")),
                },
            ),
            None => redis::Client::open(self.url()),
        }
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("redis-server");
        // With TLS, `--port 0` leaves only the TLS port open.
        let plain_port = if self.tls_ca.is_some() { 0 } else { self.port };
        if self.tls_ca.is_some() {
            let d = self.dir.path();
            cmd.args([
                "--tls-port",
                &self.port.to_string(),
                "--tls-auth-clients",
                "no",
            ])
            .arg("--tls-cert-file")
            .arg(d.join("server.pem"))
            .arg("--tls-key-file")
            .arg(d.join("server.key"))
            .arg("--tls-ca-cert-file")
            .arg(d.join("ca.pem"));
        }
        let child = cmd
            .args(["--port", &plain_port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): the Redis tests need it on PATH — install it with `apt-get install redis-server`")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(client) = self.client()
                && let Ok(mut c) = client.get_connection()
                && redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer", self.port);
    }

    /// Stops the server hard and starts it again on the same port and data.
    pub fn restart(&mut self, down_for: Duration) {
        self.stop();
        std::thread::sleep(down_for);
        self.spawn();
    }

    /// Starts the server again after [`RedisServer::stop`].
    pub fn start_again(&mut self) {
        self.spawn();
    }

    /// Stops the server hard (its port and data stay for a restart).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn conn(&self) -> redis::Connection {
        self.client()
            .and_then(|c| c.get_connection())
            .expect("connect to test redis")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
