//! A real `carechat serve` for one benchmark phase: the demo clinic on a
//! free loopback port, a fresh data directory, and the abuse limits raised
//! so that one load generator on one address may open thousands of
//! sessions (each limit is a per-address or per-session cap that a real
//! crowd of patients, on many addresses, would not meet).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use protocol::IdentityPublicKey;
use tokio::process::{Child, Command};

/// A running server, stopped on drop.
pub struct Server {
    child: Child,
    pid: u32,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// The key the widget would pin, read from `GET /v1/identity`.
    pub pinned: IdentityPublicKey,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// The limits a benchmark lifts, as the environment variables `serve` reads.
const LIFTED_LIMITS: [(&str, &str); 6] = [
    ("CARECHAT_HANDSHAKES_PER_MINUTE", "100000000"),
    ("CARECHAT_MAX_SESSIONS", "1000000"),
    ("CARECHAT_SESSIONS_PER_ADDRESS", "1000000"),
    ("CARECHAT_CONNECTIONS_PER_ADDRESS", "1000000"),
    ("CARECHAT_MESSAGES_PER_MINUTE", "1000000"),
    ("CARECHAT_MESSAGES_PER_SESSION", "1000000"),
];

impl Server {
    /// Starts `bin serve` and waits until it answers `/healthz`.
    pub async fn start(bin: &Path) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let log = dir.path().join("server.log");
        let log_file = std::fs::File::create(&log)?;
        let mut command = Command::new(bin);
        command
            .arg("serve")
            .args(["--listen", &addr])
            .args(["--public-url", &format!("http://{addr}")])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("CARECHAT_LOG", "warn")
            .envs(LIFTED_LIMITS)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let pinned = wait_ready(&mut child, &addr, &log).await?;
        Ok(Self {
            child,
            pid,
            addr,
            pinned,
            log,
            _dir: dir,
        })
    }

    /// The server process's resident memory now, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS in /proc/PID/status")
    }

    /// The server's CPU time so far (user + system), from `/proc/PID/stat`.
    pub fn cpu_time(&self) -> Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // Fields after the command name (which is in parentheses and may
        // hold spaces): utime and stime are the 12th and 13th of those.
        let rest = stat.rsplit_once(')').context("odd /proc/PID/stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields
            .get(11..13)
            .context("short /proc/PID/stat")?
            .iter()
            .map(|f| f.parse::<u64>().unwrap_or(0))
            .sum();
        // The kernel's USER_HZ is 100 on every Linux this runs on.
        Ok(Duration::from_millis(ticks * 10))
    }

    /// The last lines the server logged, for an error message.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// Whether the server is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Waits until the server answers `GET /v1/identity`, and returns its key.
async fn wait_ready(child: &mut Child, addr: &str, log: &Path) -> Result<IdentityPublicKey> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = reqwest::Client::new();
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("carechat exited ({status}):\n{}", log_tail(log));
        }
        if let Ok(response) = client
            .get(format!("http://{addr}/v1/identity"))
            .send()
            .await
        {
            let body: serde_json::Value = response.json().await?;
            let key = body["public_key"].as_str().context("no public_key")?;
            return IdentityPublicKey::from_b64u(key).context("a bad identity key");
        }
        if Instant::now() > deadline {
            bail!("carechat did not answer in 60 s:\n{}", log_tail(log));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
