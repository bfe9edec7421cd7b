//! The postMessage bridge with the page that embeds the iframe.
//!
//! The host page runs third-party scripts, so only UI events cross this
//! boundary, never message text: `ready`, `close` and `unread` (a count) go
//! out, `open` and `close` come in. Every message goes to the exact host
//! origin from the embed page (never `"*"`), and incoming events are accepted
//! only from that origin *and* from the parent window itself.
//!
//! Wire shape, both ways: `{carechat: 1, type: "...", count?: n}`.

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::{MessageEvent, Window};

/// What the widget tells the host page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostEvent {
    /// The widget is up and listening for `open`/`close`.
    Ready,
    /// The patient wants the chat minimized (button or Escape).
    Close,
    /// Replies that arrived while the chat was closed (0 after opening).
    Unread(u32),
}

impl HostEvent {
    fn kind(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Close => "close",
            Self::Unread(_) => "unread",
        }
    }
}

/// What the host page tells the widget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostCommand {
    /// The iframe is shown.
    Open,
    /// The iframe is hidden.
    Close,
}

impl HostCommand {
    /// Parses the `type` of a `{carechat: 1, type}` message.
    #[must_use]
    pub fn parse(carechat: Option<f64>, kind: Option<&str>) -> Option<Self> {
        if carechat != Some(1.0) {
            return None;
        }
        match kind? {
            "open" => Some(Self::Open),
            "close" => Some(Self::Close),
            _ => None,
        }
    }
}

/// The bridge; inert when the embed page named no valid host origin or the
/// widget is not framed.
#[derive(Debug, Clone)]
pub struct HostBridge {
    origin: Option<String>,
}

impl HostBridge {
    /// A bridge to `origin` (from the `carechat-host-origin` meta).
    #[must_use]
    pub fn new(origin: Option<String>) -> Self {
        Self { origin }
    }

    /// Posts one event to the parent window at the host origin.
    pub fn post(&self, event: HostEvent) {
        let (Some(origin), Some(parent)) = (self.origin.as_deref(), parent_window()) else {
            return;
        };
        let data = Object::new();
        // Setting properties on a fresh plain object cannot fail.
        let _ = Reflect::set(&data, &"carechat".into(), &JsValue::from(1));
        let _ = Reflect::set(&data, &"type".into(), &event.kind().into());
        if let HostEvent::Unread(count) = event {
            let _ = Reflect::set(&data, &"count".into(), &JsValue::from(count));
        }
        let _ = parent.post_message(&data, origin);
    }

    /// Accepts a `message` event only if it comes from the host origin and
    /// from the parent window, and carries a known command.
    #[must_use]
    pub fn accept(&self, event: &MessageEvent) -> Option<HostCommand> {
        let origin = self.origin.as_deref()?;
        if event.origin() != origin {
            return None;
        }
        let parent = parent_window()?;
        let source = event.source()?;
        if !Object::is(&source, &parent) {
            return None;
        }
        let data = event.data();
        if !data.is_object() {
            return None;
        }
        let carechat = Reflect::get(&data, &"carechat".into()).ok()?.as_f64();
        let kind = Reflect::get(&data, &"type".into()).ok()?.as_string();
        HostCommand::parse(carechat, kind.as_deref())
    }
}

/// The parent window, if the widget is framed (not its own top window).
fn parent_window() -> Option<Window> {
    let window = web_sys::window()?;
    let parent = window.parent().ok()??;
    if Object::is(&parent, &window) {
        None
    } else {
        Some(parent.unchecked_into())
    }
}

#[cfg(test)]
mod tests {
    use super::HostCommand;

    #[test]
    fn only_versioned_known_commands_are_accepted() {
        assert_eq!(
            HostCommand::parse(Some(1.0), Some("open")),
            Some(HostCommand::Open)
        );
        assert_eq!(
            HostCommand::parse(Some(1.0), Some("close")),
            Some(HostCommand::Close)
        );
        assert_eq!(HostCommand::parse(Some(2.0), Some("open")), None);
        assert_eq!(HostCommand::parse(None, Some("open")), None);
        assert_eq!(HostCommand::parse(Some(1.0), Some("say")), None);
        assert_eq!(HostCommand::parse(Some(1.0), None), None);
    }
}
