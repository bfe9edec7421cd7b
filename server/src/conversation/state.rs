//! What one session's conversation remembers between messages: consent, the
//! language, the patient once verified, what the engine is waiting for, the
//! card buttons it offered, and the answers it gave (so a re-sent id gets
//! the same reply). Not `Debug`: it holds PHI.
//!
//! # Snapshots
//! [`ChatState`] is `Serialize` and `Deserialize` so that a session can be
//! written to the database and resumed by another server, or after a
//! restart. The store seals the snapshot (AES-256-GCM) before it leaves
//! memory: it holds PHI, whose fields opt in one by one
//! ([`crate::phi::sealed_serde`]). Never serialize it for anything else (a
//! log line, an API response). Two things are written differently:
//! - the answered ids: only the [`SNAPSHOT_ANSWERED`] most recent, with
//!   their replies ([`Answered`]);
//! - the message allowance's last refill, as wall-clock time
//!   ([`crate::clock::instant_serde`]).

use std::collections::{HashMap, VecDeque};

use carechat_language::lang::Locale;
use carechat_language::safety::Category;
use protocol::vocab::Intent;
use protocol::{CardAction, ServerMessage};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::consent::ConsentState;
use crate::ehr::{Appointment, PatientMatch, Slot};
use crate::identity::details::Details;
use crate::identity::PendingCode;
use crate::phi::Phi;

/// How many answered ids a session remembers for de-duplication.
const ANSWERED_LIMIT: usize = 512;
/// How many of them (the most recent) a snapshot keeps.
const SNAPSHOT_ANSWERED: usize = 4;
/// How many card actions a session holds at once (older ones expire).
const OFFER_LIMIT: usize = 64;

/// Something about the patient's own records they asked for.
#[derive(Clone, Serialize, Deserialize)]
pub(super) enum Task {
    Appointments,
    Book(#[serde(with = "crate::phi::sealed_serde")] Phi<String>),
    Cancel,
    Reschedule(#[serde(with = "crate::phi::sealed_serde")] Phi<String>),
    Labs,
    Refills,
}

impl Task {
    /// The task a built-in intent stands for, with what the patient wrote
    /// (a booking or a move keeps its day and time); `None` for intents
    /// that are not about the patient's records.
    pub(super) fn for_intent(intent: &str, text: &str) -> Option<Self> {
        let request = || Phi::new(text.to_owned());
        Some(match Intent::parse(intent)? {
            Intent::AppointmentsList => Self::Appointments,
            Intent::AppointmentsBook => Self::Book(request()),
            Intent::AppointmentsCancel => Self::Cancel,
            Intent::AppointmentsReschedule => Self::Reschedule(request()),
            Intent::LabsStatus => Self::Labs,
            Intent::RefillsStatus => Self::Refills,
            _ => return None,
        })
    }
}

/// What a card button does, remembered under its random action id.
#[derive(Clone, Serialize, Deserialize)]
pub(super) enum Offer {
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
    PickMove(
        Appointment,
        #[serde(with = "crate::phi::sealed_serde")] Phi<String>,
    ),
    /// One of the intents a clarifying question offered, with what the
    /// patient first wrote (a booking request keeps its day and time).
    Meant {
        intent: String,
        #[serde(with = "crate::phi::sealed_serde")]
        request: Phi<String>,
    },
    Dismiss,
}

impl Offer {
    /// Whether pressing it needs a verified patient.
    pub(super) fn needs_patient(&self) -> bool {
        !matches!(self, Self::Meant { .. } | Self::Dismiss)
    }
}

/// What the engine is waiting for from the patient.
#[derive(Clone, Default, Serialize, Deserialize)]
pub(super) enum Waiting {
    #[default]
    Nothing,
    /// Date of birth and last name, then `task`. `unreached` holds details
    /// the EHR could not be asked about just now: "try again" asks again.
    Details {
        task: Task,
        unreached: Option<Details>,
    },
    /// The one-time code, then `Task`.
    Code { pending: PendingCode, task: Task },
}

impl Waiting {
    /// Waiting for details, none typed yet.
    pub(super) fn details(task: Task) -> Self {
        Self::Details {
            task,
            unreached: None,
        }
    }
}

/// Work the EHR could not do; "try again" does it.
#[derive(Clone, Serialize, Deserialize)]
pub(super) enum Retry {
    Task(Task),
    Offer(Box<Offer>),
}

/// The ids a session answered, with the replies each got, so that a
/// re-sent id gets the same ones: the most recent [`ANSWERED_LIMIT`].
///
/// A snapshot keeps only the [`SNAPSHOT_ANSWERED`] most recent, oldest
/// first (all of them, each with its replies, would make every snapshot
/// large): a widget that resumes re-sends only the messages it has no
/// answer to, which are the last few, far fewer than that. An older id
/// re-sent after a resume is answered afresh.
#[derive(Default)]
pub(super) struct Answered {
    by_id: HashMap<String, Vec<ServerMessage>>,
    order: VecDeque<String>,
}

impl Answered {
    fn remember(&mut self, id: String, replies: Vec<ServerMessage>) {
        if self.order.len() == ANSWERED_LIMIT {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
        self.order.push_back(id.clone());
        self.by_id.insert(id, replies);
    }

    /// The replies `id` got, if it was answered.
    pub(super) fn get(&self, id: &str) -> Option<&Vec<ServerMessage>> {
        self.by_id.get(id)
    }

    /// Whether no id was answered.
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

impl Serialize for Answered {
    /// The most recent [`SNAPSHOT_ANSWERED`] ids, oldest first, each with
    /// its replies: `[[id, [reply, ...]], ...]`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let skip = self.order.len().saturating_sub(SNAPSHOT_ANSWERED);
        serializer.collect_seq(
            self.order
                .iter()
                .skip(skip)
                .filter_map(|id| Some((id, self.by_id.get(id)?))),
        )
    }
}

impl<'de> Deserialize<'de> for Answered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut answered = Self::default();
        for (id, replies) in Vec::<(String, Vec<ServerMessage>)>::deserialize(deserializer)? {
            answered.remember(id, replies);
        }
        Ok(answered)
    }
}

/// The per-session conversation state. Serializable for the session
/// snapshot only, which the store seals (see the module docs).
#[derive(Default, Serialize, Deserialize)]
pub struct ChatState {
    /// Consent so far.
    pub consent: ConsentState,
    /// The language replies are written in.
    pub locale: Locale,
    /// What the safety screen found in this session, most recent last
    /// (categories only, never the words): the staff queue's priority.
    pub escalations: Vec<Category>,
    pub(super) answered: Answered,
    pub(super) verified: Option<PatientMatch>,
    pub(super) waiting: Waiting,
    offers: HashMap<String, Offer>,
    offer_order: VecDeque<String>,
    pub(super) retry: Option<Retry>,
    /// Answers in a row that did not help.
    pub(super) not_helped: u8,
    /// The replies that take feedback, and the patient's votes on them.
    pub(super) feedback: super::feedback::Replies,
    /// How many more messages this session may send, and how fast; `None`
    /// is unlimited (the transport sets it from `[limits]`).
    pub allowance: Option<crate::rate_limit::MessageAllowance>,
}

impl ChatState {
    /// A new session's state, in the clinic's language.
    #[must_use]
    pub fn new(locale: Locale) -> Self {
        Self {
            locale,
            ..Self::default()
        }
    }

    pub(super) fn remember(&mut self, id: String, replies: Vec<ServerMessage>) {
        self.answered.remember(id, replies);
    }

    /// A card button for `offer`, under a fresh random id.
    pub(super) fn offer(&mut self, label: String, offer: Offer) -> CardAction {
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
        CardAction::choose(id, label)
    }

    /// Takes the offer behind a card button (each works once).
    pub(super) fn take_offer(&mut self, action: &str) -> Option<Offer> {
        self.offers.remove(action)
    }

    /// Whether the session belongs to a verified patient.
    #[must_use]
    pub fn verified(&self) -> bool {
        self.verified.is_some()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn replies_to(n: usize) -> Vec<ServerMessage> {
        vec![ServerMessage::Error {
            code: "test".into(),
            text: format!("reply to m{n}"),
        }]
    }

    #[test]
    fn a_snapshot_keeps_only_the_last_answered_ids_in_order() {
        let mut state = ChatState::default();
        let total = SNAPSHOT_ANSWERED + 8;
        for n in 0..total {
            state.remember(format!("m{n}"), replies_to(n));
        }
        let json = serde_json::to_string(&state).unwrap();
        let back: ChatState = serde_json::from_str(&json).unwrap();
        let kept: Vec<String> = (total - SNAPSHOT_ANSWERED..total)
            .map(|n| format!("m{n}"))
            .collect();
        assert_eq!(back.answered.order, kept);
        assert_eq!(back.answered.by_id.len(), SNAPSHOT_ANSWERED);
        for n in 0..total - SNAPSHOT_ANSWERED {
            assert!(back.answered.get(&format!("m{n}")).is_none(), "m{n} kept");
        }
        for n in total - SNAPSHOT_ANSWERED..total {
            assert_eq!(
                back.answered.get(&format!("m{n}")),
                Some(&replies_to(n)),
                "m{n}"
            );
        }
        // The rebuilt order still evicts the oldest first.
        let mut back = back;
        for n in total..total + ANSWERED_LIMIT - SNAPSHOT_ANSWERED + 1 {
            back.remember(format!("m{n}"), replies_to(n));
        }
        assert_eq!(back.answered.order.len(), ANSWERED_LIMIT);
        let oldest_kept = total - SNAPSHOT_ANSWERED;
        assert!(back.answered.get(&format!("m{oldest_kept}")).is_none());
        assert!(back
            .answered
            .get(&format!("m{}", oldest_kept + 1))
            .is_some());
    }

    #[test]
    fn a_category_is_written_under_its_stable_name() {
        for category in Category::BY_SEVERITY {
            let json = serde_json::to_string(&category).unwrap();
            assert_eq!(json, format!("\"{}\"", category.as_str()));
            assert_eq!(serde_json::from_str::<Category>(&json).unwrap(), category);
        }
    }

    #[test]
    fn a_short_history_is_kept_whole() {
        let mut state = ChatState::default();
        for n in 0..3 {
            state.remember(format!("m{n}"), replies_to(n));
        }
        let json = serde_json::to_string(&state).unwrap();
        let back: ChatState = serde_json::from_str(&json).unwrap();
        assert_eq!(back.answered.order, ["m0", "m1", "m2"]);
        assert_eq!(back.answered.get("m1"), Some(&replies_to(1)));
    }
}
