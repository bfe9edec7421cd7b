//! The intent model: what a patient's message asks for, in English or
//! Spanish, with a confidence.
//!
//! This module owns the model and its training. It is trained at start-up,
//! in well under a second, from example phrases: the built-in tasks'
//! (`data/intents.toml`: appointments, labs, refills, a person, small talk,
//! and off-topic messages the clinic cannot answer) and the clinic's FAQ
//! entries from its knowledge file, in both languages. It does not own the
//! safety screen, which runs before it on every message and never depends on
//! it, nor what is said in reply.
//!
//! # How a message is classified
//! 1. **Words**: [`text::words`] (NFKC, case, accents and look-alike letters
//!    folded), letters repeated for emphasis squeezed, and each word the
//!    training examples never used corrected to the nearest one they did
//!    (one edit for 4–7 letters, two for longer words, same first letter),
//!    so "appointmnet" and "cita" without its accent still count.
//! 2. **Features**: each word, its first five letters (a stem that works for
//!    both languages: "appointments" and "appointment", "cancelar" and
//!    "cancelación" share one), each pair of neighbouring words, and the
//!    character trigrams of each word (partial credit for typos too far off
//!    to correct). The vector is scaled to unit length.
//! 3. **Model**: multinomial logistic regression over those features,
//!    trained by stochastic gradient descent with a fixed seed and a fixed
//!    number of passes, so the same examples always give the same model.
//! 4. **Decision** ([`IntentModel::understand`]): the most probable intent
//!    if its probability is at least [`CONFIDENT`]; between [`UNSURE`] and
//!    that, the up-to-three likeliest intents to offer the patient as a
//!    choice; below, or when most of the message's words are unknown to
//!    every example, nothing ([`Decision::Unknown`]).

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::knowledge::KnowledgeBase;
use crate::lang::{LanguageModel, Locale};
use crate::text;

/// At or above this probability the best intent is taken as meant.
pub const CONFIDENT: f32 = 0.22;
/// Between this and [`CONFIDENT`] the patient is asked which one they mean.
pub const UNSURE: f32 = 0.1;
/// Below this share of words known to the examples, a message that is not
/// clearly one intent is off topic.
const MIN_KNOWN_SHARE: f32 = 0.34;
/// The intent of messages the clinic cannot answer.
pub const UNKNOWN_INTENT: &str = "fallback.unknown";

/// Passes over the training examples.
const EPOCHS: usize = 32;
/// Step size of the first pass; it decays as 1/(1 + pass/4).
const LEARNING_RATE: f32 = 1.0;
/// Weight of one character trigram, relative to a whole word.
const TRIGRAM_WEIGHT: f32 = 0.2;
/// How far example counts are evened out between intents (0: not at all,
/// 1: every intent weighs the same in training).
const BALANCE: f32 = 0.5;
/// Words that make what follows the patient's own.
const POSSESSIVES: &[&str] = &["my", "mine", "our", "mi", "mis", "nuestra", "nuestro"];
/// Weight of a word's concept, relative to the word itself.
const CONCEPT_WEIGHT: f32 = 1.0;
/// Only the first this-many words of a message are classified; the safety
/// screen reads all of it.
const MAX_WORDS: usize = 80;

/// The built-in intents' example phrases.
pub const BUILTIN_INTENTS_TOML: &str = include_str!("../data/intents.toml");
/// Texting forms and concepts the model knows before any example.
pub const LEXICON_TOML: &str = include_str!("../data/lexicon.toml");

/// The lexicon: texting forms expanded before anything else, and each
/// concept word's concept.
#[derive(Debug, Clone, Default)]
struct Lexicon {
    texting: HashMap<String, Vec<String>>,
    concepts: HashMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LexiconFile {
    texting: HashMap<String, String>,
    concepts: HashMap<String, Vec<String>>,
}

/// The built-in lexicon, parsed once (a test checks that it parses).
static LEXICON: LazyLock<Result<Lexicon, String>> =
    LazyLock::new(|| Lexicon::builtin().map_err(|e| e.to_string()));

impl Lexicon {
    fn builtin() -> Result<Self, TrainingError> {
        let file: LexiconFile = toml::from_str(LEXICON_TOML)?;
        let texting = file
            .texting
            .into_iter()
            .map(|(k, v)| (k, v.split_whitespace().map(str::to_owned).collect()))
            .collect();
        let mut concepts = HashMap::new();
        let mut names: Vec<_> = file.concepts.into_iter().collect();
        names.sort();
        for (concept, words) in names {
            for word in words {
                for form in text::words(&word) {
                    concepts.entry(form).or_insert_with(|| concept.clone());
                }
            }
        }
        Ok(Self { texting, concepts })
    }

    /// The concept a word belongs to, if any.
    fn concept(&self, word: &str) -> Option<&str> {
        self.concepts.get(word).map(String::as_str)
    }
}

/// Why the training examples could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// `data/intents.toml` (or a replacement) is not of the expected shape.
    #[error("the intents file is not valid: {0}")]
    Parse(#[from] toml::de::Error),
    /// `data/lexicon.toml` is not of the expected shape.
    #[error("the lexicon is not valid: {0}")]
    Lexicon(String),
    /// An intent has no example in either language.
    #[error("intent {0} has no examples; add some under en = [...] or es = [...]")]
    NoExamples(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentsFile {
    intent: Vec<IntentExamples>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentExamples {
    name: String,
    #[serde(default)]
    en: Vec<String>,
    #[serde(default)]
    es: Vec<String>,
}

/// One labelled phrase the model learns from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The intent, such as `appointments.book` or `faq.hours`.
    pub intent: String,
    /// The phrase's language.
    pub locale: Locale,
    /// The phrase.
    pub text: String,
}

/// The examples a model is trained from.
#[derive(Debug, Clone, Default)]
pub struct TrainingSet {
    /// In the order added; the order is part of what makes training
    /// reproducible.
    pub examples: Vec<Example>,
}

impl TrainingSet {
    /// The built-in intents plus every FAQ entry of the clinic's knowledge
    /// file, in both languages.
    ///
    /// # Errors
    /// When a built-in file is broken (a test compiles them, so only a bad
    /// edit can fail here).
    pub fn for_clinic(knowledge: &KnowledgeBase) -> Result<Self, TrainingError> {
        if let Err(e) = &*LEXICON {
            return Err(TrainingError::Lexicon(e.clone()));
        }
        let mut set = Self::from_intents_toml(BUILTIN_INTENTS_TOML)?;
        // The built-in file's extra phrasings of FAQ topics count only for
        // topics this clinic's knowledge file has.
        set.examples.retain(|e| {
            !e.intent.starts_with(crate::knowledge::INTENT_PREFIX)
                || knowledge.faq.iter().any(|f| f.intent == e.intent)
        });
        set.add_knowledge(knowledge);
        Ok(set)
    }

    /// Reads an intents file (`[[intent]]` tables with `name`, `en`, `es`).
    ///
    /// # Errors
    /// [`TrainingError`] when the file does not parse or an intent has no
    /// example.
    pub fn from_intents_toml(text: &str) -> Result<Self, TrainingError> {
        let file: IntentsFile = toml::from_str(text)?;
        let mut set = Self::default();
        for intent in file.intent {
            if intent.en.is_empty() && intent.es.is_empty() {
                return Err(TrainingError::NoExamples(intent.name));
            }
            for (locale, phrases) in [(Locale::En, &intent.en), (Locale::Es, &intent.es)] {
                for phrase in phrases {
                    set.add(&intent.name, locale, phrase);
                }
            }
        }
        Ok(set)
    }

    /// Adds every example of every FAQ entry.
    pub fn add_knowledge(&mut self, knowledge: &KnowledgeBase) {
        for entry in &knowledge.faq {
            for (locale, example) in entry.examples() {
                self.add(&entry.intent, locale, example);
            }
        }
    }

    /// Adds one example.
    pub fn add(&mut self, intent: &str, locale: Locale, text: &str) {
        self.examples.push(Example {
            intent: intent.to_owned(),
            locale,
            text: text.to_owned(),
        });
    }
}

/// What the model makes of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Understanding {
    /// What to do with it.
    pub decision: Decision,
    /// The language it is written in, when that is clear.
    pub locale: Option<Locale>,
}

/// The model's decision about one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The patient means this intent.
    Intent {
        /// Its name.
        name: String,
        /// Its probability.
        confidence: f32,
    },
    /// Probably one of these (most likely first, at most three): ask.
    Unsure(Vec<String>),
    /// Nothing the clinic's chat knows about.
    Unknown,
}

impl Decision {
    /// The intent, if the model is confident of one.
    #[must_use]
    pub fn intent(&self) -> Option<&str> {
        match self {
            Self::Intent { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// The trained model. Build once with [`IntentModel::train`] and share it;
/// classifying takes `&self`.
#[derive(Debug, Clone)]
pub struct IntentModel {
    intents: Vec<String>,
    features: HashMap<String, u32>,
    /// Row-major: `weights[feature * intents + intent]`.
    weights: Vec<f32>,
    bias: Vec<f32>,
    vocabulary: Vocabulary,
    language: LanguageModel,
}

impl IntentModel {
    /// Trains on `set`. Deterministic: the same set gives the same model.
    #[must_use]
    pub fn train(set: &TrainingSet) -> Self {
        let lexicon = LEXICON.as_ref().cloned().unwrap_or_default();
        let vocabulary = Vocabulary::new(set.examples.iter().map(|e| e.text.as_str()), lexicon);
        let language =
            LanguageModel::train(set.examples.iter().map(|e| (e.locale, e.text.as_str())));
        let mut intents: Vec<String> = Vec::new();
        let mut labels = Vec::with_capacity(set.examples.len());
        for example in &set.examples {
            let index = match intents.iter().position(|i| *i == example.intent) {
                Some(i) => i,
                None => {
                    intents.push(example.intent.clone());
                    intents.len() - 1
                }
            };
            labels.push(index);
        }
        let mut features: HashMap<String, u32> = HashMap::new();
        let rows: Vec<Vec<(u32, f32)>> = set
            .examples
            .iter()
            .map(|e| {
                let named = featurize(&vocabulary.words(&e.text).words, &vocabulary.lexicon);
                named
                    .into_iter()
                    .map(|(name, value)| {
                        let next = u32::try_from(features.len()).unwrap_or(u32::MAX);
                        (*features.entry(name).or_insert(next), value)
                    })
                    .collect()
            })
            .collect();
        let classes = intents.len();
        let mut model = Self {
            weights: vec![0.0; features.len() * classes],
            bias: vec![0.0; classes],
            intents,
            features,
            vocabulary,
            language,
        };
        // Intents with many examples (the off-topic one above all) would
        // otherwise pull every uncertain message towards themselves.
        let mut per_class = vec![0usize; classes];
        for &label in &labels {
            per_class[label] += 1;
        }
        #[allow(clippy::cast_precision_loss)]
        let mean = labels.len() as f32 / classes.max(1) as f32;
        #[allow(clippy::cast_precision_loss)]
        let class_weight: Vec<f32> = per_class
            .iter()
            .map(|&n| (mean / n.max(1) as f32).powf(BALANCE))
            .collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut probabilities = vec![0.0; classes];
        for epoch in 0..EPOCHS {
            shuffle(&mut order, &mut seed);
            #[allow(clippy::cast_precision_loss)]
            let rate = LEARNING_RATE / (1.0 + epoch as f32 / 4.0);
            for &row in &order {
                model.probabilities(&rows[row], &mut probabilities);
                let weight = class_weight[labels[row]];
                for (class, p) in probabilities.iter_mut().enumerate() {
                    *p -= if class == labels[row] { 1.0 } else { 0.0 };
                    *p *= weight;
                }
                for (class, gradient) in probabilities.iter().enumerate() {
                    model.bias[class] -= rate * gradient * 0.1;
                }
                for &(feature, value) in &rows[row] {
                    let base = feature as usize * classes;
                    for (class, gradient) in probabilities.iter().enumerate() {
                        model.weights[base + class] -= rate * value * gradient;
                    }
                }
            }
        }
        model
    }

    /// The intents the model knows, in training order.
    #[must_use]
    pub fn intents(&self) -> &[String] {
        &self.intents
    }

    /// Every intent with its probability for `text`, most likely first.
    #[must_use]
    pub fn rank(&self, text: &str) -> Vec<(&str, f32)> {
        let (ranked, _) = self.rank_with_known_share(text);
        ranked
    }

    fn rank_with_known_share(&self, text: &str) -> (Vec<(&str, f32)>, f32) {
        let analyzed = self.vocabulary.words(text);
        let row: Vec<(u32, f32)> = featurize(&analyzed.words, &self.vocabulary.lexicon)
            .into_iter()
            .filter_map(|(name, value)| self.features.get(&name).map(|&id| (id, value)))
            .collect();
        let mut probabilities = vec![0.0; self.intents.len()];
        self.probabilities(&row, &mut probabilities);
        let mut ranked: Vec<(&str, f32)> = self
            .intents
            .iter()
            .map(String::as_str)
            .zip(probabilities)
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        (ranked, analyzed.known_share)
    }

    /// What the patient means, and in which language.
    #[must_use]
    pub fn understand(&self, text: &str) -> Understanding {
        let locale = self.language.detect(text);
        let (ranked, known_share) = self.rank_with_known_share(text);
        let decision = match ranked.first() {
            None => Decision::Unknown,
            Some(&(name, _)) if name == UNKNOWN_INTENT => Decision::Unknown,
            Some(&(name, p)) if p >= CONFIDENT => Decision::Intent {
                name: name.to_owned(),
                confidence: p,
            },
            Some(&(_, p)) if p >= UNSURE && known_share >= MIN_KNOWN_SHARE => {
                let choices: Vec<String> = ranked
                    .iter()
                    .take(3)
                    .filter(|(name, q)| *q >= UNSURE / 2.0 && *name != UNKNOWN_INTENT)
                    .map(|(name, _)| (*name).to_owned())
                    .collect();
                if choices.is_empty() {
                    Decision::Unknown
                } else {
                    Decision::Unsure(choices)
                }
            }
            Some(_) => Decision::Unknown,
        };
        Understanding { decision, locale }
    }

    /// The language of `text`, when it is clear.
    #[must_use]
    pub fn language(&self, text: &str) -> Option<Locale> {
        self.language.detect(text)
    }

    fn probabilities(&self, row: &[(u32, f32)], out: &mut [f32]) {
        let classes = self.intents.len();
        out.copy_from_slice(&self.bias);
        for &(feature, value) in row {
            let base = feature as usize * classes;
            for (class, score) in out.iter_mut().enumerate() {
                *score += self.weights[base + class] * value;
            }
        }
        let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for score in out.iter_mut() {
            *score = (*score - max).exp();
            sum += *score;
        }
        if sum > 0.0 {
            for score in out.iter_mut() {
                *score /= sum;
            }
        }
    }
}

/// A message's words after correction, and how many the examples knew.
struct Analyzed {
    words: Vec<String>,
    known_share: f32,
}

/// Every word the training examples use, for typo correction.
#[derive(Debug, Clone)]
struct Vocabulary {
    /// Word to how many times the examples use it.
    counts: HashMap<String, u32>,
    /// Words grouped by length, for the edit-distance search.
    by_length: HashMap<usize, Vec<String>>,
    lexicon: Lexicon,
}

impl Vocabulary {
    fn new<'a>(texts: impl Iterator<Item = &'a str>, lexicon: Lexicon) -> Self {
        let mut counts: HashMap<String, u32> = HashMap::new();
        for text in texts {
            for word in base_words(text, &lexicon) {
                *counts.entry(word).or_default() += 1;
            }
        }
        // Concept words are known even before an example uses them.
        for word in lexicon.concepts.keys() {
            counts.entry(word.clone()).or_insert(1);
        }
        let mut by_length: HashMap<usize, Vec<String>> = HashMap::new();
        for word in counts.keys() {
            by_length
                .entry(word.chars().count())
                .or_default()
                .push(word.clone());
        }
        for words in by_length.values_mut() {
            words.sort();
        }
        Self {
            counts,
            by_length,
            lexicon,
        }
    }

    fn words(&self, text: &str) -> Analyzed {
        let mut known = 0usize;
        let mut words = Vec::new();
        for word in base_words(text, &self.lexicon).into_iter().take(MAX_WORDS) {
            if self.counts.contains_key(&word) {
                known += 1;
                words.push(word);
            } else if let Some(corrected) = self.correct(&word) {
                known += 1;
                words.push(corrected);
            } else if word.chars().all(|c| c.is_ascii_digit()) {
                // Numbers (times, dates) say little about the intent.
                known += 1;
                words.push(word);
            } else {
                words.push(word);
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let known_share = if words.is_empty() {
            0.0
        } else {
            known as f32 / words.len() as f32
        };
        Analyzed { words, known_share }
    }

    /// The known word closest to an unknown one, if close enough.
    fn correct(&self, word: &str) -> Option<String> {
        let length = word.chars().count();
        if !(4..=24).contains(&length) {
            return None;
        }
        let max = if length >= 8 { 2 } else { 1 };
        let first = word.chars().next();
        let mut best: Option<(usize, u32, &String)> = None;
        for candidate_length in length.saturating_sub(max)..=length + max {
            let Some(candidates) = self.by_length.get(&candidate_length) else {
                continue;
            };
            for candidate in candidates {
                if candidate.chars().next() != first {
                    continue;
                }
                let Some(distance) = text::edits_within(word, candidate, max) else {
                    continue;
                };
                let count = self.counts.get(candidate).copied().unwrap_or(0);
                let better = match best {
                    None => true,
                    Some((d, c, _)) => distance < d || (distance == d && count > c),
                };
                if better {
                    best = Some((distance, count, candidate));
                }
            }
        }
        best.map(|(_, _, word)| word.clone())
    }
}

/// Folded words, texting forms expanded ("r u" → "are you", "xfa" → "por
/// favor") and emphasis squeezed ("pleeease" → "please").
fn base_words(text: &str, lexicon: &Lexicon) -> Vec<String> {
    let mut words = Vec::new();
    for word in text::words(text) {
        let word = text::squeeze_repeats(&word);
        match lexicon.texting.get(&word) {
            Some(expansion) => words.extend(expansion.iter().cloned()),
            None => words.push(word),
        }
    }
    words
}

/// The named features of a message's words, scaled to unit length.
fn featurize(words: &[String], lexicon: &Lexicon) -> Vec<(String, f32)> {
    let mut features: HashMap<String, f32> = HashMap::new();
    for (position, word) in words.iter().enumerate() {
        *features.entry(format!("w:{word}")).or_default() += 1.0;
        if let Some(concept) = lexicon.concept(word) {
            *features.entry(format!("k:{concept}")).or_default() += CONCEPT_WEIGHT;
            // "my refills", "mis resultados": the patient's own records,
            // not a general question about the topic.
            let owned = words[position.saturating_sub(2)..position]
                .iter()
                .any(|w| POSSESSIVES.contains(&w.as_str()));
            if owned {
                *features.entry(format!("o:{concept}")).or_default() += CONCEPT_WEIGHT;
            }
        }
        let chars: Vec<char> = word.chars().collect();
        if chars.len() > 5 {
            let stem: String = chars[..5].iter().collect();
            *features.entry(format!("s:{stem}")).or_default() += 1.0;
        }
        let padded: Vec<char> = std::iter::once('<')
            .chain(chars.iter().copied())
            .chain(std::iter::once('>'))
            .collect();
        for gram in padded.windows(3) {
            let gram: String = gram.iter().collect();
            *features.entry(format!("c:{gram}")).or_default() += TRIGRAM_WEIGHT;
        }
    }
    for pair in words.windows(2) {
        *features
            .entry(format!("b:{}_{}", pair[0], pair[1]))
            .or_default() += 1.0;
    }
    // A fixed order, so training sees features in the same order every run
    // and the norm is summed the same way (float addition is not
    // associative).
    let mut features: Vec<(String, f32)> = features.into_iter().collect();
    features.sort_by(|a, b| a.0.cmp(&b.0));
    let norm = features.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, value) in &mut features {
            *value /= norm;
        }
    }
    features
}

/// Fisher–Yates with a xorshift generator: reproducible, not random.
fn shuffle(items: &mut [usize], seed: &mut u64) {
    for i in (1..items.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        #[allow(clippy::cast_possible_truncation)]
        let j = (*seed % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::knowledge::{KnowledgeBase, DEMO_KNOWLEDGE_TOML};

    fn demo() -> IntentModel {
        let kb = KnowledgeBase::from_toml_str(DEMO_KNOWLEDGE_TOML).unwrap();
        IntentModel::train(&TrainingSet::for_clinic(&kb).unwrap())
    }

    #[test]
    fn the_built_in_files_compile() {
        assert!(LEXICON.is_ok(), "{:?}", LEXICON.as_ref().err());
        let set = TrainingSet::from_intents_toml(BUILTIN_INTENTS_TOML).unwrap();
        assert!(set.examples.iter().any(|e| e.locale == Locale::Es));
    }

    #[test]
    fn training_is_deterministic() {
        let a = demo();
        let b = demo();
        assert_eq!(a.weights, b.weights);
    }

    #[test]
    fn routes_in_both_languages_and_tells_the_language() {
        let model = demo();
        for (text, intent, locale) in [
            ("when r u open saturday", "faq.hours", Locale::En),
            ("a que hora abren el sabado", "faq.hours", Locale::Es),
            (
                "when is my next appointmnet",
                "appointments.list",
                Locale::En,
            ),
            ("quiero cancelar mi cita", "appointments.cancel", Locale::Es),
        ] {
            let understood = model.understand(text);
            assert_eq!(
                understood.decision.intent(),
                Some(intent),
                "{text}: {understood:?}"
            );
            assert_eq!(understood.locale, Some(locale), "{text}");
        }
    }

    #[test]
    fn off_topic_is_unknown() {
        let model = demo();
        for text in [
            "what is the capital of france",
            "cuál es la capital de francia",
        ] {
            assert_eq!(model.understand(text).decision, Decision::Unknown, "{text}");
        }
    }

    #[test]
    fn typos_are_corrected_against_the_examples_only() {
        let model = demo();
        let analyzed = model.vocabulary.words("appointmnet");
        assert_eq!(analyzed.words, ["appointment"]);
        assert!(model.vocabulary.correct("zzzz").is_none());
    }
}
