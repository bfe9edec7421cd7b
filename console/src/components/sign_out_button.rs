//! The "Sign out" button.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::calls;
use crate::state::{ConsoleState, Notice};

/// Ends the session on the server and forgets everything the console
/// showed (`button.cn-sign-out`). The screen goes back to sign-in even if
/// the server cannot be reached: this browser shows nothing more either way.
#[component]
pub fn SignOutButton() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let busy = RwSignal::new(false);
    let on_click = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let csrf = state.csrf();
        spawn_local(async move {
            let _ = calls::sign_out(csrf).await;
            state.signed_out(Some(Notice::SignedOut));
        });
    };
    view! {
        <button type="button" class="cn-button cn-sign-out" on:click=on_click>
            "Sign out"
        </button>
    }
}
