//! Entry point of the widget's WebAssembly build: installs the panic hook and
//! mounts [`carechat_app::App`] on `#carechat-root` in `index.html`.

use wasm_bindgen::JsCast as _;

fn main() {
    console_error_panic_hook::set_once();
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
