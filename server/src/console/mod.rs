//! The staff console's backend: what a signed-in staff member may do with
//! the queue and its conversations, implemented for the console's server
//! functions ([`carechat_console::api::ConsoleBackend`]).
//!
//! Every call checks, in this order: the session (idle and absolute
//! expiry, in [`crate::staff`]), the request's `Origin` (it must be this
//! server's own), the CSRF token on every state change, and the role; then
//! it records its audit event. Reading a conversation is refused when its
//! audit event cannot be written. Compliance and admin roles never receive
//! message text: their calls here are refused, and the realtime channel is
//! not open to them.
//!
//! It does not own the queue ([`crate::handoff`]), the accounts
//! ([`crate::staff`]) or the patient's session ([`crate::sessions`]): staff
//! words reach the patient as `staff` messages pushed into their sealed
//! session.
//!
//! # Layout
//! This module holds the checks every call shares and the queue's calls;
//! each other area of the console implements its part of the backend in
//! its own file:
//! - `admin`: staff accounts and clinic settings (admin), canned responses.
//! - `feedback`: patients' feedback counts (compliance and admin).
//! - `passkey`: registering and signing in with passkeys.
//! - `records`: the audit log (compliance), the front-desk unlock, and a
//!   nurse's past transcripts.

mod admin;
mod feedback;
mod passkey;
mod records;

use std::sync::Arc;

use carechat_console::api::{
    ConsoleBackend, Conversation as ConsoleConversation, Event, Line, Me, QueueEntry, Reason,
    Refusal, RequestFacts, Role, SetCookie, Speaker,
};
use carechat_language::lang::Locale;
use chrono::{DateTime, Utc};
use protocol::vocab::NoticeCode;
use protocol::ServerMessage;
use rand_core::{OsRng, RngCore};
use tokio::sync::broadcast;

use crate::audit::{Actor, AuditAction, AuditEvent, AuditLog, AuditOutcome};
use crate::clock::Clock;
use crate::conversation::Conversation;
use crate::handoff::{self, Entry, HandoffError, Handoffs, Owner};
use crate::phi::Phi;
use crate::sessions::Sessions;
use crate::staff::{self, SignInError, Staff, StaffSession};
use crate::store::{Store, StoredMessage};

/// Longest staff message, in characters.
pub const MAX_STAFF_MESSAGE_CHARS: usize = 2000;

/// The backend, sharing the server's state.
pub struct Backend {
    staff: Staff,
    handoffs: Arc<Handoffs>,
    sessions: Arc<Sessions>,
    conversation: Arc<Conversation>,
    store: Store,
    audit: AuditLog,
    clock: Arc<dyn Clock>,
    /// The origins the console is served from (`https://carechat.example`);
    /// state changes and the realtime channel must come from one of them.
    origins: Vec<String>,
    /// Whether cookies get `Secure` (the server runs TLS).
    secure: bool,
    /// Console events, translated from the queue's.
    events: broadcast::Sender<Event>,
}

fn role_of(role: staff::Role) -> Role {
    match role {
        staff::Role::FrontDesk => Role::FrontDesk,
        staff::Role::Nurse => Role::Nurse,
        staff::Role::Compliance => Role::Compliance,
        staff::Role::Admin => Role::Admin,
    }
}

fn reason_of(reason: handoff::Reason) -> Reason {
    match reason {
        handoff::Reason::AskedForPerson => Reason::AskedForPerson,
        handoff::Reason::Crisis(c) => Reason::Crisis {
            category: c.as_str().to_owned(),
        },
        handoff::Reason::NotHelped => Reason::NotHelped,
        handoff::Reason::RecordsUnavailable => Reason::RecordsUnavailable,
    }
}

fn refused(e: HandoffError) -> Refusal {
    match e {
        HandoffError::Gone => Refusal::Gone,
        HandoffError::Taken | HandoffError::NotOwner => Refusal::Taken,
    }
}

impl Backend {
    /// Builds the backend and starts translating queue events for the
    /// console's realtime channel.
    #[allow(clippy::too_many_arguments)]
    #[must_use]
    pub fn new(
        staff: Staff,
        handoffs: Arc<Handoffs>,
        sessions: Arc<Sessions>,
        conversation: Arc<Conversation>,
        store: Store,
        audit: AuditLog,
        clock: Arc<dyn Clock>,
        origins: Vec<String>,
        secure: bool,
    ) -> Arc<Self> {
        let (events, _) = broadcast::channel(1024);
        let backend = Arc::new(Self {
            staff,
            handoffs,
            sessions,
            conversation,
            store,
            audit,
            clock,
            origins,
            secure,
            events,
        });
        let mut queue = backend.handoffs.subscribe();
        let weak = Arc::downgrade(&backend);
        tokio::spawn(async move {
            loop {
                let event = match queue.recv().await {
                    Ok(e) => e,
                    Err(broadcast::error::RecvError::Lagged(_)) => handoff::Event::QueueChanged,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let Some(backend) = weak.upgrade() else {
                    return;
                };
                let _ = backend.events.send(translate(event));
            }
        });
        backend
    }

    fn actor(session: &StaffSession) -> Actor {
        Actor::Staff(session.member.id.to_string())
    }

    /// A signed-in session, from the cookie.
    async fn signed_in(&self, facts: &RequestFacts) -> Result<StaffSession, Refusal> {
        let token = facts.session.as_deref().ok_or(Refusal::SignedOut)?;
        self.staff.session(token).await.map_err(|e| match e {
            staff::SessionError::Storage => Refusal::Unavailable,
            _ => Refusal::SignedOut,
        })
    }

    fn origin_ok(&self, facts: &RequestFacts) -> bool {
        facts
            .origin
            .as_deref()
            .is_some_and(|o| self.origins.iter().any(|mine| mine == o))
    }

    /// A session allowed to change something: right origin and CSRF token.
    async fn changing(&self, facts: &RequestFacts) -> Result<StaffSession, Refusal> {
        let session = self.signed_in(facts).await?;
        if !self.origin_ok(facts) {
            return Err(Refusal::BadRequest);
        }
        let presented = facts.csrf.as_deref().unwrap_or_default();
        if !self.staff.check_csrf(&session, presented).await {
            return Err(Refusal::BadRequest);
        }
        Ok(session)
    }

    fn chat_role(session: &StaffSession) -> Result<(), Refusal> {
        if session.member.role.can_chat() {
            Ok(())
        } else {
            Err(Refusal::NotAllowed)
        }
    }

    /// Records an audit event about a conversation; the caller refuses the
    /// action when it fails.
    async fn audit(
        &self,
        session: &StaffSession,
        facts: &RequestFacts,
        action: AuditAction,
        entry: &Entry,
    ) -> Result<(), Refusal> {
        let event = AuditEvent {
            actor: Self::actor(session),
            action,
            entity: Some(("Handoff".to_owned(), entry.id.clone())),
            outcome: AuditOutcome::Success,
            client_addr: facts.client,
            session: Some(entry.session_ref.clone()),
        };
        self.audit.record(event).await.map(|_| ()).map_err(|e| {
            tracing::error!(error = %e, "audit event not written; staff action refused");
            Refusal::Unavailable
        })
    }

    fn entry_view(&self, entry: &Entry, now: DateTime<Utc>) -> QueueEntry {
        QueueEntry {
            id: entry.id.clone(),
            reason: reason_of(entry.reason),
            waiting_secs: u64::try_from((now - entry.since).num_seconds()).unwrap_or(0),
            owner: entry.owner.as_ref().map(|o| o.name.clone()),
            locale: entry.locale.as_str().to_owned(),
            patient: entry.patient.clone(),
        }
    }

    /// A transcript's lines as staff read them; staff lines are kept under
    /// the account id, and shown with the member's name.
    async fn lines(&self, kept: Vec<StoredMessage>) -> Vec<Line> {
        let staff = self.staff.list().await.unwrap_or_default();
        let name_of = |role: &str| {
            role.strip_prefix("staff:")
                .and_then(|id| id.parse::<i64>().ok())
                .and_then(|id| staff.iter().find(|m| m.id == id))
                .map_or_else(|| "Staff".to_owned(), |m| m.display_name.clone())
        };
        kept.into_iter()
            .map(|m| Line {
                speaker: match m.role.as_str() {
                    "patient" => Speaker::Patient,
                    "assistant" => Speaker::Assistant,
                    other => Speaker::Staff {
                        name: name_of(other),
                    },
                },
                text: m.text.expose().clone(),
                at: m.at.to_rfc3339(),
            })
            .collect()
    }

    fn owner(session: &StaffSession) -> Owner {
        Owner {
            staff_id: session.member.id,
            name: session.member.display_name.clone(),
            role: session.member.role.as_str().to_owned(),
        }
    }

    fn me(session: &StaffSession) -> Me {
        Me {
            name: session.member.display_name.clone(),
            role: role_of(session.member.role),
            csrf: session.csrf.clone(),
        }
    }

    async fn tell_patient(&self, sid: &protocol::SessionId, messages: Vec<ServerMessage>) {
        if !self.sessions.push(sid, messages).await {
            tracing::debug!("the patient's session has ended");
        }
    }

    fn notice(&self, locale: Locale, code: NoticeCode, name: &str) -> ServerMessage {
        self.conversation.handoff_notice(locale, code, name)
    }
}

fn translate(event: handoff::Event) -> Event {
    match event {
        handoff::Event::QueueChanged => Event::QueueChanged,
        handoff::Event::Line {
            id,
            speaker,
            text,
            at,
        } => Event::Line {
            id,
            line: Line {
                speaker: match speaker {
                    handoff::Speaker::Patient => Speaker::Patient,
                    handoff::Speaker::Assistant => Speaker::Assistant,
                    handoff::Speaker::Staff(name) => Speaker::Staff { name },
                },
                text,
                at: at.to_rfc3339(),
            },
        },
        handoff::Event::PatientTyping { id } => Event::PatientTyping { id },
    }
}

#[async_trait::async_trait]
impl ConsoleBackend for Backend {
    async fn sign_in(
        &self,
        facts: &RequestFacts,
        username: &str,
        password: &str,
        code: &str,
    ) -> Result<(Me, SetCookie), Refusal> {
        if !self.origin_ok(facts) {
            return Err(Refusal::BadRequest);
        }
        match self
            .staff
            .sign_in(username, password, code, facts.client)
            .await
        {
            Ok(signed) => {
                let cookie = staff::session_cookie(&signed.token, self.secure, self.staff.policy());
                let me = Me {
                    name: signed.member.display_name.clone(),
                    role: role_of(signed.member.role),
                    csrf: signed.csrf.clone(),
                };
                Ok((me, cookie))
            }
            Err(SignInError::Refused) => Err(Refusal::BadCredentials),
            Err(SignInError::Locked) => Err(Refusal::Locked),
            Err(SignInError::Throttled) => Err(Refusal::Throttled),
            Err(SignInError::Storage) => Err(Refusal::Unavailable),
        }
    }

    async fn sign_out(&self, facts: &RequestFacts) -> Result<SetCookie, Refusal> {
        let _ = self.changing(facts).await?;
        if let Some(token) = facts.session.as_deref() {
            self.staff.sign_out(token).await;
        }
        Ok(staff::cleared_cookie(self.secure))
    }

    async fn me(&self, facts: &RequestFacts) -> Result<Me, Refusal> {
        self.signed_in(facts).await.map(|s| Self::me(&s))
    }

    async fn queue(&self, facts: &RequestFacts) -> Result<Vec<QueueEntry>, Refusal> {
        let session = self.signed_in(facts).await?;
        Self::chat_role(&session)?;
        let now = self.clock.now();
        Ok(self
            .handoffs
            .queue()
            .iter()
            .map(|e| self.entry_view(e, now))
            .collect())
    }

    async fn conversation(
        &self,
        facts: &RequestFacts,
        id: &str,
    ) -> Result<ConsoleConversation, Refusal> {
        let session = self.signed_in(facts).await?;
        Self::chat_role(&session)?;
        let (_, entry) = self.handoffs.get(id).ok_or(Refusal::Gone)?;
        self.audit(&session, facts, AuditAction::TranscriptRead, &entry)
            .await?;
        // Lines still on their way to the store belong to what staff read.
        self.conversation.flush_transcript().await;
        let kept = self
            .store
            .transcript(&entry.session_ref)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "transcript could not be read");
                Refusal::Unavailable
            })?;
        let lines = self.lines(kept).await;
        Ok(ConsoleConversation {
            entry: self.entry_view(&entry, self.clock.now()),
            lines,
        })
    }

    async fn pick_up(&self, facts: &RequestFacts, id: &str) -> Result<(), Refusal> {
        let session = self.changing(facts).await?;
        Self::chat_role(&session)?;
        let (_, entry) = self.handoffs.get(id).ok_or(Refusal::Gone)?;
        self.audit(&session, facts, AuditAction::HandoffPickup, &entry)
            .await?;
        let sid = self
            .handoffs
            .pick_up(id, Self::owner(&session))
            .map_err(refused)?;
        let notice = self.notice(
            entry.locale,
            NoticeCode::HandoffJoined,
            &session.member.display_name,
        );
        self.tell_patient(&sid, vec![notice]).await;
        Ok(())
    }

    async fn send(&self, facts: &RequestFacts, id: &str, text: &str) -> Result<(), Refusal> {
        let session = self.changing(facts).await?;
        Self::chat_role(&session)?;
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_STAFF_MESSAGE_CHARS {
            return Err(Refusal::BadRequest);
        }
        let sid = self
            .handoffs
            .owned_by(id, session.member.id)
            .map_err(refused)?;
        let (_, entry) = self.handoffs.get(id).ok_or(Refusal::Gone)?;
        self.audit(&session, facts, AuditAction::StaffMessage, &entry)
            .await?;
        let now = self.clock.now();
        let name = session.member.display_name.clone();
        if let Err(e) = self
            .store
            .append_message(
                &entry.session_ref,
                &format!("staff:{}", session.member.id),
                &Phi::new(text.to_owned()),
                now,
            )
            .await
        {
            tracing::error!(error = %e, "staff message not stored");
            return Err(Refusal::Unavailable);
        }
        let mut bytes = [0u8; 9];
        OsRng.fill_bytes(&mut bytes);
        let message_id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.tell_patient(
            &sid,
            vec![ServerMessage::Staff {
                id: message_id,
                name: name.clone(),
                role: session.member.role.as_str().to_owned(),
                text: text.to_owned(),
            }],
        )
        .await;
        self.handoffs
            .line(&sid, handoff::Speaker::Staff(name), text, now);
        Ok(())
    }

    async fn typing(&self, facts: &RequestFacts, id: &str) -> Result<(), Refusal> {
        let session = self.changing(facts).await?;
        Self::chat_role(&session)?;
        let sid = self
            .handoffs
            .owned_by(id, session.member.id)
            .map_err(refused)?;
        self.tell_patient(
            &sid,
            vec![ServerMessage::Typing {
                name: session.member.display_name.clone(),
            }],
        )
        .await;
        Ok(())
    }

    async fn hand_back(&self, facts: &RequestFacts, id: &str) -> Result<(), Refusal> {
        self.release(
            facts,
            id,
            AuditAction::HandoffReturned,
            NoticeCode::HandoffReturned,
        )
        .await
    }

    async fn close(&self, facts: &RequestFacts, id: &str) -> Result<(), Refusal> {
        self.release(
            facts,
            id,
            AuditAction::HandoffClosed,
            NoticeCode::HandoffClosed,
        )
        .await
    }

    async fn events(&self, facts: &RequestFacts) -> Result<broadcast::Receiver<Event>, Refusal> {
        let session = self.signed_in(facts).await?;
        if !self.origin_ok(facts) {
            return Err(Refusal::BadRequest);
        }
        Self::chat_role(&session)?;
        let token = facts.session.clone().unwrap_or_default();
        Ok(follow(self.events.subscribe(), self.staff.clone(), token))
    }
}

/// How often an open channel re-checks its session when nothing happens.
const CHANNEL_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);
/// Events one channel may fall behind by before it is ended.
const CHANNEL_BUFFER: usize = 256;

/// One console's realtime channel: the shared events, passed on only while
/// the session that opened it is signed in with a role that may see chats.
/// Each event is checked before it goes, and the session is re-checked
/// every few seconds between events (without counting as activity), so a
/// sign-out, an expiry, a disabled account or a change to a role without
/// chats ends the channel and nothing more reaches that browser.
fn follow(
    mut shared: broadcast::Receiver<Event>,
    staff: Staff,
    token: String,
) -> broadcast::Receiver<Event> {
    let (tx, rx) = broadcast::channel(CHANNEL_BUFFER);
    tokio::spawn(async move {
        let allowed = |staff: &Staff, token: &str| {
            let staff = staff.clone();
            let token = token.to_owned();
            async move {
                staff
                    .session_quietly(&token)
                    .await
                    .is_ok_and(|s| s.member.role.can_chat())
            }
        };
        let mut recheck = tokio::time::interval(CHANNEL_RECHECK);
        recheck.tick().await;
        loop {
            tokio::select! {
                event = shared.recv() => {
                    // Lagged or closed: the channel ends; the console
                    // reconnects and fetches what it missed.
                    let Ok(event) = event else { return };
                    if !allowed(&staff, &token).await || tx.send(event).is_err() {
                        return;
                    }
                }
                _ = recheck.tick() => {
                    if tx.receiver_count() == 0 || !allowed(&staff, &token).await {
                        return;
                    }
                }
            }
        }
    });
    rx
}

impl Backend {
    async fn release(
        &self,
        facts: &RequestFacts,
        id: &str,
        action: AuditAction,
        code: NoticeCode,
    ) -> Result<(), Refusal> {
        let session = self.changing(facts).await?;
        Self::chat_role(&session)?;
        self.handoffs
            .owned_by(id, session.member.id)
            .map_err(refused)?;
        let (_, entry) = self.handoffs.get(id).ok_or(Refusal::Gone)?;
        self.audit(&session, facts, action, &entry).await?;
        let sid = self
            .handoffs
            .release(id, session.member.id)
            .map_err(refused)?;
        let notice = self.notice(entry.locale, code, &session.member.display_name);
        self.tell_patient(&sid, vec![notice]).await;
        Ok(())
    }
}
