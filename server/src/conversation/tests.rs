#![allow(clippy::unwrap_used)]
//! The engine's own tests: consent, safety in every state, routing,
//! the transcript, Spanish.
use super::*;
use crate::config::{Overrides, RawConfig};

struct Setup {
    engine: std::sync::Arc<Conversation>,
    store: Store,
    sid: SessionId,
    who: Requester,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = RawConfig::demo().unwrap();
    raw.apply_overrides(Overrides {
        data_dir: Some(dir.path().to_owned()),
        ..Overrides::default()
    });
    let config = raw.validate().unwrap();
    let identity = crate::open_identity(&config).unwrap();
    let app = crate::AppState::open(config, identity).await.unwrap();
    let sid = SessionId([1; 16]);
    Setup {
        engine: app.conversation,
        store: app.store,
        who: Requester {
            session: crate::sessions::session_ref(&sid),
            client: None,
        },
        sid,
        _dir: dir,
    }
}

impl Setup {
    async fn engine_flush(&self) {
        self.engine.flush_transcript().await;
    }

    async fn send(&self, state: &mut ChatState, message: ClientMessage) -> Vec<ServerMessage> {
        let turn = Turn {
            sid: &self.sid,
            who: self.who.clone(),
        };
        match self.engine.handle(&turn, state, message).await {
            Outcome::Send(m) => m,
            Outcome::End => panic!("ended"),
        }
    }

    async fn say(&self, state: &mut ChatState, id: &str, text: &str) -> ServerMessage {
        let message = ClientMessage::Say {
            id: id.into(),
            text: text.into(),
        };
        self.send(state, message).await.remove(0)
    }

    async fn consent(&self, state: &mut ChatState, accepted: bool) -> ServerMessage {
        let message = ClientMessage::Consent {
            accepted,
            policy_version: "2026-01".into(),
        };
        self.send(state, message).await.remove(0)
    }
}

#[tokio::test]
async fn nothing_is_processed_or_stored_before_consent() {
    let s = setup().await;
    let mut state = ChatState::default();
    let reply = s.say(&mut state, "m1", "what are your hours").await;
    assert!(
        matches!(&reply, ServerMessage::Error { code, text } if code == "consent_required" && text.contains("911") && text.contains("988"))
    );
    assert!(
        state.answered.is_empty(),
        "a message before consent was kept"
    );
    assert!(s
        .store
        .consents_of(&s.who.session)
        .await
        .unwrap()
        .is_empty());
    assert!(!s._dir.path().join(crate::consent::LEGACY_FILE).exists());
    assert!({
        s.engine_flush().await;
        s.store.transcript(&s.who.session).await.unwrap()
    }
    .is_empty());
}

#[tokio::test]
async fn declining_stores_nothing_and_gives_the_phone_number() {
    let s = setup().await;
    let mut state = ChatState::default();
    let declined = s.consent(&mut state, false).await;
    assert!(
        matches!(&declined, ServerMessage::Notice { code, text } if code == "consent_declined" && text.contains("(555) 010-4477"))
    );
    assert!(
        s.store
            .consents_of(&s.who.session)
            .await
            .unwrap()
            .is_empty(),
        "a declined consent was written down"
    );
    assert!(!s._dir.path().join(crate::consent::LEGACY_FILE).exists());
    assert!(matches!(
        s.say(&mut state, "m1", "hours?").await,
        ServerMessage::Error { .. }
    ));
}

#[tokio::test]
async fn consent_is_recorded_then_each_id_is_answered_once_and_kept_encrypted() {
    let s = setup().await;
    let mut state = ChatState::default();
    assert!(
        matches!(s.consent(&mut state, true).await, ServerMessage::Notice { code, .. } if code == "consent_accepted")
    );
    let recorded = s.store.consents_of(&s.who.session).await.unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].policy_version, "2026-01");
    assert!(recorded[0].accepted);
    assert_ne!(
        recorded[0].session,
        s.sid.to_b64u(),
        "raw session id written"
    );
    assert!(!s._dir.path().join(crate::consent::LEGACY_FILE).exists());

    let first = s.say(&mut state, "m1", "hello").await;
    let again = s.say(&mut state, "m1", "something else entirely").await;
    assert_eq!(first, again, "a repeated id must get the same reply");
    let kept = {
        s.engine_flush().await;
        s.store.transcript(&s.who.session).await.unwrap()
    };
    let texts: Vec<&str> = kept.iter().map(|m| m.text.expose().as_str()).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert_eq!(texts[0], "hello");
}

#[tokio::test]
async fn crisis_and_advice_are_never_answered_by_the_bot_even_mid_verification() {
    let s = setup().await;
    let mut state = ChatState::default();
    s.consent(&mut state, true).await;
    // Verification started: the safety screen still comes first.
    s.say(&mut state, "m0", "when is my next appointment").await;
    for (id, question, expected) in [
        ("m1", "I want to kill myself", "safety.crisis"),
        (
            "m2",
            "how much ibuprofen can I take",
            "safety.medical_advice",
        ),
        (
            "m3",
            "my chest hurts and my arm is numb",
            "safety.emergency",
        ),
    ] {
        let ServerMessage::Reply {
            intent,
            escalated,
            text,
            ..
        } = s.say(&mut state, id, question).await
        else {
            panic!()
        };
        assert_eq!(intent, expected, "{question}");
        assert!(escalated && text.contains("911"), "{question}");
    }
}

#[tokio::test]
async fn unknown_questions_get_an_honest_fallback_and_own_records_need_verification() {
    let s = setup().await;
    let mut state = ChatState::default();
    s.consent(&mut state, true).await;
    let ServerMessage::Reply {
        intent,
        text,
        escalated,
        ..
    } = s
        .say(&mut state, "m1", "what is the capital of france")
        .await
    else {
        panic!()
    };
    assert_eq!(intent, "fallback.unknown");
    assert!(text.contains("(555) 010-4477") && !escalated);
    for (id, question) in [
        ("m2", "when is my next appointment"),
        ("m3", "are my lab results back?"),
        ("m4", "is my prescription refill ready"),
        (
            "m5",
            "I need a checkup with Dr. Patel next Tuesday afternoon",
        ),
    ] {
        let ServerMessage::Reply { intent, .. } = s.say(&mut state, id, question).await else {
            panic!()
        };
        assert_eq!(intent, "identity.details_needed", "{question}");
    }
}

#[tokio::test]
async fn the_transcript_never_keeps_a_one_time_code() {
    let s = setup().await;
    let mut state = ChatState::default();
    s.consent(&mut state, true).await;
    s.say(&mut state, "m1", "my appointments").await;
    s.say(&mut state, "m2", "03/02/1984 Sample").await;
    let outbox = s._dir.path().join("dev-outbox.jsonl");
    let mut code = String::new();
    for _ in 0..100 {
        if let Ok(text) = std::fs::read_to_string(&outbox) {
            let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
            code = line["code"].as_str().unwrap().to_owned();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let ServerMessage::Reply { intent, .. } = s.say(&mut state, "m3", &code).await else {
        panic!()
    };
    assert_eq!(intent, "appointments.list");
    let kept = {
        s.engine_flush().await;
        s.store.transcript(&s.who.session).await.unwrap()
    };
    let texts: Vec<&str> = kept.iter().map(|m| m.text.expose().as_str()).collect();
    assert!(texts.contains(&"[one-time code]"), "{texts:?}");
    assert!(!texts.iter().any(|t| t.contains(&code)), "{texts:?}");
}

/// The reply among an answer's messages.
fn reply(messages: &[ServerMessage]) -> (&str, &str, bool) {
    messages
        .iter()
        .find_map(|m| match m {
            ServerMessage::Reply {
                intent,
                text,
                escalated,
                ..
            } => Some((intent.as_str(), text.as_str(), *escalated)),
            _ => None,
        })
        .unwrap()
}

fn emergency_links(messages: &[ServerMessage]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Card { kind, actions, .. } if kind == "emergency" => Some(
                actions
                    .iter()
                    .filter_map(|a| a.href.clone())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

impl Setup {
    async fn say_all(&self, state: &mut ChatState, id: &str, text: &str) -> Vec<ServerMessage> {
        let message = ClientMessage::Say {
            id: id.into(),
            text: text.into(),
        };
        self.send(state, message).await
    }
}

#[tokio::test]
async fn a_crisis_before_consent_gets_guidance_and_nothing_is_stored() {
    let s = setup().await;
    let mut state = ChatState::default();
    for (id, text) in [
        ("m1", "I want to end my life"),
        ("m2", "ya no quiero vivir"),
    ] {
        let messages = s.say_all(&mut state, id, text).await;
        let (intent, words, escalated) = reply(&messages);
        assert_eq!(intent, "safety.crisis", "{text}");
        assert!(escalated && words.contains("988"), "{text}: {words}");
        let links = emergency_links(&messages);
        assert!(
            links.contains(&"tel:988".to_owned()) && links.contains(&"tel:911".to_owned()),
            "{links:?}"
        );
    }
    assert!(
        state.answered.is_empty(),
        "a message before consent was kept"
    );
    assert!(s
        .store
        .consents_of(&s.who.session)
        .await
        .unwrap()
        .is_empty());
    assert!(!s._dir.path().join(crate::consent::LEGACY_FILE).exists());
    assert!({
        s.engine_flush().await;
        s.store.transcript(&s.who.session).await.unwrap()
    }
    .is_empty());
    // The Spanish one switched the chat to Spanish.
    assert_eq!(state.locale, Locale::Es);
}

#[tokio::test]
async fn a_crisis_at_the_end_of_an_over_long_message_is_screened_first() {
    let s = setup().await;
    let mut state = ChatState::default();
    s.consent(&mut state, true).await;
    let long = format!(
        "{} and honestly I just want to die",
        "what are your hours ".repeat(250)
    );
    assert!(long.chars().count() > MAX_SAY_CHARS);
    let messages = s.say_all(&mut state, "m1", &long).await;
    assert_eq!(reply(&messages).0, "safety.crisis");
    let ordinary = "what are your hours ".repeat(250);
    let messages = s.say_all(&mut state, "m2", &ordinary).await;
    assert!(
        matches!(&messages[0], ServerMessage::Error { code, .. } if code == "message_too_long")
    );
}

#[tokio::test]
async fn safety_comes_first_while_a_code_is_awaited_and_during_a_confirmation() {
    let s = setup().await;
    let mut state = ChatState::default();
    s.consent(&mut state, true).await;
    s.say(&mut state, "m1", "my appointments").await;
    let sent = s.say_all(&mut state, "m2", "03/02/1984 Sample").await;
    assert_eq!(reply(&sent).0, "identity.code_sent");
    let messages = s.say_all(&mut state, "m3", "my husband hits me").await;
    assert_eq!(reply(&messages).0, "safety.crisis");
    assert!(emergency_links(&messages).contains(&"tel:+18007997233".to_owned()));
    assert!(
        matches!(state.waiting, Waiting::Code { .. }),
        "the verification stays open"
    );
}

#[tokio::test]
async fn a_whole_name_with_the_birth_date_verifies_and_a_stray_line_gets_a_next_step() {
    let s = setup().await;
    let mut state = ChatState::default();
    s.consent(&mut state, true).await;
    s.say(&mut state, "m1", "when is my next appointment").await;
    let sent = s
        .say_all(&mut state, "m2", "Morgan Sample, born 03/02/1984")
        .await;
    assert_eq!(reply(&sent).0, "identity.code_sent");
    let ServerMessage::Reply { intent, .. } = s.say(&mut state, "m3", "hmm ok").await else {
        panic!()
    };
    assert_eq!(intent, "identity.code_needed");
    let Waiting::Code { pending, .. } = &state.waiting else {
        panic!("no code awaited")
    };
    assert!(
        pending.matched_patient(),
        "the full name did not find the patient"
    );
}

#[tokio::test]
async fn spanish_is_answered_in_spanish() {
    let s = setup().await;
    let mut state = ChatState::default();
    s.consent(&mut state, true).await;
    let messages = s
        .say_all(&mut state, "m1", "¿a qué hora abren el sábado?")
        .await;
    assert!(
        matches!(&messages[0], ServerMessage::Locale { locale, disclaimer } if locale == "es" && !disclaimer.is_empty())
    );
    let (intent, text, _) = reply(&messages);
    assert_eq!(intent, "faq.hours");
    assert!(text.contains("sábado") || text.contains("Sábado"), "{text}");
    let messages = s.say_all(&mut state, "m2", "quiero ver mis citas").await;
    let (intent, text, _) = reply(&messages);
    assert_eq!(intent, "identity.details_needed");
    assert!(text.contains("fecha"), "{text}");
}

#[tokio::test]
async fn a_refill_of_a_named_medicine_is_not_medical_advice() {
    let s = setup().await;
    let mut state = ChatState::default();
    s.consent(&mut state, true).await;
    let messages = s
        .say_all(&mut state, "m1", "I need a refill of my lisinopril")
        .await;
    assert_eq!(reply(&messages).0, "identity.details_needed");
}

impl Setup {
    /// The code the development outbox holds for the newest request.
    async fn code_from_outbox(&self) -> String {
        let outbox = self._dir.path().join("dev-outbox.jsonl");
        for _ in 0..200 {
            if let Ok(text) = std::fs::read_to_string(&outbox) {
                if let Some(line) = text.lines().last() {
                    let line: serde_json::Value = serde_json::from_str(line).unwrap();
                    return line["code"].as_str().unwrap().to_owned();
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no code was sent")
    }
}

fn first_action(messages: &[ServerMessage]) -> String {
    messages
        .iter()
        .find_map(|m| match m {
            ServerMessage::Card { items, actions, .. } => items
                .iter()
                .flat_map(|i| i.actions.iter())
                .chain(actions.iter())
                .next()
                .map(|a| a.id.clone()),
            _ => None,
        })
        .unwrap()
}

#[tokio::test]
async fn a_crisis_during_a_booking_confirmation_escalates_and_the_confirmation_still_works() {
    let s = setup().await;
    let mut state = ChatState::default();
    s.consent(&mut state, true).await;
    s.say(
        &mut state,
        "m1",
        "a checkup with Dr. Patel next Tuesday afternoon",
    )
    .await;
    s.say(&mut state, "m2", "03/02/1984 Sample").await;
    let code = s.code_from_outbox().await;
    let slots = s.say_all(&mut state, "m3", &code).await;
    assert_eq!(reply(&slots).0, "appointments.book", "{slots:?}");
    let pick = ClientMessage::Choose {
        id: "m4".into(),
        action: first_action(&slots),
    };
    let confirm = s.send(&mut state, pick).await;
    assert_eq!(reply(&confirm).0, "appointments.confirm");
    let crisis = s
        .say_all(
            &mut state,
            "m5",
            "honestly what's the point of going on anymore",
        )
        .await;
    assert_eq!(reply(&crisis).0, "safety.crisis");
    let yes = ClientMessage::Choose {
        id: "m6".into(),
        action: first_action(&confirm),
    };
    assert_eq!(
        reply(&s.send(&mut state, yes).await).0,
        "appointments.booked"
    );
}

#[tokio::test]
async fn a_spanish_patient_books_in_spanish_with_spanish_dates() {
    let s = setup().await;
    let mut state = ChatState::default();
    s.consent(&mut state, true).await;
    let asked = s
        .say_all(
            &mut state,
            "m1",
            "quiero una cita con la Dra. Patel el martes por la tarde",
        )
        .await;
    assert_eq!(reply(&asked).0, "identity.details_needed", "{asked:?}");
    assert_eq!(state.locale, Locale::Es);
    let sent = s
        .say_all(&mut state, "m2", "nací el 2 de marzo de 1984, Sample")
        .await;
    assert_eq!(reply(&sent).0, "identity.code_sent");
    let code = s.code_from_outbox().await;
    let slots = s.say_all(&mut state, "m3", &code).await;
    let (intent, text, _) = reply(&slots);
    assert_eq!(intent, "appointments.book", "{text}");
    let card_titles: Vec<String> = slots
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Card { items, .. } => Some(items.iter().map(|i| i.title.clone())),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        card_titles.iter().all(|t| t.starts_with("martes ")),
        "{card_titles:?}"
    );
}

#[tokio::test]
async fn a_practitioner_the_clinic_does_not_have_is_named_and_everyones_times_offered() {
    let s = setup().await;
    let mut state = ChatState::default();
    s.consent(&mut state, true).await;
    s.say_all(
        &mut state,
        "m1",
        "quiero una cita con la Dra. Ramírez el martes",
    )
    .await;
    s.say_all(&mut state, "m2", "nací el 2 de marzo de 1984, Sample")
        .await;
    let code = s.code_from_outbox().await;
    let slots = s.say_all(&mut state, "m3", &code).await;
    let (intent, text, _) = reply(&slots);
    assert_eq!(intent, "appointments.book", "{text}");
    assert!(
        text.contains("No encontré a nadie con ese nombre"),
        "{text}"
    );
    assert!(text.contains("Dr. Anika Patel"), "{text}");
    assert!(
        slots
            .iter()
            .any(|m| matches!(m, ServerMessage::Card { .. })),
        "{slots:?}"
    );
}

fn owner() -> crate::handoff::Owner {
    crate::handoff::Owner {
        staff_id: 7,
        name: "Sam Rivera".into(),
        role: "nurse".into(),
    }
}

#[tokio::test]
async fn asking_for_a_person_queues_the_chat_and_the_bot_is_quiet_while_a_person_owns_it() {
    let s = setup().await;
    let mut state = ChatState::default();
    s.consent(&mut state, true).await;
    let asked = s
        .say_all(&mut state, "m1", "can i talk to a real person")
        .await;
    let (intent, text, escalated) = reply(&asked);
    assert_eq!(intent, "handoff.person", "{text}");
    assert!(escalated);
    let queue = s.engine.handoffs().queue();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].reason, crate::handoff::Reason::AskedForPerson);

    s.engine.handoffs().pick_up(&queue[0].id, owner()).unwrap();
    let mut events = s.engine.handoffs().subscribe();
    let quiet = s.say_all(&mut state, "m2", "what are your hours").await;
    let (intent, text, _) = reply(&quiet);
    assert_eq!(intent, "handoff.delivered");
    assert!(text.is_empty(), "the bot answered: {text}");
    assert!(matches!(
        events.try_recv(),
        Ok(crate::handoff::Event::Line {
            speaker: crate::handoff::Speaker::Patient,
            ..
        })
    ));

    // The safety screen still runs, and raises the chat to a crisis.
    let crisis = s.say_all(&mut state, "m3", "i want to kill myself").await;
    assert_eq!(reply(&crisis).0, "safety.crisis");
    assert_eq!(
        s.engine.handoffs().queue()[0].reason,
        crate::handoff::Reason::Crisis(carechat_language::safety::Category::SelfHarm)
    );

    s.engine.handoffs().release(&queue[0].id, 7).unwrap();
    let back = s.say_all(&mut state, "m4", "what are your hours").await;
    assert_eq!(reply(&back).0, "faq.hours");
}

#[tokio::test]
async fn a_crisis_alerts_a_person_even_before_consent() {
    let s = setup().await;
    let mut state = ChatState::default();
    let guidance = s.say_all(&mut state, "m1", "i took all my pills").await;
    assert!(guidance
        .iter()
        .any(|m| matches!(m, ServerMessage::Notice { code, .. } if code.starts_with("handoff_"))));
    let queue = s.engine.handoffs().queue();
    assert!(matches!(queue[0].reason, crate::handoff::Reason::Crisis(_)));
    assert!({
        s.engine_flush().await;
        s.store.transcript(&s.who.session).await.unwrap()
    }
    .is_empty());
}

#[tokio::test]
async fn two_answers_that_did_not_help_ask_a_person_to_join() {
    let s = setup().await;
    let mut state = ChatState::default();
    s.consent(&mut state, true).await;
    let first = s.say_all(&mut state, "m1", "do you sell used cars").await;
    assert_eq!(reply(&first).0, "fallback.unknown");
    assert!(s.engine.handoffs().queue().is_empty());
    let second = s
        .say_all(&mut state, "m2", "what is the capital of france")
        .await;
    assert_eq!(reply(&second).0, "fallback.unknown");
    assert!(second
        .iter()
        .any(|m| matches!(m, ServerMessage::Notice { code, .. } if code.starts_with("handoff_"))));
    assert_eq!(
        s.engine.handoffs().queue()[0].reason,
        crate::handoff::Reason::NotHelped
    );
}

#[tokio::test]
async fn a_session_snapshot_resumes_the_same_conversation() {
    use carechat_language::safety::Category;
    use chrono::{TimeZone, Utc};
    use protocol::vocab::Vote;

    use crate::ehr::{Appointment, PatientId, PatientMatch, Slot};
    use crate::rate_limit::MessageAllowance;

    let s = setup().await;
    let mut state = ChatState::default();
    state.allowance = Some(MessageAllowance::new(60, 20, Instant::now()));
    s.consent(&mut state, true).await;
    let asked = s.say_all(&mut state, "m1", "my appointments").await;
    assert_eq!(reply(&asked).0, "identity.details_needed");
    let sent = s.say_all(&mut state, "m2", "03/02/1984 Sample").await;
    assert_eq!(reply(&sent).0, "identity.code_sent");
    let crisis = s.say_all(&mut state, "m3", "my husband hits me").await;
    assert_eq!(reply(&crisis).0, "safety.crisis");
    assert_eq!(state.escalations, [Category::Abuse]);
    state.locale = Locale::Es;
    state.verified = Some(PatientMatch {
        id: PatientId(crate::ehr::demo::MAIN_PATIENT_ID.to_owned()),
        phone: Some(Phi::new("+12025550101".to_owned())),
        email: None,
        given_name: Phi::new("Morgan".to_owned()),
    });
    let start = Utc.with_ymd_and_hms(2026, 3, 10, 15, 0, 0).unwrap();
    let slot = Slot {
        id: "Slot/s1".into(),
        start,
        end: start + chrono::Duration::minutes(30),
        practitioner_id: "Practitioner/patel".into(),
        practitioner_name: "Dr. Anika Patel".into(),
        service: "checkup".into(),
        location_id: "Location/maple-grove".into(),
        location: "Maple Grove Family Clinic".into(),
    };
    let appointment = Appointment {
        id: "Appointment/a1".into(),
        start,
        end: start + chrono::Duration::minutes(30),
        practitioner_id: "Practitioner/patel".into(),
        practitioner_name: "Dr. Anika Patel".into(),
        location: "Maple Grove Family Clinic".into(),
        service: "checkup".into(),
        slot_id: Some("Slot/s0".into()),
        status: "booked".into(),
    };
    let book = state.offer("Book".into(), Offer::ConfirmBook(slot.clone()));
    let move_it = state.offer(
        "Move".into(),
        Offer::PickMove(appointment.clone(), Phi::new("friday morning".into())),
    );
    let meant = state.offer(
        "Hours".into(),
        Offer::Meant {
            intent: "faq.hours".into(),
            request: Phi::new("are you open saturday".into()),
        },
    );

    let json = serde_json::to_string(&state).unwrap();
    let mut back: ChatState = serde_json::from_str(&json).unwrap();
    let mut copy: ChatState = serde_json::from_str(&json).unwrap();

    assert!(back.verified());
    assert_eq!(
        back.verified
            .as_ref()
            .map(|p| p.given_name.expose().as_str()),
        Some("Morgan")
    );
    assert_eq!(back.consent, state.consent);
    assert!(
        matches!(&back.consent, ConsentState::Accepted { policy_version } if policy_version == "2026-01")
    );
    assert_eq!(back.locale, Locale::Es);
    assert_eq!(back.escalations, state.escalations);
    for id in ["m1", "m2", "m3"] {
        assert!(back.answered.get(id).is_some(), "{id}");
        assert_eq!(back.answered.get(id), state.answered.get(id), "{id}");
    }
    let Waiting::Code { pending, task } = &back.waiting else {
        panic!("no code awaited after the resume")
    };
    assert!(pending.matched_patient());
    assert!(matches!(task, Task::Appointments));

    // The card buttons work once, each for the same thing.
    assert!(matches!(back.take_offer(&book.id), Some(Offer::ConfirmBook(s)) if s == slot));
    assert!(matches!(
        back.take_offer(&move_it.id),
        Some(Offer::PickMove(a, when)) if a == appointment && when.expose() == "friday morning"
    ));
    assert!(matches!(
        back.take_offer(&meant.id),
        Some(Offer::Meant { intent, request }) if intent == "faq.hours" && request.expose() == "are you open saturday"
    ));
    assert!(back.take_offer(&book.id).is_none());
    assert!(back.take_offer("no-such-action").is_none());

    // The allowance goes on where it was: as many messages left.
    let left = |allowance: &mut MessageAllowance| {
        let now = Instant::now();
        (1..=100u64)
            .take_while(|n| {
                allowance
                    .take(now + std::time::Duration::from_secs(2 * n))
                    .is_ok()
            })
            .count()
    };
    let before = left(state.allowance.as_mut().unwrap());
    assert_eq!(left(copy.allowance.as_mut().unwrap()), before);
    assert!(before > 0 && before < 20, "{before}");

    // The resumed session answers a re-sent id the same, takes a vote on
    // a reply given before the snapshot, and the code sent before it.
    assert_eq!(s.say_all(&mut back, "m2", "something else").await, sent);
    let vote = ClientMessage::Feedback {
        in_reply_to: "m1".into(),
        vote: Vote::Up,
        reason: None,
    };
    assert!(s.send(&mut back, vote).await.is_empty());
    let code = s.code_from_outbox().await;
    let listed = s.say_all(&mut back, "m4", &code).await;
    assert_eq!(reply(&listed).0, "appointments.list", "{listed:?}");
    assert!(matches!(back.waiting, Waiting::Nothing));
    assert!(back.verified());
}
