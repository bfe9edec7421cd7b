//! Delivering one-time codes: email to a real SMTP server (aiosmtpd, an RFC
//! 5321 implementation from PyPI, started here), SMS to an HTTP endpoint
//! speaking Twilio's Messages API, and the development outbox. Errors never
//! carry the destination or the code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use carechat::identity::delivery::{
    CodeSender, Destination, DevOutbox, SmtpEmail, SmtpSecurity, TwilioSms,
};
use carechat::identity::otp::OtpCode;
use carechat::phi::Phi;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// aiosmtpd storing every message in a Maildir; stopped on drop.
struct SmtpServer {
    port: u16,
    maildir: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    fn start() -> Self {
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/setup",
            python.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("mail");
        let port = free_port();
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            port,
            maildir,
            child,
            _dir: dir,
        }
    }

    fn messages(&self) -> Vec<String> {
        std::fs::read_dir(self.maildir.join("new"))
            .map(|d| {
                d.flatten()
                    .map(|e| std::fs::read_to_string(e.path()).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn email(port: u16) -> SmtpEmail {
    SmtpEmail::new(
        "127.0.0.1",
        port,
        SmtpSecurity::None,
        None,
        "Maple Grove Family Clinic <no-reply@clinic.example>",
        "Maple Grove Family Clinic",
        10,
    )
    .unwrap()
}

#[tokio::test]
async fn a_code_reaches_a_real_smtp_server_with_nothing_but_the_code() {
    let smtp = SmtpServer::start();
    let code = OtpCode::generate();
    let to = Destination::Email(Phi::new("morgan.sample@example.com".into()));
    email(smtp.port).send(&to, &code).await.unwrap();
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    // Long lines arrive folded (quoted-printable soft breaks).
    let message = messages[0].replace("=\r\n", "").replace("=\n", "");
    assert!(
        message.contains("To: morgan.sample@example.com"),
        "{message}"
    );
    assert!(message.contains("Subject: Maple Grove Family Clinic: your verification code"));
    assert!(message.contains(code.digits()));
    assert!(message.contains("expires in 10 minutes"), "{message}");
}

#[tokio::test]
async fn an_smtp_server_that_is_down_gives_an_error_without_the_address_or_code() {
    let port = free_port();
    let code = OtpCode::generate();
    let to = Destination::Email(Phi::new("morgan.sample@example.com".into()));
    let error = email(port).send(&to, &code).await.unwrap_err().to_string();
    assert!(error.starts_with("email delivery failed"), "{error}");
    assert!(
        !error.contains("morgan") && !error.contains(code.digits()),
        "{error}"
    );
}

/// What the SMS endpoint received: (Authorization header, form body).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// An HTTP endpoint answering like Twilio's Messages resource, recording
/// what it was sent.
async fn sms_api(status: u16) -> (String, Seen) {
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    let seen: Seen = Arc::default();
    let app =
        axum::Router::new()
            .route(
                "/2010-04-01/Accounts/AC123/Messages.json",
                axum::routing::post(
                    |State((seen, status)): State<(Seen, u16)>,
                     headers: HeaderMap,
                     body: String| async move {
                        let auth = headers
                            .get("authorization")
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default();
                        seen.lock().unwrap().push((auth, body));
                        (StatusCode::from_u16(status).unwrap(), "{\"sid\":\"SM1\"}")
                    },
                ),
            )
            .with_state((seen.clone(), status));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

fn sms(base: &str) -> TwilioSms {
    TwilioSms::new(
        base,
        "AC123",
        "token-xyz",
        "+15550100000",
        "Maple Grove Family Clinic",
        10,
    )
    .unwrap()
}

#[tokio::test]
async fn an_sms_is_posted_to_the_messages_api_with_basic_auth() {
    let (base, seen) = sms_api(201).await;
    let code = OtpCode::generate();
    let to = Destination::Phone(Phi::new("+12025550101".into()));
    sms(&base).send(&to, &code).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let (auth, body) = &seen[0];
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD.encode("AC123:token-xyz");
    assert_eq!(auth, &format!("Basic {expected}"));
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("To").as_deref(), Some("+12025550101"));
    assert_eq!(get("From").as_deref(), Some("+15550100000"));
    assert!(get("Body").unwrap().contains(code.digits()));
}

#[tokio::test]
async fn an_sms_api_error_is_reported_without_the_number_or_code() {
    let (base, _) = sms_api(400).await;
    let code = OtpCode::generate();
    let to = Destination::Phone(Phi::new("+12025550101".into()));
    let error = sms(&base).send(&to, &code).await.unwrap_err().to_string();
    assert!(error.contains("400"), "{error}");
    assert!(
        !error.contains("2025550101") && !error.contains(code.digits()),
        "{error}"
    );
}

#[tokio::test]
async fn the_development_outbox_writes_one_line_per_code() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = DevOutbox::new(dir.path(), "Maple Grove Family Clinic", 10);
    let code = OtpCode::generate();
    let to = Destination::Phone(Phi::new("+12025550101".into()));
    outbox.send(&to, &code).await.unwrap();
    let text = std::fs::read_to_string(outbox.path()).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(line["code"], code.digits());
    assert_eq!(line["to_hint"], "01");
    assert!(
        !text.contains("2025550101"),
        "the outbox keeps only the last digits"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(outbox.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "only the server's user reads the codes"
        );
    }
}
