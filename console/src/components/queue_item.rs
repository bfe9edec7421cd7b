//! One entry of the queue.

use leptos::prelude::*;

use crate::api::{QueueEntry, Reason};
use crate::state::{is_crisis, ConsoleState};
use crate::texts;

/// One waiting conversation (`li.cn-entry[data-id][data-reason]`): why it
/// is queued (a crisis with `.cn-badge` and its category, and
/// `.cn-entry-crisis`), how long it has waited (counting on between
/// fetches), its language, the patient's name when verified, who has it,
/// and `button.cn-open`, which opens it beside the queue.
#[component]
pub fn QueueItem(
    /// The entry as first fetched; the waiting time follows later fetches.
    entry: QueueEntry,
) -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let crisis = is_crisis(&entry);
    let reason = texts::reason_label(&entry.reason);
    let shown = match &entry.reason {
        Reason::Crisis { category } => texts::category_label(category).to_owned(),
        _ => reason.clone(),
    };
    let id = entry.id.clone();
    let waited = {
        let id = id.clone();
        move || {
            let base = state.queue.with(|queue| {
                queue
                    .iter()
                    .find(|e| e.id == id)
                    .map_or(entry.waiting_secs, |e| e.waiting_secs)
            });
            let since = ((state.now.get() - state.queue_at.get()) / 1000.0).max(0.0);
            format!("Waiting {}", texts::waiting_label(base + since as u64))
        }
    };
    let who = entry
        .patient
        .clone()
        .unwrap_or_else(|| "Patient not verified".into());
    let owner = entry
        .owner
        .as_ref()
        .map_or_else(|| "Nobody has it yet".into(), |name| format!("With {name}"));
    let meta = format!("{} · {who} · {owner}", texts::locale_label(&entry.locale));
    let is_open = {
        let id = id.clone();
        Memo::new(move |_| state.open.with(|open| open.as_deref() == Some(id.as_str())))
    };
    let on_open = {
        let id = id.clone();
        move |_| state.open_chat(id.clone())
    };
    view! {
        <li
            class="cn-entry"
            class:cn-entry-crisis=crisis
            class:cn-entry-open=is_open
            data-id=id
            data-reason=texts::reason_key(&entry.reason)
        >
            <p class="cn-entry-reason">
                {crisis.then(|| view! { <span class="cn-badge">"Crisis"</span> })}
                {shown}
            </p>
            <p class="cn-entry-waiting">{waited}</p>
            <p class="cn-entry-meta">{meta}</p>
            <button
                type="button"
                class="cn-button cn-open"
                aria-current=move || is_open.get().then_some("true")
                on:click=on_open
            >
                "Open"
                <span class="cn-sr-only">{format!(": {reason}")}</span>
            </button>
        </li>
    }
}
