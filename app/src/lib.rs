//! The CareChat widget: the Leptos app (client-side rendered, WebAssembly)
//! that runs inside the chat iframe on the CareChat origin.
//!
//! It shows what the server sends and holds no business rules of its own:
//! the server decides what needs consent, what is an emergency and what to
//! answer. Every chat message is sealed in the browser with the session keys
//! of `protocol::Session` before it reaches the WebSocket; message text never
//! leaves the iframe any other way (no logs, no URLs, no postMessage).
//!
//! # Layout
//! - [`embed`]: reads what the server wrote into the embed page (the pinned
//!   identity key, the host page's origin, the clinic's name, the starting
//!   language, and every string of the widget).
//! - [`i18n`]: the languages the widget speaks and the lookup of its words
//!   by key; none of them is in the code.
//! - [`state`]: the reactive state the screens render: which screen, the
//!   transcript, the link status, the unread count.
//! - [`connection`]: owns the `protocol::Session` and the WebSocket; does the
//!   handshake, the sync/resume dance, reconnects, and turns server messages
//!   into [`state`] changes.
//! - [`handoff`]: the bookkeeping of a handoff to a person (which `staff`
//!   messages were shown, the pace of `typing`), pure and tested natively.
//! - [`feedback`]: which replies get thumbs up and down, and what a press
//!   sends (pure, tested natively).
//! - [`host`]: the postMessage bridge with the page that embeds the iframe
//!   (UI events only, exact origins only).
//! - [`phone`]: finds phone numbers in the clinic's words, for tap-to-call
//!   links (pure, tested natively).
//! - [`components`]: one Leptos component per file, from the [`App`] down.
//!
//! # Stable selectors (for end-to-end tests; keep them stable)
//! - `#carechat-root[data-state]`: the mount element in `index.html`;
//!   `data-state` is one of `connecting`, `consent`, `chat`, `declined`,
//!   `ended`, `identity-failed`, `error`; `lang` is the language shown
//!   (`en`, `es`).
//! - `button.cc-language`: switches to the other language (its `lang` is
//!   that language).
//! - `.cc-error`: the failure message (identity-failed and error states).
//! - `.cc-disclaimer`: the server's disclaimer on the consent screen.
//! - `button.cc-accept`, `button.cc-decline`: the consent buttons.
//! - `button.cc-review`: "Review the notice again" after declining.
//! - `.cc-transcript`: the transcript (`role="log"`, `aria-live="polite"`).
//! - `.cc-msg-patient`: a patient message; `data-status` is `sending`,
//!   `answered` or `failed`; `.cc-msg-previous` marks messages from a
//!   session that has ended.
//! - `.cc-msg-clinic`: a clinic reply, with `data-intent` (the server's
//!   intent name) and `data-escalated` (`true`/`false`); escalated replies also
//!   have `.cc-msg-escalated` and `role="alert"`.
//! - `.cc-feedback`: thumbs up and down under a clinic reply that takes
//!   them: `button.cc-vote[data-vote="up"|"down"]` (`aria-pressed`); after
//!   a thumbs down, `.cc-why` with `button.cc-reason[data-reason]`
//!   (`not_what_i_asked`, `hard_to_understand`, `wrong_or_out_of_date`,
//!   `other`); `.cc-feedback-thanks` (`role="status"`) once a vote is sent.
//! - `.cc-msg-staff`: a message from a person at the clinic; its
//!   `.cc-from` reads "Sam Rivera · Nurse".
//! - `.cc-typing`: "Sam Rivera is typing…" under the messages (empty when
//!   nobody is).
//! - `.cc-notice`: a notice from the server or the widget (in the transcript,
//!   and on the consent and declined screens); `.cc-notice-status` marks the
//!   quieter ones (a person from the clinic joined).
//! - `.cc-consent-exchange`: on the consent screen, what was said there
//!   before consent; `.cc-consent-hint`: the "accept first" line (empty when
//!   not shown).
//! - `.cc-card[data-card]`: a card; `.cc-card-emergency` (with
//!   `data-category`) the emergency one; `a.cc-call[href]`: a call or text
//!   button on a card; `button.cc-card-action`: a `choose` button.
//! - `a.cc-tel`: a phone number in the clinic's words, as a link.
//! - `textarea.cc-input`: the message box (below the consent and chat
//!   screens, hidden on the others); `button.cc-send`: send (its
//!   `aria-busy` is `true` while a reply is awaited).
//! - `.cc-link-status`: the "Reconnecting…" banner.
//! - `button.cc-end`: End chat; `button.cc-minimize`: minimize;
//!   `button.cc-restart`: start a new chat (ended screen);
//!   `button.cc-retry`: try again (error screen).
//! - `.cc-safety`: the permanent "Not medical advice… 911… 988" line.

pub mod components;
pub mod connection;
pub mod embed;
pub mod feedback;
pub mod handoff;
pub mod host;
pub mod i18n;
pub mod phone;
pub mod state;

pub use components::app::App;
