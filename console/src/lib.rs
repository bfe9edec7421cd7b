//! The CareChat staff console: the Leptos app (client-side rendered,
//! WebAssembly) that front desk staff, nurses, compliance officers and
//! admins sign in to, and, with the `ssr` feature, everything the server
//! needs to serve it.
//!
//! The console holds no rules of its own: every role check, CSRF check and
//! audit event is the server's ([`api::ConsoleBackend`]). The UI only hides
//! what a role could not get anyway.
//!
//! # Layout
//! - [`api`]: the types that cross the wire, and the backend trait, with
//!   one module per area beyond the queue (`admin`, `feedback`, `passkey`,
//!   `records`).
//! - [`calls`]: the server functions (`/console/api/...`), one per backend
//!   method, in the same areas, and [`calls::refusal_of`], which turns a failed call back into
//!   an [`api::Refusal`].
//! - [`state`]: the reactive state the screens render (who is signed in,
//!   the queue, the open conversation).
//! - [`realtime`]: the browser side of the `/console/ws` channel.
//! - [`alerts`]: the tab title and the optional crisis beep.
//! - [`texts`]: the words for refusals, roles, reasons and waiting times.
//! - [`components`]: one Leptos component per file, from [`App`] down.
//! - `server` (feature `ssr`): [`routes`], the router the server merges.
//!
//! # Features
//! - `csr`: the browser build (Trunk, `console/index.html`).
//! - `ssr`: the server functions' bodies and [`routes`].
//!
//! # Stable selectors (for end-to-end tests; keep them stable)
//! - `#console-root`: the mount element in `console/index.html`;
//!   `.cn-shell[data-view]` inside it, where `data-view` is `loading`,
//!   `sign-in`, `queue`, `compliance` or `admin`.
//! - `form.cn-sign-in`, `input#cn-username`, `input#cn-password`,
//!   `input#cn-code`, `button.cn-sign-in-submit`, `.cn-error`.
//! - `.cn-notice`: why the sign-in screen is shown again (signed out).
//! - `button.cn-sign-out`, `input.cn-sound`: sign out; the sound toggle.
//! - `ul.cn-queue > li.cn-entry[data-id][data-reason]`, `.cn-entry-crisis`,
//!   `.cn-badge`, `button.cn-open`.
//! - `.cn-conversation[data-id]`, `.cn-lines` (`role="log"`), `.cn-line`
//!   with `data-speaker` (`patient`, `assistant`, `staff`),
//!   `.cn-typing`, `button.cn-pick-up`, `textarea.cn-input`,
//!   `button.cn-send`, `button.cn-hand-back`, `button.cn-close`.
//! - `.cn-compliance`, `.cn-admin`: the compliance and admin pages;
//!   `.cn-feedback`: the feedback counts on both.
//! - `form.cn-unlock` (`#cn-unlock-family`, `#cn-unlock-birth`,
//!   `#cn-unlock-mrn`, `#cn-unlock-reason`, `button.cn-unlock-submit`),
//!   `.cn-unlock-result`: the front desk's unlock, under the queue.
//! - `button.cn-load-transcripts`, `ul.cn-transcripts > li.cn-transcript`,
//!   `button.cn-read`, `.cn-transcript-lines`: a nurse's past conversations.
//! - `form.cn-audit-search` (`#cn-audit-actor`, `#cn-audit-action`,
//!   `#cn-audit-entity`, `#cn-audit-outcome`, `#cn-audit-from`,
//!   `#cn-audit-to`, `button.cn-audit-submit`), `table.cn-audit-table`
//!   (rows `tr[data-seq][data-action]`), `button.cn-audit-more`,
//!   `button.cn-audit-verify`, `.cn-verify-result[data-intact]`,
//!   `button.cn-audit-export`: the compliance page's audit log.

pub mod alerts;
pub mod api;
pub mod calls;
pub mod components;
pub mod realtime;
#[cfg(feature = "ssr")]
mod server;
pub mod state;
pub mod texts;

pub use components::app::App;
#[cfg(feature = "ssr")]
pub use server::{routes, ClientAddr, PublicOrigin, CONSOLE_CSP};
