//! The root component.

use leptos::either::EitherOf5;
use leptos::prelude::*;

use super::admin_page::AdminPage;
use super::compliance_page::CompliancePage;
use super::queue_page::QueuePage;
use super::sign_in_screen::SignInScreen;
use super::top_bar::TopBar;
use crate::api::Role;
use crate::realtime::Realtime;
use crate::state::{is_crisis, ConsoleState};
use crate::{alerts, texts};

/// How often waiting times move on, in milliseconds.
const TICK_MS: u64 = 15_000;

/// The whole console: asks who is signed in, keeps the realtime channel
/// open while a queue role is, keeps the tab title counting waiting crises,
/// and shows the screen for the session: sign-in, the queue (front desk and
/// nurse), compliance, or administration.
/// `.cn-shell[data-view]` says which.
#[component]
pub fn App() -> impl IntoView {
    let state = ConsoleState::new();
    provide_context(state);
    state.check_session();

    let realtime = Realtime::new(state);
    let works_queue = Memo::new(move |_| state.works_queue());
    Effect::new(move |_| {
        if works_queue.get() {
            realtime.connect();
            state.refresh_queue();
        } else {
            realtime.disconnect();
        }
    });

    let crisis_waiting = Memo::new(move |_| {
        state.queue.with(|queue| {
            queue
                .iter()
                .filter(|entry| is_crisis(entry) && entry.owner.is_none())
                .count()
        })
    });
    Effect::new(move |_| alerts::set_title(&texts::tab_title(crisis_waiting.get())));

    state.now.set(alerts::now_ms());
    let ticker = set_interval_with_handle(
        move || state.now.set(alerts::now_ms()),
        std::time::Duration::from_millis(TICK_MS),
    );
    on_cleanup(move || {
        if let Ok(ticker) = ticker {
            ticker.clear();
        }
    });

    let view_name = move || {
        if !state.ready.get() {
            "loading"
        } else {
            match state.me.with(|me| me.as_ref().map(|me| me.role)) {
                None => "sign-in",
                Some(Role::FrontDesk | Role::Nurse) => "queue",
                Some(Role::Compliance) => "compliance",
                Some(Role::Admin) => "admin",
            }
        }
    };
    let role = Memo::new(move |_| state.me.with(|me| me.as_ref().map(|me| me.role)));

    view! {
        <div class="cn-shell" data-view=view_name>
            <a class="cn-skip" href="#cn-main">"Skip to main content"</a>
            <Show when=move || role.get().is_some()>
                <TopBar/>
            </Show>
            <main id="cn-main" class="cn-main" tabindex="-1">
                {move || match (state.ready.get(), role.get()) {
                    (false, _) => EitherOf5::A(view! {
                        <p class="cn-loading" role="status">"Loading the console…"</p>
                    }),
                    (true, None) => EitherOf5::B(view! { <SignInScreen/> }),
                    (true, Some(Role::FrontDesk | Role::Nurse)) => {
                        EitherOf5::C(view! { <QueuePage/> })
                    }
                    (true, Some(Role::Compliance)) => EitherOf5::D(view! { <CompliancePage/> }),
                    (true, Some(Role::Admin)) => EitherOf5::E(view! { <AdminPage/> }),
                }}
            </main>
            <div class="cn-sr-only" role="status" aria-live="polite">
                {move || state.status.get()}
            </div>
            <div class="cn-sr-only" role="alert" aria-live="assertive">
                {move || state.alert.get()}
            </div>
        </div>
    }
}
