//! The admin's FAQ entries screen.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::admin::FaqEntry;
use crate::calls;
use crate::state::ConsoleState;

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A menu of the knowledge file's entries (`select#cn-faq-entry`) and,
/// for the one chosen, `form.cn-faq`: the English answer (`#cn-faq-answer-en`),
/// English example questions one per line (`#cn-faq-examples-en`), the
/// Spanish answer and examples (`#cn-faq-answer-es`, `#cn-faq-examples-es`),
/// and "Save entry" (`button.cn-faq-save`). The assistant answers with the
/// saved words at once (new example questions retrain its model first, a
/// few seconds at most).
#[component]
pub fn FaqEditor() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let entries = RwSignal::new(Vec::<FaqEntry>::new());
    let chosen = RwSignal::new(String::new());
    let answer_en = RwSignal::new(String::new());
    let examples_en = RwSignal::new(String::new());
    let answer_es = RwSignal::new(String::new());
    let examples_es = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let show = move |intent: &str| {
        if let Some(e) =
            entries.with_untracked(|all| all.iter().find(|e| e.intent == intent).cloned())
        {
            chosen.set(e.intent);
            answer_en.set(e.answer_en);
            examples_en.set(e.examples_en.join("\n"));
            answer_es.set(e.answer_es);
            examples_es.set(e.examples_es.join("\n"));
        }
    };
    let reload = move || {
        spawn_local(async move {
            match calls::admin::faq_entries().await {
                Ok(list) => {
                    let first = list.first().map(|e| e.intent.clone()).unwrap_or_default();
                    entries.set(list);
                    let keep = chosen.get_untracked();
                    show(if keep.is_empty() { &first } else { &keep });
                }
                Err(e) => error.set(Some(state.admin_failed(&e))),
            }
        });
    };
    reload();
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let entry = FaqEntry {
            intent: chosen.get_untracked(),
            answer_en: answer_en.get_untracked(),
            examples_en: lines(&examples_en.get_untracked()),
            answer_es: answer_es.get_untracked(),
            examples_es: lines(&examples_es.get_untracked()),
        };
        let csrf = state.csrf();
        spawn_local(async move {
            let result = calls::admin::set_faq_entry(csrf, entry).await;
            busy.set(false);
            match result {
                Ok(()) => {
                    error.set(None);
                    state
                        .status
                        .set("FAQ entry saved. The assistant answers with it now.".into());
                    reload();
                }
                Err(e) => error.set(Some(state.admin_failed(&e))),
            }
        });
    };
    view! {
        <section class="cn-admin-section" aria-labelledby="cn-faq-title">
            <h2 id="cn-faq-title">"FAQ entries"</h2>
            <label for="cn-faq-entry">"Entry"</label>
            <select id="cn-faq-entry" prop:value=move || chosen.get()
                on:change=move |event| show(&event_target_value(&event))>
                <For
                    each=move || entries.get()
                    key=|e| e.intent.clone()
                    children=move |e| view! { <option value=e.intent.clone()>{e.intent.clone()}</option> }
                />
            </select>
            <form class="cn-form cn-faq" on:submit=on_submit novalidate>
                <label for="cn-faq-answer-en">"Answer in English"</label>
                <textarea id="cn-faq-answer-en" lang="en" rows="3" required
                    prop:value=move || answer_en.get()
                    on:input=move |event| answer_en.set(event_target_value(&event))></textarea>
                <label for="cn-faq-examples-en">"English example questions, one per line"</label>
                <textarea id="cn-faq-examples-en" lang="en" rows="6"
                    prop:value=move || examples_en.get()
                    on:input=move |event| examples_en.set(event_target_value(&event))></textarea>
                <label for="cn-faq-answer-es">"Answer in Spanish"</label>
                <textarea id="cn-faq-answer-es" lang="es" rows="3"
                    prop:value=move || answer_es.get()
                    on:input=move |event| answer_es.set(event_target_value(&event))></textarea>
                <label for="cn-faq-examples-es">"Spanish example questions, one per line"</label>
                <textarea id="cn-faq-examples-es" lang="es" rows="6"
                    prop:value=move || examples_es.get()
                    on:input=move |event| examples_es.set(event_target_value(&event))></textarea>
                <p class="cn-error" role="alert">{move || error.get()}</p>
                <button type="submit" class="cn-button cn-primary cn-faq-save"
                    aria-busy=move || busy.get().to_string()>
                    {move || if busy.get() { "Saving…" } else { "Save entry" }}
                </button>
            </form>
        </section>
    }
}
