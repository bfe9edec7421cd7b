//! The two database backends a storage test runs on: SQLite in a temporary
//! directory, and a real, throwaway PostgreSQL server. [`Db`] is one of
//! them; `on_both_backends!(scenario, ...)` makes each `async fn
//! scenario(db: Db)` two tests, `scenario::sqlite` and `scenario::postgres`.
//!
//! The PostgreSQL server:
//! The first test that asks for a database starts `postgres` (from
//! `/usr/lib/postgresql/*/bin`, installed by `scripts/setup`) on a free
//! loopback port with a temporary data directory, fsync off and small
//! buffers; tests running at the same time share it, each with a database
//! of its own. When the last [`PgDatabase`] is dropped the server stops and
//! its directory is deleted. As root, `initdb` and `postgres` run as the
//! `postgres` OS user (they refuse to run as root).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// One backend's database and a data directory (for key files), kept alive
/// as long as the test holds it.
pub struct Db {
    /// The database URL.
    pub url: String,
    /// A data directory of the test's own.
    pub dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

impl Db {
    /// A SQLite file in the data directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("carechat.db").display()
        );
        Self {
            url,
            dir,
            _pg: None,
        }
    }

    /// A database of its own on the shared PostgreSQL server.
    pub async fn postgres() -> Self {
        let db = database().await;
        Self {
            url: db.url.clone(),
            dir: tempfile::tempdir().unwrap(),
            _pg: Some(db),
        }
    }

    /// The storage config with the default (generated) key file in the data
    /// directory.
    pub fn config(&self) -> carechat::store::StorageConfig {
        carechat::store::RawStorage {
            url: Some(self.url.clone()),
            master_key_file: None,
        }
        .validate(self.dir.path(), |_| None)
        .unwrap()
    }
}

/// Runs each named `async fn(Db)` on SQLite and on PostgreSQL.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$scenario(super::Db::sqlite().await).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$scenario(super::Db::postgres().await).await;
                }
            }
        )*
    };
}

static SERVER: Mutex<Weak<PgServer>> = Mutex::new(Weak::new());
static NEXT_DB: AtomicU32 = AtomicU32::new(1);

/// A running PostgreSQL server.
pub struct PgServer {
    port: u16,
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    /// Commits are durable (`synchronous_commit=on`, as in production):
    /// a server stopped at once loses none. The shared server runs
    /// without, for speed.
    durable: bool,
    child: Mutex<Option<Child>>,
    _dir: tempfile::TempDir,
}

/// One test's database on the shared server.
pub struct PgDatabase {
    /// `postgres://postgres@127.0.0.1:<port>/<db>`.
    pub url: String,
    _server: Arc<PgServer>,
}

fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("postgres").exists() && p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin; run scripts/setup (it installs Debian's postgresql package)"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgServer {
    fn start(durable: bool) -> Self {
        let bin = bin_dir();
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("carechat-pg-")
            .tempdir()
            .unwrap();
        if as_postgres {
            let status = Command::new("chown")
                .args(["postgres:", dir.path().to_str().unwrap()])
                .status()
                .unwrap();
            assert!(status.success(), "cannot chown the PostgreSQL temp dir");
        }
        let data = dir.path().join("data");
        let out = command(&bin, as_postgres, "initdb")
            .args(["-D", data.to_str().unwrap()])
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
            .args(["--no-instructions", "--locale=C"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for _ in 0..5 {
            let port = free_port();
            let mut child = spawn_postgres(&bin, as_postgres, &data, port, dir.path(), durable);
            if wait_ready(&bin, as_postgres, port, &mut child, Duration::from_secs(20)) {
                return Self {
                    port,
                    bin,
                    data,
                    as_postgres,
                    durable,
                    child: Mutex::new(Some(child)),
                    _dir: dir,
                };
            }
            stop(&bin, as_postgres, &data, Some(child));
        }
        let log = std::fs::read_to_string(dir.path().join("postgres.log")).unwrap_or_default();
        panic!("PostgreSQL did not start:\n{log}");
    }

    fn stop(&self) {
        let child = self.child.lock().unwrap().take();
        stop(&self.bin, self.as_postgres, &self.data, child);
    }

    /// Stops the server at once (as a crash would: `-m immediate`, no
    /// checkpoint, every connection cut), keeps it down for `down_for`,
    /// and starts it again on the same port and data. Blocks.
    pub fn restart(&self, down_for: Duration) {
        self.stop();
        std::thread::sleep(down_for);
        let log_dir = self.data.parent().unwrap();
        let mut child = spawn_postgres(
            &self.bin,
            self.as_postgres,
            &self.data,
            self.port,
            log_dir,
            self.durable,
        );
        assert!(
            wait_ready(
                &self.bin,
                self.as_postgres,
                self.port,
                &mut child,
                Duration::from_secs(30)
            ),
            "PostgreSQL did not start again"
        );
        *self.child.lock().unwrap() = Some(child);
    }
}

/// `postgres` on `port` with the test settings, logging (appending) to
/// `postgres.log` in `log_dir`. Not `durable`, a commit is acknowledged
/// before its WAL is written, and a server stopped at once loses the
/// last few.
fn spawn_postgres(
    bin: &Path,
    as_postgres: bool,
    data: &Path,
    port: u16,
    log_dir: &Path,
    durable: bool,
) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_dir.join("postgres.log"))
        .unwrap();
    command(bin, as_postgres, "postgres")
        .args(["-D", data.to_str().unwrap(), "-F", "-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "unix_socket_directories="])
        .args(["-c", "shared_buffers=16MB"])
        .args(["-c", "max_connections=200"])
        .args([
            "-c",
            if durable {
                "synchronous_commit=on"
            } else {
                "synchronous_commit=off"
            },
        ])
        .args(["-c", "full_page_writes=off"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn wait_ready(
    bin: &Path,
    as_postgres: bool,
    port: u16,
    child: &mut Child,
    within: Duration,
) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let ok = command(bin, as_postgres, "pg_isready")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn stop(bin: &Path, as_postgres: bool, data: &Path, child: Option<Child>) {
    let _ = command(bin, as_postgres, "pg_ctl")
        .args([
            "-D",
            data.to_str().unwrap(),
            "stop",
            "-m",
            "immediate",
            "-w",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if let Some(mut child) = child {
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn command(bin: &Path, as_postgres: bool, program: &str) -> Command {
    let path = bin.join(program);
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh database on the shared server (started if need be).
pub async fn database() -> PgDatabase {
    let server = {
        let mut slot = SERVER.lock().unwrap();
        if let Some(server) = slot.upgrade() {
            server
        } else {
            let server = Arc::new(PgServer::start(false));
            *slot = Arc::downgrade(&server);
            server
        }
    };
    database_on(server).await
}

/// A database on a PostgreSQL server of the test's own, with durable
/// commits as in production, which it may restart
/// ([`PgServer::restart`]) without disturbing other tests.
pub async fn own_postgres() -> (Db, Arc<PgServer>) {
    let server = Arc::new(
        tokio::task::spawn_blocking(|| PgServer::start(true))
            .await
            .unwrap(),
    );
    let db = database_on(server.clone()).await;
    let db = Db {
        url: db.url.clone(),
        dir: tempfile::tempdir().unwrap(),
        _pg: Some(db),
    };
    (db, server)
}

async fn database_on(server: Arc<PgServer>) -> PgDatabase {
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", server.port);
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = sqlx::Connection::close(conn).await;
    PgDatabase {
        url: format!("postgres://postgres@127.0.0.1:{}/{name}", server.port),
        _server: server,
    }
}
