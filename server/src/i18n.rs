//! The message catalog: every word CareChat shows a patient, in each
//! [`Locale`] the chat speaks, as Project Fluent files under
//! `server/locales/<locale>/`, compiled into the binary.
//!
//! - `widget.ftl`: the widget's own words (buttons, headings, hints). The
//!   widget's WebAssembly carries none of them: the embed page hands it
//!   [`Catalog::widget_strings`] for every locale, so it can switch
//!   language without a round trip. They take no arguments.
//! - `chat.ftl`: what the conversation engine says (replies, notices).
//!
//! [`Catalog::text`] never fails a patient: a message missing in Spanish
//! falls back to English, one missing everywhere to its key, and a
//! formatting problem is logged (the key only, never an argument, which may
//! be PHI) while the best-effort text is still returned. Unicode isolation
//! marks are off: patients' screens and SMS would show them as boxes.
//!
//! This module owns words, not decisions: which message to say is the
//! conversation's business, which language a patient writes in is
//! `carechat_language::lang`'s.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

pub use carechat_language::lang::Locale;

/// One argument of a message: text or a whole number (numbers pick plural
/// forms: `{ $count -> [one] … *[other] … }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg<'a> {
    /// Text, inserted as is.
    Str(&'a str),
    /// A whole number.
    Num(i64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(value: &'a str) -> Self {
        Self::Str(value)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(value: &'a String) -> Self {
        Self::Str(value)
    }
}

impl From<i64> for Arg<'_> {
    fn from(value: i64) -> Self {
        Self::Num(value)
    }
}

impl From<u32> for Arg<'_> {
    fn from(value: u32) -> Self {
        Self::Num(i64::from(value))
    }
}

impl From<usize> for Arg<'_> {
    fn from(value: usize) -> Self {
        Self::Num(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

/// Which catalog file a message comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum File {
    /// `widget.ftl`: handed to the widget whole.
    Widget,
    /// `chat.ftl`: the conversation's words.
    Chat,
}

/// One `.ftl` file of one locale.
struct Source {
    locale: Locale,
    file: File,
    /// For log lines and test failures.
    path: &'static str,
    text: &'static str,
}

/// Every catalog file, compiled in. A new locale adds its two files here
/// (and to `Locale` in `carechat-language`).
const BUILTIN: [Source; 4] = [
    Source {
        locale: Locale::En,
        file: File::Widget,
        path: "locales/en/widget.ftl",
        text: include_str!("../locales/en/widget.ftl"),
    },
    Source {
        locale: Locale::En,
        file: File::Chat,
        path: "locales/en/chat.ftl",
        text: include_str!("../locales/en/chat.ftl"),
    },
    Source {
        locale: Locale::Es,
        file: File::Widget,
        path: "locales/es/widget.ftl",
        text: include_str!("../locales/es/widget.ftl"),
    },
    Source {
        locale: Locale::Es,
        file: File::Chat,
        path: "locales/es/chat.ftl",
        text: include_str!("../locales/es/chat.ftl"),
    },
];

/// One locale's messages.
struct LocaleMessages {
    locale: Locale,
    bundle: FluentBundle<FluentResource>,
    /// The ids of `widget.ftl`'s messages, in file order.
    widget_keys: Vec<String>,
}

/// The messages of every locale; see the module docs.
pub struct Catalog {
    /// In [`Locale::ALL`] order; English first, the fallback.
    locales: Vec<LocaleMessages>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field(
                "locales",
                &self.locales.iter().map(|l| l.locale).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Catalog {
    /// The catalog compiled into the binary, parsed on first use. A syntax
    /// error or a duplicate key in a file is logged and the rest of the file
    /// still used (the tests keep the shipped files free of both).
    pub fn builtin() -> &'static Catalog {
        static BUILTIN_CATALOG: OnceLock<Catalog> = OnceLock::new();
        BUILTIN_CATALOG.get_or_init(|| {
            let (catalog, problems) = Catalog::parse(&BUILTIN);
            for problem in problems {
                tracing::warn!(%problem, "message catalog problem");
            }
            catalog
        })
    }

    /// Builds a catalog from `sources`; also returns every problem found.
    fn parse(sources: &[Source]) -> (Catalog, Vec<String>) {
        let mut problems = Vec::new();
        let mut locales = Vec::new();
        for locale in Locale::ALL {
            let language = locale.as_str().parse().unwrap_or_default();
            let mut bundle = FluentBundle::new_concurrent(vec![language]);
            bundle.set_use_isolating(false);
            let mut widget_keys = Vec::new();
            for source in sources.iter().filter(|s| s.locale == locale) {
                let resource = match FluentResource::try_new(source.text.to_owned()) {
                    Ok(resource) => resource,
                    Err((resource, errors)) => {
                        problems.extend(
                            errors
                                .iter()
                                .map(|e| format!("{}: syntax error: {e:?}", source.path)),
                        );
                        resource
                    }
                };
                if let Err(errors) = bundle.add_resource(resource) {
                    problems.extend(errors.iter().map(|e| format!("{}: {e}", source.path)));
                }
                if source.file == File::Widget {
                    for id in message_ids(source.text) {
                        if !widget_keys.iter().any(|k| k == id) {
                            widget_keys.push(id.to_owned());
                        }
                    }
                }
            }
            widget_keys.retain(|key| bundle.has_message(key));
            locales.push(LocaleMessages {
                locale,
                bundle,
                widget_keys,
            });
        }
        (Catalog { locales }, problems)
    }

    fn messages(&self, locale: Locale) -> Option<&LocaleMessages> {
        self.locales.iter().find(|l| l.locale == locale)
    }

    /// The message `key` in `locale`, formatted with `args`; English if the
    /// locale lacks it, the key itself if English does too. Never panics.
    #[must_use]
    pub fn text(&self, locale: Locale, key: &str, args: &[(&str, Arg<'_>)]) -> String {
        self.format(locale, key, args)
            .or_else(|| self.format(Locale::En, key, args))
            .unwrap_or_else(|| {
                tracing::warn!(key, "message missing from the catalog");
                key.to_owned()
            })
    }

    /// Formats `key` in exactly `locale`, if it has it; logs (the key only)
    /// if formatting reported errors.
    fn format(&self, locale: Locale, key: &str, args: &[(&str, Arg<'_>)]) -> Option<String> {
        let messages = self.messages(locale)?;
        let pattern = messages.bundle.get_message(key)?.value()?;
        let mut fluent_args = FluentArgs::with_capacity(args.len());
        for (name, value) in args {
            let value = match *value {
                Arg::Str(text) => FluentValue::from(text),
                Arg::Num(number) => FluentValue::from(number),
            };
            fluent_args.set(*name, value);
        }
        let mut errors = Vec::new();
        let text = messages
            .bundle
            .format_pattern(pattern, Some(&fluent_args), &mut errors);
        if !errors.is_empty() {
            tracing::warn!(key, locale = %locale, "message formatted with errors");
        }
        Some(text.into_owned())
    }

    /// Whether `locale` itself has the message `key` (no fallback).
    #[must_use]
    pub fn has(&self, locale: Locale, key: &str) -> bool {
        self.messages(locale)
            .is_some_and(|m| m.bundle.has_message(key))
    }

    /// Every message of `locale`'s `widget.ftl` as (key, text), formatted
    /// without arguments, in file order: what the embed page hands the
    /// widget.
    #[must_use]
    pub fn widget_strings(&self, locale: Locale) -> Vec<(String, String)> {
        let Some(messages) = self.messages(locale) else {
            return Vec::new();
        };
        messages
            .widget_keys
            .iter()
            .map(|key| (key.clone(), self.text(locale, key, &[])))
            .collect()
    }
}

/// The ids of the messages defined in Fluent `source`: lines that start
/// (in column 0) with an identifier followed by `=`. Terms (`-name`),
/// comments and indented continuation lines do not qualify.
fn message_ids(source: &str) -> impl Iterator<Item = &str> {
    source.lines().filter_map(|line| {
        let (id, _) = line.split_once('=')?;
        let id = id.trim_end();
        let mut chars = id.chars();
        let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        (starts_well && rest_ok).then_some(id)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// Every `$variable` named anywhere in the catalog, for formatting every
    /// message with plausible arguments.
    fn variables() -> Vec<String> {
        let mut names = Vec::new();
        for source in &BUILTIN {
            let mut rest = source.text;
            while let Some(at) = rest.find('$') {
                rest = &rest[at + 1..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                if !name.is_empty() && !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }

    fn keys(locale: Locale) -> Vec<(&'static str, &'static str)> {
        BUILTIN
            .iter()
            .filter(|s| s.locale == locale)
            .flat_map(|s| message_ids(s.text).map(move |id| (s.path, id)))
            .collect()
    }

    #[test]
    fn the_shipped_files_parse_without_errors_or_duplicates() {
        let (_, problems) = Catalog::parse(&BUILTIN);
        assert_eq!(problems, Vec::<String>::new());
    }

    #[test]
    fn every_english_key_is_in_spanish_and_the_other_way_round() {
        let en = keys(Locale::En);
        let es = keys(Locale::Es);
        let file = |path: &str| path.rsplit('/').next().unwrap().to_owned();
        let en: Vec<_> = en.iter().map(|(p, k)| (file(p), *k)).collect();
        let es: Vec<_> = es.iter().map(|(p, k)| (file(p), *k)).collect();
        let missing_es: Vec<_> = en.iter().filter(|k| !es.contains(k)).collect();
        let missing_en: Vec<_> = es.iter().filter(|k| !en.contains(k)).collect();
        assert!(missing_es.is_empty(), "not in Spanish: {missing_es:?}");
        assert!(missing_en.is_empty(), "not in English: {missing_en:?}");
        let catalog = Catalog::builtin();
        for (_, key) in &en {
            assert!(catalog.has(Locale::En, key) && catalog.has(Locale::Es, key));
        }
    }

    #[test]
    fn every_message_formats_without_errors_or_isolation_marks() {
        let catalog = Catalog::builtin();
        let names = variables();
        for locale in Locale::ALL {
            for count in [0, 1, 2, 5] {
                let args: Vec<(&str, Arg<'_>)> = names
                    .iter()
                    .map(|n| (n.as_str(), Arg::Num(count)))
                    .collect();
                let messages = catalog.messages(locale).unwrap();
                for (_, key) in keys(locale) {
                    let pattern = messages.bundle.get_message(key).unwrap().value().unwrap();
                    let mut fluent_args = FluentArgs::new();
                    for (name, _) in &args {
                        fluent_args.set(*name, FluentValue::from(count));
                    }
                    let mut errors = Vec::new();
                    let text =
                        messages
                            .bundle
                            .format_pattern(pattern, Some(&fluent_args), &mut errors);
                    assert!(errors.is_empty(), "{locale} {key}: {errors:?}");
                    assert!(!text.trim().is_empty(), "{locale} {key} is empty");
                    let text = catalog.text(locale, key, &args);
                    assert!(
                        !text.contains(['\u{2068}', '\u{2069}']),
                        "{locale} {key}: isolation marks"
                    );
                    assert!(!text.contains("{$"), "{locale} {key}: unresolved {text}");
                }
            }
        }
    }

    #[test]
    fn widget_strings_take_no_arguments_and_cover_the_whole_file() {
        let catalog = Catalog::builtin();
        for locale in Locale::ALL {
            let strings = catalog.widget_strings(locale);
            let widget_source = BUILTIN
                .iter()
                .find(|s| s.locale == locale && s.file == File::Widget)
                .unwrap();
            let ids: Vec<_> = message_ids(widget_source.text).collect();
            assert_eq!(strings.len(), ids.len(), "{locale}");
            let variable = widget_source
                .text
                .lines()
                .find(|line| !line.starts_with('#') && line.contains('$'));
            assert_eq!(variable, None, "{locale}: a widget string with a variable");
            for (key, text) in &strings {
                assert!(
                    !text.is_empty() && !text.contains('\u{2068}'),
                    "{locale} {key}"
                );
            }
        }
        let english = catalog.widget_strings(Locale::En);
        let spanish = catalog.widget_strings(Locale::Es);
        let text = |all: &[(String, String)], key: &str| {
            all.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(text(&english, "consent-accept"), "Accept");
        assert_eq!(text(&spanish, "consent-accept"), "Aceptar");
        assert_eq!(text(&english, "language-switch"), "Español");
        assert_eq!(text(&spanish, "language-switch"), "English");
    }

    #[test]
    fn missing_messages_fall_back_to_english_then_to_the_key() {
        const ONLY_ENGLISH: [Source; 2] = [
            Source {
                locale: Locale::En,
                file: File::Chat,
                path: "en",
                text: "hello = Hello, { $name }!\nlate = { $count ->\n    [one] One minute\n   *[other] { $count } minutes\n}\n",
            },
            Source {
                locale: Locale::Es,
                file: File::Chat,
                path: "es",
                text: "late = { $count ->\n    [one] Un minuto\n   *[other] { $count } minutos\n}\n",
            },
        ];
        let (catalog, problems) = Catalog::parse(&ONLY_ENGLISH);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            catalog.text(Locale::Es, "hello", &[("name", "Morgan".into())]),
            "Hello, Morgan!"
        );
        assert!(!catalog.has(Locale::Es, "hello"));
        assert_eq!(catalog.text(Locale::Es, "nope", &[]), "nope");
        assert_eq!(
            catalog.text(Locale::Es, "late", &[("count", 1u32.into())]),
            "Un minuto"
        );
        assert_eq!(
            catalog.text(Locale::Es, "late", &[("count", 5usize.into())]),
            "5 minutos"
        );
        assert_eq!(
            catalog.text(Locale::En, "late", &[("count", 1i64.into())]),
            "One minute"
        );
        // A missing argument is logged, not fatal.
        assert_eq!(catalog.text(Locale::En, "hello", &[]), "Hello, {$name}!");
        let owned = String::from("Ana");
        assert_eq!(
            catalog.text(Locale::En, "hello", &[("name", (&owned).into())]),
            "Hello, Ana!"
        );
    }

    #[test]
    fn broken_files_are_reported_and_the_rest_still_works() {
        const BROKEN: [Source; 1] = [Source {
            locale: Locale::En,
            file: File::Widget,
            path: "broken",
            text: "good = Fine\nbad = { oops\ngood = Twice\nalso-good = Yes\n",
        }];
        let (catalog, problems) = Catalog::parse(&BROKEN);
        assert!(problems.len() >= 2, "{problems:?}");
        assert_eq!(catalog.text(Locale::En, "good", &[]), "Fine");
        assert_eq!(catalog.text(Locale::En, "also-good", &[]), "Yes");
        assert!(!catalog.has(Locale::En, "bad"));
        let keys: Vec<_> = catalog
            .widget_strings(Locale::En)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert!(keys.contains(&"also-good".to_owned()), "{keys:?}");
    }

    #[test]
    fn message_ids_skip_terms_comments_and_continuations() {
        let ids: Vec<_> = message_ids(
            "# a = comment\n-term = Clinic\nfirst = One\n    second = continued\nthird-key_2 =\n    Two\n",
        )
        .collect();
        assert_eq!(ids, ["first", "third-key_2"]);
    }
}
