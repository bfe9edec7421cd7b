//! The admin's page: staff accounts and roles, and clinic settings (FAQ
//! entries, staffed hours, canned responses). Never message content: the
//! server refuses this role every conversation, and this page asks for none.

use leptos::prelude::*;

use super::feedback_counts::FeedbackCounts;

/// The admin page (`.cn-admin`).
#[component]
pub fn AdminPage() -> impl IntoView {
    super::focus_soon(".cn-admin h1");
    view! {
        <section class="cn-page cn-admin" aria-labelledby="cn-admin-title">
            <h1 id="cn-admin-title" tabindex="-1">"Administration"</h1>
            <p>"Patients' messages are never shown to this role."</p>
            <FeedbackCounts/>
        </section>
    }
}
