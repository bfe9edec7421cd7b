//! The transcript.

use leptos::html;
use leptos::prelude::*;

use super::message_list::MessageList;
use crate::state::ChatState;

/// Every line of the conversation, oldest first, as a polite live log that
/// keeps itself scrolled to the newest line, and under them "Sam Rivera is
/// typing…" while a person from the clinic types. It is focusable so keyboard
/// users can scroll it.
#[component]
pub fn Transcript() -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let i18n = ui.i18n;
    let log = NodeRef::<html::Div>::new();

    let length = Memo::new(move |_| ui.transcript.with(Vec::len));
    let typing = move || {
        ui.staff_typing
            .get()
            .map(|name| name + " " + &i18n.t("staff-typing"))
    };
    Effect::new(move |_| {
        let _ = length.get();
        let _ = ui.staff_typing.with(Option::is_some);
        request_animation_frame(move || {
            // The screen may have gone (and the node ref with it) by the
            // next frame, e.g. right after "End chat".
            if let Some(element) = log.try_get_untracked().flatten() {
                element.set_scroll_top(element.scroll_height());
            }
        });
    });

    view! {
        <div
            class="cc-transcript"
            node_ref=log
            role="log"
            aria-live="polite"
            aria-relevant="additions"
            aria-label=i18n.text("transcript-label")
            tabindex="0"
        >
            {move || {
                (length.get() == 0)
                    .then(|| view! { <p class="cc-empty">{i18n.t("transcript-empty")}</p> })
            }}
            <MessageList/>
            <p class="cc-typing">{typing}</p>
        </div>
    }
}
