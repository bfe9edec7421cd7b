//! The safety line.

use leptos::prelude::*;

use super::linked_text::LinkedText;

/// The words that are on screen whatever else is: the chat is not medical
/// advice, and where to turn in an emergency or a mental health crisis, with
/// 911 and 988 as tap-to-call links. The widget always shows them, whatever
/// the server's disclaimer says; if the page brought no strings at all it
/// still shows the two numbers.
#[component]
pub fn SafetyLine() -> impl IntoView {
    view! {
        <footer class="cc-safety">
            <p>
                <LinkedText key="safety-line" text="911 · 988"/>
            </p>
        </footer>
    }
}
