//! Thumbs up and down under the assistant's replies: the directive that
//! writes them into a reply's line, and the one click handler for all of
//! them.
//!
//! Not a component with reactive views of its own: [`attach`] writes the
//! DOM once and [`clicked`] (one listener for the whole widget, installed
//! by [`super::app::App`]) updates it, the same DOM for kilobytes less
//! WebAssembly (the widget's size budget). What was pressed is read back
//! from the buttons' `aria-pressed`, so there is no other state to keep.

use protocol::vocab::{FeedbackReason, Vote};
use wasm_bindgen::JsCast as _;
use web_sys::Element;

use crate::connection::ChatHandle;
use crate::feedback::{self, Given, REASONS};
use crate::i18n::I18n;

/// The directive on a reply's line (`use:attach`): for a reply that takes
/// feedback (`reply` is its id), adds before the line's status
/// "Was this answer helpful?" as a group (`.cc-feedback[data-reply]`) of two
/// toggle buttons, `button.cc-vote[data-vote]` with `aria-pressed`, named
/// in the patient's language (the thumbs are drawn by the style sheet);
/// then the reasons (`.cc-why`, hidden until a thumbs down), toggles too,
/// `button.cc-reason[data-reason]`; and `.cc-feedback-thanks`
/// (`role="status"`), which says "Thanks for your feedback" once a vote is
/// sent. Like the line's other words, these keep the language the reply
/// came in. A line of a session that has ended hides them (style sheet).
pub fn attach(line: Element, (reply, i18n): (Option<String>, I18n)) {
    let Some(reply) = reply else {
        return;
    };
    let label = i18n.t("feedback-label");
    let Some(group) = element(
        &line,
        "div",
        &[
            ("class", "cc-feedback"),
            ("role", "group"),
            ("aria-label", &label),
            ("data-reply", &reply),
        ],
        None,
    ) else {
        return;
    };
    for (vote, key) in [(Vote::Up, "feedback-up"), (Vote::Down, "feedback-down")] {
        let name = i18n.t(key);
        element(
            &group,
            "button",
            &[
                ("class", "cc-vote"),
                ("type", "button"),
                ("data-vote", vote.as_str()),
                ("aria-pressed", "false"),
                ("aria-label", &name),
                ("title", &name),
            ],
            None,
        );
    }
    let why = i18n.t("feedback-why");
    if let Some(why) = element(
        &group,
        "div",
        &[
            ("class", "cc-why"),
            ("role", "group"),
            ("aria-label", &why),
            ("hidden", ""),
        ],
        None,
    ) {
        for (reason, key) in REASONS {
            element(
                &why,
                "button",
                &[
                    ("class", "cc-reason"),
                    ("type", "button"),
                    ("data-vote", "down"),
                    ("data-reason", reason.as_str()),
                    ("aria-pressed", "false"),
                ],
                Some(&i18n.t(key)),
            );
        }
    }
    element(
        &group,
        "p",
        &[("class", "cc-feedback-thanks"), ("role", "status")],
        None,
    );
    // Before the line's status (`.cc-meta`, its last child).
    let status = line.last_element_child();
    let _ = line.insert_before(&group, status.as_ref().map(AsRef::as_ref));
}

/// A new `tag` element with `attributes` and `text`, appended to `parent`.
/// The one place that writes an element (one copy of the calls).
fn element(
    parent: &Element,
    tag: &str,
    attributes: &[(&str, &str)],
    text: Option<&str>,
) -> Option<Element> {
    let element = parent.owner_document()?.create_element(tag).ok()?;
    for (name, value) in attributes {
        let _ = element.set_attribute(name, value);
    }
    if text.is_some() {
        element.set_text_content(text);
    }
    parent.append_child(&element).ok()?;
    Some(element)
}

/// A click anywhere in the widget: if it pressed a feedback button and that
/// changes the vote, sends `feedback` and shows the new vote.
pub fn clicked(event: &web_sys::MouseEvent, chat: ChatHandle, i18n: I18n) {
    let Some(button) = event
        .target()
        .and_then(|t| t.dyn_into::<Element>().ok())
        .and_then(|e| e.closest(".cc-feedback button").ok().flatten())
    else {
        return;
    };
    let Some(group) = button.closest(".cc-feedback").ok().flatten() else {
        return;
    };
    let Some(reply) = group.get_attribute("data-reply") else {
        return;
    };
    let (vote, reason) = read(&button);
    let Some(next) = feedback::press(pressed_in(&group), vote, reason) else {
        return;
    };
    if chat.feedback(&reply, next) {
        show(&group, next, &i18n.t("feedback-thanks"));
    }
}

/// The vote (and reason) a button stands for.
fn read(button: &Element) -> Given {
    let vote = match button.get_attribute("data-vote").as_deref() {
        Some("up") => Vote::Up,
        _ => Vote::Down,
    };
    let reason = button
        .get_attribute("data-reason")
        .and_then(|r| FeedbackReason::parse(&r));
    (vote, reason)
}

/// What the group's pressed buttons say was given.
fn pressed_in(group: &Element) -> Option<Given> {
    let mut given: Option<Given> = None;
    walk(group, &mut |node| {
        if node.get_attribute("aria-pressed").as_deref() == Some("true") {
            let (vote, reason) = read(node);
            given = Some((vote, reason.or(given.and_then(|(_, r)| r))));
        }
    });
    given
}

/// Shows `given` in the group: which buttons are pressed, the reasons only
/// after a thumbs down, and `thanks` in the status line.
fn show(group: &Element, given: Given, thanks: &str) {
    walk(group, &mut |node| {
        if node.has_attribute("aria-pressed") {
            let (vote, reason) = read(node);
            let pressed = feedback::pressed(Some(given), vote, reason);
            let _ = node.set_attribute("aria-pressed", if pressed { "true" } else { "false" });
        } else if node.class_name() == "cc-why" {
            let _ = node.toggle_attribute_with_force("hidden", given.0 != Vote::Down);
        } else if node.class_name() == "cc-feedback-thanks" {
            node.set_text_content(Some(thanks));
        }
    });
}

/// Calls `visit` on every element under `parent`, depth first.
fn walk(parent: &Element, visit: &mut dyn FnMut(&Element)) {
    let mut child = parent.first_element_child();
    while let Some(node) = child {
        visit(&node);
        walk(&node, visit);
        child = node.next_element_sibling();
    }
}
