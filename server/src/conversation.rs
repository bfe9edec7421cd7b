//! The conversation engine: what the server does with each message a patient
//! sends, in a fixed order.
//!
//! 1. **Consent**: before consent nothing the patient types is processed or
//!    stored; the answer says so and always carries emergency numbers.
//! 2. **Safety**: crisis, emergency and medical-advice messages are never
//!    answered by the bot; they get emergency guidance and the clinic's
//!    number, and the reply is marked `escalated`. This comes before
//!    everything else, in every state, verified or not.
//! 3. **Identity**: anything about the patient's own records (appointments,
//!    lab status, refills) needs a verified session; the engine asks for
//!    details, then a one-time code ([`crate::identity`]), and then does
//!    what was asked.
//! 4. **Understand and act**: the patient's records through
//!    [`crate::records`] (the only, audited, path to the EHR), scheduling
//!    through [`crate::booking`], small talk, the clinic FAQ, or an honest
//!    fallback with the phone number.
//!
//! Every `say` and `choose` is answered by one `reply`, sometimes followed
//! by a `card`. Each id is answered once per session; a repeated id (a
//! re-send after a dropped connection) gets the same messages again and is
//! not reprocessed. Cards carry action ids that are random, single-use and
//! valid only in their session: a `choose` can only pick what the server
//! offered. Anything changed in the EHR is confirmed by the patient first.
//!
//! When the EHR is down, the patient is told so with the clinic's number,
//! and what they asked for is kept: "try again" picks it up.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use chrono_tz::Tz;
use protocol::{CardAction, CardItem, ClientMessage, ServerMessage, SessionId};
use rand_core::{OsRng, RngCore};

use crate::audit::{AuditAction, AuditOutcome};
use crate::booking::{self, Wish};
use crate::clock::Clock;
use crate::config::Clinic;
use crate::consent::{ConsentLedger, ConsentState};
use crate::ehr::{Appointment, EhrError, LabStatus, PatientMatch, RefillStatus, Slot};
use crate::identity::details::{self, Missing};
use crate::identity::otp::OtpCode;
use crate::identity::{Checked, Identity, PendingCode, Started};
use crate::knowledge::KnowledgeBase;
use crate::nlu::FaqMatcher;
use crate::phi::Phi;
use crate::records::{Records, Requester};
use crate::safety::{screen, SafetyConcern};
use crate::store::Store;

/// Longest message a patient may send, in characters.
pub const MAX_SAY_CHARS: usize = 2000;
/// How many answered ids a session remembers for de-duplication.
const ANSWERED_LIMIT: usize = 512;
/// How many card actions a session holds at once (older ones expire).
const OFFER_LIMIT: usize = 64;

/// Something about the patient's own records they asked for.
#[derive(Clone)]
enum Task {
    Appointments,
    Book(Phi<String>),
    Cancel,
    Reschedule(Phi<String>),
    Labs,
    Refills,
}

/// What a card button does, remembered under its random action id.
#[derive(Clone)]
enum Offer {
    Slot {
        slot: Slot,
        moving: Option<Appointment>,
    },
    ConfirmBook(Slot),
    ConfirmMove {
        from: Appointment,
        to: Slot,
    },
    PickCancel(Appointment),
    ConfirmCancel(Appointment),
    PickMove(Appointment, Phi<String>),
    Dismiss,
}

/// What the engine is waiting for from the patient.
#[derive(Clone, Default)]
enum Waiting {
    #[default]
    Nothing,
    /// Date of birth and last name, then `Task`.
    Details(Task),
    /// The one-time code, then `Task`.
    Code { pending: PendingCode, task: Task },
}

/// Work the EHR could not do; "try again" does it.
#[derive(Clone)]
enum Retry {
    Task(Task),
    Offer(Box<Offer>),
}

/// The per-session conversation state. Not `Debug`: it holds PHI.
#[derive(Default)]
pub struct ChatState {
    /// Consent so far.
    pub consent: ConsentState,
    answered: HashMap<String, Vec<ServerMessage>>,
    answered_order: VecDeque<String>,
    verified: Option<PatientMatch>,
    waiting: Waiting,
    offers: HashMap<String, Offer>,
    offer_order: VecDeque<String>,
    retry: Option<Retry>,
}

impl ChatState {
    fn remember(&mut self, id: String, replies: Vec<ServerMessage>) {
        if self.answered_order.len() == ANSWERED_LIMIT {
            if let Some(old) = self.answered_order.pop_front() {
                self.answered.remove(&old);
            }
        }
        self.answered_order.push_back(id.clone());
        self.answered.insert(id, replies);
    }

    fn offer(&mut self, label: &str, offer: Offer) -> CardAction {
        let mut bytes = [0u8; 9];
        OsRng.fill_bytes(&mut bytes);
        let id = protocol::encoding::b64u_encode(&bytes);
        if self.offer_order.len() == OFFER_LIMIT {
            if let Some(old) = self.offer_order.pop_front() {
                self.offers.remove(&old);
            }
        }
        self.offer_order.push_back(id.clone());
        self.offers.insert(id.clone(), offer);
        CardAction {
            id,
            label: label.to_owned(),
        }
    }

    /// Whether the session belongs to a verified patient.
    #[must_use]
    pub fn verified(&self) -> bool {
        self.verified.is_some()
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

/// Who is speaking, and when.
pub struct Turn<'a> {
    /// The session.
    pub sid: &'a SessionId,
    /// The session's digest and address, for audit and the transcript.
    pub who: Requester,
}

/// A reply under construction: the text, then an optional card.
struct Answer {
    intent: String,
    text: String,
    escalated: bool,
    /// The patient's message was a one-time code: the transcript keeps a
    /// placeholder, never the digits (codes are stored only as hashes).
    was_code: bool,
    card: Option<(&'static str, String, Vec<CardItem>, Vec<CardAction>)>,
}

impl Answer {
    fn text(intent: &str, text: String) -> Self {
        Self {
            intent: intent.to_owned(),
            text,
            escalated: false,
            was_code: false,
            card: None,
        }
    }

    fn card(
        mut self,
        kind: &'static str,
        title: impl Into<String>,
        items: Vec<CardItem>,
        actions: Vec<CardAction>,
    ) -> Self {
        self.card = Some((kind, title.into(), items, actions));
        self
    }
}

/// The clinic's conversation rules, shared by every session.
pub struct Conversation {
    clinic: Clinic,
    tz: Tz,
    matcher: FaqMatcher,
    ledger: ConsentLedger,
    identity: Identity,
    records: Records,
    store: Store,
    clock: Arc<dyn Clock>,
}

impl Conversation {
    /// Builds the engine (the FAQ index is built here, once).
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        clinic: Clinic,
        tz: Tz,
        knowledge: &KnowledgeBase,
        ledger: ConsentLedger,
        identity: Identity,
        records: Records,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            clinic,
            tz,
            matcher: FaqMatcher::new(knowledge),
            ledger,
            identity,
            records,
            store,
            clock,
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
            ClientMessage::Say { id, text } => {
                Outcome::Send(self.say(turn, state, id, &text).await)
            }
            ClientMessage::Choose { id, action } => {
                Outcome::Send(self.choose(turn, state, id, &action).await)
            }
        }
    }

    async fn consent(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        accepted: bool,
        policy_version: String,
    ) -> ServerMessage {
        if !accepted {
            state.consent = ConsentState::Declined;
            self.records
                .record(
                    turn.who
                        .event(AuditAction::ConsentDeclined, None, AuditOutcome::Success),
                )
                .await;
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
            .record_accepted(turn.sid, &policy_version, SystemTime::now())
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
                notice("consent_accepted", self.ready_text())
            }
            Err(e) => {
                tracing::error!(session = ?turn.sid, error = %e, "consent could not be recorded");
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
            "Thank you. I can answer questions about {}: hours, location, insurance, services and more. Once you confirm who you are, I can also show and book your appointments and tell you whether lab results or refills are ready. What can I help you with?",
            self.clinic.name
        )
    }

    /// Checks that apply to every `say` and `choose`; `Some` answers it.
    fn refuse(state: &ChatState, id: &str) -> Option<Vec<ServerMessage>> {
        if let Some(previous) = state.answered.get(id) {
            return Some(previous.clone());
        }
        if !matches!(state.consent, ConsentState::Accepted { .. }) {
            return Some(vec![error(
                "consent_required",
                "Please read the notice and choose \"I agree\" before we chat; nothing you type is processed until then. In an emergency call 911; for a mental health crisis call or text 988.".to_owned(),
            )]);
        }
        if id.is_empty() || id.len() > 64 {
            return Some(vec![error(
                "invalid_message_id",
                "This message could not be sent. Please try again.".to_owned(),
            )]);
        }
        None
    }

    async fn say(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        id: String,
        text: &str,
    ) -> Vec<ServerMessage> {
        if let Some(refused) = Self::refuse(state, &id) {
            return refused;
        }
        if text.chars().count() > MAX_SAY_CHARS {
            return vec![error(
                "message_too_long",
                format!(
                    "That message is too long. Please keep it under {MAX_SAY_CHARS} characters."
                ),
            )];
        }
        let answer = self.understand(turn, state, text).await;
        let kept = if answer.was_code {
            "[one-time code]"
        } else {
            text
        };
        self.keep(turn, "patient", kept).await;
        self.finish(turn, state, id, answer).await
    }

    async fn choose(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        id: String,
        action: &str,
    ) -> Vec<ServerMessage> {
        if let Some(refused) = Self::refuse(state, &id) {
            return refused;
        }
        let offer = state.offers.remove(action);
        let answer = match (offer, state.verified.clone()) {
            (Some(offer), Some(patient)) => self.act(turn, state, &patient, offer).await,
            _ => Answer::text(
                "card.expired",
                "That option is no longer available. Tell me what you would like to do and I'll show you the current choices.".to_owned(),
            ),
        };
        self.finish(turn, state, id, answer).await
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
        self.keep(turn, "assistant", &answer.text).await;
        // No intent in the log: with timestamps it could tie a session to a
        // topic such as a crisis.
        tracing::debug!("answered");
        let mut replies = vec![ServerMessage::Reply {
            in_reply_to: id.clone(),
            text: answer.text,
            intent: answer.intent,
            escalated: answer.escalated,
        }];
        if let Some((kind, title, items, actions)) = answer.card {
            replies.push(ServerMessage::Card {
                in_reply_to: id.clone(),
                kind: kind.to_owned(),
                title,
                items,
                actions,
            });
        }
        state.remember(id, replies.clone());
        replies
    }

    /// Appends to the encrypted transcript; a failure is logged and the
    /// chat goes on (the patient's answer matters more).
    async fn keep(&self, turn: &Turn<'_>, role: &str, text: &str) {
        let text = Phi::new(text.to_owned());
        if let Err(e) = self
            .store
            .append_message(&turn.who.session, role, &text, self.clock.now())
            .await
        {
            tracing::error!(error = %e, "transcript not stored");
        }
    }

    /// Routes one message: safety first, then the rest.
    async fn understand(&self, turn: &Turn<'_>, state: &mut ChatState, text: &str) -> Answer {
        let phone = &self.clinic.phone;
        if let Some(concern) = screen(text) {
            let (intent, text) = match concern {
                SafetyConcern::Crisis => ("safety.crisis", format!(
                    "I'm really sorry you're going through this. Please call or text 988 now to reach the Suicide & Crisis Lifeline, any time, day or night. If you are in immediate danger, call 911. You can also call our nurses at {phone}. I'm not able to help with this in chat, but people at those numbers can."
                )),
                SafetyConcern::Emergency => ("safety.emergency", format!(
                    "This could be a medical emergency. Call 911 now, or go to the nearest emergency room. Please don't wait for a reply here. Our nurses are at {phone} for anything that is not an emergency."
                )),
                SafetyConcern::MedicalAdvice => ("safety.medical_advice", format!(
                    "I can't give medical advice or diagnose anything in this chat. Please call our nurse line at {phone} to talk it through with a nurse. If it feels urgent, call 911; for a mental health crisis call or text 988."
                )),
            };
            return Answer {
                escalated: true,
                ..Answer::text(intent, text)
            };
        }
        let normalized = text.trim().to_lowercase();
        if normalized.is_empty() {
            return Answer::text(
                "chat.empty",
                "I didn't catch that. What would you like to know?".to_owned(),
            );
        }
        if let Some(answer) = self.continue_waiting(turn, state, text, &normalized).await {
            return answer;
        }
        if is_retry(&normalized) {
            if let (Some(retry), Some(patient)) = (state.retry.take(), state.verified.clone()) {
                return match retry {
                    Retry::Task(task) => self.run(turn, state, &patient, task).await,
                    Retry::Offer(offer) => self.act(turn, state, &patient, *offer).await,
                };
            }
        }
        if let Some(task) = account_task(&normalized, text) {
            return match state.verified.clone() {
                Some(patient) => self.run(turn, state, &patient, task).await,
                None => {
                    state.waiting = Waiting::Details(task);
                    self.ask_details()
                }
            };
        }
        if let Some(intent) = small_talk(&normalized) {
            let answer = match intent {
                "chat.greeting" => format!("Hello! I can help with questions about {}: opening hours, location, insurance, services and more.", self.clinic.name),
                "chat.thanks" => "You're welcome! Is there anything else I can help with?".to_owned(),
                _ => format!("Thanks for chatting with {}. Take care!", self.clinic.name),
            };
            return Answer::text(intent, answer);
        }
        if let Some(m) = self.matcher.best_match(text) {
            return Answer::text(m.intent, m.answer.to_owned());
        }
        Answer::text("fallback.unknown", format!(
            "I'm sorry, I don't know the answer to that. Our front desk can help: call {phone}. I can answer questions about our hours, location, insurance and services, and help with your appointments."
        ))
    }

    /// Carries on a verification in progress, when the message fits it.
    async fn continue_waiting(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        text: &str,
        normalized: &str,
    ) -> Option<Answer> {
        let phone = &self.clinic.phone;
        match state.waiting.clone() {
            Waiting::Nothing => None,
            Waiting::Details(task) => {
                if is_stop(normalized) {
                    state.waiting = Waiting::Nothing;
                    return Some(self.stopped());
                }
                if !details::mentions_date(text) {
                    return None;
                }
                let details = match details::parse(text, self.identity.require_identifier) {
                    Ok(d) => d,
                    Err(missing) => return Some(self.ask_missing(missing)),
                };
                let now = self.clock.now();
                Some(match self.identity.start(&turn.who, &details, now).await {
                    Started::CodeSent(pending) => {
                        let hint = pending.hint.clone();
                        state.waiting = Waiting::Code { pending, task };
                        self.code_sent(&hint)
                    }
                    other => self.not_started(state, other, Waiting::Details(task)),
                })
            }
            Waiting::Code { pending, task } => {
                if is_stop(normalized) {
                    state.waiting = Waiting::Nothing;
                    return Some(self.stopped());
                }
                if is_resend(normalized) {
                    let now = self.clock.now();
                    return Some(match self.identity.resend(&turn.who, &pending, now).await {
                        Started::CodeSent(pending) => {
                            let hint = pending.hint.clone();
                            state.waiting = Waiting::Code { pending, task };
                            self.code_sent(&hint)
                        }
                        other => self.not_started(state, other, Waiting::Code { pending, task }),
                    });
                }
                let code = OtpCode::parse(text)?;
                let now = self.clock.now();
                let checked = self.identity.check(&turn.who, &pending, &code, now).await;
                let mut answer = match checked {
                    Checked::Verified(patient) => {
                        state.waiting = Waiting::Nothing;
                        state.verified = Some(patient.clone());
                        let mut answer = self.run(turn, state, &patient, task).await;
                        answer.text = format!(
                            "Thank you, {}: you're verified for this chat. {}",
                            patient.given_name.expose(),
                            answer.text
                        );
                        answer
                    }
                    Checked::Wrong { left } => Answer::text(
                        "identity.code_wrong",
                        format!(
                            "That code didn't match. Please check the message and try again ({left} {} left for this code), or type \"new code\".",
                            if left == 1 { "try" } else { "tries" }
                        ),
                    ),
                    Checked::Spent => Answer::text(
                        "identity.code_spent",
                        "That code didn't match, and it can't be used any more. Type \"new code\" to get a new one.".to_owned(),
                    ),
                    Checked::Expired => Answer::text(
                        "identity.code_expired",
                        "That code has expired or was already used. Type \"new code\" to get a new one.".to_owned(),
                    ),
                    // Still waiting for a code: anything typed as one, the
                    // right code included, is refused while the lockout lasts.
                    Checked::Locked => self.locked(),
                    Checked::Unavailable => Answer::text(
                        "identity.unavailable",
                        format!("Sorry, I couldn't check that code just now. Please type it again in a moment, or call us at {phone}."),
                    ),
                };
                answer.was_code = true;
                Some(answer)
            }
        }
    }

    fn ask_details(&self) -> Answer {
        let mrn = if self.identity.require_identifier {
            ", your last name and your medical record number (it's on your clinic card). For example: 04/12/1980 Rivera MG-100234"
        } else {
            " and your last name. For example: 04/12/1980 Rivera"
        };
        Answer::text(
            "identity.details_needed",
            format!("To keep your information private, I need to confirm who you are first. Please type your date of birth (MM/DD/YYYY){mrn}. Type \"cancel\" to stop."),
        )
    }

    fn ask_missing(&self, missing: Missing) -> Answer {
        let what = match missing {
            Missing::BirthDate => "your date of birth with a four-digit year (MM/DD/YYYY)",
            Missing::Family => "your last name as well as your date of birth",
            Missing::Identifier => "your medical record number as well (it's on your clinic card)",
        };
        Answer::text(
            "identity.details_unclear",
            format!(
                "Sorry, I need {what}. Please type them together, for example: 04/12/1980 Rivera"
            ),
        )
    }

    fn code_sent(&self, hint: &str) -> Answer {
        let channel = match self.identity.channel() {
            "email" => "by email to the address on file starting with",
            _ => "by text message to the phone number on file ending in",
        };
        Answer::text(
            "identity.code_sent",
            format!(
                "Thanks. If those details match our records, we've sent a 6-digit code {channel} {hint}. Please type it here; it expires in {} minutes. Didn't get it? Type \"new code\". If your number has changed, please call us at {}.",
                self.identity.code_minutes(),
                self.clinic.phone
            ),
        )
    }

    fn not_started(&self, state: &mut ChatState, started: Started, keep: Waiting) -> Answer {
        match started {
            Started::CodeSent(_) => Answer::text("identity.code_sent", String::new()),
            Started::Locked => {
                state.waiting = Waiting::Nothing;
                self.locked()
            }
            Started::TooSoon { seconds } => {
                state.waiting = keep;
                Answer::text(
                    "identity.resend_wait",
                    format!("A code was sent a moment ago. Please wait {seconds} seconds before asking for another one."),
                )
            }
            Started::Unavailable => {
                state.waiting = keep;
                Answer::text(
                    "identity.unavailable",
                    format!("Sorry, I can't reach our records system to confirm who you are just now. Please try again in a few minutes, or call us at {}.", self.clinic.phone),
                )
            }
        }
    }

    fn locked(&self) -> Answer {
        Answer::text(
            "identity.locked",
            format!(
                "For your security, verification is locked after too many incorrect codes. Please call us at {} and our front desk will help you.",
                self.clinic.phone
            ),
        )
    }

    fn stopped(&self) -> Answer {
        Answer::text(
            "identity.cancelled",
            "Okay, I've stopped. Is there anything else I can help with?".to_owned(),
        )
    }

    fn unavailable(&self, state: &mut ChatState, retry: Retry) -> Answer {
        state.retry = Some(retry);
        Answer::text(
            "ehr.unavailable",
            format!(
                "Sorry, I couldn't reach our records system just now. Nothing you asked for is lost: type \"try again\" in a moment, or call us at {}.",
                self.clinic.phone
            ),
        )
    }

    fn ehr_failed(&self, state: &mut ChatState, e: EhrError, retry: Retry) -> Answer {
        match e {
            EhrError::Unavailable(_) => self.unavailable(state, retry),
            EhrError::NotFound => Answer::text(
                "ehr.not_found",
                "I couldn't find that any more; it may have changed. Ask me again to see the current details.".to_owned(),
            ),
            EhrError::Conflict(_) => Answer::text(
                "appointments.slot_taken",
                "Sorry, that time was just taken by someone else. Ask me again and I'll show you the times that are free now.".to_owned(),
            ),
            EhrError::Rejected(_) => Answer::text(
                "ehr.error",
                format!("Sorry, something went wrong with that request. Please call us at {} and we'll sort it out.", self.clinic.phone),
            ),
        }
    }

    fn appointment_item(&self, a: &Appointment, actions: Vec<CardAction>) -> CardItem {
        let (start, who, service, place) = (a.start, &a.practitioner_name, &a.service, &a.location);
        self.visit_item(start, who, service, place, actions)
    }

    fn slot_item(&self, s: &Slot, actions: Vec<CardAction>) -> CardItem {
        let (start, who, service, place) = (s.start, &s.practitioner_name, &s.service, &s.location);
        self.visit_item(start, who, service, place, actions)
    }

    /// A card line for a visit: "Tue, Dec 1 · 2:30 PM" over "Dr. Anika
    /// Patel · Checkup · Maple Grove Family Clinic".
    fn visit_item(
        &self,
        start: chrono::DateTime<chrono::Utc>,
        practitioner: &str,
        service: &str,
        location: &str,
        actions: Vec<CardAction>,
    ) -> CardItem {
        CardItem {
            title: booking::when(start, self.tz),
            detail: format!(
                "{practitioner} · {} · {location}",
                booking::service_name(service)
            ),
            actions,
        }
    }

    /// Does what a verified patient asked for.
    async fn run(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        patient: &PatientMatch,
        task: Task,
    ) -> Answer {
        let now = self.clock.now();
        let who = &turn.who;
        match &task {
            Task::Appointments | Task::Cancel | Task::Reschedule(_) => {
                let list = match self.records.upcoming(who, &patient.id, now).await {
                    Ok(list) => list.into_inner(),
                    Err(e) => return self.ehr_failed(state, e, Retry::Task(task)),
                };
                if list.is_empty() {
                    return Answer::text(
                        "appointments.none",
                        "You have no upcoming appointments with us. To book one, tell me what you need, for example \"a checkup next week\".".to_owned(),
                    );
                }
                let (intent, text, title) = match &task {
                    Task::Cancel => (
                        "appointments.cancel",
                        "Which appointment would you like to cancel?",
                        "Choose an appointment to cancel",
                    ),
                    Task::Reschedule(_) => (
                        "appointments.reschedule",
                        "Which appointment would you like to move?",
                        "Choose an appointment to move",
                    ),
                    _ => (
                        "appointments.list",
                        "Here are your upcoming appointments.",
                        "Your upcoming appointments",
                    ),
                };
                let items =
                    list.iter()
                        .map(|a| {
                            let actions = match &task {
                                Task::Cancel => {
                                    vec![state.offer("Cancel this", Offer::PickCancel(a.clone()))]
                                }
                                Task::Reschedule(wish) => vec![state
                                    .offer("Move this", Offer::PickMove(a.clone(), wish.clone()))],
                                _ => vec![
                                    state.offer(
                                        "Reschedule",
                                        Offer::PickMove(a.clone(), Phi::new(String::new())),
                                    ),
                                    state.offer("Cancel", Offer::PickCancel(a.clone())),
                                ],
                            };
                            self.appointment_item(a, actions)
                        })
                        .collect();
                Answer::text(intent, text.to_owned()).card("appointments", title, items, Vec::new())
            }
            Task::Book(request) => {
                let practitioners = match self.records.practitioners().await {
                    Ok(p) => p,
                    Err(e) => return self.ehr_failed(state, e, Retry::Task(task.clone())),
                };
                let today = now.with_timezone(&self.tz).date_naive();
                let wish = booking::understand(request.expose(), &practitioners, today);
                self.offer_slots(state, wish, None, Retry::Task(task.clone()))
                    .await
            }
            Task::Labs => {
                let orders = match self.records.lab_orders(who, &patient.id).await {
                    Ok(o) => o.into_inner(),
                    Err(e) => return self.ehr_failed(state, e, Retry::Task(task)),
                };
                if orders.is_empty() {
                    return Answer::text(
                        "labs.none",
                        "I don't see any lab orders for you right now.".to_owned(),
                    );
                }
                let ready = orders
                    .iter()
                    .filter(|o| o.status == LabStatus::Ready)
                    .count();
                let pending = orders.len() - ready;
                let mut text = String::new();
                if ready > 0 {
                    text.push_str(&format!(
                        "Results are ready for {ready} of your tests. I can't show results in this chat: please contact the office at {} and we'll go over them with you. ",
                        self.clinic.phone
                    ));
                }
                if pending > 0 {
                    text.push_str(&format!(
                        "{pending} {} still pending; we'll contact you when {} ready.",
                        if pending == 1 { "test is" } else { "tests are" },
                        if pending == 1 { "it's" } else { "they're" }
                    ));
                }
                let items = orders
                    .iter()
                    .map(|o| CardItem {
                        title: o.name.clone(),
                        detail: match (o.status, o.ordered) {
                            (LabStatus::Ready, _) => "Ready: please contact the office".to_owned(),
                            (LabStatus::Pending, Some(d)) => {
                                format!("Pending (ordered {})", d.format("%b %-d"))
                            }
                            (LabStatus::Pending, None) => "Pending".to_owned(),
                        },
                        actions: Vec::new(),
                    })
                    .collect();
                Answer::text("labs.status", text.trim_end().to_owned()).card(
                    "labs",
                    "Your lab orders",
                    items,
                    Vec::new(),
                )
            }
            Task::Refills => {
                let refills = match self.records.refills(who, &patient.id).await {
                    Ok(r) => r.into_inner(),
                    Err(e) => return self.ehr_failed(state, e, Retry::Task(task)),
                };
                if refills.is_empty() {
                    return Answer::text(
                        "refills.none",
                        "I don't see any prescriptions for you right now.".to_owned(),
                    );
                }
                let items = refills
                    .iter()
                    .map(|r| CardItem {
                        title: r.medication.clone(),
                        detail: match r.status {
                            RefillStatus::Active => "Active: ready to be filled at your pharmacy",
                            RefillStatus::OnHold => {
                                "On hold: waiting for the clinic; we'll contact you"
                            }
                            RefillStatus::Completed => "No refills left: please call the office",
                            RefillStatus::Stopped => "Stopped",
                            RefillStatus::Pending => "Being prepared",
                        }
                        .to_owned(),
                        actions: Vec::new(),
                    })
                    .collect();
                Answer::text(
                    "refills.status",
                    format!("Here is where your prescriptions stand. For anything else about a medication, please call us at {}.", self.clinic.phone),
                )
                .card("refills", "Your prescriptions", items, Vec::new())
            }
        }
    }

    /// Offers up to three free slots for a wish (to book, or to move
    /// `moving` to).
    async fn offer_slots(
        &self,
        state: &mut ChatState,
        wish: Wish,
        moving: Option<Appointment>,
        retry: Retry,
    ) -> Answer {
        let now = self.clock.now();
        let query = booking::query(&wish, now, self.tz);
        let slots = match self.records.free_slots(&query).await {
            Ok(s) => s,
            Err(e) => return self.ehr_failed(state, e, retry),
        };
        let picked = booking::pick(&slots, &wish, self.tz);
        if picked.is_empty() {
            return Answer::text(
                "appointments.no_slots",
                format!("I couldn't find a free time for that. Try another day or time of day, or call us at {}.", self.clinic.phone),
            );
        }
        let items = picked
            .iter()
            .map(|s| {
                let action = state.offer(
                    "Choose",
                    Offer::Slot {
                        slot: s.clone(),
                        moving: moving.clone(),
                    },
                );
                self.slot_item(s, vec![action])
            })
            .collect();
        let none = state.offer("None of these", Offer::Dismiss);
        let intent = if moving.is_some() {
            "appointments.reschedule"
        } else {
            "appointments.book"
        };
        Answer::text(
            intent,
            "Here are the first free times I found. Which one suits you?".to_owned(),
        )
        .card("slots", "Free times", items, vec![none])
    }

    /// Does what a card button stands for.
    async fn act(
        &self,
        turn: &Turn<'_>,
        state: &mut ChatState,
        patient: &PatientMatch,
        offer: Offer,
    ) -> Answer {
        let who = &turn.who;
        match offer.clone() {
            Offer::Dismiss => Answer::text(
                "card.dismissed",
                "No problem. Is there anything else I can help with?".to_owned(),
            ),
            Offer::Slot { slot, moving: None } => {
                let yes = state.offer("Yes, book it", Offer::ConfirmBook(slot.clone()));
                let no = state.offer("No", Offer::Dismiss);
                Answer::text("appointments.confirm", "Please confirm:".to_owned()).card(
                    "confirm",
                    "Book this appointment?",
                    vec![self.slot_item(&slot, Vec::new())],
                    vec![yes, no],
                )
            }
            Offer::Slot {
                slot,
                moving: Some(from),
            } => {
                let yes = state.offer(
                    "Yes, move it",
                    Offer::ConfirmMove {
                        from: from.clone(),
                        to: slot.clone(),
                    },
                );
                let no = state.offer("No", Offer::Dismiss);
                let mut old = self.appointment_item(&from, Vec::new());
                old.title = format!("From {}", old.title);
                let mut new = self.slot_item(&slot, Vec::new());
                new.title = format!("To {}", new.title);
                Answer::text("appointments.confirm", "Please confirm:".to_owned()).card(
                    "confirm",
                    "Move this appointment?",
                    vec![old, new],
                    vec![yes, no],
                )
            }
            Offer::ConfirmBook(slot) => match self.records.book(who, &patient.id, &slot.id).await {
                Ok(a) => {
                    let a = a.into_inner();
                    Answer::text(
                        "appointments.booked",
                        format!("You're booked. If you need to change it, just ask here or call us at {}.", self.clinic.phone),
                    )
                    .card("booked", "Appointment booked", vec![self.appointment_item(&a, Vec::new())], Vec::new())
                }
                Err(e) => self.ehr_failed(state, e, Retry::Offer(Box::new(offer))),
            },
            Offer::ConfirmMove { from, to } => {
                match self
                    .records
                    .reschedule(who, &patient.id, &from.id, &to.id)
                    .await
                {
                    Ok(a) => {
                        let a = a.into_inner();
                        Answer::text(
                            "appointments.rescheduled",
                            "Done: your appointment has been moved.".to_owned(),
                        )
                        .card(
                            "booked",
                            "Appointment moved",
                            vec![self.appointment_item(&a, Vec::new())],
                            Vec::new(),
                        )
                    }
                    Err(e) => self.ehr_failed(state, e, Retry::Offer(Box::new(offer))),
                }
            }
            Offer::PickCancel(a) => {
                let yes = state.offer("Yes, cancel it", Offer::ConfirmCancel(a.clone()));
                let no = state.offer("No, keep it", Offer::Dismiss);
                Answer::text("appointments.confirm", "Please confirm:".to_owned()).card(
                    "confirm",
                    "Cancel this appointment?",
                    vec![self.appointment_item(&a, Vec::new())],
                    vec![yes, no],
                )
            }
            Offer::ConfirmCancel(a) => match self.records.cancel(who, &patient.id, &a.id).await {
                Ok(()) => Answer::text(
                    "appointments.cancelled",
                    "Your appointment is cancelled. If you'd like another time, just tell me when."
                        .to_owned(),
                )
                .card(
                    "cancelled",
                    "Appointment cancelled",
                    vec![self.appointment_item(&a, Vec::new())],
                    Vec::new(),
                ),
                Err(e) => self.ehr_failed(state, e, Retry::Offer(Box::new(offer))),
            },
            Offer::PickMove(a, request) => {
                let practitioners = match self.records.practitioners().await {
                    Ok(p) => p,
                    Err(e) => return self.ehr_failed(state, e, Retry::Offer(Box::new(offer))),
                };
                let today = self.clock.now().with_timezone(&self.tz).date_naive();
                let mut wish = booking::understand(request.expose(), &practitioners, today);
                wish.practitioner_id
                    .get_or_insert_with(|| a.practitioner_id.clone());
                wish.service.get_or_insert_with(|| a.service.clone());
                self.offer_slots(state, wish, Some(a), Retry::Offer(Box::new(offer)))
                    .await
            }
        }
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

/// Whether the message asks about the patient's own records, and what.
fn account_task(normalized: &str, original: &str) -> Option<Task> {
    let has = |set: &[&str]| words(normalized).any(|w| set.contains(&w));
    let phrase = |p: &str| format!(" {normalized} ").contains(&format!(" {p} "));
    let own = has(&["my", "mine", "me", "i", "i'm", "im", "i've", "ive", "i'd"]);
    let appointment = has(&[
        "appointment",
        "appointments",
        "appt",
        "appts",
        "visit",
        "booking",
    ]);
    let request = Phi::new(original.to_owned());
    if has(&["cancel", "cancellation"]) && (appointment || own) {
        return Some(Task::Cancel);
    }
    if has(&["reschedule", "rebook"])
        || (has(&["move", "change", "push", "switch"]) && appointment && own)
    {
        return Some(Task::Reschedule(request));
    }
    let wants = has(&[
        "book", "schedule", "make", "need", "want", "get", "see", "like", "set",
    ]);
    let care = appointment
        || has(&[
            "checkup",
            "check-up",
            "physical",
            "dr",
            "doctor",
            "follow-up",
            "followup",
        ])
        || phrase("check up")
        || phrase("follow up");
    let asks_existing = has(&["upcoming", "have"]) || phrase("my next") || phrase("when is");
    if wants && care && !asks_existing {
        return Some(Task::Book(request));
    }
    if appointment && (own || has(&["next", "upcoming"])) {
        return Some(Task::Appointments);
    }
    let lab = has(&["lab", "labs", "bloodwork", "results", "result"]) || phrase("blood work");
    if lab && own {
        return Some(Task::Labs);
    }
    if has(&[
        "refill",
        "refills",
        "prescription",
        "prescriptions",
        "medication",
        "medications",
        "meds",
        "rx",
    ]) && own
    {
        return Some(Task::Refills);
    }
    None
}

/// "Cancel", "stop", "never mind": leave verification.
fn is_stop(normalized: &str) -> bool {
    matches!(
        normalized.trim_end_matches(['.', '!']),
        "cancel" | "stop" | "never mind" | "nevermind" | "nvm" | "forget it" | "quit"
    )
}

/// "Try again" after the EHR was unavailable.
fn is_retry(normalized: &str) -> bool {
    matches!(
        normalized.trim_end_matches(['.', '!']),
        "try again" | "retry" | "again" | "please try again" | "try again please"
    )
}

/// "New code", "resend": another one-time code.
fn is_resend(normalized: &str) -> bool {
    let n = normalized.trim_end_matches(['.', '!', '?']);
    n.contains("new code")
        || n.contains("resend")
        || n.contains("send again")
        || n.contains("another code")
        || n.contains("didn't get")
        || n.contains("didnt get")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::{Overrides, RawConfig};

    struct Setup {
        engine: Conversation,
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
        assert!(!s.engine.ledger.path().exists());
        assert!(s.store.transcript(&s.who.session).await.unwrap().is_empty());
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
            !s.engine.ledger.path().exists(),
            "a declined consent was written down"
        );
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
        let ledger = std::fs::read_to_string(s.engine.ledger.path()).unwrap();
        let record: serde_json::Value = serde_json::from_str(ledger.trim()).unwrap();
        assert_eq!(record["policy_version"], "2026-01");
        assert!(!ledger.contains(&s.sid.to_b64u()), "raw session id written");

        let first = s.say(&mut state, "m1", "hello").await;
        let again = s.say(&mut state, "m1", "something else entirely").await;
        assert_eq!(first, again, "a repeated id must get the same reply");
        let kept = s.store.transcript(&s.who.session).await.unwrap();
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
        let kept = s.store.transcript(&s.who.session).await.unwrap();
        let texts: Vec<&str> = kept.iter().map(|m| m.text.expose().as_str()).collect();
        assert!(texts.contains(&"[one-time code]"), "{texts:?}");
        assert!(!texts.iter().any(|t| t.contains(&code)), "{texts:?}");
    }

    #[test]
    fn requests_about_own_records_are_told_apart_from_clinic_questions() {
        let kind = |t: &str| {
            account_task(&t.to_lowercase(), t).map(|task| match task {
                Task::Appointments => "list",
                Task::Book(_) => "book",
                Task::Cancel => "cancel",
                Task::Reschedule(_) => "reschedule",
                Task::Labs => "labs",
                Task::Refills => "refills",
            })
        };
        assert_eq!(kind("When is my next appointment?"), Some("list"));
        assert_eq!(kind("do I have any upcoming appointments"), Some("list"));
        assert_eq!(
            kind("I need a checkup with Dr. Patel next Tuesday afternoon"),
            Some("book")
        );
        assert_eq!(kind("can I book an appointment with dr chen"), Some("book"));
        assert_eq!(kind("please cancel my appointment"), Some("cancel"));
        assert_eq!(kind("I need to reschedule"), Some("reschedule"));
        assert_eq!(
            kind("can I move my appointment to friday"),
            Some("reschedule")
        );
        assert_eq!(kind("are my lab results back?"), Some("labs"));
        assert_eq!(kind("is my refill ready"), Some("refills"));
        for clinic_question in [
            "what are your hours",
            "do you do lab tests",
            "where are you located",
            "do you accept blue cross",
        ] {
            assert_eq!(kind(clinic_question), None, "{clinic_question}");
        }
    }
}
