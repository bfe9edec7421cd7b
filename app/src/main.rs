//! Entry point of the widget's WebAssembly build: installs the panic hook and
//! mounts [`carechat_app::App`] on `#carechat-root` in `index.html`.

use wasm_bindgen::{JsCast as _, JsValue};

fn main() {
    // A panic stops the widget (the build aborts on panic). The console is
    // told where it happened: file and line, not the formatted message,
    // whose formatting code (console_error_panic_hook's) would cost every
    // patient 1.5 KB of download. The message of a panic at a known line is
    // in the source.
    std::panic::set_hook(Box::new(|info| {
        let (file, line) = info.location().map_or(("", 0), |l| (l.file(), l.line()));
        web_sys::console::error_3(
            &JsValue::from_str("CareChat widget stopped: panic at"),
            &JsValue::from_str(file),
            &JsValue::from(line),
        );
    }));
    // Start-up: without its mount element the page is not ours to run in.
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(carechat_app::components::app::ROOT_ID))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return;
    };
    // Remove the static "loading" placeholder before the app takes over.
    root.set_text_content(None);
    leptos::mount::mount_to(root, carechat_app::App).forget();
}
