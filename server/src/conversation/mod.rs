//! The conversation engine: what the server does with each message a patient
//! sends, in a fixed order.
//!
//! 1. **Safety**, on every piece of patient text, in every state: before
//!    consent, before the length check, while a one-time code is awaited,
//!    during a booking confirmation. A crisis or emergency gets guidance with
//!    call and text buttons for the right numbers ([`guidance`]) and is
//!    marked `escalated`, with its category; before consent nothing is
//!    stored. Medical advice gets a kind refusal and the nurse line.
//! 2. **Consent**: otherwise, nothing the patient types is processed or
//!    stored before consent.
//! 3. **Language**: each message's language is detected; when the patient
//!    writes in the other one, the chat switches (a `locale` message, then
//!    the reply in that language).
//! 4. **What the engine is waiting for** ([`verify`]): details, a code.
//! 5. **Understand** (the intent model of [`carechat_language::intents`]):
//!    a confident intent is acted on; an unsure one gets a clarifying
//!    question with up to three choices and a person; nothing known gets an
//!    honest fallback with the phone number.
//! 6. **Act**: the patient's records through [`crate::records`] (the only,
//!    audited, path to the EHR), after verification ([`tasks`]),
//!    scheduling ([`scheduling`]), the clinic FAQ, small talk.
//!
//! Every `say` and `choose` is answered by one `reply`, sometimes followed
//! by a `card`. Each id is answered once per session; a repeated id (a
//! re-send after a dropped connection) gets the same messages again and is
//! not reprocessed. Cards carry action ids that are random, single-use and
//! valid only in their session: a `choose` can only pick what the server
//! offered. Anything changed in the EHR is confirmed by the patient first.
//! Every word the patient reads comes from the message catalog
//! ([`crate::i18n`]) in their language.
//!
//! # Layout
//! - [`state`]: what a session remembers.
//! - [`answer`]: a reply under construction and its messages.
//! - [`guidance`]: crisis guidance, call buttons, the medical-advice reply.
//! - [`verify`]: the verification dialogue (details, code, resend, stop).
//! - [`tasks`]: what a verified patient asked for, and the card lines.
//! - [`scheduling`]: free slots, confirmations, what each button does.
//! - [`handoff`]: queueing the chat for a person, and staying quiet while
//!   one owns it.
//! - [`commands`]: the few typed words that steer a flow ("cancel", "new
//!   code", "try again"), in both languages.
//! - [`feedback`]: the patient's thumbs up or down on a reply (which
//!   replies take one, each counted once).

mod answer;
mod commands;
mod feedback;
pub mod guidance;
mod handoff;
mod scheduling;
mod state;
mod tasks;
mod verify;

use std::sync::Arc;
use std::time::Instant;

use carechat_language::intents::Decision;
use carechat_language::knowledge::KnowledgeBase;
use carechat_language::lang::Locale;
use carechat_language::safety::{self, Concern};
use chrono_tz::Tz;
use protocol::vocab::{CardKind, ErrorCode, Intent, NoticeCode};
use protocol::{ClientMessage, ServerMessage, SessionId};

use self::answer::{error, notice, Answer};
pub use self::state::ChatState;
use self::state::{Offer, Retry, Task, Waiting};
use crate::audit::{AuditAction, AuditOutcome};
use crate::clock::Clock;
use crate::config::Clinic;
use crate::consent::{ConsentLedger, ConsentState};
use crate::handoff::{Handoffs, Reason, Speaker};
use crate::i18n::{Arg, Catalog};
use crate::identity::Identity;
use crate::journal::{self, Journal};
use crate::phi::Phi;
use crate::rate_limit::OverAllowance;
use crate::records::{Records, Requester};
use crate::settings::Live;
use crate::store::Store;

/// Longest message a patient may send, in characters (it is screened for a
/// crisis first, whatever its length).
pub const MAX_SAY_CHARS: usize = 2000;

/// What the transport should do after a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send these messages and carry on.
    Send(Vec<ServerMessage>),
    /// The patient ended the chat: forget the session.
    End,
}

/// Who is speaking, and when.
pub struct Turn<'a> {
    /// The session.
    pub sid: &'a SessionId,
    /// The session's digest and address, for audit and the transcript.
    pub who: Requester,
}

/// The clinic's conversation rules, shared by every session.
pub struct Conversation {
    clinic: Clinic,
    tz: Tz,
    /// The staffed hours, FAQ and intent model in force (an admin may
    /// change them while the server runs: [`crate::settings`]).
    live: Arc<Live>,
    catalog: &'static Catalog,
    ledger: ConsentLedger,
    identity: Identity,
    records: Records,
    store: Store,
    journal: Journal,
    clock: Arc<dyn Clock>,
    handoffs: Arc<Handoffs>,
}

impl Conversation {
    /// Builds the engine; the intent model is trained here, and again when
    /// an admin edits the FAQ ([`crate::settings`]).
    ///
    /// # Errors
    /// When the built-in intents file does not load (a test guards it).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        clinic: Clinic,
        tz: Tz,
        knowledge: &KnowledgeBase,
        ledger: ConsentLedger,
        identity: Identity,
        records: Records,
        store: Store,
        journal: Journal,
        clock: Arc<dyn Clock>,
        handoffs: Arc<Handoffs>,
    ) -> Result<Self, carechat_language::intents::TrainingError> {
        let live = Live::train(clinic.staffed_hours.clone(), knowledge.clone())?;
        Ok(Self {
            clinic,
            tz,
            live: Arc::new(live),
            catalog: Catalog::builtin(),
            ledger,
            identity,
            records,
            journal,
            store,
            clock,
            handoffs,
        })
    }

    /// The settings in force, which [`crate::settings::Settings`] changes.
    #[must_use]
    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    /// The clinic's time zone (staffed hours are in it).
    #[must_use]
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The staff queue this engine feeds.
    #[must_use]
    pub fn handoffs(&self) -> &Arc<Handoffs> {
        &self.handoffs
    }

    /// Identity verification (for front desk ending a lockout).
    #[must_use]
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The clinic's own language, the one new sessions start in.
    #[must_use]
    pub fn default_locale(&self) -> Locale {
        Locale::from_tag(&self.clinic.locale).unwrap_or_default()
    }

    /// Tells the patient the answer is on its way, when it is slow to come
    /// (the transport sends it; see `transport::connection`).
    #[must_use]
    pub fn still_working(&self, locale: Locale) -> ServerMessage {
        notice(
            NoticeCode::StillWorking,
            self.t(locale, "still-working", &[]),
        )
    }

    /// The message that opens every new session.
    #[must_use]
    pub fn welcome(&self) -> ServerMessage {
        let locale = self.default_locale();
        ServerMessage::Welcome {
            policy_version: self.clinic.policy_version.clone(),
            consent_required: true,
            disclaimer: self.disclaimer(locale),
            locale: locale.as_str().to_owned(),
        }
    }

    /// The notice in `locale`.
    fn disclaimer(&self, locale: Locale) -> String {
        match (locale, &self.clinic.disclaimer_es) {
            (Locale::En, _) => self.clinic.disclaimer.clone(),
            (Locale::Es, Some(es)) => es.clone(),
            (Locale::Es, None) => self.t(locale, "disclaimer-default", &[]),
        }
    }

    /// A catalog text with the clinic's name and phone always at hand.
    fn t(&self, locale: Locale, key: &str, args: &[(&str, Arg<'_>)]) -> String {
        let mut all: Vec<(&str, Arg<'_>)> = vec![
            ("clinic", Arg::from(self.clinic.name.as_str())),
            ("phone", Arg::from(self.clinic.phone.as_str())),
        ];
        all.extend(args.iter().map(|(k, v)| (*k, *v)));
        self.catalog.text(locale, key, &all)
    }

    /// Handles one message from the patient (never `sync`, which the
    /// transport owns).
    pub async fn handle(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        message: ClientMessage,
    ) -> Outcome {
        match message {
            ClientMessage::Sync { .. } => Outcome::Send(Vec::new()),
            ClientMessage::End => Outcome::End,
            ClientMessage::Consent {
                accepted,
                policy_version,
            } => Outcome::Send(vec![
                self.consent(turn, state, accepted, policy_version).await,
            ]),
            ClientMessage::Locale { locale } => match Locale::from_tag(&locale) {
                Some(locale) => {
                    state.locale = locale;
                    Outcome::Send(vec![self.locale_message(locale)])
                }
                None => Outcome::Send(vec![error(
                    ErrorCode::UnsupportedLocale,
                    self.t(state.locale, "error-unsupported-locale", &[]),
                )]),
            },
            ClientMessage::Say { id, text } => {
                Outcome::Send(self.say(turn, state, id, &text).await)
            }
            ClientMessage::Choose { id, action } => {
                Outcome::Send(self.choose(turn, state, id, &action).await)
            }
            ClientMessage::Typing => {
                self.handoffs.patient_typing(turn.sid);
                Outcome::Send(Vec::new())
            }
            ClientMessage::Feedback {
                in_reply_to,
                vote,
                reason,
            } => Outcome::Send(self.feedback(state, &in_reply_to, vote, reason).await),
        }
    }

    fn locale_message(&self, locale: Locale) -> ServerMessage {
        ServerMessage::Locale {
            locale: locale.as_str().to_owned(),
            disclaimer: self.disclaimer(locale),
        }
    }

    async fn consent(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        accepted: bool,
        policy_version: String,
    ) -> ServerMessage {
        let locale = state.locale;
        if !accepted {
            state.consent = ConsentState::Declined;
            self.records
                .record(
                    turn.who
                        .event(AuditAction::ConsentDeclined, None, AuditOutcome::Success),
                )
                .await;
            return notice(
                NoticeCode::ConsentDeclined,
                self.t(locale, "consent-declined", &[]),
            );
        }
        if policy_version != self.clinic.policy_version {
            return error(
                ErrorCode::PolicyVersionMismatch,
                self.t(locale, "error-policy-version", &[]),
            );
        }
        if let ConsentState::Accepted { .. } = state.consent {
            return notice(
                NoticeCode::ConsentAccepted,
                self.t(locale, "consent-accepted", &[]),
            );
        }
        match self
            .ledger
            .record_accepted(&turn.who.session, &policy_version, self.clock.now())
            .await
        {
            Ok(()) => {
                tracing::info!(session = ?turn.sid, policy_version, "consent recorded");
                self.records
                    .record(turn.who.event(
                        AuditAction::ConsentAccepted,
                        None,
                        AuditOutcome::Success,
                    ))
                    .await;
                state.consent = ConsentState::Accepted { policy_version };
                notice(
                    NoticeCode::ConsentAccepted,
                    self.t(locale, "consent-accepted", &[]),
                )
            }
            Err(e) => {
                tracing::error!(session = ?turn.sid, error = %e, "consent could not be recorded");
                error(
                    ErrorCode::ConsentNotRecorded,
                    self.t(locale, "error-consent-not-recorded", &[]),
                )
            }
        }
    }

    /// Checks that apply to every `say` and `choose` after the safety
    /// screen; `Some` answers it.
    fn refuse(&self, state: &mut ChatState, id: &str) -> Option<Vec<ServerMessage>> {
        if let Some(previous) = state.answered.get(id) {
            return Some(previous.clone());
        }
        if !matches!(state.consent, ConsentState::Accepted { .. }) {
            return Some(vec![error(
                ErrorCode::ConsentRequired,
                self.t(state.locale, "error-consent-required", &[]),
            )]);
        }
        if id.is_empty() || id.len() > 64 {
            return Some(vec![error(
                ErrorCode::InvalidMessageId,
                self.t(state.locale, "error-invalid-message-id", &[]),
            )]);
        }
        // Last, so that a repeat, a refusal above or a crisis never spends
        // the allowance.
        let allowed = state
            .allowance
            .as_mut()
            .map_or(Ok(()), |a| a.take(Instant::now()));
        match allowed {
            Ok(()) => None,
            Err(OverAllowance::TooFast(_)) => Some(vec![error(
                ErrorCode::RateLimited,
                self.t(state.locale, "error-rate-limited", &[]),
            )]),
            Err(OverAllowance::SessionFull) => Some(vec![error(
                ErrorCode::SessionFull,
                self.t(state.locale, "error-session-full", &[]),
            )]),
        }
    }

    /// Switches the chat to the language `text` is written in, when that
    /// is clear and differs; the `locale` message goes before the reply.
    fn follow_language(&self, state: &mut ChatState, text: &str) -> Option<ServerMessage> {
        // Identity details are names and dates: no evidence of a language.
        if crate::identity::details::mentions_date(text) {
            return None;
        }
        let detected = self.live.brain().model.language(text)?;
        (detected != state.locale).then(|| {
            state.locale = detected;
            self.locale_message(detected)
        })
    }

    async fn say(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        id: String,
        text: &str,
    ) -> Vec<ServerMessage> {
        if let Some(previous) = state.answered.get(&id) {
            return previous.clone();
        }
        // 1. Safety, before anything else, on the whole text.
        let concern = safety::screen(text);
        let consented = matches!(state.consent, ConsentState::Accepted { .. });
        if let Some(Concern::Crisis(category)) = concern {
            let switched = self.follow_language(state, text);
            state.escalations.push(category);
            let mut answer = self.crisis(state.locale, category);
            // A person is alerted in every state, before consent too (the
            // queue keeps no words, only that a crisis is waiting).
            let queued = self.queue_for_person(turn, state, Reason::Crisis(category));
            answer.after.push(queued);
            let mut messages: Vec<ServerMessage> = switched.into_iter().collect();
            // A flood spends no storage: past the session's allowance a
            // crisis still gets its guidance (and the queue its alert).
            let flooding = state
                .allowance
                .as_mut()
                .is_some_and(|a| a.take(Instant::now()).is_err());
            if !consented || id.is_empty() || id.len() > 64 || flooding {
                // Before consent: guidance, and nothing stored or kept.
                messages.extend(answer.into_messages(&id));
                return messages;
            }
            self.keep(turn, "patient", text).await;
            messages.extend(self.finish(turn, state, id, answer).await);
            return messages;
        }
        if let Some(refused) = self.refuse(state, &id) {
            return refused;
        }
        if text.chars().count() > MAX_SAY_CHARS {
            return vec![error(
                ErrorCode::MessageTooLong,
                self.t(
                    state.locale,
                    "error-message-too-long",
                    &[("max", Arg::from(MAX_SAY_CHARS))],
                ),
            )];
        }
        if self.handoffs.owner(turn.sid).is_some() {
            // A person owns the chat: the message is theirs to answer.
            self.keep(turn, "patient", text).await;
            return self.finish(turn, state, id, self.delivered()).await;
        }
        let switched = self.follow_language(state, text);
        let mut answer = if concern == Some(Concern::MedicalAdvice) {
            self.medical_advice(state, text)
        } else {
            self.understand(turn, state, text).await
        };
        self.note_help(turn, state, &mut answer);
        let kept = if answer.was_code {
            "[one-time code]"
        } else {
            text
        };
        self.keep(turn, "patient", kept).await;
        let mut messages: Vec<ServerMessage> = switched.into_iter().collect();
        messages.extend(self.finish(turn, state, id, answer).await);
        messages
    }

    async fn choose(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        id: String,
        action: &str,
    ) -> Vec<ServerMessage> {
        if let Some(refused) = self.refuse(state, &id) {
            return refused;
        }
        let answer = match state.take_offer(action) {
            Some(offer) if !offer.needs_patient() => self.act_open(turn, state, offer).await,
            Some(offer) => match state.verified.clone() {
                Some(patient) => self.act(turn, state, &patient, offer).await,
                None => self.expired(state.locale),
            },
            None => self.expired(state.locale),
        };
        self.finish(turn, state, id, answer).await
    }

    fn expired(&self, locale: Locale) -> Answer {
        Answer::text(Intent::CardExpired, self.t(locale, "card-expired", &[]))
    }

    /// Turns an answer into messages, remembers them for the id, and keeps
    /// the transcript.
    async fn finish(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        id: String,
        answer: Answer,
    ) -> Vec<ServerMessage> {
        if !answer.text.is_empty() {
            self.keep(turn, "assistant", &answer.text).await;
        }
        // No intent in the log: with timestamps it could tie a session to a
        // topic such as a crisis.
        tracing::debug!("answered");
        state.feedback.replied(&id, &answer.intent);
        let replies = answer.into_messages(&id);
        state.remember(id, replies.clone());
        replies
    }

    /// Appends to the encrypted transcript, through the journal. Nothing
    /// waits here: the transport waits for the session's row, queued
    /// after these lines, before it sends the reply, so the reply leaves
    /// only once the turn is stored, in one commit (see [`journal`]).
    async fn keep(&self, turn: &Turn<'_>, role: &'static str, text: &str) {
        let now = self.clock.now();
        let speaker = if role == "patient" {
            Speaker::Patient
        } else {
            Speaker::Assistant
        };
        self.handoffs.line(turn.sid, speaker, text, now);
        // Stored or given up either way; the row's write reports for both.
        let _stored = self.journal.line(journal::Line {
            session: turn.who.session.clone(),
            role,
            text: Phi::new(text.to_owned()),
            at: now,
        });
    }

    /// Waits until every transcript line so far is stored (or given up).
    pub async fn flush_transcript(&self) {
        self.journal.flush().await;
    }

    /// Routes one message that passed the safety screen.
    async fn understand(&self, turn: &Turn<'_>, state: &mut ChatState, text: &str) -> Answer {
        let locale = state.locale;
        if text.trim().is_empty() {
            return Answer::text(Intent::ChatEmpty, self.t(locale, "chat-empty", &[]));
        }
        let understood = self.live.brain().model.understand(text).decision;
        if let Some(answer) = self.continue_waiting(turn, state, text, &understood).await {
            return answer;
        }
        if commands::is_retry(text) {
            if let (Some(retry), Some(patient)) = (state.retry.take(), state.verified.clone()) {
                return match retry {
                    Retry::Task(task) => self.run(turn, state, &patient, task).await,
                    Retry::Offer(offer) => self.act(turn, state, &patient, *offer).await,
                };
            }
        }
        match understood {
            Decision::Intent { name, .. } => self.answer_intent(turn, state, &name, text).await,
            Decision::Unsure(choices) => self.clarify(state, &choices, text),
            Decision::Unknown => self.fallback(locale),
        }
    }

    /// Acts on an intent the patient means.
    async fn answer_intent(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        intent: &str,
        text: &str,
    ) -> Answer {
        let locale = state.locale;
        if let Some(task) = Task::for_intent(intent, text) {
            return match state.verified.clone() {
                Some(patient) => self.run(turn, state, &patient, task).await,
                None => {
                    state.waiting = Waiting::details(task);
                    self.ask_details(locale)
                }
            };
        }
        let key = match Intent::parse(intent) {
            Some(Intent::HandoffPerson) => return self.person_asked(turn, state),
            Some(Intent::ChatGreeting) => "chat-greeting",
            Some(Intent::ChatThanks) => "chat-thanks",
            Some(Intent::ChatGoodbye) => "chat-goodbye",
            _ => {
                let brain = self.live.brain();
                return match brain.knowledge.faq.iter().find(|e| e.intent == intent) {
                    Some(entry) => Answer::named(&entry.intent, entry.answer(locale).to_owned()),
                    None => self.fallback(locale),
                };
            }
        };
        Answer::named(intent, self.t(locale, key, &[]))
    }

    /// "Did you mean…?": up to three choices, and a person.
    fn clarify(&self, state: &mut ChatState, choices: &[String], text: &str) -> Answer {
        let locale = state.locale;
        let mut actions: Vec<_> = choices
            .iter()
            .map(|intent| {
                let label = self.intent_label(locale, intent);
                state.offer(
                    label,
                    Offer::Meant {
                        intent: intent.clone(),
                        request: Phi::new(text.to_owned()),
                    },
                )
            })
            .collect();
        let person = Intent::HandoffPerson.as_str();
        if !choices.iter().any(|c| c == person) {
            actions.push(state.offer(
                self.intent_label(locale, person),
                Offer::Meant {
                    intent: person.to_owned(),
                    request: Phi::new(String::new()),
                },
            ));
        }
        Answer::text(Intent::Clarify, self.t(locale, "clarify", &[])).card(
            CardKind::Choices,
            self.t(locale, "clarify-card-title", &[]),
            Vec::new(),
            actions,
        )
    }

    /// How a clarifying question names an intent: the catalog's words for a
    /// built-in one, the first example question in the patient's language
    /// for an FAQ entry.
    fn intent_label(&self, locale: Locale, intent: &str) -> String {
        let key = format!("intent-{}", intent.replace(['.', '_'], "-"));
        if self.catalog.has(locale, &key) {
            return self.t(locale, &key, &[]);
        }
        self.live
            .brain()
            .knowledge
            .faq
            .iter()
            .find(|e| e.intent == intent)
            .and_then(|e| {
                e.examples()
                    .find(|(l, _)| *l == locale)
                    .or_else(|| e.examples().next())
                    .map(|(_, example)| example.to_owned())
            })
            .unwrap_or_else(|| intent.to_owned())
    }

    fn fallback(&self, locale: Locale) -> Answer {
        Answer::text(
            Intent::FallbackUnknown,
            self.t(locale, "fallback-unknown", &[]),
        )
    }
}

#[cfg(test)]
mod tests;
