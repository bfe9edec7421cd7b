//! The browser side of the realtime channel, `/console/ws`: one WebSocket
//! while a front-desk or nurse session is open. Each text frame is one
//! [`Event`](crate::api::Event) for [`ConsoleState::on_event`]. When the
//! socket closes the console fetches the queue at once (which also finds a
//! session that ended) and reconnects with a growing delay; after a
//! reconnect it fetches the queue and the open conversation again, since
//! events may have been missed.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::set_timeout;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast as _;
use web_sys::{MessageEvent, WebSocket};

use crate::api::Event;
use crate::state::ConsoleState;

/// The path of the channel on this origin.
pub const PATH: &str = "/console/ws";
/// The first and the longest delay before reconnecting.
const FIRST_RETRY_MS: u64 = 1000;
const LONGEST_RETRY_MS: u64 = 30_000;

/// The channel: connect while signed in to a queue role, disconnect on
/// sign-out. Cheap to clone (one shared socket).
#[derive(Clone)]
pub struct Realtime {
    inner: Rc<RefCell<Inner>>,
    state: ConsoleState,
}

struct Inner {
    socket: Option<WebSocket>,
    wanted: bool,
    retry_ms: u64,
    /// Whether this socket follows an earlier one (then events were missed).
    reconnecting: bool,
    /// The socket's handlers, kept alive while it is.
    handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Realtime {
    /// A channel for `state`, not yet connected.
    pub fn new(state: ConsoleState) -> Self {
        Self {
            inner: Rc::new(RefCell::new(Inner {
                socket: None,
                wanted: false,
                retry_ms: FIRST_RETRY_MS,
                reconnecting: false,
                handlers: Vec::new(),
            })),
            state,
        }
    }

    /// Connects, unless already connected or connecting.
    pub fn connect(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.wanted = true;
        if inner.socket.is_some() {
            return;
        }
        let Some(url) = channel_url() else {
            return;
        };
        let Ok(socket) = WebSocket::new(&url) else {
            return;
        };

        let state = self.state;
        let on_message = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let Some(text) = event
                .dyn_ref::<MessageEvent>()
                .and_then(|message| message.data().as_string())
            else {
                return;
            };
            if let Ok(event) = serde_json::from_str::<Event>(&text) {
                state.on_event(event);
            }
        });
        let this = self.clone();
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            this.opened();
        });
        let this = self.clone();
        let on_close = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            this.closed();
        });
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        inner.handlers = vec![on_message, on_open, on_close];
        inner.socket = Some(socket);
    }

    /// Disconnects and stays disconnected.
    pub fn disconnect(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.wanted = false;
        inner.reconnecting = false;
        inner.retry_ms = FIRST_RETRY_MS;
        if let Some(socket) = inner.socket.take() {
            socket.set_onmessage(None);
            socket.set_onopen(None);
            socket.set_onclose(None);
            let _ = socket.close();
        }
        inner.handlers.clear();
    }

    fn opened(&self) {
        let missed = {
            let mut inner = self.inner.borrow_mut();
            inner.retry_ms = FIRST_RETRY_MS;
            std::mem::replace(&mut inner.reconnecting, false)
        };
        if missed {
            self.state.refresh_queue();
            self.state.reload_chat();
        }
    }

    fn closed(&self) {
        let delay = {
            let mut inner = self.inner.borrow_mut();
            inner.socket = None;
            // The handlers may not be dropped while one runs: keep them
            // until the next socket replaces them.
            if !inner.wanted {
                return;
            }
            inner.reconnecting = true;
            let delay = inner.retry_ms;
            inner.retry_ms = (delay * 2).min(LONGEST_RETRY_MS);
            delay
        };
        // Finds out at once whether the session ended.
        self.state.refresh_queue();
        let this = self.clone();
        set_timeout(
            move || {
                if this.inner.borrow().wanted {
                    this.connect();
                }
            },
            Duration::from_millis(delay),
        );
    }
}

/// `ws://` or `wss://` and this page's host, then [`PATH`].
fn channel_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!("{scheme}://{}{PATH}", location.host().ok()?))
}
