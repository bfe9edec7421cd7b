//! Feedback counts: patients' thumbs up and down per intent, for compliance and admin.

use carechat_console::api::feedback::FeedbackBackend;

use super::Backend;

#[async_trait::async_trait]
impl FeedbackBackend for Backend {}
