//! What the server wrote into the embed page: `<meta>` tags and one JSON
//! data block in `<head>`, put where `index.html` has its
//! `<!-- carechat:head -->` marker. Read once, at start-up.
//!
//! - `carechat-identity-key`: base64url of the server's SEC1 P-256 identity
//!   public key. Every handshake must be signed by it; without a valid one the
//!   widget refuses to connect at all.
//! - `carechat-host-origin`: the exact origin of the page that embeds the
//!   iframe, the only window the widget talks to with postMessage.
//! - `carechat-clinic-name`: shown in the header.
//! - `carechat-locale`: the language to start in (`en`, `es`), which the
//!   server picked from the loader's `locale` and the browser's languages.
//! - `<script type="application/json" id="carechat-strings">`: every string
//!   of the widget, `{"en": {key: text, ...}, "es": {...}}` (see
//!   [`crate::i18n`]). A data block, never run, so the page's CSP stays
//!   free of `'unsafe-inline'`.

use std::cell::RefCell;

use js_sys::{Reflect, JSON};
use protocol::IdentityPublicKey;
use wasm_bindgen::JsValue;

use crate::i18n::{Locale, StringTable};

/// Why the embed page cannot be used to start a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedError {
    /// The identity key meta is absent or empty.
    MissingIdentityKey,
    /// The identity key meta is not a valid SEC1 P-256 point in base64url.
    InvalidIdentityKey,
}

/// The embed page's settings, validated once at start-up.
#[derive(Debug, Clone)]
pub struct EmbedConfig {
    /// The key every handshake must be signed with (the pin).
    pub identity: Result<IdentityPublicKey, EmbedError>,
    /// The host page's origin; `None` if absent or not an http(s) origin, in
    /// which case nothing is ever posted to the parent window.
    pub host_origin: Option<String>,
    /// The clinic's display name; empty if the page names none (the header
    /// then shows the catalog's `clinic-fallback`).
    pub clinic_name: String,
    /// The language to start in; English if absent or not one we speak.
    pub locale: Locale,
}

impl EmbedConfig {
    /// Reads the metas from the current document.
    #[must_use]
    pub fn from_document() -> Self {
        Self::from_values(
            meta("carechat-identity-key").as_deref(),
            meta("carechat-host-origin").as_deref(),
            meta("carechat-clinic-name").as_deref(),
            meta("carechat-locale").as_deref(),
        )
    }

    /// Validates raw meta values (separate from the DOM so it is testable).
    #[must_use]
    pub fn from_values(
        identity_key: Option<&str>,
        host_origin: Option<&str>,
        clinic_name: Option<&str>,
        locale: Option<&str>,
    ) -> Self {
        let identity = match identity_key.map(str::trim) {
            None | Some("") => Err(EmbedError::MissingIdentityKey),
            Some(text) => {
                IdentityPublicKey::from_b64u(text).map_err(|_| EmbedError::InvalidIdentityKey)
            }
        };
        let host_origin = host_origin
            .map(str::trim)
            .filter(|o| is_origin(o))
            .map(str::to_owned);
        let clinic_name = clinic_name.map(str::trim).unwrap_or_default().to_owned();
        Self {
            identity,
            host_origin,
            clinic_name,
            locale: locale.and_then(Locale::from_tag).unwrap_or_default(),
        }
    }
}

thread_local! {
    /// The parsed `carechat-strings` block (`undefined` until read).
    static PAGE_STRINGS: RefCell<JsValue> = const { RefCell::new(JsValue::UNDEFINED) };
}

/// The strings of the `carechat-strings` data block, parsed once and looked
/// up in place (copying them into Rust would cost code and memory for
/// nothing). Absent or malformed, it has none: every lookup then shows its
/// key.
#[derive(Debug)]
pub struct PageStrings;

impl PageStrings {
    /// Reads the data block of the current document.
    #[must_use]
    pub fn from_document() -> &'static PageStrings {
        let parsed = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id("carechat-strings"))
            .and_then(|e| e.text_content())
            .and_then(|text| JSON::parse(&text).ok());
        if let Some(parsed) = parsed {
            PAGE_STRINGS.with_borrow_mut(|strings| *strings = parsed);
        }
        &PageStrings
    }
}

impl StringTable for PageStrings {
    fn find(&self, locale: Locale, key: &str) -> Option<String> {
        PAGE_STRINGS.with_borrow(|all| {
            let table = Reflect::get(all, &locale.as_str().into()).ok()?;
            Reflect::get(&table, &key.into()).ok()?.as_string()
        })
    }
}

/// A serialized origin as `event.origin` reports it: scheme, host, optional
/// port, and nothing after (no path, no trailing slash, never `*` or `null`).
fn is_origin(text: &str) -> bool {
    let Some(rest) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// The `content` of `<meta name="{name}">`, if present.
fn meta(name: &str) -> Option<String> {
    let document = web_sys::window()?.document()?;
    let element = document
        .query_selector(&format!("meta[name=\"{name}\"]"))
        .ok()??;
    element.get_attribute("content")
}

#[cfg(test)]
mod tests {
    use super::*;

    // A valid uncompressed P-256 point: the generator G.
    const G: &str =
        "BGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU";

    #[test]
    fn a_valid_key_and_origin_are_accepted() {
        let config = EmbedConfig::from_values(
            Some(G),
            Some("https://host.example"),
            Some(" Maple Grove Family Clinic "),
            Some("es-MX"),
        );
        assert!(config.identity.is_ok());
        assert_eq!(config.host_origin.as_deref(), Some("https://host.example"));
        assert_eq!(config.clinic_name, "Maple Grove Family Clinic");
        assert_eq!(config.locale, Locale::Es);
    }

    #[test]
    fn a_missing_or_bad_key_refuses_to_connect() {
        let missing = EmbedConfig::from_values(None, None, None, None);
        assert_eq!(missing.identity.err(), Some(EmbedError::MissingIdentityKey));
        let empty = EmbedConfig::from_values(Some("  "), None, None, Some("fr"));
        assert_eq!(empty.identity.err(), Some(EmbedError::MissingIdentityKey));
        let bad = EmbedConfig::from_values(Some("AAAA"), None, None, None);
        assert_eq!(bad.identity.err(), Some(EmbedError::InvalidIdentityKey));
        assert_eq!(missing.clinic_name, "");
        assert_eq!(missing.locale, Locale::En);
        assert_eq!(empty.locale, Locale::En);
    }

    #[test]
    fn wildcard_null_and_paths_are_not_origins() {
        for bad in [
            "*",
            "null",
            "",
            "https://",
            "https://a.example/",
            "javascript:x",
            "https://a.example/p",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
        assert!(is_origin("http://127.0.0.1:8081"));
        assert!(is_origin("https://[::1]:8443"));
    }
}
