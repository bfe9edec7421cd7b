//! One patient, as the widget is: a handshake verified against the pinned
//! key, the WebSocket, `sync`, the welcome, consent; then questions, each
//! timed from sending its `say` to opening the reply that answers it.
//! Everything on the wire is sealed and opened with the `protocol` crate,
//! the same code the widget runs.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use futures_util::{SinkExt as _, StreamExt as _};
use protocol::{
    ClientHandshake, ClientMessage, Frame, IdentityPublicKey, ServerHello, ServerMessage, Session,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any one answer may take before the patient gives up.
const PATIENCE: Duration = Duration::from_secs(30);

/// A consented patient with an open connection.
pub struct Patient {
    session: Session,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    asked: u64,
}

/// Posts one handshake; returns the parsed answer.
pub async fn post_hello(http: &reqwest::Client, addr: &str, hello: Vec<u8>) -> Result<ServerHello> {
    let response = http
        .post(format!("http://{addr}/v1/handshake"))
        .header("content-type", "application/json")
        .body(hello)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("handshake answered {}", response.status());
    }
    Ok(response.json().await?)
}

impl Patient {
    /// Handshakes, connects and consents.
    pub async fn join(
        http: &reqwest::Client,
        addr: &str,
        pinned: &IdentityPublicKey,
    ) -> Result<Self> {
        let client = ClientHandshake::start(&mut rand_core::OsRng);
        let hello = serde_json::to_vec(&client.hello())?;
        let answer = post_hello(http, addr, hello).await?;
        let mut session = client
            .finish(&answer, pinned)
            .context("the server's handshake did not verify")?;
        let sid = session.sid().to_b64u();
        let (ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/v1/ws?sid={sid}")).await?;
        session.begin_connection();
        let mut patient = Self {
            session,
            ws,
            asked: 0,
        };
        let sync = ClientMessage::Sync {
            last_seq_received: patient.session.last_received(),
        };
        patient.send(&sync).await?;
        let policy_version = loop {
            match patient.recv().await? {
                ServerMessage::Welcome { policy_version, .. } => break policy_version,
                ServerMessage::Sync { .. } => {}
                other => bail!("expected the welcome, got {other:?}"),
            }
        };
        patient
            .send(&ClientMessage::Consent {
                accepted: true,
                policy_version,
            })
            .await?;
        match patient.recv().await? {
            ServerMessage::Notice { code, .. } if code == "consent_accepted" => Ok(patient),
            other => bail!("expected consent_accepted, got {other:?}"),
        }
    }

    /// Asks `text` and waits for the reply to it; returns the time taken.
    pub async fn ask(&mut self, text: &str) -> Result<Duration> {
        self.asked += 1;
        let id = format!("q{}", self.asked);
        let sent = Instant::now();
        self.send(&ClientMessage::Say {
            id: id.clone(),
            text: text.to_owned(),
        })
        .await?;
        loop {
            match self.recv().await? {
                ServerMessage::Reply { in_reply_to, .. } if in_reply_to == id => {
                    return Ok(sent.elapsed());
                }
                ServerMessage::Error { code, .. } => bail!("the server answered {code}"),
                _ => {}
            }
        }
    }

    async fn send(&mut self, message: &ClientMessage) -> Result<()> {
        let frame = self.session.seal_message(message)?;
        self.ws.send(Message::text(frame.to_json())).await?;
        Ok(())
    }

    async fn recv(&mut self) -> Result<ServerMessage> {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .context("no answer in 30 s")?;
            match next {
                Some(Ok(Message::Text(text))) => {
                    let frame = Frame::from_json(text.as_str())?;
                    return Ok(self.session.open_message(&frame)?);
                }
                Some(Ok(Message::Close(close))) => bail!("closed: {close:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => bail!("the connection ended"),
            }
        }
    }
}
