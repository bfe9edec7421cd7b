//! The admin's staff accounts screen.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::new_staff_form::NewStaffForm;
use super::second_factor_notice::SecondFactorNotice;
use super::staff_account_row::StaffAccountRow;
use crate::api::admin::{SecondFactor, StaffAccount};
use crate::calls;
use crate::state::ConsoleState;

/// Every staff account (`table.cn-staff`, one `tr.cn-staff-row[data-username]`
/// each) with what an admin can do to it, the form that adds one, and,
/// after an add or a second-factor reset, the secret to hand over
/// (shown once, until dismissed). Errors show in `.cn-error`.
#[component]
pub fn StaffAccounts() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let accounts = RwSignal::new(Vec::<StaffAccount>::new());
    let error = RwSignal::new(None::<String>);
    let shown = RwSignal::new(None::<SecondFactor>);
    let reload = move || {
        spawn_local(async move {
            match calls::admin::staff_accounts().await {
                Ok(list) => accounts.set(list),
                Err(e) => error.set(Some(state.admin_failed(&e))),
            }
        });
    };
    reload();
    let on_change = Callback::new(move |()| reload());
    let on_secret = Callback::new(move |factor: SecondFactor| {
        shown.set(Some(factor));
        reload();
    });
    let on_error = Callback::new(move |message: Option<String>| error.set(message));

    view! {
        <section class="cn-admin-section" aria-labelledby="cn-staff-title">
            <h2 id="cn-staff-title">"Staff accounts"</h2>
            <p class="cn-error" role="alert">{move || error.get()}</p>
            {move || shown.get().map(|factor| view! {
                <SecondFactorNotice factor on_done=Callback::new(move |()| shown.set(None))/>
            })}
            <table class="cn-staff">
                <caption class="cn-sr-only">"Staff accounts"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Username"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>
                    <For
                        each=move || accounts.get()
                        key=|a| (a.id, super::staff_account_row::role_value(a.role), a.disabled, a.locked)
                        children=move |account| view! {
                            <StaffAccountRow account on_change on_secret on_error/>
                        }
                    />
                </tbody>
            </table>
            <NewStaffForm on_secret/>
        </section>
    }
}
