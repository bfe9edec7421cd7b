//! The form that adds or edits a canned response.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::admin::CannedResponse;
use crate::calls;
use crate::state::ConsoleState;

/// `form.cn-canned-form`: a title (`#cn-canned-title-input`), the English
/// text (`#cn-canned-en`) and the Spanish text (`#cn-canned-es`), both
/// required, and "Add response" or "Save changes"
/// (`button.cn-canned-save`).
#[component]
pub fn CannedResponseForm(
    /// The response to edit; id 0 for a new one.
    response: CannedResponse,
    /// Called after a save.
    on_saved: Callback<()>,
) -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let id = response.id;
    let title = RwSignal::new(response.title);
    let text_en = RwSignal::new(response.text_en);
    let text_es = RwSignal::new(response.text_es);
    let error = RwSignal::new(None::<String>);
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let response = CannedResponse {
            id,
            title: title.get_untracked(),
            text_en: text_en.get_untracked(),
            text_es: text_es.get_untracked(),
        };
        let csrf = state.csrf();
        spawn_local(async move {
            match calls::admin::save_canned_response(csrf, response).await {
                Ok(_) => {
                    state.status.set("Canned response saved.".into());
                    on_saved.run(());
                }
                Err(e) => error.set(Some(state.admin_failed(&e))),
            }
        });
    };
    view! {
        <form class="cn-form cn-canned-form" on:submit=on_submit novalidate>
            <h3>{if id == 0 { "Add a canned response" } else { "Edit the canned response" }}</h3>
            <label for="cn-canned-title-input">"Title"</label>
            <input id="cn-canned-title-input" type="text" maxlength="80" required bind:value=title/>
            <label for="cn-canned-en">"English text"</label>
            <textarea id="cn-canned-en" lang="en" rows="3" maxlength="2000" required
                prop:value=move || text_en.get()
                on:input=move |event| text_en.set(event_target_value(&event))></textarea>
            <label for="cn-canned-es">"Spanish text"</label>
            <textarea id="cn-canned-es" lang="es" rows="3" maxlength="2000" required
                prop:value=move || text_es.get()
                on:input=move |event| text_es.set(event_target_value(&event))></textarea>
            <p class="cn-error" role="alert">{move || error.get()}</p>
            <button type="submit" class="cn-button cn-primary cn-canned-save">
                {if id == 0 { "Add response" } else { "Save changes" }}
            </button>
        </form>
    }
}
