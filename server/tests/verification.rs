//! Identity verification and the patient's own records, through a real
//! server over real WebSocket connections, with the embedded demo EHR and
//! the development outbox (codes are read from `dev-outbox.jsonl`, as a
//! patient would read their text messages).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use common::{consented, say, Conn, TestServer};
use futures_util::StreamExt as _;
use protocol::{CardItem, ClientMessage, Frame, ServerMessage, Session};
use tokio_tungstenite::tungstenite::Message;

/// The demo EHR's main patient (synthetic): Morgan Sample, phone ending 01.
const MORGAN: &str = "03/02/1984 Sample";
/// Morgan again, typed another way.
const MORGAN_AGAIN: &str = "Morgan Sample, born 03/02/1984";
/// The clinic's number, which every "call us" reply carries.
const CLINIC_PHONE: &str = "(555) 010-4477";

/// What the server answered to one `say` or `choose`.
#[derive(Debug)]
struct Answer {
    intent: String,
    text: String,
    /// From sending to the `still_working` notice, when one came first.
    told_to_wait: Option<Duration>,
    /// From sending to the reply.
    took: Duration,
    card: Option<(String, String, Vec<CardItem>, Vec<protocol::CardAction>)>,
}

impl Answer {
    /// The action id of the button labelled `label` on the card (on a line
    /// or on the card).
    fn action(&self, label: &str) -> String {
        let (_, _, items, actions) = self.card.as_ref().expect("a card");
        items
            .iter()
            .flat_map(|i| i.actions.iter())
            .chain(actions.iter())
            .find(|a| a.label == label)
            .unwrap_or_else(|| panic!("no {label:?} button in {:?}", self.card))
            .id
            .clone()
    }
}

async fn answer(conn: &mut Conn, session: &mut Session, message: ClientMessage) -> Answer {
    let started = Instant::now();
    conn.send(session, &message).await;
    // A message in the other language switches the chat first.
    let mut reply = conn.recv(session).await;
    if let ServerMessage::Locale { .. } = reply {
        reply = conn.recv(session).await;
    }
    // A slow answer is announced first.
    let mut told_to_wait = None;
    if let ServerMessage::Notice { code, .. } = &reply {
        if code == "still_working" {
            told_to_wait = Some(started.elapsed());
            reply = conn.recv(session).await;
        }
    }
    let ServerMessage::Reply { intent, text, .. } = reply else {
        panic!("expected a reply, got {reply:?}")
    };
    let took = started.elapsed();
    // A card, when there is one, follows its reply at once.
    let card = match tokio::time::timeout(Duration::from_millis(400), conn.ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => {
            match session
                .open_message(&Frame::from_json(t.as_str()).unwrap())
                .unwrap()
            {
                ServerMessage::Card {
                    kind,
                    title,
                    items,
                    actions,
                    ..
                } => Some((kind, title, items, actions)),
                other => panic!("unexpected {other:?}"),
            }
        }
        _ => None,
    };
    Answer {
        intent,
        text,
        took,
        card,
        told_to_wait,
    }
}

struct Chat {
    session: Session,
    conn: Conn,
    next: u32,
}

impl Chat {
    async fn open(server: &TestServer) -> Self {
        let (session, conn) = consented(server).await;
        Self {
            session,
            conn,
            next: 0,
        }
    }

    async fn say(&mut self, text: &str) -> Answer {
        self.next += 1;
        let id = format!("m{}", self.next);
        answer(&mut self.conn, &mut self.session, say(&id, text)).await
    }

    async fn choose(&mut self, action: String) -> Answer {
        self.next += 1;
        let id = format!("m{}", self.next);
        answer(
            &mut self.conn,
            &mut self.session,
            ClientMessage::Choose { id, action },
        )
        .await
    }
}

fn outbox_lines(server: &TestServer) -> Vec<serde_json::Value> {
    std::fs::read_to_string(server.data_dir.path().join("dev-outbox.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits for the outbox to hold `count` codes and returns the newest.
async fn code_number(server: &TestServer, count: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines = outbox_lines(server);
        if lines.len() >= count {
            return lines[count - 1]["code"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no code in the outbox");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Any six digits other than `code`.
fn wrong(code: &str, n: u32) -> String {
    let mut guess = format!("{:06}", (n * 7919) % 1_000_000);
    if guess == code {
        guess = format!("{:06}", (n * 7919 + 1) % 1_000_000);
    }
    guess
}

async fn verify(server: &TestServer, chat: &mut Chat, question: &str) -> Answer {
    let asked = chat.say(question).await;
    assert_eq!(asked.intent, "identity.details_needed", "{}", asked.text);
    let before = outbox_lines(server).len();
    let sent = chat.say(MORGAN).await;
    assert_eq!(sent.intent, "identity.code_sent");
    assert!(!sent.text.contains("ending in"), "{}", sent.text);
    let code = code_number(server, before + 1).await;
    chat.say(&code).await
}

#[tokio::test]
async fn a_patient_verifies_then_sees_books_and_cancels_appointments() {
    let server = TestServer::start().await;
    let mut chat = Chat::open(&server).await;

    let listed = verify(&server, &mut chat, "When is my next appointment?").await;
    assert_eq!(listed.intent, "appointments.list", "{}", listed.text);
    assert!(
        listed.text.starts_with("Thank you, Morgan"),
        "{}",
        listed.text
    );
    let (kind, _, items, _) = listed.card.clone().unwrap();
    assert_eq!(kind, "appointments");
    assert_eq!(items.len(), 2, "the demo patient has two upcoming visits");

    // Booking in natural language: three real free slots, confirm, book.
    let offered = chat
        .say("I need a checkup with Dr. Patel next Tuesday afternoon")
        .await;
    assert_eq!(offered.intent, "appointments.book", "{}", offered.text);
    let (kind, _, slots, _) = offered.card.clone().unwrap();
    assert_eq!(kind, "slots");
    assert!((1..=3).contains(&slots.len()));
    for slot in &slots {
        assert!(slot.title.starts_with("Tue"), "{}", slot.title);
        assert!(slot.title.contains("PM"), "{}", slot.title);
        assert!(slot.detail.contains("Patel"), "{}", slot.detail);
    }
    let confirm = chat.choose(offered.action("Choose")).await;
    assert_eq!(confirm.card.as_ref().unwrap().0, "confirm");
    let yes = confirm.action("Yes, book it");
    let booked = chat.choose(yes.clone()).await;
    assert_eq!(booked.intent, "appointments.booked", "{}", booked.text);
    assert_eq!(booked.card.as_ref().unwrap().0, "booked");
    // A button works once: pressing it again books nothing.
    assert_eq!(chat.choose(yes).await.intent, "card.expired");

    let listed = chat.say("show my appointments").await;
    assert_eq!(listed.card.unwrap().2.len(), 3);

    // Cancel with confirmation.
    let which = chat.say("I want to cancel my appointment").await;
    assert_eq!(which.intent, "appointments.cancel");
    let pick = chat.choose(which.action("Cancel this")).await;
    let done = chat.choose(pick.action("Yes, cancel it")).await;
    assert_eq!(done.intent, "appointments.cancelled", "{}", done.text);
    let listed = chat.say("my appointments?").await;
    assert_eq!(listed.card.unwrap().2.len(), 2);

    // Lab status: never a value.
    let labs = chat.say("are my lab results back?").await;
    assert_eq!(labs.intent, "labs.status", "{}", labs.text);
    assert!(labs.text.contains("contact the office"), "{}", labs.text);
    assert!(labs.text.contains("pending"), "{}", labs.text);
    let refills = chat.say("what about my prescription refills").await;
    assert_eq!(refills.intent, "refills.status", "{}", refills.text);

    // Every step is in the audit log, by resource type and id only, and the
    // chain verifies.
    let store = carechat::store::Store::open(
        &carechat::store::RawStorage::default()
            .validate(server.data_dir.path(), |_| None)
            .unwrap(),
    )
    .await
    .unwrap();
    use sqlx::Row as _;
    let rows = sqlx::query(
        "SELECT action, entity_type, entity_id, outcome FROM audit_events ORDER BY seq",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let events: Vec<(String, Option<String>, Option<String>, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let has = |action: &str, entity: Option<&str>| {
        events
            .iter()
            .any(|e| e.0 == action && entity.is_none_or(|t| e.1.as_deref() == Some(t)))
    };
    for (action, entity) in [
        ("handshake", None),
        ("consent.accepted", None),
        ("verification.start", None),
        ("verification.code_sent", Some("Patient")),
        ("verification.success", Some("Patient")),
        ("phi.read", Some("Appointment")),
        ("phi.read", Some("ServiceRequest")),
        ("phi.read", Some("MedicationRequest")),
        ("phi.write", Some("Appointment")),
    ] {
        assert!(has(action, entity), "no {action} {entity:?} in {events:?}");
    }
    let text = format!("{events:?}");
    for phi in ["Sample", "1984", "Morgan", "+1202"] {
        assert!(!text.contains(phi), "{phi} in the audit log");
    }
    let report = carechat::audit::verify_log(&store, std::slice::from_ref(&server.pinned))
        .await
        .unwrap();
    assert!(report.is_intact(), "{report:?}");
}

#[tokio::test]
async fn verification_belongs_to_the_session_only() {
    let server = TestServer::start().await;
    let mut first = Chat::open(&server).await;
    verify(&server, &mut first, "my appointments").await;
    let mut second = Chat::open(&server).await;
    let again = second.say("my appointments").await;
    assert_eq!(again.intent, "identity.details_needed");
}

/// An answer with the seconds of a resend wait (which depend on how long
/// the run took) masked.
fn masked(text: &str) -> String {
    match text.find("wait ") {
        Some(i) => {
            let rest = text[i + 5..].trim_start_matches(|c: char| c.is_ascii_digit());
            format!("{}N{rest}", &text[..i + 5])
        }
        None => text.to_owned(),
    }
}

#[tokio::test]
async fn unknown_and_known_patients_get_identical_responses() {
    let server = TestServer::start().await;
    let mut runs = Vec::new();
    // Morgan and Casey exist (one code each); the others do not (none).
    for (details, exists) in [
        (MORGAN, true),
        ("03/02/1984 Sampel", false),
        ("07/15/1991 Example", true),
        ("01/01/1990 Nobody", false),
    ] {
        let before = outbox_lines(&server).len();
        let mut chat = Chat::open(&server).await;
        let mut seen = Vec::new();
        let a = chat.say("are my lab results back").await;
        seen.push((a.intent, a.text, a.card.is_some()));
        let a = chat.say(details).await;
        let took = a.took;
        seen.push((a.intent, a.text, a.card.is_some()));
        // Delivery runs in the background: wait for the code where one is
        // due, and give a stranger's the same time to (not) appear.
        let code = if exists {
            code_number(&server, before + 1).await
        } else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            String::new()
        };
        let sent = outbox_lines(&server).len() - before;
        for n in 1..=6 {
            let a = chat.say(&wrong(&code, n)).await;
            seen.push((a.intent, a.text, a.card.is_some()));
        }
        let a = chat.say("new code").await;
        seen.push((a.intent, masked(&a.text), a.card.is_some()));
        println!("enumeration: {details:?}: codes sent {sent}, details answered in {took:?}");
        runs.push((details, sent, seen));
    }
    let sent: Vec<usize> = runs.iter().map(|r| r.1).collect();
    assert_eq!(sent, [1, 0, 1, 0]);
    for run in &runs[1..] {
        assert_eq!(run.2, runs[0].2, "{} answered differently", run.0);
    }
}

#[tokio::test]
async fn wrong_codes_lock_the_patient_out_and_then_even_the_right_code_is_refused() {
    let server = TestServer::start_with(|name| match name {
        "CARECHAT_MAX_CONSECUTIVE_FAILURES" => Some("7".into()),
        "CARECHAT_RESEND_COOLDOWN_SECS" => Some("1".into()),
        _ => None,
    })
    .await;
    let mut chat = Chat::open(&server).await;
    chat.say("when is my appointment").await;
    chat.say(MORGAN).await;
    let first = code_number(&server, 1).await;
    for n in 1..=4 {
        let a = chat.say(&wrong(&first, n)).await;
        assert_eq!(a.intent, "identity.code_wrong", "{}", a.text);
    }
    // The fifth wrong entry spends the code: even the right one fails now.
    assert_eq!(
        chat.say(&wrong(&first, 5)).await.intent,
        "identity.code_spent"
    );
    assert_eq!(chat.say(&first).await.intent, "identity.code_expired");

    // A new code does not reset the count of failures.
    let too_soon = chat.say("new code").await;
    assert!(
        ["identity.code_sent", "identity.resend_wait"].contains(&too_soon.intent.as_str()),
        "{}",
        too_soon.text
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    if too_soon.intent == "identity.resend_wait" {
        assert_eq!(chat.say("new code").await.intent, "identity.code_sent");
    }
    let second = code_number(&server, 2).await;
    assert_eq!(
        chat.say(&wrong(&second, 6)).await.intent,
        "identity.code_wrong"
    );
    let locked = chat.say(&wrong(&second, 7)).await;
    assert_eq!(locked.intent, "identity.locked");
    assert!(locked.text.contains("(555) 010-4477"), "{}", locked.text);

    // Locked: another session, the right details and a fresh code request
    // get nowhere, and the right code of before is refused.
    let mut other = Chat::open(&server).await;
    other.say("my lab results").await;
    let refused = other.say(MORGAN).await;
    assert_eq!(refused.intent, "identity.locked", "{}", refused.text);
    assert_eq!(
        outbox_lines(&server).len(),
        2,
        "no code is sent while locked"
    );
    let right = chat.say(&second).await;
    assert_ne!(right.intent, "appointments.list");
}

/// A FHIR EHR configured at a loopback port where nothing listens.
fn unreachable_ehr(config: &mut carechat::config::Config) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    ehr_at(config, port);
}

/// A FHIR EHR on a loopback `port` (nothing there, or a test's own server).
fn ehr_at(config: &mut carechat::config::Config, port: u16) {
    use p384::pkcs8::EncodePrivateKey as _;
    let key = p384::SecretKey::random(&mut rand_core::OsRng);
    let pem = key.to_pkcs8_pem(p384::pkcs8::LineEnding::LF).unwrap();
    let mut fhir = carechat::ehr::FhirConfig::new(
        format!("http://127.0.0.1:{port}/fhir").parse().unwrap(),
        format!("http://127.0.0.1:{port}/token").parse().unwrap(),
        "carechat",
        "k1",
        carechat::ehr::SigningAlgorithm::Es384,
        &pem,
    )
    .unwrap();
    fhir.timeout = Duration::from_millis(500);
    fhir.retries = 1;
    config.ehr = carechat::ehr::EhrConfig::Fhir(Box::new(fhir));
}

#[tokio::test]
async fn when_the_ehr_is_down_the_patient_is_told_and_keeps_their_place() {
    let server = TestServer::start_custom(|_| None, unreachable_ehr).await;
    let mut chat = Chat::open(&server).await;
    assert_eq!(
        chat.say("when is my next appointment").await.intent,
        "identity.details_needed"
    );
    let down = chat.say(MORGAN).await;
    assert_eq!(down.intent, "identity.unavailable", "{}", down.text);
    assert!(down.text.contains("(555) 010-4477"), "{}", down.text);
    assert!(!down.text.contains("Sample") && !down.text.contains("1984"));
    // Nothing was lost: the request still waits for the details, and the
    // FAQ still answers meanwhile.
    assert_eq!(
        chat.say("what are your hours on saturday").await.intent,
        "faq.hours"
    );
    assert_eq!(chat.say(MORGAN).await.intent, "identity.unavailable");
    assert!(outbox_lines(&server).is_empty());
}

#[tokio::test]
async fn a_patient_moves_an_appointment_after_confirming_it() {
    let server = TestServer::start().await;
    let mut chat = Chat::open(&server).await;
    verify(&server, &mut chat, "my appointments").await;
    let which = chat.say("I need to reschedule my appointment").await;
    assert_eq!(which.intent, "appointments.reschedule", "{}", which.text);
    let before = which.card.clone().unwrap().2;
    let slots = chat.choose(which.action("Move this")).await;
    assert_eq!(slots.card.as_ref().unwrap().0, "slots", "{}", slots.text);
    let confirm = chat.choose(slots.action("Choose")).await;
    let (_, title, items, _) = confirm.card.clone().unwrap();
    assert_eq!(title, "Move this appointment?");
    assert!(items[0].title.starts_with("From ") && items[1].title.starts_with("To "));
    let moved = chat.choose(confirm.action("Yes, move it")).await;
    assert_eq!(moved.intent, "appointments.rescheduled", "{}", moved.text);
    let after = chat.say("show my appointments").await.card.unwrap().2;
    assert_eq!(after.len(), before.len(), "moved, not added");
    assert_ne!(
        after.iter().map(|i| &i.title).collect::<Vec<_>>(),
        before.iter().map(|i| &i.title).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_clinic_that_requires_the_record_number_asks_for_it() {
    let server =
        TestServer::start_with(|name| (name == "CARECHAT_REQUIRE_MRN").then(|| "true".to_owned()))
            .await;
    let mut chat = Chat::open(&server).await;
    let asked = chat.say("are my lab results back").await;
    assert!(
        asked.text.contains("medical record number"),
        "{}",
        asked.text
    );
    let unclear = chat.say(MORGAN).await;
    assert_eq!(unclear.intent, "identity.details_unclear");
    let sent = chat.say("03/02/1984 Sample MGFC-100234").await;
    assert_eq!(sent.intent, "identity.code_sent");
    let code = code_number(&server, 1).await;
    assert_eq!(chat.say(&code).await.intent, "labs.status");
}

/// Prints how long the answer to typed details takes for patients who exist
/// and for details that match nobody (medians over many sessions). A
/// report, not a pass/fail check: run with
/// `cargo test -p carechat-server --test verification -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "timing report"]
async fn enumeration_timing_report() {
    let server = TestServer::start_custom(
        |name| (name == "CARECHAT_RESEND_COOLDOWN_SECS").then(|| "1".to_owned()),
        |config| {
            // Many starts from one address, each patient every few rounds.
            let limits = &mut config.verification.limits;
            limits.starts_per_address_per_hour = 1000;
            limits.starts_per_patient_per_hour = 30;
            limits.codes_per_patient_per_hour = 10;
        },
    )
    .await;
    let known = [
        "03/02/1984 Sample",
        "07/15/1991 Example",
        "01/20/1962 Sampleton",
        "09/05/2001 Sampleton",
    ];
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for round in 0..24 {
        for (kind, details) in [
            (0, known[round % known.len()].to_owned()),
            (
                1,
                format!(
                    "01/{:02}/1970 Nobody{}",
                    round % 28 + 1,
                    char::from(b'a' + round as u8)
                ),
            ),
        ] {
            let mut chat = Chat::open(&server).await;
            chat.say("my appointments").await;
            let answer = chat.say(&details).await;
            assert_eq!(
                answer.intent, "identity.code_sent",
                "{details}: {}",
                answer.text
            );
            times[kind].push(answer.took);
        }
        // Each known patient comes round again after the 1 s cooldown.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for (name, mut t) in ["known patients", "unknown details"].into_iter().zip(times) {
        t.sort();
        println!(
            "enumeration timing: {name}: n={} median {:?} p90 {:?} min {:?} max {:?}",
            t.len(),
            t[t.len() / 2],
            t[t.len() * 9 / 10],
            t[0],
            t[t.len() - 1]
        );
    }
}

// Issue 9 finding 4 and issue 18: verification as an oracle and a
// nuisance. Time is a manual clock: cooldowns and windows pass without
// sleeping.

/// A server on a manual clock, with `adjust` applied to its configuration.
async fn clocked(
    adjust: impl FnOnce(&mut carechat::config::Config),
) -> (TestServer, carechat::clock::ManualClock) {
    let clock = carechat::clock::ManualClock::new(chrono::Utc::now());
    let server =
        TestServer::start_clocked(|_| None, adjust, std::sync::Arc::new(clock.clone())).await;
    (server, clock)
}

/// Gives the background delivery of a code the time to (not) happen.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// A stranger's details: nobody in the demo EHR.
fn stranger(n: usize) -> String {
    format!(
        "01/{:02}/1970 Nobody{}",
        n % 28 + 1,
        char::from(b'a' + n as u8)
    )
}

#[tokio::test]
async fn the_code_hint_is_the_same_for_a_patient_and_a_stranger() {
    let (server, clock) = clocked(|_| {}).await;
    for (locale, ask, lab) in [
        ("en", "are my lab results back", "ending in"),
        (
            "es",
            "quiero una cita con la Dra. Patel el martes",
            "termina en",
        ),
    ] {
        // Past the resend cooldown of the round before.
        clock.advance(chrono::Duration::seconds(61));
        let mut texts = Vec::new();
        for details in [MORGAN, "03/02/1984 Sampel", "07/15/1991 Example"] {
            let mut chat = Chat::open(&server).await;
            chat.conn
                .send(
                    &mut chat.session,
                    &ClientMessage::Locale {
                        locale: locale.into(),
                    },
                )
                .await;
            let _ = chat.conn.recv(&mut chat.session).await;
            assert_eq!(chat.say(ask).await.intent, "identity.details_needed");
            let sent = chat.say(details).await;
            assert_eq!(sent.intent, "identity.code_sent", "{}", sent.text);
            assert!(!sent.text.contains(lab), "{}", sent.text);
            texts.push(sent.text);
        }
        // Morgan's phone ends in 01, Casey's in another pair: none of it
        // shows, and a stranger reads the very same words.
        assert_eq!(texts[0], texts[1], "{locale}: patient and stranger");
        assert_eq!(texts[0], texts[2], "{locale}: two patients");
    }
    settle().await;
    let hints: Vec<String> = outbox_lines(&server)
        .iter()
        .map(|l| l["to_hint"].as_str().unwrap().to_owned())
        .collect();
    assert!(hints.contains(&"01".to_owned()), "{hints:?}");
}

#[tokio::test]
async fn verification_starts_are_limited_per_session() {
    let server = TestServer::start().await;
    let mut chat = Chat::open(&server).await;
    chat.say("when is my next appointment").await;
    for n in 0..3 {
        let sent = chat.say(&stranger(n)).await;
        assert_eq!(sent.intent, "identity.code_sent", "{}", sent.text);
    }
    // The fourth start in this chat is refused before anything is looked
    // up, for a real patient's details too, and nothing is sent.
    let limited = chat.say(MORGAN).await;
    assert_eq!(limited.intent, "identity.limited", "{}", limited.text);
    assert!(limited.text.contains(CLINIC_PHONE), "{}", limited.text);
    settle().await;
    assert!(outbox_lines(&server).is_empty(), "no code for Morgan");
    // Another chat is not this one's limit.
    let mut other = Chat::open(&server).await;
    other.say("when is my next appointment").await;
    assert_eq!(other.say(MORGAN).await.intent, "identity.code_sent");
}

#[tokio::test]
async fn verification_starts_are_limited_per_address() {
    let (server, clock) = clocked(|_| {}).await;
    // Ten chats from one address, one start each.
    for n in 0..10 {
        let mut chat = Chat::open(&server).await;
        chat.say("my lab results").await;
        assert_eq!(chat.say(&stranger(n)).await.intent, "identity.code_sent");
    }
    let mut chat = Chat::open(&server).await;
    chat.say("my lab results").await;
    let limited = chat.say(MORGAN).await;
    assert_eq!(limited.intent, "identity.limited", "{}", limited.text);
    assert!(limited.text.contains(CLINIC_PHONE), "{}", limited.text);
    settle().await;
    assert!(outbox_lines(&server).is_empty());
    // An hour later the address has room again.
    clock.advance(chrono::Duration::minutes(61));
    let mut chat = Chat::open(&server).await;
    chat.say("my lab results").await;
    assert_eq!(chat.say(MORGAN).await.intent, "identity.code_sent");
}

/// What a run of starts for `typings`, one chat each, a cooldown apart,
/// was told; and how many codes went out.
async fn starts_for(
    server: &TestServer,
    clock: &carechat::clock::ManualClock,
    typings: &[&str],
) -> (Vec<String>, usize) {
    let before = outbox_lines(server).len();
    let mut seen = Vec::new();
    for typed in typings {
        let mut chat = Chat::open(server).await;
        chat.say("my appointments").await;
        let a = chat.say(typed).await;
        seen.push(format!("{}: {}", a.intent, a.text));
        clock.advance(chrono::Duration::seconds(61));
    }
    settle().await;
    (seen, outbox_lines(server).len() - before)
}

#[tokio::test]
async fn verification_starts_are_limited_per_patient() {
    let (server, clock) = clocked(|config| {
        // Room for codes and for this address, so that the patient's starts
        // are what runs out.
        config.verification.limits.codes_per_patient_per_hour = 10;
        config.verification.limits.starts_per_address_per_hour = 100;
    })
    .await;
    let morgan = [MORGAN, MORGAN, MORGAN_AGAIN, MORGAN, MORGAN, MORGAN_AGAIN];
    let (told, sent) = starts_for(&server, &clock, &morgan).await;
    assert_eq!(sent, 5, "{told:#?}");
    assert!(told[..5]
        .iter()
        .all(|t| t.starts_with("identity.code_sent")));
    assert!(told[5].starts_with("identity.limited"), "{}", told[5]);
    assert!(told[5].contains(CLINIC_PHONE));
    // A stranger typed the same ways is counted the same way: the replies
    // cannot tell them apart.
    let nobody = [
        "02/03/1985 Nobody",
        "02/03/1985 Nobody",
        "Sam Nobody, born 02/03/1985",
    ];
    let nobody = [
        nobody[0], nobody[1], nobody[2], nobody[0], nobody[1], nobody[2],
    ];
    let (strange, sent) = starts_for(&server, &clock, &nobody).await;
    assert_eq!(sent, 0);
    assert_eq!(strange, told);
}

#[tokio::test]
async fn codes_per_patient_per_hour_are_capped_so_sms_bombing_stops() {
    let (server, clock) = clocked(|_| {}).await;
    let bomb = |details: &'static str| {
        let server = &server;
        let clock = &clock;
        async move {
            let mut told = Vec::new();
            let mut chat = Chat::open(server).await;
            chat.say("my appointments").await;
            told.push(chat.say(details).await);
            // Straight away: the resend cooldown.
            told.push(chat.say("new code").await);
            for _ in 0..4 {
                clock.advance(chrono::Duration::seconds(61));
                told.push(chat.say("new code").await);
            }
            // Another chat and another typing share the same count.
            let mut other = Chat::open(server).await;
            other.say("my appointments").await;
            told.push(other.say(MORGAN_AGAIN).await);
            (chat, told)
        }
    };
    let (mut chat, told) = bomb(MORGAN).await;
    let intents: Vec<&str> = told.iter().map(|a| a.intent.as_str()).collect();
    assert_eq!(
        intents,
        [
            "identity.code_sent",
            "identity.resend_wait",
            "identity.code_sent",
            "identity.code_sent",
            "identity.limited",
            "identity.limited",
            "identity.limited",
        ]
    );
    assert!(told[4].text.contains(CLINIC_PHONE), "{}", told[4].text);
    settle().await;
    assert_eq!(outbox_lines(&server).len(), 3, "three codes in the hour");
    // The last code that went out still works.
    let last = code_number(&server, 3).await;
    assert_eq!(chat.say(&last).await.intent, "appointments.list");

    // A stranger's details get the very same answers.
    let (_, strange) = bomb("02/03/1985 Nobody").await;
    let strange: Vec<&str> = strange.iter().map(|a| a.intent.as_str()).collect();
    // (The other typing is Morgan's: limited already.)
    assert_eq!(strange[..6], intents[..6]);
    settle().await;
    assert_eq!(outbox_lines(&server).len(), 3);

    // An hour after the first code, codes go out again.
    clock.advance(chrono::Duration::minutes(60));
    let mut again = Chat::open(&server).await;
    again.say("my appointments").await;
    assert_eq!(again.say(MORGAN).await.intent, "identity.code_sent");
}

#[tokio::test]
async fn a_stranger_knowing_birth_date_and_name_cannot_lock_a_patient_out_for_a_day() {
    let (server, clock) = clocked(|_| {}).await;
    // The stranger types Morgan's details and guesses: two codes go to
    // Morgan's phone, five wrong entries each.
    let mut attacker = Chat::open(&server).await;
    attacker.say("my appointments").await;
    assert_eq!(attacker.say(MORGAN).await.intent, "identity.code_sent");
    let first = code_number(&server, 1).await;
    for n in 1..=5 {
        attacker.say(&wrong(&first, n)).await;
    }
    clock.advance(chrono::Duration::seconds(61));
    assert_eq!(attacker.say("new code").await.intent, "identity.code_sent");
    let second = code_number(&server, 2).await;
    let mut last = String::new();
    for n in 6..=10 {
        last = attacker.say(&wrong(&second, n)).await.intent;
    }
    assert_eq!(last, "identity.locked");
    // Morgan is paused, not shut out for a day: a quarter of an hour.
    let mut morgan = Chat::open(&server).await;
    morgan.say("my appointments").await;
    let paused = morgan.say(MORGAN).await;
    assert_eq!(paused.intent, "identity.locked", "{}", paused.text);
    assert!(paused.text.contains(CLINIC_PHONE), "{}", paused.text);
    clock.advance(chrono::Duration::minutes(16));
    let mut morgan = Chat::open(&server).await;
    let listed = verify(&server, &mut morgan, "my appointments").await;
    assert_eq!(listed.intent, "appointments.list", "{}", listed.text);
}

#[tokio::test]
async fn try_again_after_identity_unavailable_resumes_verification() {
    let server = TestServer::start_custom(|_| None, unreachable_ehr).await;
    let mut chat = Chat::open(&server).await;
    chat.say("when is my next appointment").await;
    assert_eq!(chat.say(MORGAN).await.intent, "identity.unavailable");
    // "Try again" looks the same details up again (the EHR is still down,
    // so the answer is the same), in either language, as often as needed:
    // an unanswered lookup does not count against the chat's starts.
    for retry in ["try again", "intentar de nuevo", "otra vez", "try again"] {
        let again = chat.say(retry).await;
        assert_eq!(
            again.intent, "identity.unavailable",
            "{retry}: {}",
            again.text
        );
    }
    // Meanwhile other questions are answered, and the step stays open.
    assert_eq!(
        chat.say("what are your hours on saturday").await.intent,
        "faq.hours"
    );
    assert_eq!(chat.say("try again").await.intent, "identity.unavailable");
    assert!(outbox_lines(&server).is_empty());
}

/// A small tmpfs of its own, so a test can fill the disk; `None` (and the
/// test says it was skipped) where this process may not mount one.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Self { dir })
    }

    /// Fills what is left with one file; removing it frees the space.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write as _;
        let filler = self.dir.path().join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.write_all(&[0u8; 512]);
        let _ = file.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn ready(server: &TestServer) -> u16 {
    // /readyz keeps a result for a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    reqwest::get(server.url("/readyz"))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_full_disk_refuses_phi_keeps_readyz_honest_and_recovers_without_a_restart() {
    use sqlx::Connection as _;
    let Some(disk) = SmallDisk::mount(16) else {
        eprintln!("SKIPPED: this fault test mounts a tmpfs, which needs root (CI runs as root)");
        return;
    };
    let parent = disk.dir.path().to_owned();
    let server = TestServer::start_with(move |k| {
        (k == "CARECHAT_TEST_DATA_IN").then(|| parent.display().to_string())
    })
    .await;
    let mut chat = Chat::open(&server).await;
    let listed = verify(&server, &mut chat, "When is my next appointment?").await;
    assert_eq!(listed.intent, "appointments.list", "{}", listed.text);
    assert_eq!(ready(&server).await, 200);

    // The disk fills up mid-chat. The write-ahead log is emptied first (the
    // server checkpoints it every second, and SQLite reuses its file from
    // the start), so that the next write needs new blocks: otherwise the
    // audit event fits in space the log already holds, is stored, and the
    // records are rightly shown.
    let db = server.data_dir.path().join("carechat.db");
    let mut outside = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut outside)
        .await
        .unwrap();
    drop(outside);
    let filler = disk.fill();
    let refused = chat.say("are my lab results back?").await;
    assert!(
        refused.card.is_none(),
        "records were shown with no audit event"
    );
    assert!(refused.text.contains("(555) 010-4477"), "{}", refused.text);
    let faq = chat.say("what are your hours").await;
    assert_eq!(
        faq.intent, "faq.hours",
        "questions without PHI are still answered"
    );
    assert_eq!(
        ready(&server).await,
        503,
        "readyz said ready on a full disk"
    );

    // Space comes back: no restart, the same chat goes on.
    std::fs::remove_file(filler).unwrap();
    assert_eq!(
        ready(&server).await,
        200,
        "readyz stayed failing after space came back"
    );
    let labs = chat.say("are my lab results back?").await;
    assert_eq!(labs.intent, "labs.status", "{}", labs.text);
    assert!(labs.card.is_some(), "{}", labs.text);
    // And a new patient can start (consent is a write) and be answered.
    let mut other = Chat::open(&server).await;
    assert_eq!(other.say("what are your hours").await.intent, "faq.hours");
}

/// An EHR whose token endpoint accepts connections and never answers.
fn hung_ehr(listener: &std::net::TcpListener) -> impl FnOnce(&mut carechat::config::Config) {
    let port = listener.local_addr().unwrap().port();
    move |config| {
        ehr_at(config, port);
        let carechat::ehr::EhrConfig::Fhir(fhir) = &mut config.ehr else {
            unreachable!()
        };
        fhir.token_timeout = Duration::from_secs(4);
        fhir.timeout = Duration::from_secs(4);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_ehr_while_ten_patients_verify_tells_each_at_once_and_none_waits_for_another() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // Accept and hold every connection, answering nothing.
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let listener = listener.try_clone().unwrap();
        let held = held.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                held.lock().unwrap().push(stream);
            }
        });
    }
    let server = TestServer::start_custom(
        |k| (k == "CARECHAT_HANDSHAKES_PER_MINUTE").then(|| "100".into()),
        hung_ehr(&listener),
    )
    .await;
    let started = Instant::now();
    let mut patients = Vec::new();
    for _ in 0..10 {
        let mut chat = Chat::open(&server).await;
        patients.push(tokio::spawn(async move {
            let asked = chat.say("when is my next appointment").await;
            assert_eq!(asked.intent, "identity.details_needed");
            chat.say(MORGAN).await
        }));
    }
    let mut answers = Vec::new();
    for p in patients {
        answers.push(p.await.unwrap());
    }
    let all_done = started.elapsed();
    for a in &answers {
        assert_eq!(a.intent, "identity.unavailable", "{}", a.text);
        let told = a
            .told_to_wait
            .expect("the patient was not told the EHR is slow");
        assert!(told < Duration::from_secs(3), "told after {told:?}");
    }
    let slowest = answers.iter().map(|a| a.took).max().unwrap();
    let first_told = answers.iter().filter_map(|a| a.told_to_wait).max().unwrap();
    println!(
        "hung EHR, 10 patients: each told to wait within {first_told:?}, slowest answer {slowest:?}, all done in {all_done:?}"
    );
    // One time-out for everyone, not one after another.
    assert!(slowest < Duration::from_secs(8), "{slowest:?}");
}
