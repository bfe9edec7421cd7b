//! The list of transcript lines.

use leptos::either::Either;
use leptos::prelude::*;

use super::card_line::CardLine;
use super::message_line::MessageLine;
use crate::state::{ChatState, EntryKind};

/// The transcript's lines as an `<ol class="cc-messages">`, each a
/// [`CardLine`] or a [`MessageLine`], keyed so a new line never re-renders
/// the others. The chat screen shows every line; the consent screen
/// (`consent_only`) only what this session said before consent, without
/// the widget's own notices (the screen says those itself).
#[component]
pub fn MessageList(
    /// Only the current session's lines, and no widget notices.
    #[prop(optional)]
    consent_only: bool,
) -> impl IntoView {
    let ui = expect_context::<ChatState>();
    let lines = move || {
        let mut lines = ui.transcript.get();
        if consent_only {
            let epoch = ui.session_epoch.get();
            lines.retain(|line| {
                line.epoch == epoch && !matches!(line.kind, EntryKind::Local { .. })
            });
        }
        lines
    };
    view! {
        <ol class=if consent_only { "cc-messages cc-consent-exchange" } else { "cc-messages" }>
            <For each=lines key=|entry| entry.key let:entry>
                // Either, not AnyView: statically typed, and kilobytes
                // smaller in the widget.
                {match entry.kind {
                    EntryKind::Card { kind, category, title, items, actions } => {
                        Either::Left(
                            view! {
                                <CardLine
                                    kind=kind
                                    category=category
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
    }
}
