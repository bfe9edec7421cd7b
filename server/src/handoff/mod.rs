//! Handoff: the staff queue, and who from the clinic owns each
//! conversation.
//!
//! A conversation enters the queue when the patient asks for a person, on
//! every crisis or emergency (first in the queue, with its category), after
//! two answers in a row that did not help, or when the EHR fails on
//! something the patient needs. Front-desk staff and nurses see the queue
//! in the console, read what was said, and pick a conversation up; while a
//! person owns it the assistant stays quiet (the safety screen still runs
//! on every message, and a crisis still raises the conversation to the top).
//! The person hands it back to the assistant or closes it.
//!
//! This module owns the queue's state and its events; it does not own the
//! patient's session (the transport delivers staff messages through
//! [`crate::sessions::Sessions::push`]), the staff's rights (the console
//! backend checks roles), or the transcript (kept in the store). The queue
//! lives in this process's memory for now: a restart empties it, and
//! sessions (also in memory) end with it.
//!
//! # Layout
//! - [`hours`]: the clinic's staffed hours, for "we open at…".

pub mod hours;

use std::sync::Mutex;

use carechat_language::lang::Locale;
use carechat_language::safety::Category;
use chrono::{DateTime, Utc};
use protocol::SessionId;
use rand_core::{OsRng, RngCore};
use tokio::sync::broadcast;

/// Why a conversation is waiting for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The patient asked for a person.
    AskedForPerson,
    /// The safety screen found a crisis or emergency.
    Crisis(Category),
    /// Two answers in a row did not help.
    NotHelped,
    /// The EHR failed on something the patient needed.
    RecordsUnavailable,
}

impl Reason {
    fn urgent(self) -> bool {
        matches!(self, Self::Crisis(_))
    }
}

/// The staff member who owns a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Their account id.
    pub staff_id: i64,
    /// Display name, shown to the patient.
    pub name: String,
    /// Role as the patient reads it (`front_desk`, `nurse`).
    pub role: String,
}

/// A queue entry as the console sees it (no session id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Opaque id of this handoff.
    pub id: String,
    /// The session's digest, under which its transcript is kept.
    pub session_ref: String,
    /// Why it is queued (a crisis replaces any other reason).
    pub reason: Reason,
    /// When it was queued.
    pub since: DateTime<Utc>,
    /// Who owns it, once picked up.
    pub owner: Option<Owner>,
    /// The chat's language.
    pub locale: Locale,
    /// For a verified patient, their name.
    pub patient: Option<String>,
}

/// Who said a line, for the console's live view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Speaker {
    /// The patient.
    Patient,
    /// The assistant.
    Assistant,
    /// A staff member, by display name.
    Staff(String),
}

/// What happens in the queue, for the console's realtime channel. Lines
/// carry what was said: only the console backend subscribes, and it passes
/// them only to roles that may read them.
#[derive(Debug, Clone)]
pub enum Event {
    /// An entry was added, raised, picked up or removed.
    QueueChanged,
    /// Something was said in a queued or owned conversation.
    Line {
        /// The handoff id.
        id: String,
        /// Who said it.
        speaker: Speaker,
        /// What was said.
        text: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The patient is typing in an owned conversation.
    PatientTyping {
        /// The handoff id.
        id: String,
    },
}

/// Why a staff action on the queue failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandoffError {
    /// No such entry (handed back, closed, or the session ended).
    #[error("no such conversation in the queue")]
    Gone,
    /// Someone else owns it.
    #[error("someone else owns this conversation")]
    Taken,
    /// The caller does not own it.
    #[error("this conversation is not yours")]
    NotOwner,
}

struct Item {
    sid: SessionId,
    entry: Entry,
}

/// The queue, shared by the conversation engine and the console.
pub struct Handoffs {
    items: Mutex<Vec<Item>>,
    events: broadcast::Sender<Event>,
}

impl Default for Handoffs {
    fn default() -> Self {
        Self::new()
    }
}

impl Handoffs {
    /// An empty queue.
    #[must_use]
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(1024);
        Self {
            items: Mutex::new(Vec::new()),
            events,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Item>> {
        // A panic while holding the lock leaves a queue that is still
        // consistent (every change is one push, remove or assignment).
        self.items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn changed(&self) {
        let _ = self.events.send(Event::QueueChanged);
    }

    /// Queues a conversation, or raises it to a crisis if it is already
    /// queued; returns its place among the conversations nobody owns yet
    /// (1 is next), or `None` when someone already owns it.
    pub fn enqueue(
        &self,
        sid: &SessionId,
        session_ref: &str,
        reason: Reason,
        locale: Locale,
        patient: Option<String>,
        now: DateTime<Utc>,
    ) -> Option<usize> {
        {
            let mut items = self.lock();
            match items.iter_mut().find(|i| i.sid == *sid) {
                Some(item) => {
                    if reason.urgent() && !item.entry.reason.urgent() {
                        item.entry.reason = reason;
                    }
                    item.entry.locale = locale;
                    if patient.is_some() {
                        item.entry.patient = patient;
                    }
                }
                None => {
                    let mut bytes = [0u8; 12];
                    OsRng.fill_bytes(&mut bytes);
                    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                    items.push(Item {
                        sid: *sid,
                        entry: Entry {
                            id,
                            session_ref: session_ref.to_owned(),
                            reason,
                            since: now,
                            owner: None,
                            locale,
                            patient,
                        },
                    });
                }
            }
        }
        self.changed();
        self.position(sid)
    }

    /// The queue, crisis conversations first, then oldest first.
    #[must_use]
    pub fn queue(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = self.lock().iter().map(|i| i.entry.clone()).collect();
        entries.sort_by_key(|e| (!e.reason.urgent(), e.since));
        entries
    }

    /// A conversation's place among those nobody owns (1 is next).
    #[must_use]
    pub fn position(&self, sid: &SessionId) -> Option<usize> {
        let queue = self.queue();
        let waiting: Vec<&Entry> = queue.iter().filter(|e| e.owner.is_none()).collect();
        let items = self.lock();
        let mine = items.iter().find(|i| i.sid == *sid)?;
        if mine.entry.owner.is_some() {
            return None;
        }
        waiting
            .iter()
            .position(|e| e.id == mine.entry.id)
            .map(|p| p + 1)
    }

    /// The entry for a session, if queued or owned.
    #[must_use]
    pub fn for_session(&self, sid: &SessionId) -> Option<Entry> {
        self.lock()
            .iter()
            .find(|i| i.sid == *sid)
            .map(|i| i.entry.clone())
    }

    /// An entry and its session, by handoff id.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<(SessionId, Entry)> {
        self.lock()
            .iter()
            .find(|i| i.entry.id == id)
            .map(|i| (i.sid, i.entry.clone()))
    }

    /// Gives the conversation to `owner`.
    ///
    /// # Errors
    /// [`HandoffError::Gone`] or [`HandoffError::Taken`].
    pub fn pick_up(&self, id: &str, owner: Owner) -> Result<SessionId, HandoffError> {
        let sid = {
            let mut items = self.lock();
            let item = items
                .iter_mut()
                .find(|i| i.entry.id == id)
                .ok_or(HandoffError::Gone)?;
            match &item.entry.owner {
                Some(current) if current.staff_id != owner.staff_id => {
                    return Err(HandoffError::Taken)
                }
                _ => item.entry.owner = Some(owner),
            }
            item.sid
        };
        self.changed();
        Ok(sid)
    }

    /// The session of a conversation `staff_id` owns.
    ///
    /// # Errors
    /// [`HandoffError::Gone`] or [`HandoffError::NotOwner`].
    pub fn owned_by(&self, id: &str, staff_id: i64) -> Result<SessionId, HandoffError> {
        let items = self.lock();
        let item = items
            .iter()
            .find(|i| i.entry.id == id)
            .ok_or(HandoffError::Gone)?;
        match &item.entry.owner {
            Some(o) if o.staff_id == staff_id => Ok(item.sid),
            _ => Err(HandoffError::NotOwner),
        }
    }

    /// Takes the conversation out of the queue (handed back or closed by
    /// its owner).
    ///
    /// # Errors
    /// [`HandoffError::Gone`] or [`HandoffError::NotOwner`].
    pub fn release(&self, id: &str, staff_id: i64) -> Result<SessionId, HandoffError> {
        let sid = self.owned_by(id, staff_id)?;
        self.lock().retain(|i| i.entry.id != id);
        self.changed();
        Ok(sid)
    }

    /// Forgets a session that ended.
    pub fn forget(&self, sid: &SessionId) {
        let before = {
            let mut items = self.lock();
            let before = items.len();
            items.retain(|i| i.sid != *sid);
            before != items.len()
        };
        if before {
            self.changed();
        }
    }

    /// Forgets an expired session, by the digest it goes by.
    pub fn forget_ref(&self, session_ref: &str) {
        let removed = {
            let mut items = self.lock();
            let before = items.len();
            items.retain(|i| i.entry.session_ref != session_ref);
            before != items.len()
        };
        if removed {
            self.changed();
        }
    }

    /// The owner of a session's conversation, if a person has it.
    #[must_use]
    pub fn owner(&self, sid: &SessionId) -> Option<Owner> {
        self.for_session(sid).and_then(|e| e.owner)
    }

    /// Passes a line said in a queued or owned conversation to the console.
    pub fn line(&self, sid: &SessionId, speaker: Speaker, text: &str, at: DateTime<Utc>) {
        if let Some(entry) = self.for_session(sid) {
            let _ = self.events.send(Event::Line {
                id: entry.id,
                speaker,
                text: text.to_owned(),
                at,
            });
        }
    }

    /// The patient is typing.
    pub fn patient_typing(&self, sid: &SessionId) {
        if let Some(entry) = self.for_session(sid) {
            if entry.owner.is_some() {
                let _ = self.events.send(Event::PatientTyping { id: entry.id });
            }
        }
    }

    /// Events from now on.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sid(n: u8) -> SessionId {
        SessionId([n; 16])
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn nurse(id: i64) -> Owner {
        Owner {
            staff_id: id,
            name: "Sam Rivera".into(),
            role: "nurse".into(),
        }
    }

    #[test]
    fn a_crisis_goes_first_and_raises_a_queued_conversation() {
        let q = Handoffs::new();
        let t = now();
        assert_eq!(
            q.enqueue(&sid(1), "a", Reason::AskedForPerson, Locale::En, None, t),
            Some(1)
        );
        assert_eq!(
            q.enqueue(&sid(2), "b", Reason::NotHelped, Locale::Es, None, t),
            Some(2)
        );
        let crisis = Reason::Crisis(Category::SelfHarm);
        assert_eq!(
            q.enqueue(&sid(3), "c", crisis, Locale::En, None, t),
            Some(1)
        );
        assert_eq!(q.position(&sid(1)), Some(2));
        // The second one's own crisis raises it above the first.
        q.enqueue(
            &sid(2),
            "b",
            Reason::Crisis(Category::Abuse),
            Locale::Es,
            None,
            t,
        );
        let order: Vec<_> = q.queue().iter().map(|e| e.session_ref.clone()).collect();
        assert_eq!(order, ["b", "c", "a"].map(String::from));
        // A crisis is never lowered by a later, milder reason.
        q.enqueue(&sid(3), "c", Reason::AskedForPerson, Locale::En, None, t);
        assert!(q
            .queue()
            .iter()
            .all(|e| e.session_ref == "a" || e.reason.urgent()));
    }

    #[test]
    fn one_owner_at_a_time_and_only_the_owner_releases() {
        let q = Handoffs::new();
        q.enqueue(
            &sid(1),
            "a",
            Reason::AskedForPerson,
            Locale::En,
            None,
            now(),
        );
        let id = q.queue()[0].id.clone();
        let mut events = q.subscribe();
        assert_eq!(q.pick_up(&id, nurse(7)), Ok(sid(1)));
        assert!(matches!(events.try_recv(), Ok(Event::QueueChanged)));
        assert_eq!(q.pick_up(&id, nurse(8)), Err(HandoffError::Taken));
        assert_eq!(q.owner(&sid(1)).map(|o| o.staff_id), Some(7));
        assert_eq!(q.position(&sid(1)), None);
        assert_eq!(q.release(&id, 8), Err(HandoffError::NotOwner));
        assert_eq!(q.release(&id, 7), Ok(sid(1)));
        assert_eq!(q.release(&id, 7), Err(HandoffError::Gone));
        assert!(q.owner(&sid(1)).is_none());
    }

    #[test]
    fn lines_reach_subscribers_only_for_queued_conversations() {
        let q = Handoffs::new();
        let mut events = q.subscribe();
        q.line(&sid(1), Speaker::Patient, "hello", now());
        assert!(events.try_recv().is_err());
        q.enqueue(
            &sid(1),
            "a",
            Reason::AskedForPerson,
            Locale::En,
            None,
            now(),
        );
        let _ = events.try_recv();
        q.line(&sid(1), Speaker::Patient, "hello", now());
        assert!(matches!(
            events.try_recv(),
            Ok(Event::Line {
                speaker: Speaker::Patient,
                ..
            })
        ));
        q.forget(&sid(1));
        assert!(q.queue().is_empty());
    }
}
