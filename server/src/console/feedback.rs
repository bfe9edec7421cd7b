//! Feedback counts: patients' thumbs up and down per intent, for compliance
//! and admin only (front desk and nurse are refused, as is anyone signed
//! out). Counts only, from [`crate::store::feedback`]: no single vote, no
//! time, no message text. Not an audit event: no patient's records or
//! words are read.

use carechat_console::api::feedback::{FeedbackBackend, IntentFeedback};
use carechat_console::api::{Refusal, RequestFacts};
use protocol::vocab::FeedbackReason;

use super::Backend;
use crate::staff;
use crate::store::feedback::IntentCounts;

/// Whether a role reads the feedback counts.
fn reads_feedback(role: staff::Role) -> bool {
    matches!(role, staff::Role::Compliance | staff::Role::Admin)
}

fn view(counts: &IntentCounts) -> IntentFeedback {
    IntentFeedback {
        intent: counts.intent.clone(),
        up: counts.up,
        down: counts.down,
        not_what_i_asked: counts.reason(FeedbackReason::NotWhatIAsked),
        hard_to_understand: counts.reason(FeedbackReason::HardToUnderstand),
        wrong_or_out_of_date: counts.reason(FeedbackReason::WrongOrOutOfDate),
        other: counts.reason(FeedbackReason::Other),
    }
}

#[async_trait::async_trait]
impl FeedbackBackend for Backend {
    async fn feedback_counts(&self, facts: &RequestFacts) -> Result<Vec<IntentFeedback>, Refusal> {
        let session = self.signed_in(facts).await?;
        if !reads_feedback(session.member.role) {
            return Err(Refusal::NotAllowed);
        }
        let counts = self.store.feedback_counts().await.map_err(|e| {
            tracing::error!(error = %e, "feedback counts could not be read");
            Refusal::Unavailable
        })?;
        Ok(counts.iter().map(view).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_compliance_and_admin_read_feedback() {
        assert!(reads_feedback(staff::Role::Compliance));
        assert!(reads_feedback(staff::Role::Admin));
        assert!(!reads_feedback(staff::Role::FrontDesk));
        assert!(!reads_feedback(staff::Role::Nurse));
    }
}
