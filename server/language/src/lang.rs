//! Which language a patient writes in. CareChat speaks English and Spanish;
//! this module owns the [`Locale`] type and [`detect`], which tells the two
//! apart from a single message (or says it cannot).

use serde::{Deserialize, Serialize};

/// A language the chat speaks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    /// English.
    #[default]
    En,
    /// Spanish.
    Es,
}

impl Locale {
    /// Every locale, in the order the widget offers them.
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Es];

    /// The language tag on the wire and in the catalog: `en` or `es`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Es => "es",
        }
    }

    /// Reads a language tag such as `es`, `es-MX` or `EN_us`; `None` for a
    /// language the chat does not speak.
    #[must_use]
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Self::En),
            "es" => Some(Self::Es),
            _ => None,
        }
    }

    /// The first locale the chat speaks in an `Accept-Language` header, in
    /// the browser's order of preference (`q` weights respected).
    #[must_use]
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut best: Option<(f32, usize, Self)> = None;
        for (position, part) in header.split(',').enumerate() {
            let mut pieces = part.split(';');
            let Some(locale) = pieces.next().and_then(Self::from_tag) else {
                continue;
            };
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            let better = match best {
                None => true,
                Some((best_q, best_position, _)) => {
                    q > best_q || (q == best_q && position < best_position)
                }
            };
            if better {
                best = Some((q, position, locale));
            }
        }
        best.map(|(_, _, locale)| locale)
    }
}

impl std::fmt::Display for Locale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tells English from Spanish: a character-trigram naive Bayes model
/// trained on the same examples as the intent model, plus the marks only
/// Spanish uses (ñ, ¿, ¡, accented vowels).
#[derive(Debug, Clone, Default)]
pub struct LanguageModel {
    /// Per locale: log-probability of each trigram, and of an unseen one.
    models: Vec<(Locale, std::collections::HashMap<[char; 3], f32>, f32)>,
}

/// Below this log-likelihood margin per trigram, the language is unclear.
const MIN_MARGIN: f32 = 0.08;
/// Shorter messages ("ok", "hi", "gracias") say nothing reliable about
/// their language (marks such as "¿" still count).
const MIN_TRIGRAMS: usize = 8;

impl LanguageModel {
    /// Learns each language's trigrams from labelled phrases.
    #[must_use]
    pub fn train<'a>(examples: impl Iterator<Item = (Locale, &'a str)>) -> Self {
        let mut counts: Vec<(Locale, std::collections::HashMap<[char; 3], u32>)> = Locale::ALL
            .iter()
            .map(|&l| (l, std::collections::HashMap::new()))
            .collect();
        for (locale, text) in examples {
            if let Some((_, table)) = counts.iter_mut().find(|(l, _)| *l == locale) {
                for gram in trigrams(text) {
                    *table.entry(gram).or_default() += 1;
                }
            }
        }
        let models = counts
            .into_iter()
            .map(|(locale, table)| {
                #[allow(clippy::cast_precision_loss)]
                let total = table.values().sum::<u32>() as f32 + table.len() as f32 + 1.0;
                #[allow(clippy::cast_precision_loss)]
                let logs = table
                    .into_iter()
                    .map(|(gram, n)| (gram, ((n as f32 + 1.0) / total).ln()))
                    .collect();
                (locale, logs, (1.0 / total).ln())
            })
            .collect();
        Self { models }
    }

    /// The language of `text`, or `None` when it is too short or too close
    /// to call (a name, "ok", a date).
    #[must_use]
    pub fn detect(&self, text: &str) -> Option<Locale> {
        if text.chars().any(|c| matches!(c, 'ñ' | 'Ñ' | '¿' | '¡')) {
            return Some(Locale::Es);
        }
        let grams = trigrams(text);
        if grams.len() < MIN_TRIGRAMS || self.models.len() < 2 {
            return None;
        }
        let mut scores: Vec<(Locale, f32)> = self
            .models
            .iter()
            .map(|(locale, logs, unseen)| {
                let score = grams
                    .iter()
                    .map(|g| logs.get(g).copied().unwrap_or(*unseen))
                    .sum::<f32>();
                (*locale, score)
            })
            .collect();
        if text
            .chars()
            .any(|c| matches!(c, 'á' | 'é' | 'í' | 'ó' | 'ú' | 'Á' | 'É' | 'Í' | 'Ó' | 'Ú'))
        {
            // An accented vowel is strong evidence, not proof (a name).
            if let Some(es) = scores.iter_mut().find(|(l, _)| *l == Locale::Es) {
                es.1 += 3.0;
            }
        }
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        #[allow(clippy::cast_precision_loss)]
        let margin = (scores[0].1 - scores[1].1) / grams.len() as f32;
        (margin >= MIN_MARGIN).then_some(scores[0].0)
    }
}

/// Trigrams of the folded words, each padded with spaces.
fn trigrams(text: &str) -> Vec<[char; 3]> {
    let mut grams = Vec::new();
    for word in crate::text::words(text) {
        if word.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let chars: Vec<char> = std::iter::once(' ')
            .chain(word.chars())
            .chain(std::iter::once(' '))
            .collect();
        for w in chars.windows(3) {
            grams.push([w[0], w[1], w[2]]);
        }
    }
    grams
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_accept_language_headers_are_read() {
        assert_eq!(Locale::from_tag("es-MX"), Some(Locale::Es));
        assert_eq!(Locale::from_tag("EN_us"), Some(Locale::En));
        assert_eq!(Locale::from_tag("fr"), None);
        assert_eq!(
            Locale::from_accept_language("fr-CA,es;q=0.8,en;q=0.5"),
            Some(Locale::Es)
        );
        assert_eq!(
            Locale::from_accept_language("en-US,en;q=0.9,es;q=0.8"),
            Some(Locale::En)
        );
        assert_eq!(Locale::from_accept_language("de, es;q=0"), None);
    }

    #[test]
    fn short_or_mixed_messages_have_no_clear_language() {
        let model = LanguageModel::train(
            [
                (Locale::En, "when are you open on saturday"),
                (Locale::Es, "cuando abren el sabado por la mañana"),
            ]
            .into_iter(),
        );
        assert_eq!(model.detect("ok"), None);
        assert_eq!(model.detect("¿y el sábado?"), Some(Locale::Es));
    }
}
