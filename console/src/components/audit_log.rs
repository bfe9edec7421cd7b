//! The audit log as compliance reads it: search, verify the chain, export
//! as FHIR `AuditEvent` NDJSON. Events name who, what, which record and
//! the outcome; there is no message text in the log to show.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::records::{AuditQuery, AuditRow, Verification};
use crate::state::ConsoleState;
use crate::{calls, texts};

/// Saves `text` as a file named `name` through a Blob URL (no server round
/// trip, nothing in the page's address).
fn save_file(name: &str, text: &str) -> Result<(), wasm_bindgen::JsValue> {
    use wasm_bindgen::JsCast as _;
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/fhir+ndjson");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| wasm_bindgen::JsValue::from_str("no document"))?;
    let link: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    link.set_href(&url);
    link.set_download(name);
    link.click();
    web_sys::Url::revoke_object_url(&url)?;
    Ok(())
}

/// One text field of the search form.
#[component]
fn Field(
    /// The input's id.
    id: &'static str,
    /// Its label.
    label: &'static str,
    /// `text` or `date`.
    kind: &'static str,
    /// A hint shown under it, if any.
    #[prop(optional)]
    hint: Option<&'static str>,
    /// The value.
    value: RwSignal<String>,
) -> impl IntoView {
    let hint_id = format!("{id}-hint");
    view! {
        <div class="cn-field">
            <label for=id>{label}</label>
            <input
                id=id
                type=kind
                maxlength="200"
                autocomplete="off"
                aria-describedby=hint.map(|_| hint_id.clone())
                prop:value=value
                on:input=move |ev| value.set(event_target_value(&ev))
            />
            {hint.map(|h| view! { <p class="cn-hint" id=hint_id.clone()>{h}</p> })}
        </div>
    }
}

/// The search form (`form.cn-audit-search`), results
/// (`table.cn-audit-table`, `button.cn-audit-more`), verification
/// (`button.cn-audit-verify`, `.cn-verify-result[data-intact]`) and export
/// (`button.cn-audit-export`).
#[component]
pub fn AuditLog() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let actor = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let entity = RwSignal::new(String::new());
    let outcome = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let rows = RwSignal::new(None::<Vec<AuditRow>>);
    let more = RwSignal::new(false);
    let error = RwSignal::new(None::<&'static str>);
    let verified = RwSignal::new(None::<Verification>);

    let query = move |before: u64| AuditQuery {
        actor: actor.get_untracked(),
        action: action.get_untracked(),
        entity: entity.get_untracked(),
        outcome: outcome.get_untracked(),
        from: from.get_untracked(),
        to: to.get_untracked(),
        before,
    };
    let search = move |before: u64| {
        let q = query(before);
        spawn_local(async move {
            match calls::records::audit_search(q).await {
                Ok(page) => {
                    error.set(None);
                    more.set(page.more);
                    let count = page.rows.len();
                    if before == 0 {
                        rows.set(Some(page.rows));
                    } else {
                        rows.update(|r| r.get_or_insert_with(Vec::new).extend(page.rows));
                    }
                    state.status.set(format!("{count} events found."));
                }
                Err(e) => error.set(Some(texts::refusal_text(state.refused(&e)))),
            }
        });
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        search(0);
    };
    let older = move |_| {
        let last = rows.with_untracked(|r| r.as_ref().and_then(|r| r.last().map(|e| e.seq)));
        if let Some(last) = last {
            search(last);
        }
    };
    let verify = move |_| {
        spawn_local(async move {
            match calls::records::audit_verify().await {
                Ok(v) => {
                    error.set(None);
                    state.status.set(if v.intact {
                        "The audit log is intact.".to_owned()
                    } else {
                        "The audit log has problems.".to_owned()
                    });
                    verified.set(Some(v));
                }
                Err(e) => error.set(Some(texts::refusal_text(state.refused(&e)))),
            }
        });
    };
    let export = move |_| {
        let q = query(0);
        spawn_local(async move {
            match calls::records::audit_export(q).await {
                Ok(file) => {
                    error.set(None);
                    if save_file(&file.file_name, &file.ndjson).is_err() {
                        error.set(Some(texts::refusal_text(crate::api::Refusal::Unavailable)));
                        return;
                    }
                    let note = if file.truncated {
                        " (the newest only: narrow the search for the rest)"
                    } else {
                        ""
                    };
                    state
                        .status
                        .set(format!("Exported {} events{note}.", file.events));
                }
                Err(e) => error.set(Some(texts::refusal_text(state.refused(&e)))),
            }
        });
    };

    view! {
        <section class="cn-tool cn-audit" aria-labelledby="cn-audit-title">
            <h2 id="cn-audit-title">"Audit log"</h2>
            <form class="cn-audit-search" on:submit=on_submit>
                <Field id="cn-audit-actor" label="Who" kind="text" value=actor
                    hint="patient, system, staff, or staff:<account number>"/>
                <Field id="cn-audit-action" label="Action" kind="text" value=action
                    hint="A name or its start, such as handoff. or verification.unlocked"/>
                <Field id="cn-audit-entity" label="Record" kind="text" value=entity
                    hint="Such as Patient/123, or Patient for all patients"/>
                <div class="cn-field">
                    <label for="cn-audit-outcome">"Outcome"</label>
                    <select id="cn-audit-outcome" prop:value=outcome
                        on:change=move |ev| outcome.set(event_target_value(&ev))>
                        <option value="">"Any"</option>
                        <option value="success">"Success"</option>
                        <option value="failure">"Failure"</option>
                        <option value="denied">"Denied"</option>
                        <option value="error">"Error"</option>
                    </select>
                </div>
                <Field id="cn-audit-from" label="From (UTC day)" kind="date" value=from/>
                <Field id="cn-audit-to" label="To (UTC day)" kind="date" value=to/>
                <div class="cn-actions">
                    <button type="submit" class="cn-button cn-audit-submit">"Search"</button>
                    <button type="button" class="cn-button cn-audit-export" on:click=export>
                        "Export as FHIR"
                    </button>
                    <button type="button" class="cn-button cn-audit-verify" on:click=verify>
                        "Verify the log"
                    </button>
                </div>
            </form>
            <p class="cn-error" role="alert">{move || error.get()}</p>
            {move || verified.get().map(|v| {
                let summary = if v.intact {
                    format!("Intact: {} events and {} signed checkpoints check out.", v.events, v.checkpoints)
                } else {
                    format!("Problems found in {} events:", v.events)
                };
                view! {
                    <div class="cn-verify-result" data-intact=v.intact.to_string()>
                        <p>{summary}</p>
                        <ul>{v.problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
                    </div>
                }
            })}
            {move || rows.get().map(|list| view! {
                <div class="cn-table-wrap" tabindex="0" role="region" aria-label="Audit events">
                    <table class="cn-audit-table">
                        <caption class="cn-sr-only">"Audit events, newest first"</caption>
                        <thead>
                            <tr>
                                <th scope="col">"#"</th>
                                <th scope="col">"When (UTC)"</th>
                                <th scope="col">"Who"</th>
                                <th scope="col">"Action"</th>
                                <th scope="col">"Record"</th>
                                <th scope="col">"Outcome"</th>
                                <th scope="col">"Address"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {list.into_iter().map(|r| view! {
                                <tr data-seq=r.seq.to_string() data-action=r.action.clone()>
                                    <td>{r.seq}</td>
                                    <td>{r.at.clone()}</td>
                                    <td>{r.staff.clone().unwrap_or_else(|| r.actor.clone())}</td>
                                    <td>{r.action.clone()}</td>
                                    <td>{r.entity.clone().unwrap_or_default()}</td>
                                    <td>{r.outcome.clone()}</td>
                                    <td>{r.client.clone().unwrap_or_default()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
            <Show when=move || more.get()>
                <button type="button" class="cn-button cn-audit-more" on:click=older>
                    "Older events"
                </button>
            </Show>
        </section>
    }
}
