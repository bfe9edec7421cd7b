//! Scale-out as it is deployed: two `carechat serve` processes on one real
//! PostgreSQL, behind nginx (Debian's package, installed by
//! `scripts/setup`) balancing round-robin with no sticky sessions and
//! proxying WebSockets, as docs/DEPLOYMENT.md configures it. The patient
//! speaks only to nginx.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod backends;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backends::Db;
use common::{say, Conn};
use protocol::{
    ClientHandshake, ClientMessage, IdentityPublicKey, ServerHello, ServerMessage, Session,
};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `carechat serve` process.
struct Instance {
    child: Child,
    port: u16,
    data: PathBuf,
}

impl Instance {
    /// Starts one on `db`; `keys_from` is a running instance's data
    /// directory whose identity and master keys it shares.
    async fn start(db: &Db, data: PathBuf, keys_from: Option<&Path>) -> Self {
        Self::start_with(db, data, keys_from, &[]).await
    }

    /// [`Instance::start`] with more environment (configuration).
    async fn start_with(
        db: &Db,
        data: PathBuf,
        keys_from: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Self {
        std::fs::create_dir_all(&data).unwrap();
        if let Some(from) = keys_from {
            for file in ["identity.key", "master.key"] {
                std::fs::copy(from.join(file), data.join(file)).unwrap();
            }
        }
        let port = free_port();
        let log = std::fs::File::create(data.with_extension("log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_carechat"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(&data)
            .env("CARECHAT_DATABASE_URL", &db.url)
            .env_remove("CARECHAT_CONFIG")
            .env_remove("CARECHAT_MASTER_KEY")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut instance = Self { child, port, data };
        instance.wait_healthy().await;
        instance
    }

    async fn wait_healthy(&mut self) {
        for _ in 0..300 {
            if reqwest::get(format!("http://127.0.0.1:{}/healthz", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(self.data.with_extension("log")).unwrap_or_default();
        panic!("carechat did not start:\n{log}");
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    fn codes(&self) -> Vec<String> {
        std::fs::read_to_string(self.data.join("dev-outbox.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let line: serde_json::Value = serde_json::from_str(l).unwrap();
                line["code"].as_str().unwrap().to_owned()
            })
            .collect()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// nginx in front of the instances, round-robin.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nginx is not installed; run scripts/setup (it installs Debian's nginx package)")
}

impl Nginx {
    async fn start(upstreams: &[u16]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Workers run as an unprivileged user when started as root.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let port = free_port();
        let servers: String = upstreams
            .iter()
            .map(|p| format!("        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n"))
            .collect();
        let site = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/nginx/carechat.conf"),
        )
        .unwrap()
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port};"))
        .lines()
        .filter(|l| !l.trim_start().starts_with("ssl_") && !l.contains("server 10.0.0."))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(
            "    # carechat instances\n",
            &format!("    # carechat instances\n{servers}"),
        );
        let d = dir.path().display();
        let config = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n    access_log off;\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n    \
             fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n{site}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), config).unwrap();
        let child = Command::new(nginx_binary())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_err()
        {
            let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "nginx did not start:\n{log}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers, then itself. (SIGKILL
        // would leave the workers running, holding the port.)
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A patient who only ever speaks to nginx.
struct Patient {
    port: u16,
    session: Session,
    conn: Conn,
}

impl Patient {
    async fn start(port: u16, pinned: &IdentityPublicKey) -> Self {
        let client = ClientHandshake::start(&mut rand_core::OsRng);
        let hello: ServerHello = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/v1/handshake"))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&client.hello()).unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut session = client.finish(&hello, pinned).unwrap();
        let conn = Self::connect(port, &mut session).await;
        Self {
            port,
            session,
            conn,
        }
    }

    async fn connect(port: u16, session: &mut Session) -> Conn {
        let sid = session.sid().to_b64u();
        let (ws, _) =
            tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/v1/ws?sid={sid}"))
                .await
                .unwrap();
        let mut conn = Conn { ws };
        conn.sync(session).await;
        conn
    }

    /// A new connection, as after a network change: round-robin sends it
    /// to the other instance.
    async fn reconnect(&mut self) {
        let _ = self.conn.ws.close(None).await;
        self.conn = Self::connect(self.port, &mut self.session).await;
    }

    /// The intent of the reply to `id`, skipping anything before it.
    async fn ask(&mut self, message: ClientMessage, id: &str) -> (String, String) {
        self.conn.send(&mut self.session, &message).await;
        loop {
            if let ServerMessage::Reply {
                in_reply_to,
                intent,
                text,
                ..
            } = self.conn.recv(&mut self.session).await
            {
                if in_reply_to == id {
                    return (intent, text);
                }
            }
        }
    }

    async fn say(&mut self, id: &str, text: &str) -> (String, String) {
        self.ask(say(id, text), id).await
    }
}

impl Patient {
    /// A new patient who has accepted the consent.
    async fn consented(port: u16, pinned: &IdentityPublicKey) -> Self {
        let mut patient = Self::start(port, pinned).await;
        let ServerMessage::Welcome { policy_version, .. } =
            patient.conn.recv(&mut patient.session).await
        else {
            panic!("expected the welcome");
        };
        patient
            .conn
            .send(
                &mut patient.session,
                &ClientMessage::Consent {
                    accepted: true,
                    policy_version,
                },
            )
            .await;
        patient.conn.recv(&mut patient.session).await;
        patient
    }
}

/// The demo patient verifies with a new connection for every step (so
/// round-robin alternates the instances) and sees their appointments.
async fn verify_across(patient: &mut Patient, instances: &[&Instance]) {
    patient.reconnect().await;
    let (intent, _) = patient.say("v1", "When is my next appointment?").await;
    assert_eq!(intent, "identity.details_needed");
    let before: usize = instances.iter().map(|i| i.codes().len()).sum();
    patient.reconnect().await;
    let (intent, _) = patient.say("v2", "03/02/1984 Sample").await;
    assert_eq!(intent, "identity.code_sent");
    let code = newest_code(instances, before).await;
    patient.reconnect().await;
    let (intent, text) = patient.say("v3", &code).await;
    assert_eq!(intent, "appointments.list", "{text}");
}

async fn pinned(port: u16) -> IdentityPublicKey {
    let identity: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/v1/identity"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    IdentityPublicKey::from_b64u(identity["public_key"].as_str().unwrap()).unwrap()
}

async fn newest_code(instances: &[&Instance], before: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut codes: Vec<String> = instances.iter().flat_map(|i| i.codes()).collect();
        if codes.len() > before {
            return codes.pop().unwrap();
        }
        assert!(Instant::now() < deadline, "no code sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_patient_behind_nginx_chats_and_verifies_across_two_servers_and_survives_a_kill_9(
    db: Db,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Instance::start(&db, dir.path().join("a"), None).await;
    let b = Instance::start(&db, dir.path().join("b"), Some(&dir.path().join("a"))).await;
    let nginx = Nginx::start(&[a.port, b.port]).await;
    let pinned = pinned(nginx.port).await;
    assert_eq!(pinned, self::pinned(a.port).await);

    let mut patient = Patient::consented(nginx.port, &pinned).await;

    // Every question on a new connection: round-robin alternates servers.
    for n in 0..4 {
        patient.reconnect().await;
        let (intent, text) = patient
            .say(&format!("h{n}"), "What are your opening hours?")
            .await;
        assert_eq!(intent, "faq.hours", "{text}");
    }

    verify_across(&mut patient, &[&a, &b]).await;

    // One server is killed; nginx sends the patient to the other, which
    // resumes the chat: still verified, still consented.
    a.kill();
    patient.reconnect().await;
    let (intent, text) = patient.say("after", "show my appointments").await;
    assert_eq!(intent, "appointments.list", "{text}");
    patient.reconnect().await;
    let (intent, _) = patient.say("again", "What are your opening hours?").await;
    assert_eq!(intent, "faq.hours");
    drop(nginx);
    drop(b);
}

on_both_backends!(
    a_patient_behind_nginx_chats_and_verifies_across_two_servers_and_survives_a_kill_9,
);

/// PostgreSQL stopped at once under load (as a crash stops it), down for
/// two seconds, then started again. Patients mid-chat on both instances
/// keep their answers coming while it is down (from memory, each late by
/// at most the journal's wait), and once it is back the instances use it
/// again with no restart of their own: both report ready, a new patient's
/// session is stored again (it moves between the instances), and
/// verification, which needs the audit log and the code rows, works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_restarted_under_load_and_the_instances_recover() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let (db, pg) = backends::own_postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let a = Instance::start(&db, dir.path().join("a"), None).await;
    let b = Instance::start(&db, dir.path().join("b"), Some(&dir.path().join("a"))).await;
    let nginx = Nginx::start(&[a.port, b.port]).await;
    let pinned = pinned(nginx.port).await;

    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    // Sixteen patients, each asking twice a second: within a session's
    // allowance (20 messages a minute, in bursts of 20) for the run.
    for _ in 0..16 {
        let mut patient = Patient::consented(nginx.port, &pinned).await;
        let stop = stop.clone();
        load.push(tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            let mut answered = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let asked = Instant::now();
                let id = format!("q{answered}");
                let (intent, text) = tokio::time::timeout(
                    Duration::from_secs(10),
                    patient.say(&id, "What are your opening hours?"),
                )
                .await
                .expect("a patient got no answer while PostgreSQL was restarting");
                assert_eq!(intent, "faq.hours", "{text}");
                slowest = slowest.max(asked.elapsed());
                answered += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            (answered, slowest)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server = pg.clone();
    tokio::task::spawn_blocking(move || server.restart(Duration::from_secs(2)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    for task in load {
        let (answered, slowest) = task.await.unwrap();
        assert!(answered >= 5, "only {answered} answers in 6 s");
        assert!(
            slowest < Duration::from_secs(5),
            "an answer took {slowest:?}"
        );
    }

    for port in [a.port, b.port] {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "an instance did not become ready again"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let mut patient = Patient::consented(nginx.port, &pinned).await;
    for n in 0..2 {
        patient.reconnect().await;
        let (intent, _) = patient
            .say(&format!("h{n}"), "What are your opening hours?")
            .await;
        assert_eq!(intent, "faq.hours");
    }
    verify_across(&mut patient, &[&a, &b]).await;
    drop(nginx);
}

/// The handshake limit holds across instances: with a limit of 6 a minute
/// per address and nginx spreading one address over two instances, 6
/// handshakes pass in all, not 6 on each (the count is a PostgreSQL row
/// both instances share), and the rest are told when to come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_limit_holds_across_instances_behind_nginx() {
    let db = Db::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("CARECHAT_HANDSHAKES_PER_MINUTE", "6")];
    let a = Instance::start_with(&db, dir.path().join("a"), None, &env).await;
    let b =
        Instance::start_with(&db, dir.path().join("b"), Some(&dir.path().join("a")), &env).await;
    let nginx = Nginx::start(&[a.port, b.port]).await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let hello = ClientHandshake::start(&mut rand_core::OsRng);
        let response = client
            .post(format!("http://127.0.0.1:{}/v1/handshake", nginx.port))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&hello.hello()).unwrap())
            .send()
            .await
            .unwrap();
        if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&wait), "Retry-After {wait}");
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 200, 429, 429, 429, 429],
        "both instances counted the same bucket"
    );
    drop(nginx);
}

/// The verification-start limit per address holds across instances: at 2
/// an hour, patients on one address whose chats run on different
/// instances get 2 starts in all, and the third is told to wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verification_start_limit_holds_across_instances() {
    let db = Db::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("CARECHAT_STARTS_PER_ADDRESS_PER_HOUR", "2")];
    let a = Instance::start_with(&db, dir.path().join("a"), None, &env).await;
    let b =
        Instance::start_with(&db, dir.path().join("b"), Some(&dir.path().join("a")), &env).await;
    let pinned = pinned(a.port).await;
    let mut intents = Vec::new();
    // Straight to each instance in turn (a, b, a): counted apart, the
    // third would be the first on its instance to reach 2.
    // Different details each time (the demo patient, then two strangers,
    // who get the same answers), so that no per-patient limit or resend
    // wait is what refuses.
    for (port, details) in [
        (a.port, "03/02/1984 Sample"),
        (b.port, "07/11/1990 Okafor"),
        (a.port, "05/21/1975 Lindqvist"),
    ] {
        let mut patient = Patient::consented(port, &pinned).await;
        let (intent, _) = patient.say("v1", "When is my next appointment?").await;
        assert_eq!(intent, "identity.details_needed");
        let (intent, _) = patient.say("v2", details).await;
        intents.push(intent);
    }
    assert_eq!(
        intents,
        [
            "identity.code_sent",
            "identity.code_sent",
            "identity.limited"
        ]
    );
}

/// A verification lockout holds across instances: wrong codes typed on
/// connections that nginx sends to alternate instances count together,
/// and once the patient is locked the right code is refused on either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_lockout_holds_across_instances_behind_nginx() {
    let db = Db::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("CARECHAT_MAX_CONSECUTIVE_FAILURES", "3")];
    let a = Instance::start_with(&db, dir.path().join("a"), None, &env).await;
    let b =
        Instance::start_with(&db, dir.path().join("b"), Some(&dir.path().join("a")), &env).await;
    let nginx = Nginx::start(&[a.port, b.port]).await;
    let pinned = pinned(nginx.port).await;
    let mut patient = Patient::consented(nginx.port, &pinned).await;
    let (intent, _) = patient.say("v1", "When is my next appointment?").await;
    assert_eq!(intent, "identity.details_needed");
    let (intent, _) = patient.say("v2", "03/02/1984 Sample").await;
    assert_eq!(intent, "identity.code_sent");
    let code = newest_code(&[&a, &b], 0).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let mut intents = Vec::new();
    for n in 0..3 {
        patient.reconnect().await;
        let (intent, _) = patient.say(&format!("w{n}"), wrong).await;
        intents.push(intent);
    }
    assert_eq!(intents[..2], ["identity.code_wrong", "identity.code_wrong"]);
    assert_eq!(intents[2], "identity.locked", "{intents:?}");
    for n in 0..2 {
        patient.reconnect().await;
        let (intent, _) = patient.say(&format!("r{n}"), &code).await;
        assert_eq!(
            intent, "identity.locked",
            "the right code on the next instance"
        );
    }
    drop(nginx);
}
