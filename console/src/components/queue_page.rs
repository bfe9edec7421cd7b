//! The front desk's and nurses' screen.

use leptos::prelude::*;

use super::conversation_panel::ConversationPanel;
use super::queue_list::QueueList;
use crate::state::ConsoleState;

/// The queue, and beside it (below it on narrow screens) the conversation
/// that is open, if one is.
#[component]
pub fn QueuePage() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    super::focus_soon("#cn-queue-title");
    view! {
        <div class="cn-queue-page">
            <QueueList/>
            {move || state.open.get().map(|id| view! { <ConversationPanel id/> })}
        </div>
    }
}
