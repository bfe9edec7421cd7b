//! The conversation's side of a handoff to a person: queueing the chat
//! (the patient asked, a crisis, two answers that did not help, the EHR
//! failed) with words that say what happens next, and staying quiet while
//! a person owns it. The queue itself is [`crate::handoff`].

use carechat_language::lang::Locale;
use protocol::vocab::{Intent, NoticeCode};
use protocol::ServerMessage;

use super::answer::{notice, Answer};
use super::state::ChatState;
use super::{Conversation, Turn};
use crate::booking;
use crate::handoff::Reason;
use crate::i18n::Arg;

/// Answers in a row that did not help before a person is asked to join.
pub(super) const NOT_HELPED_LIMIT: u8 = 2;

impl Conversation {
    /// Queues the chat for a person; the notice says what happens next.
    pub(super) fn queue_for_person(
        &self,
        turn: &Turn<'_>,
        state: &ChatState,
        reason: Reason,
    ) -> ServerMessage {
        let (code, text) = self.queue_words(turn, state, reason);
        notice(code, text)
    }

    /// Queues the chat for a person and says what happens next: the place
    /// in the queue, or outside staffed hours when the clinic opens.
    fn queue_words(
        &self,
        turn: &Turn<'_>,
        state: &ChatState,
        reason: Reason,
    ) -> (NoticeCode, String) {
        let locale = state.locale;
        let now = self.clock.now();
        let patient = state
            .verified
            .as_ref()
            .map(|p| p.given_name.expose().clone());
        let position =
            self.handoffs
                .enqueue(turn.sid, &turn.who.session, reason, locale, patient, now);
        let hours = self.live.staffed_hours();
        if !hours.is_open(now, self.tz) {
            let opens = hours
                .next_open(now, self.tz)
                .map(|at| booking::when(at.with_timezone(&chrono::Utc), self.tz, locale))
                .unwrap_or_default();
            return (
                NoticeCode::HandoffAfterHours,
                self.t(
                    locale,
                    "handoff-after-hours",
                    &[("opens", Arg::from(&opens))],
                ),
            );
        }
        let key = match (reason, position) {
            (Reason::Crisis(_), _) => "handoff-queued-crisis",
            (_, None) => "handoff-already-joined",
            _ => "handoff-queued",
        };
        (
            NoticeCode::HandoffQueued,
            self.t(
                locale,
                key,
                &[("position", Arg::from(position.unwrap_or(1)))],
            ),
        )
    }

    /// The reply to "can I talk to a person": the chat is queued.
    pub(super) fn person_asked(&self, turn: &Turn<'_>, state: &ChatState) -> Answer {
        let (_, text) = self.queue_words(turn, state, Reason::AskedForPerson);
        Answer {
            escalated: true,
            ..Answer::text(Intent::HandoffPerson, text)
        }
    }

    /// Counts answers that did not help; at the limit, asks a person to
    /// join (once: a queued chat stays queued).
    pub(super) fn note_help(&self, turn: &Turn<'_>, state: &mut ChatState, answer: &mut Answer) {
        let unhelpful = answer.intent == Intent::FallbackUnknown.as_str();
        state.not_helped = if unhelpful {
            state.not_helped.saturating_add(1)
        } else {
            0
        };
        let records_down = answer.intent == Intent::EhrUnavailable.as_str();
        let queued = self.handoffs.for_session(turn.sid).is_some();
        if queued {
            return;
        }
        let reason = if records_down {
            Reason::RecordsUnavailable
        } else if state.not_helped >= NOT_HELPED_LIMIT {
            Reason::NotHelped
        } else {
            return;
        };
        answer.escalated = true;
        answer
            .after
            .push(self.queue_for_person(turn, state, reason));
    }

    /// The reply to a message while a person owns the chat: nothing to show
    /// (the message went to them).
    pub(super) fn delivered(&self) -> Answer {
        Answer::text(Intent::HandoffDelivered, String::new())
    }

    /// What the patient reads when a person joins, hands the chat back or
    /// closes it.
    #[must_use]
    pub fn handoff_notice(&self, locale: Locale, code: NoticeCode, name: &str) -> ServerMessage {
        let key = match code {
            NoticeCode::HandoffJoined => "handoff-joined",
            NoticeCode::HandoffReturned => "handoff-returned",
            _ => "handoff-closed",
        };
        notice(code, self.t(locale, key, &[("name", Arg::from(name))]))
    }
}
