//! A nurse's past conversations: the transcripts of chats they sent a
//! message in, to read again after the chat has closed.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::chat_line::ChatLine;
use crate::api::records::TranscriptSummary;
use crate::api::Line;
use crate::state::ConsoleState;
use crate::{calls, texts};

/// `D Mon YYYY, HH:MM` in the browser's time zone.
fn when(at: &str) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(at));
    if date.get_time().is_nan() {
        return String::new();
    }
    String::from(date.to_locale_string("en-US", &wasm_bindgen::JsValue::UNDEFINED))
}

/// The list (`ul.cn-transcripts > li.cn-transcript[data-id]`, each with
/// `button.cn-read`) and the transcript being read (`.cn-transcript-lines`).
/// Loaded when asked for, not on every queue refresh; each read is audited
/// by the server.
#[component]
pub fn TranscriptList() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let list = RwSignal::new(None::<Vec<TranscriptSummary>>);
    let reading = RwSignal::new(None::<Vec<Line>>);
    let error = RwSignal::new(None::<&'static str>);
    let load = move |_| {
        spawn_local(async move {
            match calls::records::transcripts().await {
                Ok(found) => {
                    error.set(None);
                    list.set(Some(found));
                }
                Err(e) => error.set(Some(texts::refusal_text(state.refused(&e)))),
            }
        });
    };
    let read = move |id: String| {
        spawn_local(async move {
            match calls::records::transcript(id).await {
                Ok(lines) => {
                    error.set(None);
                    reading.set(Some(lines));
                    super::focus_soon(".cn-transcript-lines");
                }
                Err(e) => error.set(Some(texts::refusal_text(state.refused(&e)))),
            }
        });
    };
    view! {
        <section class="cn-tool" aria-labelledby="cn-transcripts-title">
            <h2 id="cn-transcripts-title">"Your past conversations"</h2>
            <button type="button" class="cn-button cn-load-transcripts" on:click=load>
                "Show conversations I took part in"
            </button>
            <p class="cn-error" role="alert">{move || error.get()}</p>
            {move || {
                list.get().map(|items| {
                    if items.is_empty() {
                        view! { <p class="cn-empty">"You have not sent a message in any conversation yet."</p> }
                            .into_any()
                    } else {
                        view! {
                            <ul class="cn-transcripts">
                                {items
                                    .into_iter()
                                    .map(|t| {
                                        let id = t.id.clone();
                                        view! {
                                            <li class="cn-transcript" data-id=t.id.clone()>
                                                <span>
                                                    {format!("{}: {} lines", when(&t.started), t.lines)}
                                                </span>
                                                " "
                                                <button
                                                    type="button"
                                                    class="cn-button cn-read"
                                                    on:click=move |_| read(id.clone())
                                                >
                                                    "Read"
                                                </button>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                            .into_any()
                    }
                })
            }}
            {move || {
                reading.get().map(|lines| {
                    view! {
                        <ol class="cn-transcript-lines" tabindex="-1" aria-label="Transcript">
                            {lines.into_iter().map(|line| view! { <ChatLine line/> }).collect_view()}
                        </ol>
                    }
                })
            }}
        </section>
    }
}
