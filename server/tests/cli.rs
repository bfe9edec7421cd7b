//! The `carechat` binary as an administrator uses it: `init`,
//! `check-config`, a broken config file, and TLS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn carechat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_carechat"))
}

#[test]
fn init_writes_a_config_that_checks_and_a_private_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("carechat.toml");
    let data = dir.path().join("data");
    let out = carechat()
        .args(["init", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data.join("identity.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let out = carechat()
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // init never overwrites.
    let out = carechat()
        .args(["init", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
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
