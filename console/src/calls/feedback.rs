//! The server function for feedback counts: patients' thumbs up and down
//! per intent, for compliance and admin (the backend checks the role).

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::{refused, ssr};
use crate::api::feedback::IntentFeedback;

/// The votes on the assistant's replies, per intent (compliance and admin).
#[server(name = FeedbackCountsCall, prefix = "/console/api", endpoint = "feedback_counts")]
pub async fn feedback_counts() -> Result<Vec<IntentFeedback>, ServerFnError> {
    let (backend, facts) = ssr::context(None).await?;
    backend.feedback_counts(&facts).await.map_err(refused)
}
