//! The crisis sound switch.

use leptos::prelude::*;

use crate::alerts;
use crate::state::ConsoleState;

/// A labelled checkbox (`input.cn-sound`): when on, a new crisis in the
/// queue plays a short beep. Off by default; turning it on is the user
/// gesture browsers require before a page may play sound, and plays the
/// beep once so staff hear what to listen for.
#[component]
pub fn SoundToggle() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let on_change = move |event: leptos::ev::Event| {
        let on = event_target_checked(&event);
        alerts::enable_sound(on);
        state.sound.set(on);
        if on {
            alerts::beep();
        }
    };
    view! {
        <label class="cn-toggle">
            <input
                type="checkbox"
                class="cn-sound"
                prop:checked=move || state.sound.get()
                on:change=on_change
            />
            "Sound on new crisis"
        </label>
    }
}
