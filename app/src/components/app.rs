//! The root component.

use leptos::either::EitherOf6;
use leptos::ev;
use leptos::prelude::*;

use super::chat_screen::ChatScreen;
use super::composer::Composer;
use super::connecting_screen::ConnectingScreen;
use super::consent_screen::ConsentScreen;
use super::declined_screen::DeclinedScreen;
use super::ended_screen::EndedScreen;
use super::failure_screen::FailureScreen;
use super::header::Header;
use super::link_status::LinkStatusBanner;
use super::safety_line::SafetyLine;
use crate::connection::{ChatHandle, Connection};
use crate::embed::{self, EmbedConfig, EmbedError};
use crate::host::{HostBridge, HostCommand, HostEvent};
use crate::state::{ChatState, Failure, Screen};

/// The id of the mount element in `index.html`; it carries `data-state`.
pub const ROOT_ID: &str = "carechat-root";

/// The whole widget: reads the embed page's metas and strings, starts the
/// connection (unless the pinned identity key is missing or invalid), wires
/// the host page's open/close events, keeps `lang` on `#carechat-root` in
/// step with the locale, and shows the current screen between the header
/// and the permanent safety line.
#[component]
pub fn App() -> impl IntoView {
    let config = EmbedConfig::from_document();
    let ui = ChatState::new(config.locale, embed::PageStrings::from_document());
    let i18n = ui.i18n;
    let bridge = HostBridge::new(config.host_origin.clone());

    let chat = match &config.identity {
        Ok(pinned) => {
            let connection = Connection::new(ui, pinned.clone());
            connection.start();
            ChatHandle::new(Some(connection))
        }
        Err(EmbedError::MissingIdentityKey) => {
            ui.fail(Failure::MissingIdentityKey);
            ChatHandle::new(None)
        }
        Err(EmbedError::InvalidIdentityKey) => {
            ui.fail(Failure::InvalidIdentityKey);
            ChatHandle::new(None)
        }
    };
    provide_context(ui);
    provide_context(chat);
    provide_context(bridge.clone());

    // The root's `data-state` follows the screen and its `lang` the locale
    // (the server wrote `<html lang>` and the title in the first one; all
    // the widget shows is inside the root). Only a real change of screen
    // re-renders (and re-focuses) it.
    let screen = Memo::new(move |_| ui.screen.get());
    Effect::new(move |_| {
        let state = screen.get().as_str();
        let locale = i18n.locale.get().as_str();
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(ROOT_ID))
        {
            let _ = root.set_attribute("data-state", state);
            let _ = root.set_attribute("lang", locale);
        }
    });

    // Host page → widget: open/close. On open the unread count resets and
    // focus goes where the patient left off.
    let listener = {
        let bridge = bridge.clone();
        window_event_listener(ev::message, move |event| match bridge.accept(&event) {
            Some(HostCommand::Open) => {
                ui.open.set(true);
                ui.unread.set(0);
                super::focus_soon(".cc-input, .cc-screen [data-autofocus]");
            }
            Some(HostCommand::Close) => ui.open.set(false),
            None => {}
        })
    };
    // Escape anywhere in the widget asks the host to minimize it.
    let escape = {
        let bridge = bridge.clone();
        window_event_listener(ev::keydown, move |event| {
            if event.key() == "Escape" && !event.default_prevented() {
                bridge.post(HostEvent::Close);
            }
        })
    };
    // Thumbs up and down under replies: one listener for all of them.
    let votes = window_event_listener(ev::click, move |event| {
        super::reply_feedback::clicked(&event, chat, i18n);
    });
    on_cleanup(move || {
        listener.remove();
        escape.remove();
        votes.remove();
    });

    // Widget → host: the unread count whenever it changes.
    let unread = Memo::new(move |_| ui.unread.get());
    {
        let bridge = bridge.clone();
        Effect::new(move |_| bridge.post(HostEvent::Unread(unread.get())));
    }
    request_animation_frame(move || bridge.post(HostEvent::Ready));

    view! {
        <div class="cc-shell">
            <Header clinic_name=config.clinic_name.clone()/>
            <LinkStatusBanner/>
            <main class="cc-body">
                {move || match screen.get() {
                    Screen::Connecting => EitherOf6::A(view! { <ConnectingScreen/> }),
                    Screen::Consent => EitherOf6::B(view! { <ConsentScreen/> }),
                    Screen::Chat => EitherOf6::C(view! { <ChatScreen/> }),
                    Screen::Declined => EitherOf6::D(view! { <DeclinedScreen/> }),
                    Screen::Ended => EitherOf6::E(view! { <EndedScreen/> }),
                    Screen::IdentityFailed | Screen::Error => EitherOf6::F(view! { <FailureScreen/> }),
                }}
                <Composer/>
            </main>
            <SafetyLine/>
        </div>
    }
}
