//! A real `carechat` server on a loopback port, and a protocol client that
//! speaks to it over real HTTP and WebSocket connections.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use carechat::config::RawConfig;
use futures_util::{SinkExt as _, StreamExt as _};
use protocol::{
    ClientHandshake, ClientMessage, Frame, IdentityPublicKey, ServerHello, ServerMessage, Session,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct TestServer {
    pub addr: SocketAddr,
    pub pinned: IdentityPublicKey,
    pub data_dir: tempfile::TempDir,
    pub assets_dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| None).await
    }

    /// Starts a server with `CARECHAT_*`-style overrides from `env`.
    pub async fn start_with(env: impl Fn(&str) -> Option<String>) -> Self {
        Self::start_custom(env, |_| {}).await
    }

    /// Starts a server with overrides from `env`, then `adjust` applied to
    /// the validated configuration (for settings no variable reaches).
    pub async fn start_custom(
        env: impl Fn(&str) -> Option<String>,
        adjust: impl FnOnce(&mut carechat::config::Config),
    ) -> Self {
        Self::start_clocked(
            env,
            adjust,
            std::sync::Arc::new(carechat::clock::SystemClock),
        )
        .await
    }

    /// As [`TestServer::start_custom`], on `clock` (a manual one moves time
    /// without sleeping).
    pub async fn start_clocked(
        env: impl Fn(&str) -> Option<String>,
        adjust: impl FnOnce(&mut carechat::config::Config),
        clock: std::sync::Arc<dyn carechat::clock::Clock>,
    ) -> Self {
        // A fault test may put the data directory on a file system of its
        // own (a small tmpfs that fills up).
        let data_dir = match env("CARECHAT_TEST_DATA_IN") {
            Some(parent) => tempfile::tempdir_in(parent).unwrap(),
            None => tempfile::tempdir().unwrap(),
        };
        let assets_dir = tempfile::tempdir().unwrap();
        std::fs::write(
            assets_dir.path().join("index.html"),
            "<!doctype html><html><head><!-- carechat:head --></head><body><div id=\"carechat-root\"></div></body></html>",
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut raw = RawConfig::demo().unwrap();
        raw.apply_env(env).unwrap();
        raw.apply_overrides(carechat::config::Overrides {
            listen: Some(addr.to_string()),
            data_dir: Some(data_dir.path().to_owned()),
            assets_dir: Some(assets_dir.path().to_owned()),
            ..Default::default()
        });
        let mut config = raw.validate().unwrap();
        adjust(&mut config);
        let identity = carechat::open_identity(&config).unwrap();
        let pinned = identity.public();
        let state = carechat::AppState::open_with_clock(config, identity, clock)
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(carechat::run(state, listener, async {
            let _ = rx.await;
        }));
        Self {
            addr,
            pinned,
            data_dir,
            assets_dir,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn post_handshake(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.url("/v1/handshake"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Handshakes as the widget does, verifying against the pinned key.
    pub async fn handshake(&self) -> Session {
        let client = ClientHandshake::start(&mut rand_core::OsRng);
        let response = self
            .post_handshake(serde_json::to_vec(&client.hello()).unwrap())
            .await;
        assert_eq!(response.status(), 200);
        let hello: ServerHello = response.json().await.unwrap();
        client.finish(&hello, &self.pinned).unwrap()
    }

    pub async fn connect(&self, session: &mut Session) -> Conn {
        self.connect_sid(&session.sid().to_b64u()).await
    }

    pub async fn connect_sid(&self, sid: &str) -> Conn {
        let (ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{}/v1/ws?sid={sid}", self.addr))
                .await
                .unwrap();
        Conn { ws }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub struct Conn {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the server did next.
#[derive(Debug)]
pub enum Event {
    Frame(Frame),
    Closed(Option<u16>),
}

impl Conn {
    pub async fn send_raw(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    pub async fn send(&mut self, session: &mut Session, message: &ClientMessage) -> Frame {
        let frame = session.seal_message(message).unwrap();
        self.send_raw(frame.to_json()).await;
        frame
    }

    pub async fn next_event(&mut self) -> Event {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("server said nothing for 10 s");
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Event::Frame(Frame::from_json(text.as_str()).unwrap())
                }
                Some(Ok(Message::Close(frame))) => {
                    return Event::Closed(frame.map(|f| u16::from(f.code)))
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Event::Closed(None),
            }
        }
    }

    pub async fn recv(&mut self, session: &mut Session) -> ServerMessage {
        match self.next_event().await {
            Event::Frame(frame) => session.open_message(&frame).unwrap(),
            Event::Closed(code) => {
                panic!("connection closed ({code:?}) while a message was expected")
            }
        }
    }

    pub async fn expect_close(&mut self) -> Option<u16> {
        loop {
            match self.next_event().await {
                Event::Closed(code) => return code,
                Event::Frame(_) => continue,
            }
        }
    }

    /// Exchanges `sync` as the widget does at the start of a connection and
    /// returns the server's `last_seq_received`.
    pub async fn sync(&mut self, session: &mut Session) -> Option<u64> {
        session.begin_connection();
        let ours = ClientMessage::Sync {
            last_seq_received: session.last_received(),
        };
        self.send(session, &ours).await;
        match self.recv(session).await {
            ServerMessage::Sync { last_seq_received } => last_seq_received,
            other => panic!("expected sync first, got {other:?}"),
        }
    }
}

/// A session that has synced, read the welcome and accepted consent.
pub async fn consented(server: &TestServer) -> (Session, Conn) {
    let mut session = server.handshake().await;
    let mut conn = server.connect(&mut session).await;
    conn.sync(&mut session).await;
    let ServerMessage::Welcome {
        policy_version,
        consent_required,
        ..
    } = conn.recv(&mut session).await
    else {
        panic!("expected welcome");
    };
    assert!(consent_required);
    conn.send(
        &mut session,
        &ClientMessage::Consent {
            accepted: true,
            policy_version,
        },
    )
    .await;
    let ServerMessage::Notice { code, .. } = conn.recv(&mut session).await else {
        panic!("expected notice")
    };
    assert_eq!(code, "consent_accepted");
    (session, conn)
}

pub fn say(id: &str, text: &str) -> ClientMessage {
    ClientMessage::Say {
        id: id.into(),
        text: text.into(),
    }
}
pub mod console;
