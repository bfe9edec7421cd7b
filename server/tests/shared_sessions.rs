//! Sessions kept in the database: two `carechat` servers on one database
//! (SQLite, and a real PostgreSQL), and a patient whose connections land
//! on either, as they would behind a round-robin proxy with no sticky
//! sessions. The patient consents on one, asks on the other, verifies and
//! books across both; a server that is stopped loses none of its chats.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod backends;
mod common;

use std::time::{Duration, Instant};

use backends::Db;
use common::{say, Conn, TestServer};
use futures_util::StreamExt as _;
use protocol::{ClientMessage, Frame, ServerMessage, Session};
use tokio_tungstenite::tungstenite::Message;

/// The demo EHR's main patient (synthetic).
const MORGAN: &str = "03/02/1984 Sample";

/// A server on `db`; `twin` gives it the identity and master keys of a
/// server already running there (so the widget's pinned key holds for
/// both, and both open the same data keys).
async fn server_on(db: &Db, twin: Option<&TestServer>) -> TestServer {
    let url = db.url.clone();
    let keys = twin.map(|t| t.data_dir.path().to_owned());
    TestServer::start_custom(
        move |name| (name == "CARECHAT_DATABASE_URL").then(|| url.clone()),
        move |config| {
            if let Some(from) = keys {
                for file in ["identity.key", "master.key"] {
                    std::fs::copy(from.join(file), config.data_dir.join(file)).unwrap();
                }
            }
        },
    )
    .await
}

/// One patient, with the widget's session, connected to one server at a
/// time.
struct Patient {
    session: Session,
    conn: Conn,
    next: u32,
}

impl Patient {
    /// Handshakes with `server` and opens the first connection there.
    async fn start(server: &TestServer) -> Self {
        let mut session = server.handshake().await;
        let mut conn = server.connect(&mut session).await;
        conn.sync(&mut session).await;
        Self {
            session,
            conn,
            next: 0,
        }
    }

    /// Drops the connection and opens one to `server`, as the widget does
    /// after a network change; returns what the server sent again.
    async fn move_to(&mut self, server: &TestServer) -> Vec<ServerMessage> {
        let _ = self.conn.ws.close(None).await;
        self.conn = server.connect(&mut self.session).await;
        self.conn.sync(&mut self.session).await;
        let mut again = Vec::new();
        while let Some(message) = self.next_within(Duration::from_millis(300)).await {
            again.push(message);
        }
        again
    }

    async fn next_within(&mut self, within: Duration) -> Option<ServerMessage> {
        match tokio::time::timeout(within, self.conn.ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => Some(
                self.session
                    .open_message(&Frame::from_json(text.as_str()).unwrap())
                    .unwrap(),
            ),
            Ok(other) => panic!("the connection ended: {other:?}"),
            Err(_) => None,
        }
    }

    /// Sends a message and returns every message up to the reply (and the
    /// card that follows it, if any).
    async fn ask(&mut self, message: ClientMessage) -> (String, String, Vec<ServerMessage>) {
        self.conn.send(&mut self.session, &message).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        loop {
            assert!(Instant::now() < deadline, "no reply; got {seen:?}");
            let message = self.conn.recv(&mut self.session).await;
            if let ServerMessage::Reply { intent, text, .. } = &message {
                let (intent, text) = (intent.clone(), text.clone());
                if let Some(card) = self.next_within(Duration::from_millis(300)).await {
                    seen.push(card);
                }
                return (intent, text, seen);
            }
            seen.push(message);
        }
    }

    /// Accepts the notice; consent is answered with a notice.
    async fn consent(&mut self, policy_version: String) {
        let consent = ClientMessage::Consent {
            accepted: true,
            policy_version,
        };
        self.conn.send(&mut self.session, &consent).await;
        let ServerMessage::Notice { code, .. } = self.conn.recv(&mut self.session).await else {
            panic!("expected a notice");
        };
        assert_eq!(code, "consent_accepted");
    }

    async fn say(&mut self, text: &str) -> (String, String, Vec<ServerMessage>) {
        self.next += 1;
        self.ask(say(&format!("m{}", self.next), text)).await
    }

    async fn choose(&mut self, action: String) -> (String, String, Vec<ServerMessage>) {
        self.next += 1;
        let id = format!("m{}", self.next);
        self.ask(ClientMessage::Choose { id, action }).await
    }
}

/// The id of the button labelled `label` on the card among `messages`.
fn button(messages: &[ServerMessage], label: &str) -> String {
    for message in messages {
        if let ServerMessage::Card { items, actions, .. } = message {
            if let Some(action) = items
                .iter()
                .flat_map(|i| i.actions.iter())
                .chain(actions.iter())
                .find(|a| a.label == label)
            {
                return action.id.clone();
            }
        }
    }
    panic!("no {label:?} button in {messages:?}");
}

fn outbox_codes(server: &TestServer) -> Vec<String> {
    std::fs::read_to_string(server.data_dir.path().join("dev-outbox.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let line: serde_json::Value = serde_json::from_str(l).unwrap();
            line["code"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn newest_code(server: &TestServer) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(code) = outbox_codes(server).pop() {
            return code;
        }
        assert!(Instant::now() < deadline, "no code in the outbox");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_patient_whose_connections_alternate_between_two_servers_chats_verifies_and_books(
    db: Db,
) {
    let a = server_on(&db, None).await;
    let b = server_on(&db, Some(&a)).await;

    // Handshake on A; the welcome comes on B.
    let mut session = a.handshake().await;
    let mut conn = b.connect(&mut session).await;
    conn.sync(&mut session).await;
    let ServerMessage::Welcome { policy_version, .. } = conn.recv(&mut session).await else {
        panic!("expected the welcome from the other server");
    };
    let mut patient = Patient {
        session,
        conn,
        next: 0,
    };
    patient.consent(policy_version).await;

    // Consent given on B holds on A.
    patient.move_to(&a).await;
    let (intent, text, _) = patient.say("What are your opening hours?").await;
    assert_eq!(intent, "faq.hours", "{text}");

    // Verification: details on B, the code on A.
    patient.move_to(&b).await;
    let (intent, _, _) = patient.say("When is my next appointment?").await;
    assert_eq!(intent, "identity.details_needed");
    let (intent, _, _) = patient.say(MORGAN).await;
    assert_eq!(intent, "identity.code_sent");
    let code = newest_code(&b).await;
    patient.move_to(&a).await;
    let (intent, text, _) = patient.say(&code).await;
    assert_eq!(intent, "appointments.list", "{text}");
    assert!(text.starts_with("Thank you, Morgan"), "{text}");

    // Booking: slots offered on A, chosen on B, confirmed on A.
    let (intent, text, card) = patient
        .say("I need a checkup with Dr. Patel next Tuesday afternoon")
        .await;
    assert_eq!(intent, "appointments.book", "{text}");
    patient.move_to(&b).await;
    let (_, _, confirm) = patient.choose(button(&card, "Choose")).await;
    patient.move_to(&a).await;
    let (intent, text, _) = patient.choose(button(&confirm, "Yes, book it")).await;
    assert_eq!(intent, "appointments.booked", "{text}");

    // A re-sent message id (a widget that lost its connection before the
    // answer arrived) gets its first answer, whichever server has it.
    let last = format!("m{}", patient.next + 1);
    let (intent, _, _) = patient.say("Where do I park?").await;
    assert_eq!(intent, "faq.parking");
    patient.move_to(&b).await;
    let (intent, _, _) = patient.ask(say(&last, "something else entirely")).await;
    assert_eq!(intent, "faq.parking", "the answer to {last} was remembered");
}

async fn a_stopped_server_loses_none_of_its_chats(db: Db) {
    let a = server_on(&db, None).await;
    let b = server_on(&db, Some(&a)).await;
    let mut patient = Patient::start(&a).await;
    let ServerMessage::Welcome { policy_version, .. } =
        patient.conn.recv(&mut patient.session).await
    else {
        panic!("expected the welcome");
    };
    patient.consent(policy_version).await;
    let (intent, _, _) = patient.say("When is my next appointment?").await;
    assert_eq!(intent, "identity.details_needed");

    // The patient's message reaches A, which answers, and A stops before
    // the widget has acknowledged the answer.
    patient.next += 1;
    let id = format!("m{}", patient.next);
    patient
        .conn
        .send(&mut patient.session, &say(&id, MORGAN))
        .await;
    // The reply is sent and lost on the way: the widget never opens it.
    let common::Event::Frame(_lost) = patient.conn.next_event().await else {
        panic!("expected the reply");
    };
    let code = newest_code(&a).await;
    drop(a);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // On B the patient is still consented and still being verified, and
    // the reply they had not acknowledged comes again.
    let again = patient.move_to(&b).await;
    assert!(
        again.iter().any(
            |m| matches!(m, ServerMessage::Reply { intent, .. } if intent == "identity.code_sent")
        ),
        "the unacknowledged reply is sent again: {again:?}"
    );
    let (intent, text, _) = patient.say(&code).await;
    assert_eq!(intent, "appointments.list", "{text}");
}

on_both_backends!(
    a_patient_whose_connections_alternate_between_two_servers_chats_verifies_and_books,
    a_stopped_server_loses_none_of_its_chats,
);
