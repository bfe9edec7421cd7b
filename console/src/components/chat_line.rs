//! One line of a conversation.

use leptos::prelude::*;

use crate::api::{Line, Speaker};

/// A line (`li.cn-line[data-speaker]`): who said it, when (local time),
/// and what.
#[component]
pub fn ChatLine(
    /// The line.
    line: Line,
) -> impl IntoView {
    let (speaker, who) = match &line.speaker {
        Speaker::Patient => ("patient", "Patient".to_owned()),
        Speaker::Assistant => ("assistant", "Assistant".to_owned()),
        Speaker::Staff { name } => ("staff", name.clone()),
    };
    let time = clock_time(&line.at);
    view! {
        <li class="cn-line" data-speaker=speaker>
            <p class="cn-line-head">
                <span class="cn-speaker">{who}</span>
                " "
                <time class="cn-time" datetime=line.at.clone()>{time}</time>
            </p>
            <p class="cn-text">{line.text}</p>
        </li>
    }
}

/// `HH:MM` in the browser's time zone, or nothing if `at` is not a date.
fn clock_time(at: &str) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(at));
    if date.get_time().is_nan() {
        String::new()
    } else {
        format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
    }
}
