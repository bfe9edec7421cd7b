//! The patient's thumbs up or down on the assistant's replies: what a
//! session remembers to take them ([`Replies`]: the intent of each recent
//! reply, and the random id of the row its vote went to), and the handling
//! of a `feedback` message.
//!
//! Rules:
//! - Only replies given after consent are remembered (before it nothing is
//!   kept), and only those that take feedback
//!   ([`protocol::vocab::takes_feedback`]: not crisis or emergency
//!   guidance, not a message delivered to a person). Anything else is an
//!   `unknown_reply` error.
//! - Each reply counts once: a later vote on the same reply replaces the
//!   earlier one (its row is updated, not added to). Re-sending the same
//!   vote after a reconnect changes nothing.
//! - A reason goes only with a thumbs down; with a thumbs up it is an
//!   `invalid_feedback` error, as is a `feedback` the transport could not
//!   read at all ([`Conversation::invalid_feedback`]). Neither ends the
//!   session.
//! - An accepted vote is not answered. What is stored is the intent, the
//!   vote, the reason and the hour ([`crate::store::feedback`]): no message
//!   text, nothing about the session or the patient. What the session
//!   remembers here holds no message text either.
//!
//! It does not own the table or the counts (`store::feedback`) nor who may
//! read them (`crate::console`).
//!
//! # In a session snapshot
//! [`Replies`] is written as the list of `(id, intent, row)` of the newest
//! [`SNAPSHOT_REPLIES`] replies, oldest first: a vote on an older one after
//! the session resumed is an `unknown_reply`. The row id goes with it, so a
//! changed vote after a resume still changes the one row.

use std::collections::{HashMap, VecDeque};

use protocol::vocab::{takes_feedback, ErrorCode, FeedbackReason, Vote};
use protocol::ServerMessage;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::answer::error;
use super::state::ChatState;
use super::Conversation;
use crate::store::feedback::{Feedback, FeedbackId};

/// How many replies a session can still take a vote on (older ones are
/// forgotten, and a vote on them is an `unknown_reply`).
const REPLIES_LIMIT: usize = 512;
/// How many of them a session snapshot keeps (it is written every turn).
const SNAPSHOT_REPLIES: usize = 64;

/// One reply that takes feedback.
struct Replied {
    /// The reply's intent (`faq.hours`).
    intent: String,
    /// The row the patient's vote went to, once they voted.
    row: Option<FeedbackId>,
}

/// The replies of a session that take feedback, by the id they answered:
/// their intent and, once voted on, their row. Bounded; no message text.
/// Serialized as the replies not voted on yet (see the module docs).
#[derive(Default)]
pub struct Replies {
    by_id: HashMap<String, Replied>,
    order: VecDeque<String>,
}

impl Serialize for Replies {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let skip = self.order.len().saturating_sub(SNAPSHOT_REPLIES);
        serializer.collect_seq(self.order.iter().skip(skip).filter_map(|id| {
            let replied = self.by_id.get(id)?;
            Some((id.as_str(), replied.intent.as_str(), replied.row.as_ref()))
        }))
    }
}

impl<'de> Deserialize<'de> for Replies {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut replies = Self::default();
        for (id, intent, row) in
            Vec::<(String, String, Option<FeedbackId>)>::deserialize(deserializer)?
        {
            replies.replied(&id, &intent);
            if let Some(replied) = replies.by_id.get_mut(&id) {
                replied.row = row;
            }
        }
        Ok(replies)
    }
}

impl Replies {
    /// Remembers that the reply to `id` was given under `intent`, if
    /// replies under it take feedback.
    pub(super) fn replied(&mut self, id: &str, intent: &str) {
        if !takes_feedback(intent) {
            return;
        }
        if self.by_id.contains_key(id) {
            self.order.retain(|known| known != id);
        } else if self.order.len() == REPLIES_LIMIT {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
        self.order.push_back(id.to_owned());
        self.by_id.insert(
            id.to_owned(),
            Replied {
                intent: intent.to_owned(),
                row: None,
            },
        );
    }

    /// The intent of the reply to `id` and its row id (made on the first
    /// vote), or `None` for a reply not remembered.
    fn vote_on(&mut self, id: &str) -> Option<(&str, &FeedbackId)> {
        let replied = self.by_id.get_mut(id)?;
        let row = replied.row.get_or_insert_with(FeedbackId::random);
        Some((replied.intent.as_str(), row))
    }
}

impl Conversation {
    /// Takes one `feedback`; answers nothing when it was accepted.
    pub(super) async fn feedback(
        &self,
        state: &mut ChatState,
        in_reply_to: &str,
        vote: Vote,
        reason: Option<FeedbackReason>,
    ) -> Vec<ServerMessage> {
        if vote == Vote::Up && reason.is_some() {
            return vec![self.invalid_feedback(state)];
        }
        let locale = state.locale;
        let Some((intent, row)) = state.feedback.vote_on(in_reply_to) else {
            return vec![error(
                ErrorCode::UnknownReply,
                self.t(locale, "error-unknown-reply", &[]),
            )];
        };
        let feedback = Feedback {
            intent,
            vote,
            reason,
            at: self.clock.now(),
        };
        if let Err(e) = self.store.save_feedback(row, &feedback).await {
            // The chat goes on; the vote is lost. No intent in the log: with
            // its time it could tie a session to a topic.
            tracing::error!(error = %e, "feedback not stored");
        }
        Vec::new()
    }

    /// The answer to a `feedback` with missing or invalid fields.
    #[must_use]
    pub fn invalid_feedback(&self, state: &ChatState) -> ServerMessage {
        error(
            ErrorCode::InvalidFeedback,
            self.t(state.locale, "error-invalid-feedback", &[]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_replies_that_take_feedback_and_keeps_one_row_per_reply() {
        let mut replies = Replies::default();
        replies.replied("m0", "faq.hours");
        replies.replied("m1", "safety.crisis");
        replies.replied("m2", "handoff.delivered");
        let first = replies
            .vote_on("m0")
            .map(|(i, r)| (i.to_owned(), r.clone()));
        let again = replies
            .vote_on("m0")
            .map(|(i, r)| (i.to_owned(), r.clone()));
        assert_eq!(first.as_ref().map(|(i, _)| i.as_str()), Some("faq.hours"));
        assert_eq!(first, again, "a second vote goes to the same row");
        assert!(replies.vote_on("m1").is_none());
        assert!(replies.vote_on("m2").is_none());
        assert!(replies.vote_on("m9").is_none());
    }

    #[test]
    fn forgets_the_oldest_replies_beyond_the_limit() {
        let mut replies = Replies::default();
        for n in 0..=REPLIES_LIMIT {
            replies.replied(&format!("m{n}"), "faq.hours");
        }
        assert!(replies.vote_on("m0").is_none());
        assert!(replies.vote_on("m1").is_some());
        assert!(replies.vote_on(&format!("m{REPLIES_LIMIT}")).is_some());
        assert_eq!(replies.by_id.len(), REPLIES_LIMIT);
        assert_eq!(replies.order.len(), REPLIES_LIMIT);
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_snapshot_keeps_the_newest_replies_with_their_rows() {
        let mut replies = Replies::default();
        for n in 0..=SNAPSHOT_REPLIES {
            replies.replied(&format!("m{n}"), "faq.hours");
        }
        let row = replies.vote_on("m1").map(|(_, row)| row.clone()).unwrap();
        let json = serde_json::to_string(&replies).unwrap();
        let mut back: Replies = serde_json::from_str(&json).unwrap();
        assert_eq!(back.order.len(), SNAPSHOT_REPLIES);
        assert!(back.vote_on("m0").is_none(), "the oldest is left out");
        assert_eq!(
            back.vote_on("m1").map(|(_, r)| r.clone()),
            Some(row),
            "a changed vote after a resume goes to the same row"
        );
    }
}
