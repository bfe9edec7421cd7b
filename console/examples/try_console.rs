//! Serves the built console (`dist-console/`) against an in-memory backend,
//! for trying the UI in a browser and for browser checks:
//!
//! ```sh
//! scripts/build-console
//! cargo run -p carechat-console --features ssr --example try_console -- 127.0.0.1:8090
//! ```
//!
//! Accounts (any 6-digit code): `nurse` / `nurse` (the queue) and `admin` /
//! `admin` (the placeholder). The queue holds one crisis and one ordinary
//! chat with made-up lines; a message sent is echoed on the realtime
//! channel, followed by the patient typing. No real data, nothing logged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use carechat_console::api::{
    ConsoleBackend, Conversation, Event, Line, Me, QueueEntry, Reason, Refusal, RequestFacts, Role,
    SetCookie, Speaker,
};
use tokio::sync::broadcast;

struct Demo {
    sessions: Mutex<HashMap<String, Me>>,
    queue: Mutex<Vec<QueueEntry>>,
    lines: Mutex<HashMap<String, Vec<Line>>>,
    events: broadcast::Sender<Event>,
}

fn line(speaker: Speaker, text: &str) -> Line {
    Line {
        speaker,
        text: text.into(),
        at: "2026-01-01T10:00:00Z".into(),
    }
}

impl Demo {
    fn new() -> Self {
        let entry = |id: &str, reason, waiting_secs| QueueEntry {
            id: id.into(),
            reason,
            waiting_secs,
            owner: None,
            locale: "en".into(),
            patient: None,
        };
        let queue = vec![
            entry("h-asked", Reason::AskedForPerson, 400),
            entry(
                "h-crisis",
                Reason::Crisis {
                    category: "self_harm".into(),
                },
                75,
            ),
        ];
        let lines = HashMap::from([
            (
                "h-asked".to_owned(),
                vec![
                    line(Speaker::Patient, "Can I talk to someone at the front desk?"),
                    line(
                        Speaker::Assistant,
                        "I have asked a person to join this chat.",
                    ),
                ],
            ),
            (
                "h-crisis".to_owned(),
                vec![line(Speaker::Patient, "(a made-up crisis message)")],
            ),
        ]);
        Self {
            sessions: Mutex::new(HashMap::new()),
            queue: Mutex::new(queue),
            lines: Mutex::new(lines),
            events: broadcast::channel(64).0,
        }
    }

    fn who(&self, facts: &RequestFacts) -> Result<Me, Refusal> {
        let token = facts.session.as_deref().ok_or(Refusal::SignedOut)?;
        self.sessions
            .lock()
            .unwrap()
            .get(token)
            .cloned()
            .ok_or(Refusal::SignedOut)
    }

    fn changing(&self, facts: &RequestFacts) -> Result<Me, Refusal> {
        let me = self.who(facts)?;
        if facts.csrf.as_deref() != Some(me.csrf.as_str()) {
            return Err(Refusal::BadRequest);
        }
        Ok(me)
    }

    fn queue_role(&self, facts: &RequestFacts) -> Result<Me, Refusal> {
        let me = self.who(facts)?;
        match me.role {
            Role::FrontDesk | Role::Nurse => Ok(me),
            Role::Compliance | Role::Admin => Err(Refusal::NotAllowed),
        }
    }
}

#[async_trait]
impl ConsoleBackend for Demo {
    async fn sign_in(
        &self,
        _facts: &RequestFacts,
        username: &str,
        password: &str,
        code: &str,
    ) -> Result<(Me, SetCookie), Refusal> {
        let role = match (username, password) {
            ("nurse", "nurse") => Role::Nurse,
            ("admin", "admin") => Role::Admin,
            _ => return Err(Refusal::BadCredentials),
        };
        if code.len() != 6 {
            return Err(Refusal::BadCredentials);
        }
        let token = format!("demo-{username}");
        let me = Me {
            name: format!("Demo {username}"),
            role,
            csrf: format!("csrf-{username}"),
        };
        self.sessions
            .lock()
            .unwrap()
            .insert(token.clone(), me.clone());
        let cookie = format!("carechat_staff={token}; Path=/console; HttpOnly; SameSite=Strict");
        Ok((me, cookie))
    }
    async fn sign_out(&self, facts: &RequestFacts) -> Result<SetCookie, Refusal> {
        self.changing(facts)?;
        if let Some(token) = &facts.session {
            self.sessions.lock().unwrap().remove(token);
        }
        Ok("carechat_staff=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict".into())
    }
    async fn me(&self, facts: &RequestFacts) -> Result<Me, Refusal> {
        self.who(facts)
    }
    async fn queue(&self, facts: &RequestFacts) -> Result<Vec<QueueEntry>, Refusal> {
        self.queue_role(facts)?;
        Ok(self.queue.lock().unwrap().clone())
    }
    async fn conversation(&self, facts: &RequestFacts, id: &str) -> Result<Conversation, Refusal> {
        self.queue_role(facts)?;
        let entry = self
            .queue
            .lock()
            .unwrap()
            .iter()
            .find(|e| e.id == id)
            .cloned();
        let entry = entry.ok_or(Refusal::Gone)?;
        let lines = self
            .lines
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_default();
        Ok(Conversation { entry, lines })
    }
    async fn pick_up(&self, facts: &RequestFacts, id: &str) -> Result<(), Refusal> {
        let me = self.changing(facts)?;
        let mut queue = self.queue.lock().unwrap();
        let entry = queue.iter_mut().find(|e| e.id == id).ok_or(Refusal::Gone)?;
        if entry.owner.is_some() {
            return Err(Refusal::Taken);
        }
        entry.owner = Some(me.name);
        let _ = self.events.send(Event::QueueChanged);
        Ok(())
    }
    async fn send(&self, facts: &RequestFacts, id: &str, text: &str) -> Result<(), Refusal> {
        let me = self.changing(facts)?;
        let said = line(Speaker::Staff { name: me.name }, text);
        self.lines
            .lock()
            .unwrap()
            .entry(id.into())
            .or_default()
            .push(said.clone());
        let _ = self.events.send(Event::Line {
            id: id.into(),
            line: said,
        });
        let _ = self.events.send(Event::PatientTyping { id: id.into() });
        Ok(())
    }
    async fn typing(&self, facts: &RequestFacts, _id: &str) -> Result<(), Refusal> {
        self.changing(facts).map(drop)
    }
    async fn hand_back(&self, facts: &RequestFacts, id: &str) -> Result<(), Refusal> {
        self.changing(facts)?;
        self.queue.lock().unwrap().retain(|e| e.id != id);
        let _ = self.events.send(Event::QueueChanged);
        Ok(())
    }
    async fn close(&self, facts: &RequestFacts, id: &str) -> Result<(), Refusal> {
        self.hand_back(facts, id).await
    }
    async fn events(&self, facts: &RequestFacts) -> Result<broadcast::Receiver<Event>, Refusal> {
        self.queue_role(facts)?;
        Ok(self.events.subscribe())
    }
}

#[tokio::main]
async fn main() {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist-console");
    let backend: Arc<dyn ConsoleBackend> = Arc::new(Demo::new());
    let app = axum::Router::new().merge(carechat_console::routes::<()>(backend, dist));
    let listener = tokio::net::TcpListener::bind(&listen).await.unwrap();
    println!(
        "console demo on http://{}/console/",
        listener.local_addr().unwrap()
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .unwrap();
}

impl carechat_console::api::admin::AdminBackend for Demo {}
impl carechat_console::api::feedback::FeedbackBackend for Demo {}
impl carechat_console::api::passkey::PasskeyBackend for Demo {}
impl carechat_console::api::records::RecordsBackend for Demo {}
