//! The transcript.

use leptos::either::Either;
use leptos::html;
use leptos::prelude::*;

use super::card_line::CardLine;
use super::message_line::MessageLine;
use crate::state::{ChatState, EntryKind};

/// Every line of the conversation, oldest first, as a polite live log that
/// keeps itself scrolled to the newest line. It is focusable so keyboard
/// users can scroll it.
#[component]
pub fn Transcript() -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let log = NodeRef::<html::Div>::new();

    let length = Memo::new(move |_| ui.transcript.with(Vec::len));
    Effect::new(move |_| {
        let _ = length.get();
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
            aria-label="Messages"
            tabindex="0"
        >
            {move || {
                (length.get() == 0)
                    .then(|| {
                        view! {
                            <p class="cc-empty">
                                "Ask a question about the clinic: hours, locations, appointments."
                            </p>
                        }
                    })
            }}
            <ol class="cc-messages">
                <For each=move || ui.transcript.get() key=|entry| entry.key let:entry>
                    // Either, not AnyView: statically typed, and kilobytes
                    // smaller in the widget.
                    {match entry.kind {
                        EntryKind::Card { kind, title, items, actions } => {
                            Either::Left(
                                view! {
                                    <CardLine
                                        kind=kind
                                        title=title
                                        items=items
                                        actions=actions
                                        epoch=entry.epoch
                                    />
                                },
                            )
                        }
                        _ => Either::Right(view! { <MessageLine entry=entry/> }),
                    }}
                </For>
            </ol>
        </div>
    }
}
