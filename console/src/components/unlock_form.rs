//! Front desk ending a patient's verification lockout.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::records::{UnlockReason, UnlockRequest, Unlocked};
use crate::state::ConsoleState;
use crate::{calls, texts};

/// The words for each reason in the form.
fn reason_label(reason: UnlockReason) -> &'static str {
    match reason {
        UnlockReason::PhoneCall => "The patient phoned and I confirmed who they are",
        UnlockReason::InPerson => "The patient is here at the desk",
        UnlockReason::NotTheirAttempts => "The failed attempts were not the patient's",
    }
}

/// What the desk reads after an unlock.
fn outcome_text(outcome: &Unlocked) -> String {
    match outcome {
        Unlocked::Unlocked { given_name } => {
            format!("Unlocked. {given_name} can verify in the chat again now.")
        }
        Unlocked::NotLocked { given_name } => format!(
            "{given_name} was not locked out. Their failed attempts are reset; they can verify now."
        ),
        Unlocked::NoMatch => {
            "No patient has these details. Check the spelling and the date of birth.".to_owned()
        }
    }
}

/// The unlock form (`form.cn-unlock`): last name, date of birth, record
/// number where the clinic asks for one, and a reason from a fixed list.
/// The outcome shows in `.cn-unlock-result` and is announced. The form
/// clears after each try, so no patient's details stay on screen.
#[component]
pub fn UnlockForm() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let family = RwSignal::new(String::new());
    let birth_date = RwSignal::new(String::new());
    let identifier = RwSignal::new(String::new());
    let reason = RwSignal::new(UnlockReason::PhoneCall.name().to_owned());
    let result = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let Some(reason) = UnlockReason::from_name(&reason.get_untracked()) else {
            return;
        };
        let request = UnlockRequest {
            family: family.get_untracked(),
            birth_date: birth_date.get_untracked(),
            identifier: identifier.get_untracked(),
            reason,
        };
        busy.set(true);
        let csrf = state.csrf();
        spawn_local(async move {
            let text = match calls::records::unlock(csrf, request).await {
                Ok(outcome) => {
                    family.set(String::new());
                    birth_date.set(String::new());
                    identifier.set(String::new());
                    outcome_text(&outcome)
                }
                Err(e) => texts::refusal_text(state.refused(&e)).to_owned(),
            };
            state.status.set(text.clone());
            result.set(Some(text));
            busy.set(false);
        });
    };
    view! {
        <section class="cn-tool" aria-labelledby="cn-unlock-title">
            <h2 id="cn-unlock-title">"Unlock a patient's verification"</h2>
            <p class="cn-hint">
                "For a patient locked out of verifying in the chat. Confirm who they are first."
            </p>
            <form class="cn-unlock" on:submit=on_submit>
                <label for="cn-unlock-family">"Last name"</label>
                <input
                    id="cn-unlock-family"
                    type="text"
                    autocomplete="off"
                    required
                    maxlength="200"
                    prop:value=family
                    on:input=move |ev| family.set(event_target_value(&ev))
                />
                <label for="cn-unlock-birth">"Date of birth"</label>
                <input
                    id="cn-unlock-birth"
                    type="date"
                    autocomplete="off"
                    required
                    prop:value=birth_date
                    on:input=move |ev| birth_date.set(event_target_value(&ev))
                />
                <label for="cn-unlock-mrn">"Medical record number (if the clinic uses them)"</label>
                <input
                    id="cn-unlock-mrn"
                    type="text"
                    autocomplete="off"
                    maxlength="200"
                    prop:value=identifier
                    on:input=move |ev| identifier.set(event_target_value(&ev))
                />
                <label for="cn-unlock-reason">"Reason"</label>
                <select
                    id="cn-unlock-reason"
                    prop:value=reason
                    on:change=move |ev| reason.set(event_target_value(&ev))
                >
                    {UnlockReason::ALL
                        .into_iter()
                        .map(|r| view! { <option value=r.name()>{reason_label(r)}</option> })
                        .collect_view()}
                </select>
                <button type="submit" class="cn-button cn-unlock-submit" disabled=busy>
                    "Unlock"
                </button>
            </form>
            <p class="cn-unlock-result">{move || result.get()}</p>
        </section>
    }
}
