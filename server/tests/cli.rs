//! The `carechat` binary as an administrator uses it: `init`,
//! `check-config`, a broken config file, TLS, and what `serve` refuses:
//! demo-only parts outside demo mode, secrets others can read or that would
//! travel in clear, a missing master key and a read-only database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

fn carechat() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_carechat"));
    for name in [
        "CARECHAT_CONFIG",
        "CARECHAT_DATA_DIR",
        "CARECHAT_DATABASE_URL",
        "CARECHAT_MASTER_KEY",
        "CARECHAT_SMS_AUTH_TOKEN",
        "CARECHAT_ALLOWED_ORIGINS",
        "CARECHAT_PUBLIC_URL",
        "CARECHAT_VERIFICATION_DELIVERY",
    ] {
        command.env_remove(name);
    }
    command.env("CARECHAT_LOG", "warn");
    command
}

/// Runs `command` to its end, failing the test if it is still running after
/// a minute (a `serve` that should have refused to start).
fn run_to_exit(command: &mut Command) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "still running after a minute: {}",
                std::fs::read_to_string(&err).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn check_config(config: &Path) -> Output {
    run_to_exit(
        carechat()
            .args(["check-config", "--config"])
            .arg(config)
            .env("CARECHAT_SMS_AUTH_TOKEN", "test-token"),
    )
}

fn serve(config: &Path) -> Output {
    run_to_exit(
        carechat()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .env("CARECHAT_SMS_AUTH_TOKEN", "test-token"),
    )
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Replaces `from` with `to` at the start of the first line that starts
/// with it (so never in a comment that mentions the setting).
fn edit(text: &str, from: &str, to: &str) -> String {
    let at = if text.starts_with(from) {
        0
    } else {
        text.find(&format!("\n{from}"))
            .unwrap_or_else(|| panic!("no line starts with {from:?}"))
            + 1
    };
    format!("{}{to}{}", &text[..at], &text[at + from.len()..])
}

/// The file `carechat init` writes, filled in as a clinic would: its web
/// site, its details, its FHIR server and SMS delivery.
fn fill_in(template: &str) -> String {
    let mut text = template.to_owned();
    for (from, to) in [
        (
            "# public_url = \"https://chat.clinic.example\"",
            "public_url = \"https://chat.clinic.example\"",
        ),
        (
            "allowed_origins = [\"http://localhost:8081\"]",
            "allowed_origins = [\"https://www.clinic.example\"]",
        ),
        (
            "name = \"FILL IN: the clinic's name\"",
            "name = \"Lakeside Clinic\"",
        ),
        (
            "phone = \"FILL IN: the clinic's phone number\"",
            "phone = \"(555) 010-2000\"",
        ),
        (
            "disclaimer = \"\"\"FILL IN: the notice",
            "disclaimer = \"\"\"The notice",
        ),
        ("kind = \"demo\"", "kind = \"fhir\""),
        ("# [ehr.fhir]", "[ehr.fhir]"),
        ("# base_url = ", "base_url = "),
        ("# token_url = ", "token_url = "),
        ("# client_id = ", "client_id = "),
        ("# private_key_file = ", "private_key_file = "),
        ("# key_id = ", "key_id = "),
        ("# algorithm = ", "algorithm = "),
        ("delivery = \"outbox\"", "delivery = \"sms\""),
        ("# [verification.sms]", "[verification.sms]"),
        (
            "# api_base_url = \"https://api.twilio.com\"   # https only",
            "api_base_url = \"https://api.twilio.com\"",
        ),
        ("# account_sid = ", "account_sid = "),
        ("# from = ", "from = "),
    ] {
        text = edit(&text, from, to);
    }
    text
}

/// A clinic's folder: a configuration fit for production (the init file
/// filled in, data in `data/`), its FAQ and its EHR key (0600).
struct Clinic {
    dir: tempfile::TempDir,
    config: PathBuf,
    text: String,
}

impl Clinic {
    fn new() -> Self {
        use p384::pkcs8::EncodePrivateKey as _;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("carechat.toml");
        std::fs::write(
            dir.path().join("faq.toml"),
            carechat::knowledge::DEMO_KNOWLEDGE_TOML,
        )
        .unwrap();
        let key = p384::SecretKey::random(&mut rand_core::OsRng)
            .to_pkcs8_pem(p384::pkcs8::LineEnding::LF)
            .unwrap();
        let key_file = dir.path().join("ehr-key.pem");
        std::fs::write(&key_file, key.as_bytes()).unwrap();
        #[cfg(unix)]
        set_mode(&key_file, 0o600);
        let data = dir.path().join("data").display().to_string();
        let text = edit(
            &fill_in(carechat::config::PRODUCTION_CONFIG),
            "data_dir = \"data\"",
            &format!("data_dir = {data:?}"),
        );
        std::fs::write(&config, &text).unwrap();
        Self { dir, config, text }
    }

    /// Rewrites the configuration with one change.
    fn with(&self, from: &str, to: &str) -> &Self {
        std::fs::write(&self.config, edit(&self.text, from, to)).unwrap();
        self
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// Asserts `serve` and `check-config` both refuse the clinic's current
/// configuration with every one of `words` in the message, starting
/// nothing.
fn both_refuse(clinic: &Clinic, words: &[&str]) {
    for run in [check_config, serve] {
        let out = run(&clinic.config);
        assert!(!out.status.success(), "accepted");
        let text = stderr(&out);
        for word in words {
            assert!(text.contains(word), "{word:?} missing from: {text}");
        }
    }
    assert!(!clinic.data_dir().exists(), "nothing was started");
}

#[test]
fn init_writes_a_production_config_that_names_what_to_fill_in() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("carechat.toml");
    let data = dir.path().join("data");
    let init = || {
        run_to_exit(
            carechat()
                .args(["init", "--config"])
                .arg(&config)
                .arg("--data-dir")
                .arg(&data),
        )
    };
    let out = init();
    assert!(out.status.success(), "{}", stderr(&out));
    #[cfg(unix)]
    {
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("identity.key")), 0o600);
    }
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.contains("mode = \"production\""), "{written}");
    assert!(
        written.contains(&format!("data_dir = {:?}", data.display().to_string())),
        "{written}"
    );
    // Every setting still to fill in is named, by check-config and serve.
    for run in [check_config, serve] {
        let out = run(&config);
        assert!(!out.status.success());
        let text = stderr(&out);
        for setting in [
            "server.public_url",
            "server.allowed_origins",
            "clinic.name",
            "clinic.phone",
            "clinic.disclaimer",
            "ehr.kind",
            "verification.delivery",
            "mode = \"demo\"",
        ] {
            assert!(text.contains(setting), "{setting} missing from: {text}");
        }
    }
    // Filled in, it passes.
    use p384::pkcs8::EncodePrivateKey as _;
    let key = p384::SecretKey::random(&mut rand_core::OsRng)
        .to_pkcs8_pem(p384::pkcs8::LineEnding::LF)
        .unwrap();
    let key_file = dir.path().join("ehr-key.pem");
    std::fs::write(&key_file, key.as_bytes()).unwrap();
    #[cfg(unix)]
    set_mode(&key_file, 0o600);
    std::fs::write(&config, fill_in(&written)).unwrap();
    let out = check_config(&config);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (production mode)"));
    // init never overwrites.
    let out = init();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("refusing to overwrite"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), fill_in(&written));
}

#[test]
fn serve_refuses_the_development_outbox_outside_demo_mode() {
    let clinic = Clinic::new();
    let out = check_config(&clinic.config);
    assert!(out.status.success(), "{}", stderr(&out));
    clinic.with("delivery = \"sms\"", "delivery = \"outbox\"");
    both_refuse(
        &clinic,
        &["verification.delivery: is \"outbox\"", "dev-outbox.jsonl"],
    );
    // Left out, the outbox is the default: refused all the same.
    clinic.with("delivery = \"sms\"", "");
    both_refuse(&clinic, &["verification.delivery"]);
    // Chosen in the file, demo mode allows it.
    let demo = edit(&clinic.text, "delivery = \"sms\"", "delivery = \"outbox\"");
    std::fs::write(
        &clinic.config,
        edit(&demo, "mode = \"production\"", "mode = \"demo\""),
    )
    .unwrap();
    let out = check_config(&clinic.config);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("demo mode"));
}

#[test]
fn serve_refuses_the_demo_ehr_outside_demo_mode() {
    let clinic = Clinic::new();
    clinic.with("kind = \"fhir\"", "kind = \"demo\"");
    both_refuse(&clinic, &["ehr.kind: is \"demo\"", "kind = \"fhir\""]);
}

#[test]
fn serve_refuses_loopback_only_allowed_origins_outside_demo_mode() {
    let clinic = Clinic::new();
    clinic.with(
        "allowed_origins = [\"https://www.clinic.example\"]",
        "allowed_origins = [\"http://127.0.0.1:8081\", \"http://localhost:8081\"]",
    );
    both_refuse(
        &clinic,
        &["server.allowed_origins: lists only loopback origins"],
    );
    // Nor does the demo clinic's web site run outside demo mode.
    std::fs::write(&clinic.config, &clinic.text).unwrap();
    let out = run_to_exit(
        carechat()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--demo-site",
                "127.0.0.1:0",
            ])
            .arg("--config")
            .arg(&clinic.config)
            .env("CARECHAT_SMS_AUTH_TOKEN", "test-token"),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--demo-site"), "{}", stderr(&out));
    assert!(!clinic.data_dir().exists());
}

#[test]
fn serve_refuses_a_plain_http_public_url_outside_demo_mode() {
    let clinic = Clinic::new();
    clinic.with(
        "public_url = \"https://chat.clinic.example\"",
        "public_url = \"http://chat.clinic.example\"",
    );
    both_refuse(&clinic, &["server.public_url", "plain http"]);
}

#[test]
fn an_http_sms_api_url_is_refused() {
    let clinic = Clinic::new();
    let http = "api_base_url = \"https://api.twilio.com\"";
    // Plain http to another host: refused in any mode.
    clinic.with(http, "api_base_url = \"http://api.twilio.com\"");
    both_refuse(
        &clinic,
        &["verification.sms.api_base_url", "plain http", "auth token"],
    );
    let demo = edit(&clinic.text, "mode = \"production\"", "mode = \"demo\"");
    std::fs::write(
        &clinic.config,
        edit(&demo, http, "api_base_url = \"http://api.twilio.com\""),
    )
    .unwrap();
    let out = check_config(&clinic.config);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("verification.sms.api_base_url"));
    // To a test server on this machine: only in demo mode.
    clinic.with(http, "api_base_url = \"http://127.0.0.1:9\"");
    both_refuse(&clinic, &["verification.sms.api_base_url", "plain http"]);
    std::fs::write(
        &clinic.config,
        edit(&demo, http, "api_base_url = \"http://127.0.0.1:9\""),
    )
    .unwrap();
    let out = check_config(&clinic.config);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn a_group_readable_ehr_key_is_refused() {
    let clinic = Clinic::new();
    let key = clinic.dir.path().join("ehr-key.pem");
    set_mode(&key, 0o640);
    both_refuse(
        &clinic,
        &[
            "ehr.fhir.private_key_file",
            &key.display().to_string(),
            "chmod 600",
        ],
    );
    set_mode(&key, 0o600);
    let out = check_config(&clinic.config);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[cfg(unix)]
#[tokio::test]
async fn an_existing_data_directory_is_tightened_to_0700() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    set_mode(&data, 0o755);
    let port = free_port();
    let err = dir.path().join("err");
    let mut child = carechat()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let mut ready = None;
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{status}: {}", std::fs::read_to_string(&err).unwrap());
        }
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await {
            ready = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = ready.expect("no answer");
    let status = ready.status();
    let body = ready.text().await.unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, r#"{"status":"ready"}"#);
    assert_eq!(mode(&data), 0o700);
    for key in ["identity.key", "master.key"] {
        assert_eq!(mode(&data.join(key)), 0o600, "{key}");
    }
    let log = std::fs::read_to_string(&err).unwrap();
    assert!(log.contains("tightened it to 0700"), "{log}");
}

/// A data directory whose database holds data, made by the library.
async fn data_dir_with_a_database() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let storage = carechat::store::RawStorage::default()
        .validate(dir.path(), |_| None)
        .unwrap();
    let store = carechat::store::Store::open(&storage).await.unwrap();
    store.pool().close().await;
    dir
}

#[tokio::test]
async fn a_missing_master_key_is_an_error_that_says_so() {
    let dir = data_dir_with_a_database().await;
    let key = dir.path().join("master.key");
    std::fs::remove_file(&key).unwrap();
    for args in [
        &["serve", "--listen", "127.0.0.1:0"][..],
        &["staff", "list"],
    ] {
        let out = run_to_exit(carechat().args(args).env("CARECHAT_DATA_DIR", dir.path()));
        assert!(!out.status.success(), "{args:?} started without its key");
        let text = stderr(&out);
        assert!(
            text.contains(&format!("the master key file {} is missing", key.display()))
                && text.contains("restore"),
            "{text}"
        );
        assert!(!key.exists(), "no new key replaces the missing one");
    }
}

#[tokio::test]
async fn a_read_only_database_is_refused_at_start() {
    let dir = data_dir_with_a_database().await;
    let db = dir.path().join("carechat.db");
    let read_only = format!("sqlite://{}?mode=ro", db.display());
    let out = run_to_exit(
        carechat()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("CARECHAT_DATA_DIR", dir.path())
            .env("CARECHAT_DATABASE_URL", &read_only),
    );
    assert!(!out.status.success(), "a read-only database was served");
    let text = stderr(&out);
    assert!(
        text.contains("the database cannot be written") && text.contains("mode=ro"),
        "{text}"
    );
    // A database file the server's user cannot write (not testable as
    // root, who writes it anyway).
    #[cfg(unix)]
    {
        set_mode(&db, 0o444);
        if std::fs::OpenOptions::new().append(true).open(&db).is_err() {
            let out = run_to_exit(
                carechat()
                    .args(["serve", "--listen", "127.0.0.1:0"])
                    .env("CARECHAT_DATA_DIR", dir.path()),
            );
            assert!(!out.status.success());
            assert!(
                stderr(&out).contains("cannot be written"),
                "{}",
                stderr(&out)
            );
        }
        set_mode(&db, 0o600);
    }
}

#[test]
fn a_broken_config_file_is_refused_with_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("carechat.toml");
    let text = carechat::config::DEMO_CONFIG
        .replace("idle_timeout_secs = 900", "idle_timeout_secs = 3600");
    std::fs::write(&config, text).unwrap();
    let out = carechat()
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sessions.idle_timeout_secs") && stderr.contains("between 1 and 900"),
        "{stderr}"
    );

    std::fs::write(&config, "[clinic\nname = ").unwrap();
    let out = carechat()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("carechat.toml") && stderr.contains("line 1"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serves_https_with_hsts_when_a_certificate_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut raw = carechat::config::RawConfig::demo().unwrap();
    let (c, k) = (
        cert_path.display().to_string(),
        key_path.display().to_string(),
    );
    raw.apply_env(|name| match name {
        "CARECHAT_TLS_CERT" => Some(c.clone()),
        "CARECHAT_TLS_KEY" => Some(k.clone()),
        _ => None,
    })
    .unwrap();
    raw.apply_overrides(carechat::config::Overrides {
        listen: Some(addr.to_string()),
        data_dir: Some(dir.path().join("data")),
        ..Default::default()
    });
    let config = raw.validate().unwrap();
    assert_eq!(config.public_url, format!("https://{addr}"));
    let identity = carechat::open_identity(&config).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(carechat::run(
        carechat::AppState::open(config, identity).await.unwrap(),
        listener,
        async {
            let _ = rx.await;
        },
    ));

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let mut response = None;
    for _ in 0..50 {
        if let Ok(r) = client.get(format!("https://{addr}/healthz")).send().await {
            response = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let response = response.expect("no HTTPS answer");
    assert_eq!(response.status(), 200);
    let hsts = response
        .headers()
        .get("strict-transport-security")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(hsts.contains("max-age="), "{hsts}");
    let _ = tx.send(());
}

/// Starts the built-in demo on `data` with the audit anchor at `anchor`
/// and waits until it answers.
async fn start_demo(data: &Path, anchor: &Path) -> (std::process::Child, u16) {
    start_demo_with(data, anchor, &[]).await
}

async fn start_demo_with(
    data: &Path,
    anchor: &Path,
    env: &[(&str, &str)],
) -> (std::process::Child, u16) {
    let port = free_port();
    let mut child = carechat()
        .envs(env.iter().copied())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .env("CARECHAT_AUDIT_ANCHOR_FILE", anchor)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..300 {
        if reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_ok()
        {
            return (child, port);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start");
}

fn audit_verify(data: &Path, anchor: &Path) -> Output {
    run_to_exit(
        carechat()
            .args(["audit", "verify"])
            .env("CARECHAT_DATA_DIR", data)
            .env("CARECHAT_AUDIT_ANCHOR_FILE", anchor),
    )
}

#[tokio::test]
async fn after_a_kill_9_and_a_restart_a_cut_tail_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The anchor lives apart from the data directory (and its database).
    let anchor = dir.path().join("anchor").join("audit-anchor");
    std::fs::create_dir_all(anchor.parent().unwrap()).unwrap();
    let (mut server, port) = start_demo(&data, &anchor).await;
    let client = reqwest::Client::new();
    for _ in 0..25 {
        let hello = protocol::ClientHandshake::start(&mut rand_core::OsRng).hello();
        let response = client
            .post(format!("http://127.0.0.1:{port}/v1/handshake"))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&hello).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // Handshake events are recorded beside the answer: let them land.
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.kill().unwrap(); // SIGKILL: no shutdown checkpoint
    server.wait().unwrap();

    // Restart: it signs the unsigned tail (the sessions are stored and
    // live on); then it stops again the hard way.
    let (mut server, _) = start_demo(&data, &anchor).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let intact = audit_verify(&data, &anchor);
    let text = String::from_utf8_lossy(&intact.stdout).into_owned();
    assert!(intact.status.success(), "{text}{}", stderr(&intact));

    // Cut the newest ten events, their checkpoints, and move the head back.
    let db = data.join("carechat.db");
    let url = format!("sqlite://{}", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let last: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM audit_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(last > 20, "only {last} events");
    let keep = last - 10;
    for statement in [
        "DELETE FROM audit_events WHERE seq > ?1",
        "DELETE FROM audit_checkpoints WHERE seq > ?1",
        "UPDATE audit_head SET seq = ?1, hash = (SELECT hash FROM audit_events WHERE seq = ?1) WHERE id = 1",
    ] {
        sqlx::query(statement).bind(keep).execute(&pool).await.unwrap();
    }
    pool.close().await;
    let cut = audit_verify(&data, &anchor);
    let text = String::from_utf8_lossy(&cut.stdout).into_owned();
    assert!(!cut.status.success(), "a cut tail passed: {text}");
    assert!(
        text.contains(&format!("event {} is missing", keep + 1)),
        "{text}"
    );
}

/// One patient of the load below: consents, then asks numbered questions
/// until the server goes away. Returns its sid and the questions whose
/// replies it received, with those replies.
async fn patient_until_the_crash(
    port: u16,
    pinned: protocol::IdentityPublicKey,
    n: usize,
    all_in: std::sync::Arc<tokio::sync::Barrier>,
) -> (String, Vec<(String, String)>) {
    use futures_util::SinkExt as _;
    use protocol::ServerMessage;
    let (mut session, mut conn) = consented_at(port, &pinned).await;
    let sid = session.sid().to_b64u();
    // Every patient is in before anyone asks (and before the clock runs).
    all_in.wait().await;
    let mut answered = Vec::new();
    for k in 0.. {
        let question = format!("What are your opening hours? (patient {n}, question {k})");
        let id = format!("q{k}");
        let frame = session.seal_message(&common::say(&id, &question)).unwrap();
        if conn
            .ws
            .send(tokio_tungstenite::tungstenite::Message::text(
                frame.to_json(),
            ))
            .await
            .is_err()
        {
            break;
        }
        let reply = loop {
            let common::Event::Frame(frame) = conn.next_event().await else {
                break None;
            };
            match session.open_message(&frame) {
                Ok(ServerMessage::Reply {
                    in_reply_to, text, ..
                }) if in_reply_to == id => break Some(text),
                Ok(ServerMessage::Error { code, .. }) => panic!("question {k} refused: {code}"),
                _ => {}
            }
        };
        match reply {
            Some(text) => answered.push((question, text)),
            None => break,
        }
    }
    (sid, answered)
}

/// The single-machine default under a real kill -9: twenty patients asking
/// as fast as they are answered; then another process holds the
/// database's write lock (a backup, say), and the server is killed 0.3 s
/// into it. After a restart the audit chain verifies, and every
/// question whose reply a patient received is in the store, with that
/// reply: an answer leaves only once its turn is on disk, so while the
/// lock is held the answers wait instead of running ahead of the store.
/// (They wait at most `DURABLE_WAIT`, 1 s: past that they go out, and only
/// a crash during a longer outage could lose their lines.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_under_load_loses_no_answered_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let anchor = dir.path().join("anchor").join("audit-anchor");
    std::fs::create_dir_all(anchor.parent().unwrap()).unwrap();
    // Each patient asks far more than a person would.
    let unlimited = [
        ("CARECHAT_MESSAGES_PER_MINUTE", "100000"),
        ("CARECHAT_MESSAGES_PER_SESSION", "100000"),
    ];
    let (mut server, port) = start_demo_with(&data, &anchor, &unlimited).await;
    let pinned = pinned_key(port).await;
    let all_in = std::sync::Arc::new(tokio::sync::Barrier::new(21));
    let patients: Vec<_> = (0..20)
        .map(|n| {
            tokio::spawn(patient_until_the_crash(
                port,
                pinned.clone(),
                n,
                all_in.clone(),
            ))
        })
        .collect();
    all_in.wait().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let url = format!("sqlite://{}", data.join("carechat.db").display());
    let outside = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mut lock = outside.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *lock)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill().unwrap(); // SIGKILL, mid-stream, the lock held
    server.wait().unwrap();
    sqlx::query("ROLLBACK").execute(&mut *lock).await.unwrap();
    drop(lock);
    outside.close().await;
    let mut received = Vec::new();
    for patient in patients {
        received.push(patient.await.unwrap());
    }
    let total: usize = received.iter().map(|(_, answered)| answered.len()).sum();
    assert!(
        total >= 100,
        "only {total} replies before the kill: no load"
    );

    let (mut server, _) = start_demo(&data, &anchor).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let verified = audit_verify(&data, &anchor);
    let text = String::from_utf8_lossy(&verified.stdout).into_owned();
    assert!(verified.status.success(), "{text}{}", stderr(&verified));

    let config = carechat::store::RawStorage {
        url: None,
        master_key_file: None,
    }
    .validate(&data, |_| None)
    .unwrap();
    let store = carechat::store::Store::open(&config).await.unwrap();
    let names = store.session_names();
    for (sid, answered) in &received {
        let stored = store.transcript(&names.name(sid)).await.unwrap();
        let lines: Vec<(&str, &str)> = stored
            .iter()
            .map(|m| (m.role.as_str(), m.text.expose().as_str()))
            .collect();
        for (question, reply) in answered {
            let at = lines
                .iter()
                .position(|line| *line == ("patient", question.as_str()))
                .unwrap_or_else(|| panic!("an answered question is not in the store: {question}"));
            assert!(
                lines[at..].contains(&("assistant", reply.as_str())),
                "the reply to {question} is not in the store"
            );
        }
    }
}

/// The identity key a `carechat serve` process publishes.
async fn pinned_key(port: u16) -> protocol::IdentityPublicKey {
    let identity: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/v1/identity"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    protocol::IdentityPublicKey::from_b64u(identity["public_key"].as_str().unwrap()).unwrap()
}

/// A patient who has handshaken with a `carechat serve` process, read the
/// welcome and accepted consent.
async fn consented_at(
    port: u16,
    pinned: &protocol::IdentityPublicKey,
) -> (protocol::Session, common::Conn) {
    use protocol::{ClientMessage, ServerMessage};
    let client = protocol::ClientHandshake::start(&mut rand_core::OsRng);
    let hello: protocol::ServerHello = reqwest::Client::new()
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
    let mut conn = connect_to(port, &mut session).await;
    let ServerMessage::Welcome { policy_version, .. } = conn.recv(&mut session).await else {
        panic!("expected the welcome");
    };
    let consent = ClientMessage::Consent {
        accepted: true,
        policy_version,
    };
    conn.send(&mut session, &consent).await;
    conn.recv(&mut session).await;
    (session, conn)
}

/// The patient's side of one connection to a `carechat serve` process.
async fn connect_to(port: u16, session: &mut protocol::Session) -> common::Conn {
    let sid = session.sid().to_b64u();
    let (ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/v1/ws?sid={sid}"))
            .await
            .unwrap();
    let mut conn = common::Conn { ws };
    conn.sync(session).await;
    conn
}

/// The next reply, skipping notices.
async fn next_reply(conn: &mut common::Conn, session: &mut protocol::Session) -> (String, String) {
    loop {
        if let protocol::ServerMessage::Reply {
            in_reply_to,
            intent,
            ..
        } = conn.recv(session).await
        {
            return (in_reply_to, intent);
        }
    }
}

/// Sessions are stored: a server killed with SIGKILL and started again
/// resumes its chats. The patient stays consented, the reply they had not
/// acknowledged is sent again, and the restarted server seals with new
/// `seq` values only (the widget's session refuses any it has seen).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_resumes_after_the_server_is_killed_and_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let anchor = dir.path().join("anchor").join("audit-anchor");
    std::fs::create_dir_all(anchor.parent().unwrap()).unwrap();
    let (mut server, port) = start_demo(&data, &anchor).await;
    let pinned = pinned_key(port).await;
    let (mut session, mut conn) = consented_at(port, &pinned).await;
    conn.send(
        &mut session,
        &common::say("q1", "What are your opening hours?"),
    )
    .await;
    assert_eq!(next_reply(&mut conn, &mut session).await.1, "faq.hours");
    // The reply to q2 is sent, and lost on the way (the widget never opens
    // it); then the server is killed.
    conn.send(&mut session, &common::say("q2", "Where are you located?"))
        .await;
    let common::Event::Frame(_lost) = conn.next_event().await else {
        panic!("expected the reply to q2");
    };
    server.kill().unwrap();
    server.wait().unwrap();

    let (mut server, port) = start_demo(&data, &anchor).await;
    let mut conn = connect_to(port, &mut session).await;
    // The restarted server sends the lost reply again, under a new seq the
    // widget's session accepts (a reused one would fail to open).
    let (in_reply_to, located) = next_reply(&mut conn, &mut session).await;
    assert_eq!(in_reply_to, "q2");
    assert_eq!(located, "faq.location");
    conn.send(
        &mut session,
        &common::say("q3", "What are your opening hours?"),
    )
    .await;
    let (in_reply_to, intent) = next_reply(&mut conn, &mut session).await;
    assert_eq!(in_reply_to, "q3");
    assert_eq!(intent, "faq.hours", "consent survived the restart");
    // A re-sent id still gets its first answer.
    conn.send(&mut session, &common::say("q2", "anything"))
        .await;
    assert_eq!(next_reply(&mut conn, &mut session).await.1, located);
    server.kill().unwrap();
    server.wait().unwrap();
}
