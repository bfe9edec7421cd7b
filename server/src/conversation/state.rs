//! What one session's conversation remembers between messages: consent, the
//! language, the patient once verified, what the engine is waiting for, the
//! card buttons it offered, and the answers it gave (so a re-sent id gets
//! the same reply). Not `Debug`: it holds PHI.

use std::collections::{HashMap, VecDeque};

use carechat_language::lang::Locale;
use carechat_language::safety::Category;
use protocol::vocab::Intent;
use protocol::{CardAction, ServerMessage};
use rand_core::{OsRng, RngCore};

use crate::consent::ConsentState;
use crate::ehr::{Appointment, PatientMatch, Slot};
use crate::identity::details::Details;
use crate::identity::PendingCode;
use crate::phi::Phi;

/// How many answered ids a session remembers for de-duplication.
const ANSWERED_LIMIT: usize = 512;
/// How many card actions a session holds at once (older ones expire).
const OFFER_LIMIT: usize = 64;

/// Something about the patient's own records they asked for.
#[derive(Clone)]
pub(super) enum Task {
    Appointments,
    Book(Phi<String>),
    Cancel,
    Reschedule(Phi<String>),
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
#[derive(Clone)]
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
    PickMove(Appointment, Phi<String>),
    /// One of the intents a clarifying question offered, with what the
    /// patient first wrote (a booking request keeps its day and time).
    Meant {
        intent: String,
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
#[derive(Clone, Default)]
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
#[derive(Clone)]
pub(super) enum Retry {
    Task(Task),
    Offer(Box<Offer>),
}

/// The per-session conversation state.
#[derive(Default)]
pub struct ChatState {
    /// Consent so far.
    pub consent: ConsentState,
    /// The language replies are written in.
    pub locale: Locale,
    /// What the safety screen found in this session, most recent last
    /// (categories only, never the words): the staff queue's priority.
    pub escalations: Vec<Category>,
    pub(super) answered: HashMap<String, Vec<ServerMessage>>,
    answered_order: VecDeque<String>,
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
        if self.answered_order.len() == ANSWERED_LIMIT {
            if let Some(old) = self.answered_order.pop_front() {
                self.answered.remove(&old);
            }
        }
        self.answered_order.push_back(id.clone());
        self.answered.insert(id, replies);
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
