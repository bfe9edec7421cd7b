//! The console's routes over real HTTP on loopback, against an in-memory
//! backend: refusals reach the client as refusals, sign-in sets a strict
//! session cookie, the realtime channel checks the origin and forwards
//! events, and the page carries its CSP.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use carechat_console::api::{
    ConsoleBackend, Conversation, Event, Me, QueueEntry, Reason, Refusal, RequestFacts, Role,
    SetCookie,
};
use carechat_console::calls::refusal_of;
use leptos::server_fn::error::{FromServerFnError, ServerFnError};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

const COOKIE: &str = "carechat_staff=tok-1; Path=/console; HttpOnly; Secure; SameSite=Strict";

/// One account (nurse / pw / 123456), sessions in memory.
struct Fake {
    sessions: Mutex<HashSet<String>>,
    events: broadcast::Sender<Event>,
    seen_client: Mutex<Option<std::net::IpAddr>>,
}

impl Fake {
    fn check(&self, facts: &RequestFacts) -> Result<(), Refusal> {
        *self.seen_client.lock().unwrap() = facts.client;
        let session = facts.session.as_deref().ok_or(Refusal::SignedOut)?;
        if self.sessions.lock().unwrap().contains(session) {
            Ok(())
        } else {
            Err(Refusal::SignedOut)
        }
    }

    fn me() -> Me {
        Me {
            name: "Ana Nurse".into(),
            role: Role::Nurse,
            csrf: "csrf-1".into(),
        }
    }

    fn check_csrf(&self, facts: &RequestFacts) -> Result<(), Refusal> {
        self.check(facts)?;
        if facts.csrf.as_deref() == Some("csrf-1") {
            Ok(())
        } else {
            Err(Refusal::BadRequest)
        }
    }
}

#[async_trait]
impl ConsoleBackend for Fake {
    async fn sign_in(
        &self,
        facts: &RequestFacts,
        username: &str,
        password: &str,
        code: &str,
    ) -> Result<(Me, SetCookie), Refusal> {
        *self.seen_client.lock().unwrap() = facts.client;
        if (username, password, code) != ("nurse", "pw", "123456") {
            return Err(Refusal::BadCredentials);
        }
        self.sessions.lock().unwrap().insert("tok-1".into());
        Ok((Self::me(), COOKIE.into()))
    }
    async fn sign_out(&self, facts: &RequestFacts) -> Result<SetCookie, Refusal> {
        self.check_csrf(facts)?;
        self.sessions.lock().unwrap().clear();
        Ok("carechat_staff=; Path=/console; Max-Age=0; HttpOnly; Secure; SameSite=Strict".into())
    }
    async fn me(&self, facts: &RequestFacts) -> Result<Me, Refusal> {
        self.check(facts).map(|()| Self::me())
    }
    async fn queue(&self, facts: &RequestFacts) -> Result<Vec<QueueEntry>, Refusal> {
        self.check(facts)?;
        Ok(vec![QueueEntry {
            id: "h1".into(),
            reason: Reason::Crisis {
                category: "self_harm".into(),
            },
            waiting_secs: 42,
            owner: None,
            locale: "en".into(),
            patient: None,
        }])
    }
    async fn conversation(&self, facts: &RequestFacts, _id: &str) -> Result<Conversation, Refusal> {
        self.check(facts)?;
        Err(Refusal::Gone)
    }
    async fn pick_up(&self, facts: &RequestFacts, _id: &str) -> Result<(), Refusal> {
        self.check_csrf(facts)
    }
    async fn send(&self, facts: &RequestFacts, _id: &str, _text: &str) -> Result<(), Refusal> {
        self.check_csrf(facts)
    }
    async fn typing(&self, facts: &RequestFacts, _id: &str) -> Result<(), Refusal> {
        self.check_csrf(facts)
    }
    async fn hand_back(&self, facts: &RequestFacts, _id: &str) -> Result<(), Refusal> {
        self.check_csrf(facts)
    }
    async fn close(&self, facts: &RequestFacts, _id: &str) -> Result<(), Refusal> {
        self.check_csrf(facts)
    }
    async fn events(&self, facts: &RequestFacts) -> Result<broadcast::Receiver<Event>, Refusal> {
        self.check(facts)?;
        Ok(self.events.subscribe())
    }
}

struct Running {
    base: String,
    origin: String,
    backend: Arc<Fake>,
    _dist: tempfile::TempDir,
}

/// The console's routes merged into a plain router, served on 127.0.0.1:0
/// with the peer address (as the server does).
async fn start() -> Running {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><title>CareChat console</title><div id=\"console-root\"></div>",
    )
    .unwrap();
    std::fs::write(dist.path().join("console.css"), "body{}").unwrap();
    let backend = Arc::new(Fake {
        sessions: Mutex::new(HashSet::new()),
        events: broadcast::channel(16).0,
        seen_client: Mutex::new(None),
    });
    let dyn_backend: Arc<dyn ConsoleBackend> = backend.clone();
    let app = axum::Router::new().merge(carechat_console::routes::<()>(dyn_backend, dist.path()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Running {
        base: format!("http://{addr}"),
        origin: format!("http://{addr}"),
        backend,
        _dist: dist,
    }
}

/// Calls a server function the way the browser does (form-encoded POST,
/// JSON back).
async fn call(server: &Running, name: &str, form: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/console/api/{name}", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .header("origin", &server.origin)
        .body(form.to_owned());
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// The refusal in a failed call's answer, decoded as the browser does.
async fn refusal(response: reqwest::Response) -> Refusal {
    assert!(!response.status().is_success(), "{}", response.status());
    let body = response.bytes().await.unwrap();
    refusal_of(&<ServerFnError as FromServerFnError>::de(body))
}

#[tokio::test]
async fn a_call_without_a_session_is_refused_as_signed_out() {
    let server = start().await;
    assert_eq!(
        refusal(call(&server, "queue", "", None).await).await,
        Refusal::SignedOut
    );
    assert_eq!(
        refusal(call(&server, "me", "", None).await).await,
        Refusal::SignedOut
    );
    let stale = Some("carechat_staff=nope");
    assert_eq!(
        refusal(call(&server, "pick_up", "csrf=csrf-1&id=h1", stale).await).await,
        Refusal::SignedOut
    );
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_that_later_calls_send() {
    let server = start().await;
    let wrong = call(
        &server,
        "sign_in",
        "username=nurse&password=no&code=123456",
        None,
    )
    .await;
    assert!(wrong.headers().get("set-cookie").is_none());
    assert_eq!(refusal(wrong).await, Refusal::BadCredentials);

    let response = call(
        &server,
        "sign_in",
        "username=nurse&password=pw&code=123456",
        None,
    )
    .await;
    assert!(response.status().is_success(), "{}", response.status());
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("carechat_staff="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let me: Me = response.json().await.unwrap();
    assert_eq!(me.role, Role::Nurse);
    assert_eq!(
        *server.backend.seen_client.lock().unwrap(),
        Some("127.0.0.1".parse().unwrap())
    );

    let session = Some("carechat_staff=tok-1");
    let queue = call(&server, "queue", "", session).await;
    assert!(queue.status().is_success(), "{}", queue.status());
    let entries: Vec<QueueEntry> = queue.json().await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        refusal(call(&server, "conversation", "id=h1", session).await).await,
        Refusal::Gone
    );
    assert_eq!(
        refusal(call(&server, "send", "csrf=wrong&id=h1&text=hi", session).await).await,
        Refusal::BadRequest
    );
    let ok = call(&server, "send", "csrf=csrf-1&id=h1&text=hi", session).await;
    assert!(ok.status().is_success(), "{}", ok.status());

    let out = call(&server, "sign_out", "csrf=csrf-1", session).await;
    assert!(out.status().is_success(), "{}", out.status());
    let cleared = out
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok());
    assert!(
        cleared.is_some_and(|c| c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert_eq!(
        refusal(call(&server, "queue", "", session).await).await,
        Refusal::SignedOut
    );
}

/// Opens `/console/ws` with the given origin and cookie.
async fn open_ws(
    server: &Running,
    origin: &str,
    cookie: Option<&str>,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    tokio_tungstenite::tungstenite::Error,
> {
    let url = format!("{}/console/ws", server.base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(origin).unwrap());
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", HeaderValue::from_str(cookie).unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

fn http_status(error: &tokio_tungstenite::tungstenite::Error) -> Option<u16> {
    match error {
        tokio_tungstenite::tungstenite::Error::Http(response) => Some(response.status().as_u16()),
        _ => None,
    }
}

#[tokio::test]
async fn the_realtime_channel_checks_the_origin_and_forwards_events() {
    use futures_util::StreamExt as _;

    let server = start().await;
    call(
        &server,
        "sign_in",
        "username=nurse&password=pw&code=123456",
        None,
    )
    .await;
    let session = Some("carechat_staff=tok-1");

    let foreign = open_ws(&server, "http://evil.example", session).await;
    assert_eq!(foreign.err().as_ref().and_then(http_status), Some(403));
    let signed_out = open_ws(&server, &server.origin, None).await;
    assert_eq!(signed_out.err().as_ref().and_then(http_status), Some(401));

    let mut socket = open_ws(&server, &server.origin, session).await.unwrap();
    // The subscription exists once the upgrade answered; send until it lands.
    let event = Event::PatientTyping { id: "h1".into() };
    let received = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let _ = server.backend.events.send(event.clone());
            tokio::select! {
                frame = socket.next() => break frame,
                _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
            }
        }
    })
    .await
    .unwrap();
    let Some(Ok(Message::Text(text))) = received else {
        panic!("expected a text frame, got {received:?}");
    };
    assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), event);
}

#[tokio::test]
async fn the_page_carries_its_csp_and_the_assets_are_served() {
    let server = start().await;
    let page = reqwest::get(format!("{}/console/", server.base))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let header = |name: &str| {
        page.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        header("content-security-policy"),
        carechat_console::CONSOLE_CSP
    );
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"));
    assert!(header("content-security-policy").contains("script-src 'self' 'wasm-unsafe-eval'"));
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("cache-control"), "no-store");
    assert!(page.text().await.unwrap().contains("console-root"));

    let css = reqwest::get(format!("{}/console/console.css", server.base))
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    let missing = reqwest::get(format!("{}/console/nope.js", server.base))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/console", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 308);
}

impl carechat_console::api::admin::AdminBackend for Fake {}
impl carechat_console::api::feedback::FeedbackBackend for Fake {}
impl carechat_console::api::passkey::PasskeyBackend for Fake {}
impl carechat_console::api::records::RecordsBackend for Fake {}
