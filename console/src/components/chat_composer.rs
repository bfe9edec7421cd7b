//! The message box for a conversation staff own.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::canned_picker::CannedPicker;
use crate::state::ConsoleState;
use crate::{alerts, calls};

/// Longest message, in characters.
const MAX_CHARS: usize = 2000;
/// At most one typing signal per this many milliseconds.
const TYPING_EVERY_MS: f64 = 3000.0;

/// A labelled text box (`textarea.cn-input`) and "Send" (`button.cn-send`),
/// with the canned response picker ([`CannedPicker`]) above them: an
/// inserted response lands in the box, in the chat's language, after what
/// is already typed, to edit before sending. Enter sends, Shift+Enter
/// starts a new line. While staff type, the patient
/// is told so, at most every 3 seconds. The sent line appears when the
/// server echoes it on the realtime channel.
#[component]
pub fn ChatComposer() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let draft = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let last_typing = StoredValue::new(0.0_f64);
    super::focus_soon(".cn-input");

    let submit = move || {
        let text = draft.get_untracked().trim().to_owned();
        if busy.get_untracked() || text.is_empty() || text.chars().count() > MAX_CHARS {
            return;
        }
        let Some(id) = state.open.get_untracked() else {
            return;
        };
        busy.set(true);
        let csrf = state.csrf();
        spawn_local(async move {
            let result = calls::send(csrf, id, text).await;
            busy.set(false);
            match result {
                Ok(()) => {
                    draft.set(String::new());
                    state.chat_error.set(None);
                }
                Err(error) => state.chat_failed(&error),
            }
        });
    };
    let on_input = move |event: leptos::ev::Event| {
        draft.set(event_target_value(&event));
        let now = alerts::now_ms();
        if now - last_typing.get_value() < TYPING_EVERY_MS {
            return;
        }
        last_typing.set_value(now);
        let Some(id) = state.open.get_untracked() else {
            return;
        };
        let csrf = state.csrf();
        spawn_local(async move {
            if let Err(error) = calls::typing(csrf, id).await {
                state.refused(&error);
            }
        });
    };
    let on_insert = Callback::new(move |text: String| {
        draft.update(|draft| {
            if draft.trim().is_empty() {
                *draft = text;
            } else {
                draft.push('\n');
                draft.push_str(&text);
            }
        });
        super::focus_soon(".cn-input");
    });
    let on_keydown = move |event: KeyboardEvent| {
        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
            event.prevent_default();
            submit();
        }
    };

    view! {
        <form class="cn-composer" on:submit=move |event: leptos::ev::SubmitEvent| {
            event.prevent_default();
            submit();
        }>
            <CannedPicker on_insert/>
            <label for="cn-input">"Message to the patient"</label>
            <textarea
                id="cn-input"
                class="cn-input"
                rows="3"
                maxlength=MAX_CHARS.to_string()
                prop:value=move || draft.get()
                on:input=on_input
                on:keydown=on_keydown
            ></textarea>
            <button
                type="submit"
                class="cn-button cn-primary cn-send"
                aria-busy=move || busy.get().to_string()
            >
                {move || if busy.get() { "Sending…" } else { "Send" }}
            </button>
        </form>
    }
}
