//! One row of the staff accounts table.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::admin::{SecondFactor, StaffAccount};
use crate::api::Role;
use crate::state::ConsoleState;
use crate::{calls, texts};

/// Every role, in the order the role menus list them.
pub const ROLES: [Role; 4] = [Role::FrontDesk, Role::Nurse, Role::Compliance, Role::Admin];

/// The role a menu value (`front_desk`, …) names.
pub fn role_from_value(value: &str) -> Option<Role> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).ok()
}

/// A role's menu value.
pub fn role_value(role: Role) -> &'static str {
    match role {
        Role::FrontDesk => "front_desk",
        Role::Nurse => "nurse",
        Role::Compliance => "compliance",
        Role::Admin => "admin",
    }
}

/// One account (`tr.cn-staff-row[data-username]`): its name, username, a
/// role menu (`select.cn-role`), its state (active, disabled, locked) and
/// the buttons "Disable"/"Enable" (`button.cn-disable`), "New second
/// factor" (`button.cn-reset-totp`) and, while locked, "Unlock"
/// (`button.cn-unlock`). The admin's own row cannot change its role or be
/// disabled.
#[component]
pub fn StaffAccountRow(
    /// The account.
    account: StaffAccount,
    /// Called after a change, to reload the list.
    on_change: Callback<()>,
    /// Called with a new second factor to show once.
    on_secret: Callback<SecondFactor>,
    /// Called with an error to show, or `None` to clear it.
    on_error: Callback<Option<String>>,
) -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let id = account.id;
    let done = move |result: Result<(), leptos::server_fn::error::ServerFnError>| match result {
        Ok(()) => {
            on_error.run(None);
            on_change.run(());
        }
        Err(e) => {
            on_error.run(Some(state.admin_failed(&e)));
            on_change.run(());
        }
    };
    let on_role = move |event: leptos::ev::Event| {
        let Some(role) = role_from_value(&event_target_value(&event)) else {
            return;
        };
        let csrf = state.csrf();
        spawn_local(async move { done(calls::admin::set_staff_role(csrf, id, role).await) });
    };
    let disabled = account.disabled;
    let on_disable = move |_| {
        let csrf = state.csrf();
        spawn_local(
            async move { done(calls::admin::set_staff_disabled(csrf, id, !disabled).await) },
        );
    };
    let on_unlock = move |_| {
        let csrf = state.csrf();
        spawn_local(async move { done(calls::admin::unlock_staff(csrf, id).await) });
    };
    let on_reset = move |_| {
        let csrf = state.csrf();
        spawn_local(async move {
            match calls::admin::reset_second_factor(csrf, id).await {
                Ok(factor) => {
                    on_error.run(None);
                    on_secret.run(factor);
                }
                Err(e) => on_error.run(Some(state.admin_failed(&e))),
            }
        });
    };
    let status = match (account.disabled, account.locked) {
        (true, _) => "Disabled",
        (false, true) => "Locked after failed sign-ins",
        (false, false) => "Active",
    };
    let select_id = format!("cn-role-{id}");
    let label = format!("Role of {}", account.name);
    let current = account.role;
    let options = ROLES
        .into_iter()
        .map(|role| {
            view! {
                <option value=role_value(role) selected=role == current>
                    {texts::role_label(role)}
                </option>
            }
        })
        .collect_view();
    let own = account.own;
    let locked = account.locked;
    view! {
        <tr class="cn-staff-row" data-username=account.username.clone()>
            <td>{account.name.clone()}{own.then_some(" (you)")}</td>
            <td>{account.username.clone()}</td>
            <td>
                <label class="cn-sr-only" for=select_id.clone()>{label}</label>
                <select id=select_id class="cn-role" disabled=own on:change=on_role>
                    {options}
                </select>
            </td>
            <td>{status}</td>
            <td class="cn-row-actions">
                <button type="button" class="cn-button cn-disable" disabled=own on:click=on_disable>
                    {if disabled { "Enable" } else { "Disable" }}
                </button>
                <button type="button" class="cn-button cn-reset-totp" on:click=on_reset>
                    "New second factor"
                </button>
                <Show when=move || locked>
                    <button type="button" class="cn-button cn-unlock" on:click=on_unlock>
                        "Unlock"
                    </button>
                </Show>
            </td>
        </tr>
    }
}
