//! Feedback on the assistant's replies, from outside the server's code: a
//! patient votes through a real, sealed session on a loopback server; the
//! console's counts call answers compliance and admin with the right
//! numbers and refuses every other role and anyone signed out; bad
//! feedback gets a protocol error and the chat goes on; and the stored rows
//! hold no message text and nothing about the session. The storage itself
//! is checked on SQLite and on a real PostgreSQL server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod backends;
mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use carechat::config::{Overrides, RawConfig};
use carechat::staff::Role as StaffRole;
use carechat::store::feedback::{Feedback, FeedbackId};
use carechat::store::Store;
use carechat_console::api::feedback::{FeedbackBackend as _, IntentFeedback};
use carechat_console::api::{Refusal, RequestFacts};
use chrono::{TimeZone as _, Utc};
use common::{say, Conn};
use protocol::vocab::{FeedbackReason, Vote};
use protocol::{
    ClientHandshake, ClientMessage, IdentityPublicKey, ServerHello, ServerMessage, Session,
};
use sqlx::Row as _;

use backends::Db;

/// A real server on loopback, with its console backend and store at hand.
struct World {
    addr: SocketAddr,
    pinned: IdentityPublicKey,
    origin: String,
    console: Arc<carechat::console::Backend>,
    store: Store,
    audit: carechat::audit::AuditLog,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn world() -> World {
    let data = tempfile::tempdir().unwrap();
    let assets = tempfile::tempdir().unwrap();
    std::fs::write(
        assets.path().join("index.html"),
        "<!doctype html><html><head><!-- carechat:head --></head><body></body></html>",
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut raw = RawConfig::demo().unwrap();
    raw.apply_overrides(Overrides {
        listen: Some(addr.to_string()),
        data_dir: Some(data.path().to_owned()),
        assets_dir: Some(assets.path().to_owned()),
        ..Overrides::default()
    });
    let config = raw.validate().unwrap();
    let identity = carechat::open_identity(&config).unwrap();
    let pinned = identity.public();
    let app = carechat::AppState::open(config, identity).await.unwrap();
    let origin = app.config.public_url.clone();
    let (console, store, audit) = (app.console.clone(), app.store.clone(), app.audit.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(carechat::run(app, listener, async {
        let _ = rx.await;
    }));
    World {
        addr,
        pinned,
        origin,
        console,
        store,
        audit,
        shutdown: Some(tx),
        _dirs: (data, assets),
    }
}

impl World {
    /// Signs a new account of `role` in; the facts its browser would send.
    async fn signed_in(&self, role: StaffRole) -> RequestFacts {
        let username = format!("user.{}", role.as_str());
        common::console::signed_in_as(
            &self.store,
            &self.audit,
            self.console.as_ref(),
            &self.origin,
            role,
            &username,
        )
        .await
    }

    /// A sealed session over a real WebSocket, synced and welcomed (not
    /// yet consented); the welcome's policy version.
    async fn patient(&self) -> (Session, Conn, String) {
        let client = ClientHandshake::start(&mut rand_core::OsRng);
        let response = reqwest::Client::new()
            .post(format!("http://{}/v1/handshake", self.addr))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&client.hello()).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let hello: ServerHello = response.json().await.unwrap();
        let mut session = client.finish(&hello, &self.pinned).unwrap();
        let sid = session.sid().to_b64u();
        let (ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{}/v1/ws?sid={sid}", self.addr))
                .await
                .unwrap();
        let mut conn = Conn { ws };
        conn.sync(&mut session).await;
        let ServerMessage::Welcome { policy_version, .. } = conn.recv(&mut session).await else {
            panic!("expected welcome");
        };
        (session, conn, policy_version)
    }

    async fn consented_patient(&self) -> (Session, Conn) {
        let (mut session, mut conn, policy_version) = self.patient().await;
        conn.send(
            &mut session,
            &ClientMessage::Consent {
                accepted: true,
                policy_version,
            },
        )
        .await;
        let ServerMessage::Notice { code, .. } = conn.recv(&mut session).await else {
            panic!("expected notice");
        };
        assert_eq!(code, "consent_accepted");
        (session, conn)
    }

    async fn counts(&self, facts: &RequestFacts) -> Vec<IntentFeedback> {
        self.console.feedback_counts(facts).await.unwrap()
    }
}

/// Asks `text` as `id`; the reply's intent and text, after any card or
/// notice that follows it has been read.
async fn ask(session: &mut Session, conn: &mut Conn, id: &str, text: &str) -> (String, String) {
    conn.send(session, &say(id, text)).await;
    loop {
        match conn.recv(session).await {
            ServerMessage::Reply {
                in_reply_to,
                intent,
                text,
                ..
            } if in_reply_to == id => return (intent, text),
            _ => continue,
        }
    }
}

fn feedback(id: &str, vote: Vote, reason: Option<FeedbackReason>) -> ClientMessage {
    ClientMessage::Feedback {
        in_reply_to: id.into(),
        vote,
        reason,
    }
}

/// Sends `message`, then a `say` as a probe: what came back before the
/// probe's reply (an accepted vote is answered by nothing at all), and
/// proof that the session is still alive.
async fn send_then_probe(
    session: &mut Session,
    conn: &mut Conn,
    message: &ClientMessage,
    probe: &str,
) -> Vec<ServerMessage> {
    conn.send(session, message).await;
    probe_after(session, conn, probe).await
}

async fn probe_after(session: &mut Session, conn: &mut Conn, probe: &str) -> Vec<ServerMessage> {
    conn.send(session, &say(probe, "thank you")).await;
    let mut before = Vec::new();
    loop {
        match conn.recv(session).await {
            ServerMessage::Reply { in_reply_to, .. } if in_reply_to == probe => return before,
            other => before.push(other),
        }
    }
}

fn error_code(messages: &[ServerMessage]) -> Option<&str> {
    match messages {
        [ServerMessage::Error { code, .. }] => Some(code),
        _ => None,
    }
}

fn find<'a>(counts: &'a [IntentFeedback], intent: &str) -> Option<&'a IntentFeedback> {
    counts.iter().find(|c| c.intent == intent)
}

#[tokio::test]
async fn only_compliance_and_admin_read_the_counts() {
    let w = world().await;
    for role in [StaffRole::Compliance, StaffRole::Admin] {
        let facts = w.signed_in(role).await;
        assert_eq!(
            w.console.feedback_counts(&facts).await,
            Ok(Vec::new()),
            "{role}"
        );
    }
    for role in [StaffRole::FrontDesk, StaffRole::Nurse] {
        let facts = w.signed_in(role).await;
        assert_eq!(
            w.console.feedback_counts(&facts).await,
            Err(Refusal::NotAllowed),
            "{role}"
        );
    }
    let nobody = RequestFacts {
        origin: Some(w.origin.clone()),
        ..RequestFacts::default()
    };
    assert_eq!(
        w.console.feedback_counts(&nobody).await,
        Err(Refusal::SignedOut)
    );
    let forged = RequestFacts {
        session: Some("not-a-session-token".into()),
        ..nobody
    };
    assert_eq!(
        w.console.feedback_counts(&forged).await,
        Err(Refusal::SignedOut)
    );
}

#[tokio::test]
async fn votes_through_a_real_session_are_counted_once_per_reply() {
    let w = world().await;
    let compliance = w.signed_in(StaffRole::Compliance).await;
    let admin = w.signed_in(StaffRole::Admin).await;
    let (mut session, mut conn) = w.consented_patient().await;
    let (parking, _) = ask(&mut session, &mut conn, "m0", "where do I park").await;
    assert_eq!(parking, "faq.parking");
    let (again, _) = ask(&mut session, &mut conn, "m1", "where do I park").await;
    assert_eq!(again, "faq.parking");

    // A thumbs down with a reason, accepted: nothing comes back.
    let down = feedback("m0", Vote::Down, Some(FeedbackReason::HardToUnderstand));
    assert!(send_then_probe(&mut session, &mut conn, &down, "p0")
        .await
        .is_empty());
    let counts = w.counts(&compliance).await;
    let row = find(&counts, "faq.parking").unwrap();
    assert_eq!((row.up, row.down, row.hard_to_understand), (0, 1, 1));
    // The same vote re-sent (after a reconnect, say) is not counted twice.
    assert!(send_then_probe(&mut session, &mut conn, &down, "p1")
        .await
        .is_empty());
    assert_eq!(find(&w.counts(&compliance).await, "faq.parking"), Some(row));

    // A changed mind replaces the earlier vote on that reply.
    let changed = feedback("m0", Vote::Down, Some(FeedbackReason::WrongOrOutOfDate));
    assert!(send_then_probe(&mut session, &mut conn, &changed, "p2")
        .await
        .is_empty());
    let up = feedback("m1", Vote::Up, None);
    assert!(send_then_probe(&mut session, &mut conn, &up, "p3")
        .await
        .is_empty());
    let counts = w.counts(&admin).await;
    assert_eq!(
        find(&counts, "faq.parking"),
        Some(&IntentFeedback {
            intent: "faq.parking".into(),
            up: 1,
            down: 1,
            not_what_i_asked: 0,
            hard_to_understand: 0,
            wrong_or_out_of_date: 1,
            other: 0,
        })
    );
    let flipped = feedback("m0", Vote::Up, None);
    assert!(send_then_probe(&mut session, &mut conn, &flipped, "p4")
        .await
        .is_empty());
    let counts = w.counts(&admin).await;
    let row = find(&counts, "faq.parking").unwrap();
    assert_eq!((row.up, row.down, row.wrong_or_out_of_date), (2, 0, 0));
    // A thumbs down without a reason counts as a thumbs down alone.
    let plain = feedback("p0", Vote::Down, None);
    assert!(send_then_probe(&mut session, &mut conn, &plain, "p5")
        .await
        .is_empty());
    let counts = w.counts(&compliance).await;
    let thanks = counts.iter().find(|c| c.intent != "faq.parking").unwrap();
    assert_eq!(thanks.down, 1);
    assert_eq!(
        thanks.not_what_i_asked
            + thanks.hard_to_understand
            + thanks.wrong_or_out_of_date
            + thanks.other,
        0
    );
}

#[tokio::test]
async fn bad_feedback_gets_a_protocol_error_and_the_chat_goes_on() {
    let w = world().await;
    let admin = w.signed_in(StaffRole::Admin).await;

    // Before consent nothing is remembered: no reply takes feedback.
    let (mut session, mut conn, _) = w.patient().await;
    conn.send(&mut session, &feedback("m0", Vote::Up, None))
        .await;
    let ServerMessage::Error { code, .. } = conn.recv(&mut session).await else {
        panic!("expected an error");
    };
    assert_eq!(code, "unknown_reply");
    drop((session, conn));

    let (mut session, mut conn) = w.consented_patient().await;
    let (hours, _) = ask(&mut session, &mut conn, "m0", "where do I park").await;
    assert_eq!(hours, "faq.parking");
    let cases: Vec<(&str, ClientMessage)> = vec![
        ("unknown_reply", feedback("m404", Vote::Up, None)),
        (
            "invalid_feedback",
            feedback("m0", Vote::Up, Some(FeedbackReason::Other)),
        ),
    ];
    for (n, (expected, message)) in cases.iter().enumerate() {
        let before = send_then_probe(&mut session, &mut conn, message, &format!("q{n}")).await;
        assert_eq!(error_code(&before), Some(*expected), "{message:?}");
    }
    // Wrong types, in authentic frames: an error, not a rejected frame.
    for (n, raw) in [
        r#"{"type":"feedback","in_reply_to":"m0","vote":"sideways"}"#,
        r#"{"type":"feedback","in_reply_to":"m0","vote":"down","reason":"too_short"}"#,
        r#"{"type":"feedback","in_reply_to":0,"vote":"up"}"#,
        r#"{"type":"feedback","vote":"up"}"#,
    ]
    .into_iter()
    .enumerate()
    {
        let frame = session.seal(raw.as_bytes()).unwrap();
        conn.send_raw(frame.to_json()).await;
        let before = probe_after(&mut session, &mut conn, &format!("r{n}")).await;
        assert_eq!(error_code(&before), Some("invalid_feedback"), "{raw}");
    }
    // Crisis guidance takes no feedback.
    let (crisis, _) = ask(&mut session, &mut conn, "c0", "i want to kill myself").await;
    assert_eq!(crisis, "safety.crisis");
    // (Its card and the queue's notice follow the reply.)
    probe_after(&mut session, &mut conn, "d0").await;
    let before = send_then_probe(
        &mut session,
        &mut conn,
        &feedback("c0", Vote::Down, None),
        "s0",
    )
    .await;
    assert_eq!(error_code(&before), Some("unknown_reply"));
    // None of it was counted.
    assert!(find(&w.counts(&admin).await, "faq.parking").is_none());
    assert!(find(&w.counts(&admin).await, "safety.crisis").is_none());
}

#[tokio::test]
async fn stored_feedback_holds_no_message_text_and_nothing_about_the_session() {
    let w = world().await;
    let (mut session, mut conn) = w.consented_patient().await;
    let question = "where do I park";
    let (intent, reply) = ask(&mut session, &mut conn, "m0", question).await;
    let down = feedback("m0", Vote::Down, Some(FeedbackReason::NotWhatIAsked));
    assert!(send_then_probe(&mut session, &mut conn, &down, "p0")
        .await
        .is_empty());
    let sid = session.sid().to_b64u();

    let rows = sqlx::query("SELECT * FROM feedback")
        .fetch_all(w.store.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let columns: Vec<&str> = row.columns().iter().map(sqlx::Column::name).collect();
    assert_eq!(columns, ["id", "intent", "vote", "reason", "at"]);
    let id: String = row.try_get("id").unwrap();
    assert_eq!(row.try_get::<String, _>("intent").unwrap(), intent);
    assert_eq!(row.try_get::<String, _>("vote").unwrap(), "down");
    assert_eq!(
        row.try_get::<Option<String>, _>("reason")
            .unwrap()
            .as_deref(),
        Some("not_what_i_asked")
    );
    let at: i64 = row.try_get("at").unwrap();
    assert_eq!(at % 3_600_000, 0, "kept to the hour");
    assert!((Utc::now().timestamp_millis() - at) <= 3_600_000);
    // Nothing the patient or the assistant said, and not the session.
    let stored = format!("{id} {intent} down not_what_i_asked {at}");
    for word in question.split(' ').chain(reply.split(' ')) {
        if word.len() > 3 && !intent.contains(&word.to_lowercase()) {
            assert!(!stored.contains(word), "{word:?} stored");
        }
    }
    assert_ne!(id, sid);
    assert!(!id.contains(&sid[..8]));
}

on_both_backends!(votes_are_replaced_by_id_and_counted_per_intent);

async fn votes_are_replaced_by_id_and_counted_per_intent(db: Db) {
    let store = Store::open(&db.config()).await.unwrap();
    let at = Utc.with_ymd_and_hms(2026, 12, 3, 14, 37, 12).unwrap();
    let vote = |intent, vote, reason| Feedback {
        intent,
        vote,
        reason,
        at,
    };
    let (a, b, c, d) = (
        FeedbackId::random(),
        FeedbackId::random(),
        FeedbackId::random(),
        FeedbackId::random(),
    );
    store
        .save_feedback(
            &a,
            &vote("faq.hours", Vote::Down, Some(FeedbackReason::Other)),
        )
        .await
        .unwrap();
    store
        .save_feedback(
            &a,
            &vote("faq.hours", Vote::Down, Some(FeedbackReason::NotWhatIAsked)),
        )
        .await
        .unwrap();
    store
        .save_feedback(&b, &vote("faq.hours", Vote::Up, None))
        .await
        .unwrap();
    store
        .save_feedback(&c, &vote("appointments.list", Vote::Down, None))
        .await
        .unwrap();
    store
        .save_feedback(&d, &vote("appointments.list", Vote::Up, None))
        .await
        .unwrap();
    store
        .save_feedback(
            &d,
            &vote(
                "appointments.list",
                Vote::Down,
                Some(FeedbackReason::WrongOrOutOfDate),
            ),
        )
        .await
        .unwrap();
    let counts = store.feedback_counts().await.unwrap();
    let names: Vec<&str> = counts.iter().map(|c| c.intent.as_str()).collect();
    assert_eq!(names, ["appointments.list", "faq.hours"]);
    let (list, hours) = (&counts[0], &counts[1]);
    assert_eq!((list.up, list.down), (0, 2));
    assert_eq!(list.reason(FeedbackReason::WrongOrOutOfDate), 1);
    assert_eq!(list.reason(FeedbackReason::Other), 0);
    assert_eq!((hours.up, hours.down), (1, 1));
    assert_eq!(hours.reason(FeedbackReason::NotWhatIAsked), 1);
    assert_eq!(
        hours.reason(FeedbackReason::Other),
        0,
        "replaced, not added"
    );
    let stored: Vec<i64> = sqlx::query("SELECT at FROM feedback")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get(0).unwrap())
        .collect();
    let hour = Utc
        .with_ymd_and_hms(2026, 12, 3, 14, 0, 0)
        .unwrap()
        .timestamp_millis();
    assert_eq!(stored, [hour; 4]);
}
