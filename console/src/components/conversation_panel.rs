//! The open conversation.

use leptos::prelude::*;
use wasm_bindgen::JsCast as _;

use super::chat_composer::ChatComposer;
use super::chat_line::ChatLine;
use crate::state::ConsoleState;
use crate::texts;

/// One conversation (`.cn-conversation[data-id]`): what it is about, what
/// was said so far (`.cn-lines`, a `role="log"` live region, so new lines
/// are read out), "Patient is typing…" (`.cn-typing`), and what staff can
/// do: "Pick up" (`button.cn-pick-up`) while nobody has it; once it is
/// theirs, the message box, "Hand back to assistant" (`button.cn-hand-back`)
/// and "Close" (`button.cn-close`). Who has it is shown when it is
/// someone else.
#[component]
pub fn ConversationPanel(
    /// The handoff id.
    id: String,
) -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    super::focus_soon("#cn-chat-title");

    let title = move || {
        state.entry.with(|entry| {
            entry.as_ref().map_or_else(
                || "Conversation".to_owned(),
                |entry| texts::reason_label(&entry.reason),
            )
        })
    };
    let meta = move || {
        state.entry.with(|entry| {
            entry.as_ref().map(|entry| {
                let who = entry.patient.as_deref().unwrap_or("Patient not verified");
                format!("{} · {who}", texts::locale_label(&entry.locale))
            })
        })
    };
    let taken_by = move || {
        if state.mine.get() {
            return None;
        }
        state
            .entry
            .with(|entry| entry.as_ref().and_then(|entry| entry.owner.clone()))
    };
    let can_pick_up = move || {
        !state.mine.get()
            && state
                .entry
                .with(|entry| entry.as_ref().is_some_and(|entry| entry.owner.is_none()))
    };

    // Keep the newest line in view.
    Effect::new(move |_| {
        state.lines.with(Vec::len);
        request_animation_frame(scroll_to_end);
    });

    view! {
        <section class="cn-conversation" data-id=id aria-labelledby="cn-chat-title">
            <div class="cn-chat-head">
                <h2 id="cn-chat-title" tabindex="-1">{title}</h2>
                <p class="cn-chat-meta">{meta}</p>
                <button type="button" class="cn-button cn-back" on:click=move |_| state.close_chat()>
                    "Back to queue"
                </button>
            </div>
            <p class="cn-error" role="alert">
                {move || state.chat_error.get().map(texts::refusal_text)}
            </p>
            <div class="cn-lines" role="log" aria-live="polite" aria-label="Conversation so far" tabindex="0">
                <ol class="cn-line-list">
                    <For
                        each=move || state.lines.get().into_iter().enumerate()
                        key=|(index, line)| (*index, line.at.clone())
                        children=move |(_, line)| view! { <ChatLine line/> }
                    />
                </ol>
            </div>
            <p class="cn-typing" aria-live="polite">
                {move || state.patient_typing.get().then_some("Patient is typing…")}
            </p>
            <div class="cn-chat-actions">
                <Show when=can_pick_up>
                    <button
                        type="button"
                        class="cn-button cn-primary cn-pick-up"
                        on:click=move |_| state.pick_up()
                    >
                        "Pick up"
                    </button>
                </Show>
                {move || taken_by().map(|name| view! {
                    <p class="cn-taken">{format!("{name} has this conversation.")}</p>
                })}
            </div>
            <Show when=move || state.mine.get()>
                <ChatComposer/>
                <div class="cn-chat-actions">
                    <button
                        type="button"
                        class="cn-button cn-hand-back"
                        on:click=move |_| state.finish(false)
                    >
                        "Hand back to assistant"
                    </button>
                    <button
                        type="button"
                        class="cn-button cn-danger cn-close"
                        on:click=move |_| state.finish(true)
                    >
                        "Close"
                    </button>
                </div>
            </Show>
        </section>
    }
}

/// Scrolls the conversation's log to its newest line.
fn scroll_to_end() {
    let log = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector(".cn-lines").ok().flatten())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(log) = log {
        log.set_scroll_top(log.scroll_height());
    }
}
