//! The admin's page: staff accounts and roles, and clinic settings (FAQ
//! entries, staffed hours, canned responses). Never message content: the
//! server refuses this role every conversation, and this page asks for none.

use leptos::either::EitherOf4;
use leptos::prelude::*;

use super::canned_responses_editor::CannedResponsesEditor;
use super::faq_editor::FaqEditor;
use super::feedback_counts::FeedbackCounts;
use super::staff_accounts::StaffAccounts;
use super::staffed_hours_form::StaffedHoursForm;

/// The page's screens, one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Screen {
    Staff,
    Hours,
    Canned,
    Faq,
}

impl Screen {
    const ALL: [Self; 4] = [Self::Staff, Self::Hours, Self::Canned, Self::Faq];

    fn label(self) -> &'static str {
        match self {
            Self::Staff => "Staff accounts",
            Self::Hours => "Staffed hours",
            Self::Canned => "Canned responses",
            Self::Faq => "FAQ entries",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Hours => "hours",
            Self::Canned => "canned",
            Self::Faq => "faq",
        }
    }
}

/// The admin page (`.cn-admin`): a row of screen buttons
/// (`nav.cn-admin-nav button[data-screen]`, the current one
/// `aria-current="page"`), then the screen (`.cn-admin-screen[data-screen]`
/// is `staff`, `hours`, `canned` or `faq`), then the feedback counts.
#[component]
pub fn AdminPage() -> impl IntoView {
    super::focus_soon(".cn-admin h1");
    let screen = RwSignal::new(Screen::Staff);
    let buttons = Screen::ALL
        .into_iter()
        .map(|s| {
            view! {
                <li>
                    <button
                        type="button"
                        class="cn-button cn-admin-tab"
                        data-screen=s.key()
                        aria-current=move || (screen.get() == s).then_some("page")
                        on:click=move |_| screen.set(s)
                    >
                        {s.label()}
                    </button>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="cn-page cn-admin" aria-labelledby="cn-admin-title">
            <h1 id="cn-admin-title" tabindex="-1">"Administration"</h1>
            <p>"Patients' messages are never shown to this role."</p>
            <nav class="cn-admin-nav" aria-label="Administration screens">
                <ul>{buttons}</ul>
            </nav>
            <div class="cn-admin-screen" data-screen=move || screen.get().key()>
                {move || match screen.get() {
                    Screen::Staff => EitherOf4::A(view! { <StaffAccounts/> }),
                    Screen::Hours => EitherOf4::B(view! { <StaffedHoursForm/> }),
                    Screen::Canned => EitherOf4::C(view! { <CannedResponsesEditor/> }),
                    Screen::Faq => EitherOf4::D(view! { <FaqEditor/> }),
                }}
            </div>
            <FeedbackCounts/>
        </section>
    }
}
