//! "Passkeys" in the top bar: the signed-in staff member's own passkeys,
//! adding one and removing one.

use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::passkey::{PasskeyInfo, MAX_PASSKEY_NAME_CHARS};
use crate::calls::passkey::{
    browser, passkey_register_finish, passkey_register_start, passkey_remove, passkeys,
};
use crate::state::ConsoleState;
use crate::texts;

/// The button (`button.cn-passkeys-toggle`, `aria-expanded`) and the panel
/// it opens (`section#cn-passkeys`): the list of passkeys, each with
/// "Remove"; a labelled name field and "Add a passkey"
/// (`button.cn-passkey-add`), which asks this device for a new passkey.
/// What happened is announced (`role="status"`, or `role="alert"` for a
/// failure). Opening focuses the name field; Escape or "Close" closes it
/// and gives focus back to the button.
#[component]
pub fn PasskeysMenu() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let open = RwSignal::new(false);
    let list = RwSignal::new(Vec::<PasskeyInfo>::new());
    let name = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let status = RwSignal::new(String::new());

    let fail = move |text: &str| {
        status.set(String::new());
        error.set(Some(text.to_owned()));
    };
    let close = move || {
        open.set(false);
        crate::components::focus_soon("button.cn-passkeys-toggle");
    };
    let toggle = move |_| {
        if open.get_untracked() {
            close();
            return;
        }
        open.set(true);
        error.set(None);
        status.set(String::new());
        crate::components::focus_soon("#cn-passkey-name");
        spawn_local(async move {
            match passkeys().await {
                Ok(found) => list.set(found),
                Err(e) => fail(texts::refusal_text(state.refused(&e))),
            }
        });
    };
    let on_keydown = move |event: KeyboardEvent| {
        if event.key() == "Escape" {
            close();
        }
    };

    let on_add = move |event: SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let label = name.get_untracked().trim().to_owned();
        if label.chars().count() > MAX_PASSKEY_NAME_CHARS {
            fail("A passkey name is at most 60 characters.");
            crate::components::focus_soon("#cn-passkey-name");
            return;
        }
        busy.set(true);
        error.set(None);
        status.set("Follow your device's prompt to create the passkey…".into());
        spawn_local(async move {
            let csrf = state.csrf();
            let result: Result<PasskeyInfo, &'static str> = async {
                let challenge = passkey_register_start(csrf.clone())
                    .await
                    .map_err(|e| texts::refusal_text(state.refused(&e)))?;
                let credential = browser::create(&challenge.options)
                    .await
                    .map_err(texts::passkey_browser_text)?;
                passkey_register_finish(csrf, challenge.ceremony, label, credential)
                    .await
                    .map_err(|e| texts::refusal_text(state.refused(&e)))
            }
            .await;
            busy.set(false);
            match result {
                Ok(added) => {
                    status.set(format!(
                        "Passkey \u{201c}{}\u{201d} added. You can sign in with it next time.",
                        added.name
                    ));
                    name.set(String::new());
                    list.update(|l| l.push(added));
                }
                Err(text) => {
                    fail(text);
                    crate::components::focus_soon("button.cn-passkey-add");
                }
            }
        });
    };

    let remove = move |info: PasskeyInfo| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let result = passkey_remove(state.csrf(), info.id.clone()).await;
            busy.set(false);
            match result {
                Ok(()) => {
                    list.update(|l| l.retain(|p| p.id != info.id));
                    status.set(format!("Passkey \u{201c}{}\u{201d} removed.", info.name));
                    crate::components::focus_soon("#cn-passkey-name");
                }
                Err(e) => fail(texts::refusal_text(state.refused(&e))),
            }
        });
    };

    view! {
        <div class="cn-passkeys-menu">
            <button
                type="button"
                class="cn-button cn-passkeys-toggle"
                aria-expanded=move || open.get().to_string()
                aria-controls="cn-passkeys"
                on:click=toggle
            >
                "Passkeys"
            </button>
            <Show when=move || open.get()>
                <section
                    id="cn-passkeys"
                    class="cn-passkeys"
                    aria-labelledby="cn-passkeys-title"
                    on:keydown=on_keydown
                >
                    <h2 id="cn-passkeys-title">"Your passkeys"</h2>
                    <p class="cn-hint">
                        "A passkey signs you in with this device's PIN, fingerprint or face, \
                         instead of your password and code."
                    </p>
                    <Show
                        when=move || !list.with(Vec::is_empty)
                        fallback=|| view! { <p class="cn-passkey-none">"No passkeys yet."</p> }
                    >
                        <ul class="cn-passkey-list">
                            <For
                                each=move || list.get()
                                key=|p| p.id.clone()
                                children=move |p: PasskeyInfo| {
                                    let label = format!("Remove passkey {}", p.name);
                                    let added = p.added.chars().take(10).collect::<String>();
                                    let info = p.clone();
                                    view! {
                                        <li class="cn-passkey">
                                            <span class="cn-passkey-name">{p.name.clone()}</span>
                                            <span class="cn-passkey-added">"Added " {added}</span>
                                            <button
                                                type="button"
                                                class="cn-button cn-danger cn-passkey-remove"
                                                aria-label=label
                                                on:click=move |_| remove(info.clone())
                                            >
                                                "Remove"
                                            </button>
                                        </li>
                                    }
                                }
                            />
                        </ul>
                    </Show>
                    <form class="cn-passkey-form" on:submit=on_add novalidate>
                        <label for="cn-passkey-name">"Name for a new passkey"</label>
                        <input
                            id="cn-passkey-name"
                            name="passkey-name"
                            type="text"
                            maxlength="60"
                            autocomplete="off"
                            aria-describedby="cn-passkey-name-hint"
                            bind:value=name
                        />
                        <p id="cn-passkey-name-hint" class="cn-hint">
                            "Optional, for example \u{201c}Front desk PC\u{201d}."
                        </p>
                        <button
                            type="submit"
                            class="cn-button cn-primary cn-passkey-add"
                            aria-busy=move || busy.get().to_string()
                        >
                            "Add a passkey"
                        </button>
                    </form>
                    <p class="cn-passkey-status" role="status">{move || status.get()}</p>
                    <p class="cn-error" role="alert">{move || error.get()}</p>
                    <button type="button" class="cn-button cn-passkeys-close" on:click=move |_| close()>
                        "Close"
                    </button>
                </section>
            </Show>
        </div>
    }
}
