//! Text with tap-to-call links.

use leptos::prelude::*;

use crate::i18n::I18n;
use crate::phone;
use crate::state::ChatState;

/// Words in a `<span>`, as text nodes, with every phone number in them (see
/// [`crate::phone`]) an `<a class="cc-tel" href="tel:…">` link, unless
/// `plain`. Never HTML: the pieces between the numbers are text nodes,
/// whatever they contain.
///
/// The words are `text`, or with `key` the catalog's string of that name
/// in the current language (following the language switch; `text` then is
/// what to show if the page brought no such string). Every use shares this
/// one component, which writes its few nodes itself from a synchronous
/// render effect rather than through a view of pieces: kilobytes less
/// WebAssembly for the same DOM.
#[component]
pub fn LinkedText(
    /// The words, as the server gave them; with `key`, the fallback.
    #[prop(into)]
    text: String,
    /// A catalog key to show instead, in the current language; empty for
    /// none.
    #[prop(optional)]
    key: &'static str,
    /// Show the words as they are, with no links (the patient's own).
    #[prop(optional)]
    plain: bool,
) -> impl IntoView {
    let words = Words {
        text,
        key,
        plain,
        i18n: expect_context::<ChatState>().i18n,
    };
    view! { <span use:linkify=words></span> }
}

/// What a [`LinkedText`] shows.
#[derive(Clone)]
struct Words {
    text: String,
    key: &'static str,
    plain: bool,
    i18n: I18n,
}

/// The directive behind [`LinkedText`]: fills `span` now, and again when
/// the language changes (for catalog words), until the component is gone.
fn linkify(span: web_sys::Element, words: Words) {
    let effect = RenderEffect::new(move |_| {
        let text = if words.key.is_empty() {
            words.text.clone()
        } else {
            words.i18n.t_or(words.key, &words.text)
        };
        fill(&span, &text, words.plain);
    });
    on_cleanup(move || drop(effect));
}

/// Replaces `span`'s children with `text`, numbers as links.
fn fill(span: &web_sys::Element, text: &str, plain: bool) {
    span.set_text_content(None);
    let Some(document) = span.owner_document() else {
        return;
    };
    let mut done = 0;
    for link in phone::find(if plain { "" } else { text }) {
        let Ok(anchor) = document.create_element("a") else {
            break;
        };
        anchor.set_class_name("cc-tel");
        let _ = anchor.set_attribute("href", &link.href);
        anchor.set_text_content(Some(&text[link.range.clone()]));
        let _ = span.append_with_str_1(&text[done..link.range.start]);
        let _ = span.append_with_node_1(&anchor);
        done = link.range.end;
    }
    let _ = span.append_with_str_1(&text[done..]);
}
