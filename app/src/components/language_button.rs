//! The language button.

use leptos::prelude::*;

use crate::connection::ChatHandle;
use crate::state::ChatState;

/// A small header button that switches the widget to the other language,
/// named in that language ("Español" while in English, "English" while in
/// Spanish) and marked with its `lang`, so screen readers say it right. The
/// UI switches at once; the server is asked to chat in it too.
#[component]
pub fn LanguageButton() -> impl IntoView {
    let i18n = expect_context::<ChatState>().i18n;
    let chat = expect_context::<ChatHandle>();
    let other = move || i18n.locale.get().other();
    view! {
        <button
            type="button"
            class="cc-language"
            lang=move || other().as_str()
            on:click=move |_| {
                let next = other();
                i18n.locale.set(next);
                chat.set_locale(next);
            }
        >
            {i18n.text("language-switch")}
        </button>
    }
}
