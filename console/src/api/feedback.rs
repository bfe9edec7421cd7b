//! Feedback counts: patients' thumbs up and down per intent, for compliance
//! and admin.
//!
//! The types that cross the wire for this area and, with the `ssr`
//! feature, the part of the backend the server implements. Counts only:
//! no single vote, no time, no message text, nothing about a session.

use serde::{Deserialize, Serialize};

/// The votes on the replies of one intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentFeedback {
    /// The intent's name (`faq.hours`, `appointments.list`, ...).
    pub intent: String,
    /// Thumbs up.
    pub up: u64,
    /// Thumbs down, with or without a reason.
    pub down: u64,
    /// Thumbs down, "Not what I asked".
    pub not_what_i_asked: u64,
    /// Thumbs down, "Hard to understand".
    pub hard_to_understand: u64,
    /// Thumbs down, "Wrong or out of date".
    pub wrong_or_out_of_date: u64,
    /// Thumbs down, "Other".
    pub other: u64,
}

/// The server's side of this area; part of [`super::ConsoleBackend`].
/// Every method defaults to `Unavailable`, so a backend that does not
/// serve this area (a test double) need not spell it out.
#[allow(unused_variables)]
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait FeedbackBackend: Send + Sync + 'static {
    /// The votes per intent, intents in alphabetical order (compliance
    /// and admin only).
    async fn feedback_counts(
        &self,
        facts: &super::RequestFacts,
    ) -> Result<Vec<IntentFeedback>, super::Refusal> {
        Err(super::Refusal::Unavailable)
    }
}
