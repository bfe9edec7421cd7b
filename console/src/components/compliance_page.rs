//! The compliance officer's page: the audit log (search, verify, export)
//! and feedback counts. Never message content: the server refuses this
//! role every conversation, and this page asks for none.

use leptos::prelude::*;

use super::audit_log::AuditLog;
use super::feedback_counts::FeedbackCounts;

/// The compliance page (`.cn-compliance`).
#[component]
pub fn CompliancePage() -> impl IntoView {
    super::focus_soon(".cn-compliance h1");
    view! {
        <section class="cn-page cn-compliance" aria-labelledby="cn-compliance-title">
            <h1 id="cn-compliance-title" tabindex="-1">"Compliance"</h1>
            <p>"Patients' messages are never shown to this role."</p>
            <AuditLog/>
            <FeedbackCounts/>
        </section>
    }
}
