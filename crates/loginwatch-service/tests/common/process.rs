//! Members in separate processes: the test binary re-runs itself with one test selected and
//! `LOGINWATCH_TEST_MEMBER` set; that child runs a member until SIGTERM. The parent watches
//! the children over HTTP (`/metrics`, `/readyz`), as Kubernetes and Prometheus would.

use super::*;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};

/// Set in a child: `brokers|group|input|alerts|dead_letters|metrics_port`.
const MEMBER_VAR: &str = "LOGINWATCH_TEST_MEMBER";

/// In a child (the variable is set): runs one member until SIGTERM, then returns. In a normal
/// test run: returns at once.
pub async fn member_if_requested() {
    let Ok(spec) = std::env::var(MEMBER_VAR) else {
        return;
    };
    let f: Vec<&str> = spec.split('|').collect();
    let env = Env {
        brokers: f[0].into(),
        input: f[2].into(),
        alerts: f[3].into(),
        dead_letters: f[4].into(),
        input_partitions: 0,
        alert_partitions: 0,
        spare_alerts: String::new(),
    };
    let mut cfg = config(&env, f[1]);
    cfg.metrics.listen = format!("127.0.0.1:{}", f[5]).parse().expect("listen");
    let member = start(cfg, Duration::ZERO);
    tokio::spawn(loginwatch_service::shutdown_on_signals(member.stop.clone()));
    let r = member.task.await.expect("member task");
    r.expect("member stopped cleanly");
}

/// A member running in a child process.
pub struct ChildMember {
    child: Child,
    pub port: u16,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Starts a child process running `test` (a test that calls [`member_if_requested`]).
pub fn spawn_member(env: &Env, group: &str, test: &str) -> ChildMember {
    let port = free_port();
    let spec = format!(
        "{}|{group}|{}|{}|{}|{port}",
        env.brokers, env.input, env.alerts, env.dead_letters
    );
    let child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(MEMBER_VAR, spec)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn member process");
    ChildMember { child, port }
}

impl ChildMember {
    /// `GET path` on the child's metrics listener: (status, body); `None` while not listening.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let status = out.get(9..12)?.parse().ok()?;
        let body = out.split_once("\r\n\r\n")?.1.to_owned();
        Some((status, body))
    }

    /// The value of an unlabelled metric, or one line's value when `name` includes labels.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics")?;
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    /// SIGTERM, then waits for a clean exit (status 0) for up to a minute.
    pub async fn terminate(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success(), "SIGTERM sent");
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(
                    status.success(),
                    "member exited cleanly after SIGTERM: {status}"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = self.child.kill();
        panic!("member did not stop within a minute of SIGTERM");
    }
}

impl Drop for ChildMember {
    fn drop(&mut self) {
        // Only reached with the child still running when a test fails: do not leave it behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
