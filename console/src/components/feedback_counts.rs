//! Patients' thumbs up and down on the assistant's replies, counted per
//! intent, for compliance and admin (numbers only, never message text: the
//! server keeps none with a vote).

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::feedback::IntentFeedback;
use crate::state::ConsoleState;
use crate::{calls, texts};

/// The feedback table (`.cn-feedback`): one row per intent
/// (`tr[data-intent]`), with thumbs up, thumbs down and the reasons given
/// for a thumbs down, as `table.cn-feedback-table` with a caption and
/// column and row headers; "No feedback has been counted yet." when there
/// is none (`.cn-empty`), the refusal's words when the call is refused,
/// and a "Refresh" button (`button.cn-feedback-refresh`). Fetched when it
/// is shown.
#[component]
pub fn FeedbackCounts() -> impl IntoView {
    let state = expect_context::<ConsoleState>();
    let rows = RwSignal::new(None::<Vec<IntentFeedback>>);
    let error = RwSignal::new(None::<&'static str>);
    let busy = RwSignal::new(false);
    let load = move || {
        busy.set(true);
        spawn_local(async move {
            match calls::feedback::feedback_counts().await {
                Ok(counts) => {
                    error.set(None);
                    rows.set(Some(counts));
                }
                Err(e) => error.set(Some(texts::refusal_text(state.refused(&e)))),
            }
            busy.set(false);
        });
    };
    load();
    let row = |c: IntentFeedback| {
        let intent = c.intent;
        let key = intent.clone();
        view! {
            <tr data-intent=key>
                <th scope="row">{intent}</th>
                <td>{c.up}</td>
                <td>{c.down}</td>
                <td>{c.not_what_i_asked}</td>
                <td>{c.hard_to_understand}</td>
                <td>{c.wrong_or_out_of_date}</td>
                <td>{c.other}</td>
            </tr>
        }
    };
    let table = move || {
        rows.get().map(|counts| {
            if counts.is_empty() {
                return view! { <p class="cn-empty">"No feedback has been counted yet."</p> }
                    .into_any();
            }
            view! {
                <div class="cn-table-wrap">
                    <table class="cn-audit-table cn-feedback-table">
                        <caption>
                            "Thumbs up and down per intent; reasons are counted among the thumbs down."
                        </caption>
                        <thead>
                            <tr>
                                <th scope="col">"Intent"</th>
                                <th scope="col">"Helpful"</th>
                                <th scope="col">"Not helpful"</th>
                                <th scope="col">"Not what I asked"</th>
                                <th scope="col">"Hard to understand"</th>
                                <th scope="col">"Wrong or out of date"</th>
                                <th scope="col">"Other reason"</th>
                            </tr>
                        </thead>
                        <tbody>{counts.into_iter().map(row).collect_view()}</tbody>
                    </table>
                </div>
            }
            .into_any()
        })
    };
    view! {
        <section class="cn-feedback" aria-labelledby="cn-feedback-title" aria-busy=move || busy.get().to_string()>
            <h2 id="cn-feedback-title">"Feedback on the assistant's replies"</h2>
            <p>"Counts only: no message text is kept with a vote."</p>
            <p class="cn-error" role="alert">{move || error.get()}</p>
            {table}
            <button
                type="button"
                class="cn-feedback-refresh"
                disabled=move || busy.get()
                on:click=move |_| load()
            >
                "Refresh"
            </button>
        </section>
    }
}
