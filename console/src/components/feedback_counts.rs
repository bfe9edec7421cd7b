//! Patients' thumbs up and down on the assistant's replies, counted per
//! intent, for compliance and admin (numbers only, never message text).

use leptos::prelude::*;

/// The feedback table (`.cn-feedback`).
#[component]
pub fn FeedbackCounts() -> impl IntoView {
    view! {
        <section class="cn-feedback" aria-labelledby="cn-feedback-title">
            <h2 id="cn-feedback-title">"Feedback on the assistant's replies"</h2>
            <p>"No feedback has been counted yet."</p>
        </section>
    }
}
