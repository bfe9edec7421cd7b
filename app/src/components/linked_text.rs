//! Text with tap-to-call links.

use leptos::html;
use leptos::prelude::*;

use crate::phone;

/// `text` in a `<span>`, as text nodes, with every phone number in it (see
/// [`crate::phone`]) an `<a class="cc-tel" href="tel:…">` link, unless
/// `plain`. Never HTML: the pieces between the numbers are text nodes,
/// whatever they contain.
///
/// Every use shares this one component, static text or reactive (a catalog
/// string that follows the language switch), and it writes the few nodes
/// itself rather than through a view of pieces: that is kilobytes less
/// WebAssembly for the same DOM.
#[component]
pub fn LinkedText(
    /// The words, as the server or the catalog gave them.
    #[prop(into)]
    text: Signal<String>,
    /// Show the words as they are, with no links (the patient's own).
    #[prop(optional)]
    plain: bool,
) -> impl IntoView {
    let span = NodeRef::<html::Span>::new();
    Effect::new(move |_| {
        let text = text.get();
        if let Some(span) = span.get() {
            fill(&span, &text, plain);
        }
    });
    view! { <span node_ref=span></span> }
}

/// Replaces `span`'s children with `text`, numbers as links.
fn fill(span: &web_sys::Element, text: &str, plain: bool) {
    span.set_text_content(None);
    let Some(document) = span.owner_document() else {
        return;
    };
    let mut done = 0;
    for link in if plain { Vec::new() } else { phone::find(text) } {
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
