//! The form that adds a staff account.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::staff_account_row::{role_from_value, role_value, ROLES};
use crate::api::admin::{NewStaff, SecondFactor};
use crate::api::Role;
use crate::state::ConsoleState;
use crate::{calls, texts};

/// `form.cn-new-staff`: username (`#cn-new-username`), display name
/// (`#cn-new-name`), role (`#cn-new-role`) and an initial password of at
/// least 12 characters (`#cn-new-password`), then "Add account"
/// (`button.cn-add-staff`). On success the fields clear and the new
/// account's second factor goes to `on_secret`; the password is cleared
/// after every attempt.
#[component]
pub fn NewStaffForm(
    /// Called with the new account's second factor, to show once.
    on_secret: Callback<SecondFactor>,
) -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let username = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::FrontDesk);
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let new = NewStaff {
            username: username.get_untracked(),
            name: name.get_untracked(),
            role: role.get_untracked(),
            password: password.get_untracked(),
        };
        password.set(String::new());
        let csrf = state.csrf();
        spawn_local(async move {
            let result = calls::admin::add_staff(csrf, new).await;
            busy.set(false);
            match result {
                Ok(factor) => {
                    error.set(None);
                    username.set(String::new());
                    name.set(String::new());
                    on_secret.run(factor);
                }
                Err(e) => error.set(Some(state.admin_failed(&e))),
            }
        });
    };
    let options = ROLES
        .into_iter()
        .map(|r| view! { <option value=role_value(r)>{texts::role_label(r)}</option> })
        .collect_view();
    view! {
        <form class="cn-form cn-new-staff" on:submit=on_submit novalidate>
            <h3>"Add a staff account"</h3>
            <label for="cn-new-username">"Username"</label>
            <input id="cn-new-username" type="text" autocomplete="off" autocapitalize="none"
                spellcheck="false" required bind:value=username/>
            <label for="cn-new-name">"Display name"</label>
            <input id="cn-new-name" type="text" autocomplete="off" required bind:value=name/>
            <label for="cn-new-role">"Role"</label>
            <select id="cn-new-role" on:change=move |event| {
                if let Some(r) = role_from_value(&event_target_value(&event)) {
                    role.set(r);
                }
            }>
                {options}
            </select>
            <label for="cn-new-password">"Initial password"</label>
            <p id="cn-new-password-hint" class="cn-hint">
                "At least 12 characters. Hand it over in person, with the second factor."
            </p>
            <input id="cn-new-password" type="password" autocomplete="new-password" required
                aria-describedby="cn-new-password-hint" bind:value=password/>
            <p class="cn-error" role="alert">{move || error.get()}</p>
            <button type="submit" class="cn-button cn-primary cn-add-staff"
                aria-busy=move || busy.get().to_string()>
                "Add account"
            </button>
        </form>
    }
}
