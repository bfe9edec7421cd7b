//! The admin's staffed hours screen.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::admin::{DayHours, StaffedHours, DAYS};
use crate::calls;
use crate::state::ConsoleState;

/// The weekdays' names, Monday first.
const DAY_LABELS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// `form.cn-hours`: for each weekday, an opening and a closing time
/// (`input#cn-opens-mon`, `input#cn-closes-mon`, …; both empty for a
/// closed day), in the clinic's time zone, and "Save hours"
/// (`button.cn-save-hours`). Patients asking for a person are told by the
/// new hours at once. What to fix shows in `.cn-error`; success in
/// `.cn-saved`.
#[component]
pub fn StaffedHoursForm() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let opens: [RwSignal<String>; 7] = std::array::from_fn(|_| RwSignal::new(String::new()));
    let closes: [RwSignal<String>; 7] = std::array::from_fn(|_| RwSignal::new(String::new()));
    let zone = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(None::<&'static str>);
    spawn_local(async move {
        match calls::admin::staffed_hours().await {
            Ok(hours) => {
                zone.set(hours.time_zone);
                for (i, day) in hours.days.into_iter().enumerate().take(7) {
                    opens[i].set(day.opens);
                    closes[i].set(day.closes);
                }
            }
            Err(e) => error.set(Some(state.admin_failed(&e))),
        }
    });
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        saved.set(None);
        let hours = StaffedHours {
            days: DAYS
                .iter()
                .enumerate()
                .map(|(i, day)| DayHours {
                    day: (*day).to_owned(),
                    opens: opens[i].get_untracked(),
                    closes: closes[i].get_untracked(),
                })
                .collect(),
            time_zone: zone.get_untracked(),
        };
        let csrf = state.csrf();
        spawn_local(async move {
            match calls::admin::set_staffed_hours(csrf, hours).await {
                Ok(()) => {
                    error.set(None);
                    saved.set(Some(
                        "Staffed hours saved. Patients are told by them from now on.",
                    ));
                }
                Err(e) => error.set(Some(state.admin_failed(&e))),
            }
        });
    };
    let rows = DAYS
        .iter()
        .zip(DAY_LABELS)
        .enumerate()
        .map(|(i, (day, label))| {
            let (open_id, close_id) = (format!("cn-opens-{day}"), format!("cn-closes-{day}"));
            view! {
                <fieldset class="cn-day">
                    <legend>{label}</legend>
                    <label for=open_id.clone()>"Opens"</label>
                    <input id=open_id type="time" bind:value=opens[i]/>
                    <label for=close_id.clone()>"Closes"</label>
                    <input id=close_id type="time" bind:value=closes[i]/>
                </fieldset>
            }
        })
        .collect_view();
    view! {
        <section class="cn-admin-section" aria-labelledby="cn-hours-title">
            <h2 id="cn-hours-title">"Staffed hours"</h2>
            <p id="cn-hours-hint" class="cn-hint">
                {move || format!(
                    "When someone can answer a chat handed to the clinic, in {}. \
                     Leave both times empty for a closed day.",
                    zone.get()
                )}
            </p>
            <form class="cn-form cn-hours" on:submit=on_submit novalidate
                aria-describedby="cn-hours-hint">
                {rows}
                <p class="cn-error" role="alert">{move || error.get()}</p>
                <p class="cn-saved" role="status">{move || saved.get()}</p>
                <button type="submit" class="cn-button cn-primary cn-save-hours">"Save hours"</button>
            </form>
        </section>
    }
}
