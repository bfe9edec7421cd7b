//! The canned response picker beside the message box.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::admin::CannedResponse;
use crate::calls;
use crate::state::ConsoleState;

/// A menu of the clinic's canned responses (`select#cn-canned`) and
/// "Insert" (`button.cn-canned-insert`), which puts the chosen one, in the
/// conversation's language, into the message box through `on_insert`, for
/// the staff member to edit and send. Nothing shows when the clinic has
/// none.
#[component]
pub fn CannedPicker(
    /// Receives the text to insert.
    on_insert: Callback<String>,
) -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let responses = RwSignal::new(Vec::<CannedResponse>::new());
    let chosen = RwSignal::new(String::new());
    spawn_local(async move {
        match calls::admin::canned_responses().await {
            Ok(list) => {
                chosen.set(list.first().map(|r| r.id.to_string()).unwrap_or_default());
                responses.set(list);
            }
            Err(e) => {
                state.refused(&e);
            }
        }
    });
    let insert = move |_| {
        let locale = state
            .entry
            .with_untracked(|e| e.as_ref().map(|e| e.locale.clone()))
            .unwrap_or_default();
        let id = chosen.get_untracked();
        let text = responses.with_untracked(|all| {
            all.iter()
                .find(|r| r.id.to_string() == id)
                .map(|r| r.text_for(&locale).to_owned())
        });
        if let Some(text) = text {
            on_insert.run(text);
        }
    };
    view! {
        <Show when=move || !responses.with(Vec::is_empty)>
            <div class="cn-canned-picker">
                <label for="cn-canned">"Canned response"</label>
                <select id="cn-canned" class="cn-canned" prop:value=move || chosen.get()
                    on:change=move |event| chosen.set(event_target_value(&event))>
                    <For
                        each=move || responses.get()
                        key=|r| r.id
                        children=move |r| view! { <option value=r.id.to_string()>{r.title.clone()}</option> }
                    />
                </select>
                <button type="button" class="cn-button cn-canned-insert" on:click=insert>
                    "Insert"
                </button>
            </div>
        </Show>
    }
}
