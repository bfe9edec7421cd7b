//! Entry point of the console's WebAssembly build: installs the panic hook
//! and mounts [`carechat_console::App`] on `#console-root` in `index.html`.

use wasm_bindgen::{JsCast as _, JsValue};

/// The id of the mount element in `console/index.html`.
const ROOT_ID: &str = "console-root";

fn main() {
    // A panic stops the console (the build aborts on panic); the browser's
    // console is told where, never what (a message could hold chat text).
    std::panic::set_hook(Box::new(|info| {
        let (file, line) = info.location().map_or(("", 0), |l| (l.file(), l.line()));
        web_sys::console::error_3(
            &JsValue::from_str("CareChat console stopped: panic at"),
            &JsValue::from_str(file),
            &JsValue::from(line),
        );
    }));
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(ROOT_ID))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return;
    };
    root.set_text_content(None);
    leptos::mount::mount_to(root, carechat_console::App).forget();
}
