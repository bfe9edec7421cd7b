//! The conversation engine: what the server does with each message a patient
//! sends, in a fixed order.
//!
//! 1. **Consent**: before consent nothing the patient types is processed or
//!    stored; the answer says so and always carries emergency numbers.
//! 2. **Safety**: crisis, emergency and medical-advice messages are never
//!    answered by the bot; they get emergency guidance and the clinic's
//!    number, and the reply is marked `escalated`.
//! 3. **Understand and act**: small talk, questions about the patient's own
//!    records (not available in chat yet), the clinic FAQ, or an honest
//!    fallback with the phone number.
//!
//! Each `say` id is answered once per session; a repeated id (a re-send after
//! a dropped connection) gets the same reply again and is not reprocessed.

use std::collections::{HashMap, VecDeque};
use std::time::SystemTime;

use protocol::{ClientMessage, ServerMessage, SessionId};

use crate::config::Clinic;
use crate::consent::{ConsentLedger, ConsentState};
use crate::knowledge::KnowledgeBase;
use crate::nlu::FaqMatcher;
use crate::safety::{screen, SafetyConcern};

/// Longest message a patient may send, in characters.
pub const MAX_SAY_CHARS: usize = 2000;
/// How many answered ids a session remembers for de-duplication.
const ANSWERED_LIMIT: usize = 512;

/// The per-session conversation state.
#[derive(Debug, Default)]
pub struct ChatState {
    /// Consent so far.
    pub consent: ConsentState,
    answered: HashMap<String, ServerMessage>,
    answered_order: VecDeque<String>,
}

impl ChatState {
    fn remember(&mut self, id: String, reply: ServerMessage) {
        if self.answered_order.len() == ANSWERED_LIMIT {
            if let Some(old) = self.answered_order.pop_front() {
                self.answered.remove(&old);
            }
        }
        self.answered_order.push_back(id.clone());
        self.answered.insert(id, reply);
    }
}

/// What the transport should do after a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send these messages and carry on.
    Send(Vec<ServerMessage>),
    /// The patient ended the chat: forget the session.
    End,
}

/// The clinic's conversation rules, shared by every session.
pub struct Conversation {
    clinic: Clinic,
    matcher: FaqMatcher,
    ledger: ConsentLedger,
}

impl Conversation {
    /// Builds the engine (the FAQ index is built here, once).
    #[must_use]
    pub fn new(clinic: Clinic, knowledge: &KnowledgeBase, ledger: ConsentLedger) -> Self {
        Self {
            clinic,
            matcher: FaqMatcher::new(knowledge),
            ledger,
        }
    }

    /// The message that opens every new session.
    #[must_use]
    pub fn welcome(&self) -> ServerMessage {
        ServerMessage::Welcome {
            policy_version: self.clinic.policy_version.clone(),
            consent_required: true,
            disclaimer: self.clinic.disclaimer.clone(),
            locale: self.clinic.locale.clone(),
        }
    }

    /// Handles one message from the patient (never `sync`, which the
    /// transport owns).
    pub fn handle(
        &self,
        sid: &SessionId,
        state: &mut ChatState,
        message: ClientMessage,
    ) -> Outcome {
        match message {
            ClientMessage::Sync { .. } => Outcome::Send(Vec::new()),
            ClientMessage::End => Outcome::End,
            ClientMessage::Consent {
                accepted,
                policy_version,
            } => Outcome::Send(vec![self.consent(sid, state, accepted, policy_version)]),
            ClientMessage::Say { id, text } => Outcome::Send(vec![self.say(state, id, &text)]),
        }
    }

    fn consent(
        &self,
        sid: &SessionId,
        state: &mut ChatState,
        accepted: bool,
        policy_version: String,
    ) -> ServerMessage {
        if !accepted {
            state.consent = ConsentState::Declined;
            return notice(
                "consent_declined",
                format!(
                    "No problem: nothing you type here will be processed. You can reach {} by phone at {}. In an emergency call 911; for a mental health crisis call or text 988.",
                    self.clinic.name, self.clinic.phone
                ),
            );
        }
        if policy_version != self.clinic.policy_version {
            return error(
                "policy_version_mismatch",
                "The notice has changed since this chat opened. Please start a new chat to read the current one.".to_owned(),
            );
        }
        if let ConsentState::Accepted { .. } = state.consent {
            return notice("consent_accepted", self.ready_text());
        }
        match self
            .ledger
            .record_accepted(sid, &policy_version, SystemTime::now())
        {
            Ok(()) => {
                tracing::info!(session = ?sid, policy_version, "consent recorded");
                state.consent = ConsentState::Accepted { policy_version };
                notice("consent_accepted", self.ready_text())
            }
            Err(e) => {
                tracing::error!(session = ?sid, error = %e, "consent could not be recorded");
                error(
                    "consent_not_recorded",
                    format!(
                        "Sorry, we could not record your consent just now, so the chat cannot start. Please try again, or call us at {}.",
                        self.clinic.phone
                    ),
                )
            }
        }
    }

    fn ready_text(&self) -> String {
        format!(
            "Thank you. I can answer questions about {}: hours, location, insurance, services and more. What can I help you with?",
            self.clinic.name
        )
    }

    fn say(&self, state: &mut ChatState, id: String, text: &str) -> ServerMessage {
        if let Some(previous) = state.answered.get(&id) {
            return previous.clone();
        }
        if !matches!(state.consent, ConsentState::Accepted { .. }) {
            return error(
                "consent_required",
                "Please read the notice and choose \"I agree\" before we chat; nothing you type is processed until then. In an emergency call 911; for a mental health crisis call or text 988.".to_owned(),
            );
        }
        if id.is_empty() || id.len() > 64 {
            return error(
                "invalid_message_id",
                "This message could not be sent. Please try again.".to_owned(),
            );
        }
        if text.chars().count() > MAX_SAY_CHARS {
            return error(
                "message_too_long",
                format!(
                    "That message is too long. Please keep it under {MAX_SAY_CHARS} characters."
                ),
            );
        }
        let (intent, answer, escalated) = self.understand(text);
        let reply = ServerMessage::Reply {
            in_reply_to: id.clone(),
            text: answer,
            intent: intent.to_owned(),
            escalated,
        };
        // No intent in the log: with timestamps it could tie a session to a
        // topic such as a crisis. Escalations reach staff through hand-off,
        // not through logs.
        tracing::debug!("answered");
        state.remember(id, reply.clone());
        reply
    }

    /// Routes one message: safety first, then the rest.
    fn understand(&self, text: &str) -> (&str, String, bool) {
        let phone = &self.clinic.phone;
        match screen(text) {
            Some(SafetyConcern::Crisis) => {
                return ("safety.crisis", format!(
                    "I'm really sorry you're going through this. Please call or text 988 now to reach the Suicide & Crisis Lifeline, any time, day or night. If you are in immediate danger, call 911. You can also call our nurses at {phone}. I'm not able to help with this in chat, but people at those numbers can."
                ), true);
            }
            Some(SafetyConcern::Emergency) => {
                return ("safety.emergency", format!(
                    "This could be a medical emergency. Call 911 now, or go to the nearest emergency room. Please don't wait for a reply here. Our nurses are at {phone} for anything that is not an emergency."
                ), true);
            }
            Some(SafetyConcern::MedicalAdvice) => {
                return ("safety.medical_advice", format!(
                    "I can't give medical advice or diagnose anything in this chat. Please call our nurse line at {phone} to talk it through with a nurse. If it feels urgent, call 911; for a mental health crisis call or text 988."
                ), true);
            }
            None => {}
        }
        let normalized = text.trim().to_lowercase();
        if normalized.is_empty() {
            return (
                "chat.empty",
                "I didn't catch that. What would you like to know?".to_owned(),
                false,
            );
        }
        if let Some(intent) = small_talk(&normalized) {
            let answer = match intent {
                "chat.greeting" => format!("Hello! I can help with questions about {}: opening hours, location, insurance, services and more.", self.clinic.name),
                "chat.thanks" => "You're welcome! Is there anything else I can help with?".to_owned(),
                _ => format!("Thanks for chatting with {}. Take care!", self.clinic.name),
            };
            return (intent, answer, false);
        }
        if about_own_records(&normalized) {
            return ("account.needs_staff", format!(
                "I can't look up or change your personal appointments, results or prescriptions in this chat yet. Please call us at {phone} and our front desk will help."
            ), false);
        }
        if let Some(m) = self.matcher.best_match(text) {
            return (m.intent, m.answer.to_owned(), false);
        }
        ("fallback.unknown", format!(
            "I'm sorry, I don't know the answer to that. Our front desk can help: call {phone}. I can answer questions about our hours, location, insurance and services."
        ), false)
    }
}

fn notice(code: &str, text: String) -> ServerMessage {
    ServerMessage::Notice {
        code: code.to_owned(),
        text,
    }
}

fn error(code: &str, text: String) -> ServerMessage {
    ServerMessage::Error {
        code: code.to_owned(),
        text,
    }
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
}

/// Greetings, thanks and goodbyes, when that is all the message is.
fn small_talk(text: &str) -> Option<&'static str> {
    const GREETING: &[&str] = &[
        "hi",
        "hello",
        "hey",
        "hiya",
        "morning",
        "afternoon",
        "evening",
        "good",
        "there",
        "yo",
    ];
    const THANKS: &[&str] = &[
        "thanks", "thank", "you", "thx", "ty", "great", "ok", "okay", "cool", "perfect", "so",
        "much", "very",
    ];
    const BYE: &[&str] = &[
        "bye", "goodbye", "see", "ya", "later", "that's", "all", "cya",
    ];
    let all = |set: &[&str]| words(text).all(|w| set.contains(&w));
    words(text).next()?;
    if all(GREETING) {
        Some("chat.greeting")
    } else if all(THANKS) && words(text).any(|w| ["thanks", "thank", "thx", "ty"].contains(&w)) {
        Some("chat.thanks")
    } else if all(BYE) && words(text).any(|w| ["bye", "goodbye", "later", "cya"].contains(&w)) {
        Some("chat.goodbye")
    } else {
        None
    }
}

/// Questions about the patient's own records, which need identity
/// verification this release does not offer yet.
fn about_own_records(text: &str) -> bool {
    let own = words(text).any(|w| ["my", "mine", "i'm", "im"].contains(&w));
    let record = words(text).any(|w| {
        [
            "appointment",
            "appointments",
            "appt",
            "results",
            "result",
            "lab",
            "labs",
            "refill",
            "refills",
            "prescription",
            "prescriptions",
            "bill",
            "balance",
            "chart",
        ]
        .contains(&w)
    });
    own && record
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::RawConfig;

    fn engine(dir: &std::path::Path) -> Conversation {
        let config = RawConfig::demo().unwrap().validate().unwrap();
        Conversation::new(config.clinic, &config.knowledge, ConsentLedger::new(dir))
    }

    fn say(engine: &Conversation, state: &mut ChatState, id: &str, text: &str) -> ServerMessage {
        let sid = SessionId([1; 16]);
        match engine.handle(
            &sid,
            state,
            ClientMessage::Say {
                id: id.into(),
                text: text.into(),
            },
        ) {
            Outcome::Send(mut m) => m.remove(0),
            Outcome::End => panic!("ended"),
        }
    }

    fn accept(engine: &Conversation, state: &mut ChatState) -> ServerMessage {
        let sid = SessionId([1; 16]);
        let msg = ClientMessage::Consent {
            accepted: true,
            policy_version: "2026-01".into(),
        };
        match engine.handle(&sid, state, msg) {
            Outcome::Send(mut m) => m.remove(0),
            Outcome::End => panic!("ended"),
        }
    }

    #[test]
    fn nothing_is_processed_or_stored_before_consent() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let mut state = ChatState::default();
        let reply = say(&engine, &mut state, "m1", "what are your hours");
        assert!(
            matches!(&reply, ServerMessage::Error { code, text } if code == "consent_required" && text.contains("911") && text.contains("988"))
        );
        assert!(
            state.answered.is_empty(),
            "a message before consent was stored"
        );
        assert!(!engine.ledger.path().exists());
    }

    #[test]
    fn declining_stores_nothing_and_gives_the_phone_number() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let mut state = ChatState::default();
        let sid = SessionId([1; 16]);
        let out = engine.handle(
            &sid,
            &mut state,
            ClientMessage::Consent {
                accepted: false,
                policy_version: "2026-01".into(),
            },
        );
        let Outcome::Send(messages) = out else {
            panic!()
        };
        assert!(
            matches!(&messages[0], ServerMessage::Notice { code, text } if code == "consent_declined" && text.contains("(555) 010-4477"))
        );
        assert!(
            !engine.ledger.path().exists(),
            "a declined consent was written down"
        );
        assert!(matches!(
            say(&engine, &mut state, "m1", "hours?"),
            ServerMessage::Error { .. }
        ));
    }

    #[test]
    fn consent_is_recorded_with_version_and_time_then_questions_are_answered_once() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let mut state = ChatState::default();
        assert!(
            matches!(accept(&engine, &mut state), ServerMessage::Notice { code, .. } if code == "consent_accepted")
        );
        let ledger = std::fs::read_to_string(engine.ledger.path()).unwrap();
        let record: serde_json::Value = serde_json::from_str(ledger.trim()).unwrap();
        assert_eq!(record["policy_version"], "2026-01");
        assert!(record["time"].as_str().unwrap().ends_with('Z'));
        assert!(
            !ledger.contains(&SessionId([1; 16]).to_b64u()),
            "raw session id written"
        );

        let first = say(&engine, &mut state, "m1", "hello");
        let again = say(&engine, &mut state, "m1", "something else entirely");
        assert_eq!(first, again, "a repeated id must get the same reply");
    }

    #[test]
    fn crisis_and_advice_are_never_answered_by_the_bot() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let mut state = ChatState::default();
        accept(&engine, &mut state);
        let ServerMessage::Reply {
            intent,
            escalated,
            text,
            ..
        } = say(&engine, &mut state, "m1", "I want to kill myself")
        else {
            panic!()
        };
        assert_eq!(intent, "safety.crisis");
        assert!(escalated && text.contains("988") && text.contains("911"));
        for (id, question, expected) in [
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
            } = say(&engine, &mut state, id, question)
            else {
                panic!()
            };
            assert_eq!(intent, expected, "{question}");
            assert!(escalated && text.contains("911"), "{question}");
        }
    }

    #[test]
    fn unknown_questions_get_an_honest_fallback_with_the_phone_number() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let mut state = ChatState::default();
        accept(&engine, &mut state);
        let ServerMessage::Reply {
            intent,
            text,
            escalated,
            ..
        } = say(&engine, &mut state, "m1", "what is the capital of france")
        else {
            panic!()
        };
        assert_eq!(intent, "fallback.unknown");
        assert!(text.contains("(555) 010-4477") && !escalated);
        let ServerMessage::Reply { intent, .. } =
            say(&engine, &mut state, "m2", "when is my next appointment")
        else {
            panic!()
        };
        assert_eq!(intent, "account.needs_staff");
    }
}
