//! The admin's canned responses screen.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::canned_response_form::CannedResponseForm;
use crate::api::admin::CannedResponse;
use crate::calls;
use crate::state::ConsoleState;

/// The canned responses (`ul.cn-canned-list`, one `li.cn-canned-item`
/// each, with "Edit" (`button.cn-canned-edit`) and "Delete"
/// (`button.cn-canned-delete`)), and the form that adds one or edits the
/// one chosen. Front desk and nurses insert them into chats.
#[component]
pub fn CannedResponsesEditor() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let responses = RwSignal::new(Vec::<CannedResponse>::new());
    let editing = RwSignal::new(CannedResponse::default());
    let error = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            match calls::admin::canned_responses().await {
                Ok(list) => responses.set(list),
                Err(e) => error.set(Some(state.admin_failed(&e))),
            }
        });
    };
    reload();
    let on_saved = Callback::new(move |()| {
        editing.set(CannedResponse::default());
        reload();
    });
    let delete = move |id: i64| {
        let csrf = state.csrf();
        spawn_local(async move {
            match calls::admin::delete_canned_response(csrf, id).await {
                Ok(()) => {
                    error.set(None);
                    state.status.set("Canned response deleted.".into());
                }
                Err(e) => error.set(Some(state.admin_failed(&e))),
            }
            reload();
        });
    };
    view! {
        <section class="cn-admin-section" aria-labelledby="cn-canned-title">
            <h2 id="cn-canned-title">"Canned responses"</h2>
            <p class="cn-hint">
                "Front desk and nurses insert these into a chat in the patient's language, \
                 and edit them before sending."
            </p>
            <p class="cn-error" role="alert">{move || error.get()}</p>
            <Show when=move || responses.with(Vec::is_empty)>
                <p class="cn-empty">"There are no canned responses yet."</p>
            </Show>
            <ul class="cn-canned-list">
                <For
                    each=move || responses.get()
                    key=|r| (r.id, r.title.clone(), r.text_en.clone(), r.text_es.clone())
                    children=move |r| {
                        let id = r.id;
                        let chosen = r.clone();
                        view! {
                            <li class="cn-canned-item">
                                <h3>{r.title.clone()}</h3>
                                <p lang="en">{r.text_en.clone()}</p>
                                <p lang="es">{r.text_es.clone()}</p>
                                <button type="button" class="cn-button cn-canned-edit"
                                    aria-label=format!("Edit {}", r.title)
                                    on:click=move |_| editing.set(chosen.clone())>
                                    "Edit"
                                </button>
                                <button type="button" class="cn-button cn-danger cn-canned-delete"
                                    aria-label=format!("Delete {}", r.title)
                                    on:click=move |_| delete(id)>
                                    "Delete"
                                </button>
                            </li>
                        }
                    }
                />
            </ul>
            {move || {
                let response = editing.get();
                view! { <CannedResponseForm response on_saved/> }
            }}
        </section>
    }
}
