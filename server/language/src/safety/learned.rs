//! The safety screen's learned layer: a classifier trained at start-up on
//! example messages (`data/safety/examples.tsv`, one line per example, for
//! clinicians to review) that catches crisis and emergency messages the
//! word lists miss, because patients rarely use the words a list expects.
//!
//! It only ever adds escalations: the word lists run first and a match
//! there stands; this layer is asked only when they found nothing, and it
//! escalates when the crisis categories together are at least
//! [`CRISIS_SHARE`] likely (erring towards escalation), or refuses advice
//! when that is the most likely reading. Its negative examples are the
//! example's own `none` lines plus the built-in intents' phrases (ordinary
//! clinic business); it never sees a clinic's FAQ answers. Training is
//! deterministic, like the intent model's, whose classifier it shares.

use std::sync::LazyLock;

use super::{Category, Concern};
use crate::intents::{IntentModel, TrainingSet, BUILTIN_INTENTS_TOML};
use crate::lang::Locale;

/// The example messages, as shipped.
pub const EXAMPLES_TSV: &str = include_str!("../../data/safety/examples.tsv");

/// At or above this probability that a message is one of the crisis
/// categories, taken together, it escalates.
pub const CRISIS_SHARE: f32 = 0.7;
/// At or above this probability of medical advice (and more than any crisis
/// category), the advice refusal is given.
pub const ADVICE_SHARE: f32 = 0.5;

const NONE: &str = "none";
const ADVICE: &str = "medical_advice";

/// The trained layer.
pub struct LearnedScreen {
    model: IntentModel,
}

/// Why the examples could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data/safety/examples.tsv line {line}: {problem}")]
pub struct ExamplesError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

fn category(name: &str) -> Option<Category> {
    Some(match name {
        "self_harm" => Category::SelfHarm,
        "harm_to_others" => Category::HarmToOthers,
        "abuse" => Category::Abuse,
        "medical_emergency" => Category::MedicalEmergency,
        "poisoning" => Category::Poisoning,
        _ => return None,
    })
}

impl LearnedScreen {
    /// Trains on an examples file (and the built-in intents as ordinary
    /// messages).
    ///
    /// # Errors
    /// A line without a language, a known category and a text.
    pub fn train(examples: &str) -> Result<Self, ExamplesError> {
        let mut set = TrainingSet::default();
        for (index, line) in examples.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') || line.starts_with("lang\t") {
                continue;
            }
            let fail = |problem: &str| ExamplesError {
                line: index + 1,
                problem: problem.to_owned(),
            };
            let mut fields = line.splitn(3, '\t');
            let (Some(lang), Some(label), Some(text)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(fail("expected lang, category and text, tab-separated"));
            };
            let locale =
                Locale::from_tag(lang).ok_or_else(|| fail("the language must be en or es"))?;
            if label != NONE && label != ADVICE && category(label).is_none() {
                return Err(fail("unknown category"));
            }
            set.add(label, locale, text);
        }
        if let Ok(ordinary) = TrainingSet::from_intents_toml(BUILTIN_INTENTS_TOML) {
            for example in ordinary.examples {
                set.add(NONE, example.locale, &example.text);
            }
        }
        Ok(Self {
            model: IntentModel::train(&set),
        })
    }

    /// The shipped layer, trained once; `None` if the shipped examples do
    /// not load (a test guards against that).
    #[must_use]
    pub fn builtin() -> Option<&'static LearnedScreen> {
        static LAYER: LazyLock<Option<LearnedScreen>> =
            LazyLock::new(|| LearnedScreen::train(EXAMPLES_TSV).ok());
        LAYER.as_ref()
    }

    /// What the layer makes of `text`.
    #[must_use]
    pub fn check(&self, text: &str) -> Option<Concern> {
        let ranked = self.model.rank(text);
        let mut crisis_share = 0.0;
        let mut best_crisis: Option<(Category, f32)> = None;
        let mut advice = 0.0;
        for (name, p) in &ranked {
            if let Some(c) = category(name) {
                crisis_share += p;
                if best_crisis.is_none_or(|(_, q)| *p > q) {
                    best_crisis = Some((c, *p));
                }
            } else if *name == ADVICE {
                advice = *p;
            }
        }
        match best_crisis {
            Some((c, _)) if crisis_share >= CRISIS_SHARE => Some(Concern::Crisis(c)),
            Some((_, q)) if advice >= ADVICE_SHARE && advice > q => Some(Concern::MedicalAdvice),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_examples_load_and_the_layer_learns_them() {
        let layer = LearnedScreen::builtin();
        assert!(
            layer.is_some(),
            "{:?}",
            LearnedScreen::train(EXAMPLES_TSV).err()
        );
    }

    #[test]
    fn malformed_lines_are_named() {
        let err = LearnedScreen::train("en\tself_harm\nxx\tnone\thi\n").err();
        assert_eq!(err.map(|e| e.line), Some(1));
        let err = LearnedScreen::train("en\tnot_a_category\thi\n").err();
        assert!(err.is_some_and(|e| e.problem.contains("unknown category")));
    }
}
