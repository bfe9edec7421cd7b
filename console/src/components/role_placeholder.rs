//! The page compliance officers and admins see for now.

use leptos::prelude::*;

use crate::api::Role;
use crate::texts;

/// What is coming for the role (`.cn-placeholder[data-role]`): the audit
/// log and feedback counts for compliance, staff accounts and clinic
/// settings for admins. These roles never receive message text: the server
/// refuses them the queue and conversations, and this page asks for neither.
#[component]
pub fn RolePlaceholder(
    /// The signed-in role (compliance or admin).
    role: Role,
) -> impl IntoView {
    let (key, coming): (&str, &[&str]) = match role {
        Role::Compliance => (
            "compliance",
            &[
                "The audit log: who opened which conversation or record, and when.",
                "Feedback counts: how patients rated their chats, as numbers only.",
            ],
        ),
        Role::Admin => (
            "admin",
            &[
                "Staff accounts: add people, set their role, reset their sign-in.",
                "Clinic settings: opening hours, contact numbers, allowed web sites.",
            ],
        ),
        Role::FrontDesk | Role::Nurse => ("queue", &[]),
    };
    super::focus_soon(".cn-placeholder h1");
    view! {
        <section class="cn-placeholder" data-role=key aria-labelledby="cn-placeholder-title">
            <h1 id="cn-placeholder-title" tabindex="-1">
                {format!("{} tools are coming", texts::role_label(role))}
            </h1>
            <p>"This part of the console is not built yet. It will have:"</p>
            <ul>
                {coming.iter().map(|item| view! { <li>{*item}</li> }).collect_view()}
            </ul>
            <p>"Patients' messages are never shown to this role."</p>
        </section>
    }
}
