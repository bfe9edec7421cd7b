//! The message box.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;

use crate::connection::{ChatHandle, SayError};
use crate::state::{ChatState, Screen};

/// Longest message the box accepts, in characters. Even all-escaped it stays
/// far below the 16 KiB a frame may carry.
const MAX_CHARS: usize = 2000;

/// A labelled text box and a Send button, below the chat screen and below
/// the consent screen, where a patient in trouble can write before
/// accepting (its label says so there); hidden on every other screen. One
/// box for both, so what the patient typed survives accepting; the draft
/// lives in [`ChatState::draft`], which "End chat" clears. Enter sends,
/// Shift+Enter starts a new line. While a reply is awaited the button reads
/// "Sending…" and does nothing (it stays focusable); the patient may keep
/// typing. Typing in the chat tells the server so (see
/// [`crate::connection::Connection::typing`]), for the person from the clinic.
#[component]
pub fn Composer() -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let i18n = ui.i18n;
    let chat = expect_context::<ChatHandle>();
    let draft = ui.draft;
    let too_long = RwSignal::new(false);
    let busy = Memo::new(move |_| ui.awaiting_reply());

    let submit = move || {
        if busy.get_untracked() {
            return;
        }
        match chat.say(&draft.get_untracked()) {
            Ok(()) => {
                draft.set(String::new());
                too_long.set(false);
            }
            Err(SayError::TooLong) => too_long.set(true),
            Err(SayError::Empty | SayError::NotReady) => {}
        }
    };
    let on_keydown = move |event: KeyboardEvent| {
        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
            event.prevent_default();
            submit();
        }
    };

    view! {
        <div
            class="cc-composer"
            hidden=move || !matches!(ui.screen.get(), Screen::Consent | Screen::Chat)
        >
            <label for="cc-input" class="cc-label">
                {move || {
                    i18n.t(if ui.screen.get() == Screen::Consent {
                        "consent-message-label"
                    } else {
                        "composer-label"
                    })
                }}
            </label>
            <div class="cc-compose-row">
                <textarea
                    id="cc-input"
                    class="cc-input"
                    rows="2"
                    maxlength=MAX_CHARS.to_string()
                    autocomplete="off"
                    aria-describedby="cc-compose-help"
                    data-autofocus=""
                    prop:value=move || draft.get()
                    on:input=move |event| {
                        draft.set(event_target_value(&event));
                        chat.typing();
                    }
                    on:keydown=on_keydown
                ></textarea>
                <button
                    type="button"
                    class="cc-send cc-primary"
                    aria-busy=move || busy.get().to_string()
                    aria-disabled=move || busy.get().to_string()
                    on:click=move |_| submit()
                >
                    {move || i18n.t(if busy.get() { "composer-sending" } else { "composer-send" })}
                </button>
            </div>
            <p id="cc-compose-help" class="cc-hint">
                {move || i18n.t(if too_long.get() { "composer-too-long" } else { "composer-help" })}
            </p>
        </div>
    }
}
