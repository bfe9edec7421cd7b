//! The bar across the top of every signed-in screen.

use leptos::prelude::*;

mod passkeys_menu;

use super::sign_out_button::SignOutButton;
use super::sound_toggle::SoundToggle;
use crate::state::ConsoleState;
use crate::texts;
use passkeys_menu::PasskeysMenu;

/// The banner: the console's name, who is signed in and as what, the
/// crisis sound toggle (queue roles only), "Passkeys" (one's own, see
/// [`PasskeysMenu`]) and "Sign out".
#[component]
pub fn TopBar() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let who = move || {
        state.me.with(|me| {
            me.as_ref()
                .map(|me| format!("{} · {}", me.name, texts::role_label(me.role)))
                .unwrap_or_default()
        })
    };
    view! {
        <header class="cn-top">
            <p class="cn-brand">{texts::BASE_TITLE}</p>
            <p class="cn-who">
                <span class="cn-sr-only">"Signed in as "</span>
                {who}
            </p>
            <div class="cn-top-actions">
                <Show when=move || state.works_queue()>
                    <SoundToggle/>
                </Show>
                <PasskeysMenu/>
                <SignOutButton/>
            </div>
        </header>
    }
}
