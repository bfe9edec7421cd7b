//! The queue.

use leptos::prelude::*;

use super::queue_item::QueueItem;
use crate::state::ConsoleState;
use crate::texts;

/// The conversations waiting for, or owned by, a person
/// (`ul.cn-queue`), crisis entries first. Items are keyed by id and owner,
/// so a refresh (on every `QueueChanged` event) keeps keyboard focus where
/// it was.
#[component]
pub fn QueueList() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let empty = move || state.queue.with(Vec::is_empty);
    view! {
        <section class="cn-queue-panel" aria-labelledby="cn-queue-title">
            <h1 id="cn-queue-title" tabindex="-1">"Queue"</h1>
            <p class="cn-error" role="alert">
                {move || state.queue_error.get().map(texts::refusal_text)}
            </p>
            <Show when=empty>
                <p class="cn-empty">"Nobody is waiting for a person right now."</p>
            </Show>
            <ul class="cn-queue">
                <For
                    each=move || state.queue.get()
                    key=|entry| (entry.id.clone(), entry.owner.clone())
                    children=move |entry| view! { <QueueItem entry/> }
                />
            </ul>
        </section>
    }
}
