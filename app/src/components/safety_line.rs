//! The safety line.

use leptos::prelude::*;

/// The words that are on screen whatever else is: the chat is not medical
/// advice, and where to turn in an emergency or a mental health crisis. The
/// widget always shows them, whatever the server's disclaimer says.
#[component]
pub fn SafetyLine() -> impl IntoView {
    view! {
        <footer class="cc-safety">
            <p>
                "Not medical advice. In an emergency call "
                <a href="tel:911">"911"</a>
                ". For a mental health crisis call or text "
                <a href="tel:988">"988"</a>
                "."
            </p>
        </footer>
    }
}
