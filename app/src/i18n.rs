//! The widget's words: which language it speaks now, and the strings for
//! each language.
//!
//! The widget's WebAssembly carries no sentences of its own (they would not
//! fit its download budget in two languages): the server writes every string
//! of its catalog (`server/locales/*/widget.ftl`) for every [`Locale`] into
//! the embed page, [`crate::embed`] parses them once and looks them up in
//! place ([`StringTable`]), and components ask by key through [`I18n`]. Switching language is a
//! signal change: everything that shows a string re-renders in place.
//!
//! A key missing in Spanish shows the English string; one missing
//! everywhere shows the key itself (a bug, but never a blank button).
//! Dates, times and everything the clinic says come from the server,
//! already in the patient's language.

use leptos::prelude::*;

/// A language the widget speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    /// English, the fallback.
    #[default]
    En,
    /// Spanish.
    Es,
}

impl Locale {
    /// The language tag: `en` or `es` (the `lang` attribute, the wire).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Es => "es",
        }
    }

    /// Reads a tag such as `es`, `es-MX` or `EN_us` by its primary subtag;
    /// `None` for a language the widget does not speak.
    #[must_use]
    pub fn from_tag(tag: &str) -> Option<Self> {
        let tag = tag.trim().as_bytes();
        if !matches!(tag.get(2), None | Some(b'-' | b'_')) {
            return None;
        }
        match tag.get(..2)? {
            [b'e' | b'E', b'n' | b'N'] => Some(Self::En),
            [b'e' | b'E', b's' | b'S'] => Some(Self::Es),
            _ => None,
        }
    }

    /// The language the header's language button offers.
    #[must_use]
    pub fn other(self) -> Self {
        match self {
            Self::En => Self::Es,
            Self::Es => Self::En,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Where the strings come from: in the browser the embed page's data block
/// ([`crate::embed::PageStrings`]), in tests a [`Strings`] list.
pub trait StringTable: Send + Sync {
    /// The string `key` of exactly `locale` (no fallback), if there is one.
    fn find(&self, locale: Locale, key: &str) -> Option<String>;
}

/// Strings held in lists, by locale and key.
#[derive(Debug, Default)]
pub struct Strings {
    /// Per locale (by [`Locale::index`]), in order of arrival.
    tables: [Vec<(String, String)>; 2],
}

impl Strings {
    /// No strings at all: every lookup shows its key.
    pub const EMPTY: Strings = Strings {
        tables: [Vec::new(), Vec::new()],
    };

    /// Adds the string `key` of `locale`; of duplicates the first wins.
    pub fn push(&mut self, locale: Locale, key: String, text: String) {
        self.tables[locale.index()].push((key, text));
    }
}

impl StringTable for Strings {
    fn find(&self, locale: Locale, key: &str) -> Option<String> {
        self.tables[locale.index()]
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, text)| text.clone())
    }
}

/// The string `key` in `locale`, else in English, else the key itself.
#[must_use]
pub fn lookup(table: &dyn StringTable, locale: Locale, key: &str) -> String {
    table
        .find(locale, key)
        .or_else(|| table.find(Locale::En, key))
        .unwrap_or_else(|| key.to_owned())
}

/// The components' handle on the words: the current locale (a signal, so
/// reading a string subscribes to language switches) and the strings.
#[derive(Clone, Copy)]
pub struct I18n {
    /// The language shown now; [`crate::connection`] writes it too, when the
    /// server says the chat has changed language.
    pub locale: RwSignal<Locale>,
    strings: &'static dyn StringTable,
}

impl std::fmt::Debug for I18n {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("I18n")
            .field("locale", &self.locale)
            .finish_non_exhaustive()
    }
}

impl I18n {
    /// A handle on `strings`, which live as long as the page.
    #[must_use]
    pub fn new(locale: RwSignal<Locale>, strings: &'static dyn StringTable) -> Self {
        Self { locale, strings }
    }

    /// The string `key` in the current locale. Reactive: a component that
    /// calls it inside a closure re-renders when the language changes.
    #[must_use]
    pub fn t(&self, key: &str) -> String {
        lookup(self.strings, self.locale.get(), key)
    }

    /// [`Self::t`] as a reactive text node or attribute value:
    /// `{i18n.text("composer-send")}`, `aria-label=i18n.text("…")`. Every
    /// call returns the same closure type, so the widget holds one copy of
    /// the rendering code for all of them, not one per string.
    pub fn text(self, key: &'static str) -> impl Fn() -> String + Copy + Send + Sync + 'static {
        move || self.t(key)
    }

    /// [`Self::t`], or `fallback` if the page brought no string for `key`
    /// at all: for the few words that must show even then (911 and 988).
    #[must_use]
    pub fn t_or(&self, key: &str, fallback: &str) -> String {
        let locale = self.locale.get();
        self.strings
            .find(locale, key)
            .or_else(|| self.strings.find(Locale::En, key))
            .unwrap_or_else(|| fallback.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings() -> Strings {
        let mut strings = Strings::default();
        strings.push(Locale::En, "send".into(), "Send".into());
        strings.push(Locale::En, "end".into(), "End chat".into());
        strings.push(Locale::Es, "send".into(), "Enviar".into());
        strings.push(Locale::Es, "send".into(), "later duplicate".into());
        strings
    }

    #[test]
    fn spanish_falls_back_to_english_then_to_the_key() {
        let strings = strings();
        assert_eq!(lookup(&strings, Locale::Es, "send"), "Enviar");
        assert_eq!(lookup(&strings, Locale::En, "send"), "Send");
        assert_eq!(lookup(&strings, Locale::Es, "end"), "End chat");
        assert_eq!(lookup(&strings, Locale::Es, "missing-key"), "missing-key");
        assert_eq!(lookup(&Strings::EMPTY, Locale::En, "send"), "send");
    }

    #[test]
    fn tags_are_read_by_their_primary_subtag() {
        assert_eq!(Locale::from_tag("es-MX"), Some(Locale::Es));
        assert_eq!(Locale::from_tag(" ES_us "), Some(Locale::Es));
        assert_eq!(Locale::from_tag("en-US"), Some(Locale::En));
        assert_eq!(Locale::from_tag("fr"), None);
        assert_eq!(Locale::from_tag(""), None);
        assert_eq!(Locale::from_tag("e"), None);
        assert_eq!(Locale::from_tag("eng"), None);
        assert_eq!(Locale::from_tag("es"), Some(Locale::Es));
        assert_eq!(Locale::Es.other(), Locale::En);
        assert_eq!(Locale::En.other().as_str(), "es");
    }

    #[test]
    fn switching_the_locale_switches_every_string() {
        let i18n = I18n::new(RwSignal::new(Locale::En), Box::leak(Box::new(strings())));
        assert_eq!(i18n.t("send"), "Send");
        i18n.locale.set(Locale::Es);
        assert_eq!(i18n.t("send"), "Enviar");
        assert_eq!(i18n.t("end"), "End chat");
        assert_eq!(i18n.t_or("end", "911"), "End chat");
        assert_eq!(i18n.t_or("nothing", "911"), "911");
    }
}
