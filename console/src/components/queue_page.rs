//! The front desk's and nurses' screen.

use leptos::prelude::*;

use super::conversation_panel::ConversationPanel;
use super::queue_list::QueueList;
use super::transcript_list::TranscriptList;
use super::unlock_form::UnlockForm;
use crate::api::Role;
use crate::state::ConsoleState;

/// The queue, and beside it (below it on narrow screens) the conversation
/// that is open, if one is; under the queue, the unlock form and, for
/// nurses, their past conversations.
#[component]
pub fn QueuePage() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    super::focus_soon("#cn-queue-title");
    view! {
        <div class="cn-queue-page">
            <div class="cn-queue-column">
                <QueueList/>
                <UnlockForm/>
                <Show when=move || state.me.with(|me| me.as_ref().is_some_and(|me| me.role == Role::Nurse))>
                    <TranscriptList/>
                </Show>
            </div>
            {move || state.open.get().map(|id| view! { <ConversationPanel id/> })}
        </div>
    }
}
