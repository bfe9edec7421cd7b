//! The clinic's FAQ content: the questions patients ask and the answers the
//! clinic wants given, loaded from the knowledge file (TOML, `[[faq]]` tables).
//!
//! This module owns the shape of that file and the checks on it. It knows
//! nothing about how a patient's message is matched to an entry (that is
//! [`crate::intents`]); it only guarantees that every entry the matcher is built
//! from has a well-formed intent, a non-empty answer and at least one example
//! question, and that no two entries claim the same intent or example.
//!
//! Loading is two-stage, as for the rest of our config: [`KnowledgeBase::from_toml_str`]
//! parses what the clinic wrote (unknown fields are rejected, so a typo such as
//! `exmaples` fails loudly instead of being ignored), then
//! [`KnowledgeBase::validate`] checks the content. Error messages name the
//! entry by its position and intent and say what to change, for example
//! `knowledge.faq[3] (faq.parking): examples is empty; add at least one example question`.
//! Positions are 0-based: `faq[0]` is the first `[[faq]]` table in the file.
//!
//! A minimal entry:
//!
//! ```toml
//! [[faq]]
//! intent = "faq.parking"
//! answer = "Free parking is available in the lot behind the building."
//! examples = ["Is there parking?", "Where do I park?"]
//! keywords = ["parking", "garage"]   # optional
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The demo clinic's knowledge file: the built-in FAQ of `carechat serve`
/// without `--config`, and the `faq.toml` that `carechat init` writes.
pub const DEMO_KNOWLEDGE_TOML: &str = include_str!("../../config/demo-knowledge.toml");

/// Every FAQ intent starts with this, so FAQ answers can be told apart from
/// other intents (hand-off, booking, safety) in logs and metrics.
pub const INTENT_PREFIX: &str = "faq.";

/// The clinic's whole FAQ: one entry per question topic.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeBase {
    /// The entries, in file order; error messages refer to them by position.
    pub faq: Vec<FaqEntry>,
}

/// One FAQ topic: what patients ask about it and what the clinic answers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaqEntry {
    /// Stable name of the topic, e.g. `faq.hours`; must start with `faq.`.
    /// Logged and counted instead of the patient's words, which may be PHI.
    pub intent: String,
    /// The reply the patient sees, in plain text.
    pub answer: String,
    /// Example patient questions. The matcher learns the topic's vocabulary
    /// from these, so varied phrasings route better than many near-copies.
    pub examples: Vec<String>,
    /// Optional cue words or short phrases that strongly signal this topic
    /// (insurer names, "walk-in"); they add vocabulary and a small score bonus.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The same entry in Spanish (`[faq.es]`): its answer and the ways
    /// Spanish-speaking patients ask. Without it, Spanish questions on this
    /// topic get the English answer.
    #[serde(default)]
    pub es: Option<Translation>,
}

/// An FAQ entry in another language than the file's own (English).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Translation {
    /// The reply, in that language.
    pub answer: String,
    /// Example questions, in that language.
    pub examples: Vec<String>,
}

impl FaqEntry {
    /// The answer in `locale`, or the English one when the entry has no
    /// translation.
    #[must_use]
    pub fn answer(&self, locale: crate::lang::Locale) -> &str {
        match (locale, &self.es) {
            (crate::lang::Locale::Es, Some(es)) => &es.answer,
            _ => &self.answer,
        }
    }

    /// Every example with its language.
    pub fn examples(&self) -> impl Iterator<Item = (crate::lang::Locale, &str)> {
        let english = self
            .examples
            .iter()
            .map(|e| (crate::lang::Locale::En, e.as_str()));
        let spanish = self
            .es
            .iter()
            .flat_map(|t| t.examples.iter())
            .map(|e| (crate::lang::Locale::Es, e.as_str()));
        english.chain(spanish)
    }
}

/// Why the knowledge file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    /// The file could not be read from disk.
    #[error("could not read the knowledge file {path}: {source}")]
    Read {
        /// The path that was tried.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML, or has fields this version does not know.
    #[error("the knowledge file is not a valid knowledge base: {0}")]
    Parse(#[from] toml::de::Error),
    /// The file parsed but has no `[[faq]]` entries at all.
    #[error("knowledge.faq is empty; add at least one [[faq]] entry with an intent, an answer and example questions")]
    NoEntries,
    /// One entry has a problem; the message names it and says what to fix.
    #[error("knowledge.faq[{index}] ({intent}): {problem}")]
    InvalidEntry {
        /// 0-based position of the entry in the file.
        index: usize,
        /// The entry's intent as written, or `<no intent>` when it is blank.
        intent: String,
        /// What is wrong and how to fix it.
        problem: EntryProblem,
    },
}

/// What is wrong with one FAQ entry. Each message ends with the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    /// `intent = ""`.
    #[error("intent is empty; give the entry a name such as \"faq.parking\"")]
    EmptyIntent,
    /// The intent does not start with `faq.`.
    #[error("intent must start with \"faq.\"; rename it to \"{suggestion}\"")]
    MissingFaqPrefix {
        /// The intent with the prefix added.
        suggestion: String,
    },
    /// The part after `faq.` is empty or uses characters other than
    /// lowercase ASCII letters, digits, `_` and `.`.
    #[error("intent must be \"faq.\" followed by lowercase letters, digits, '_' or '.', such as \"faq.lab_hours\"")]
    MalformedIntent,
    /// Another entry earlier in the file has the same intent.
    #[error("intent is also used by knowledge.faq[{first_index}]; give each entry its own intent or merge the two entries")]
    DuplicateIntent {
        /// Position of the earlier entry.
        first_index: usize,
    },
    /// `answer = ""` or only whitespace.
    #[error("answer is empty; write the reply patients should see")]
    EmptyAnswer,
    /// `examples = []`.
    #[error("examples is empty; add at least one example question")]
    NoExamples,
    /// One example is blank.
    #[error("examples[{position}] is blank; remove it or write a patient question")]
    BlankExample {
        /// 0-based position within `examples`.
        position: usize,
    },
    /// One keyword is blank.
    #[error("keywords[{position}] is blank; remove it or write a cue word")]
    BlankKeyword {
        /// 0-based position within `keywords`.
        position: usize,
    },
    /// `[faq.es]` has an empty `answer`.
    #[error("es.answer is empty; write the Spanish reply, or remove the [faq.es] table")]
    EmptyTranslatedAnswer,
    /// One Spanish example is blank.
    #[error("es.examples[{position}] is blank; remove it or write a patient question in Spanish")]
    BlankTranslatedExample {
        /// 0-based position within `es.examples`.
        position: usize,
    },
    /// The same example question (ignoring case and spacing) is listed under
    /// two intents, so the matcher could not tell which answer it wants.
    #[error("examples[{position}] \"{example}\" is also an example of {other_intent}; keep it only under the entry that answers it")]
    SharedExample {
        /// 0-based position within `examples`.
        position: usize,
        /// The example as written.
        example: String,
        /// The earlier entry that already lists it.
        other_intent: String,
    },
}

impl KnowledgeBase {
    /// Parses a knowledge file's text and validates it.
    ///
    /// # Errors
    /// [`KnowledgeError::Parse`] if the text is not TOML of the expected
    /// shape, or the first problem [`KnowledgeBase::validate`] finds.
    pub fn from_toml_str(text: &str) -> Result<Self, KnowledgeError> {
        let knowledge: Self = toml::from_str(text)?;
        knowledge.validate()?;
        Ok(knowledge)
    }

    /// Reads, parses and validates the knowledge file at `path`.
    ///
    /// # Errors
    /// [`KnowledgeError::Read`] if the file cannot be read, otherwise as
    /// [`KnowledgeBase::from_toml_str`].
    pub fn load(path: &Path) -> Result<Self, KnowledgeError> {
        let text = std::fs::read_to_string(path).map_err(|source| KnowledgeError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text)
    }

    /// Checks the content; errors say what to fix, naming the entry, e.g.
    /// "knowledge.faq[3] (faq.parking): examples is empty; add at least one example question".
    ///
    /// # Errors
    /// [`KnowledgeError::NoEntries`] for an empty file, else
    /// [`KnowledgeError::InvalidEntry`] for the first problem in file order.
    pub fn validate(&self) -> Result<(), KnowledgeError> {
        if self.faq.is_empty() {
            return Err(KnowledgeError::NoEntries);
        }
        let mut first_index_of_intent: HashMap<&str, usize> = HashMap::new();
        let mut intent_of_example: HashMap<String, &str> = HashMap::new();
        for (index, entry) in self.faq.iter().enumerate() {
            let invalid = |problem: EntryProblem| KnowledgeError::InvalidEntry {
                index,
                intent: intent_label(&entry.intent),
                problem,
            };
            check_intent(&entry.intent).map_err(invalid)?;
            if let Some(&first_index) = first_index_of_intent.get(entry.intent.as_str()) {
                return Err(invalid(EntryProblem::DuplicateIntent { first_index }));
            }
            first_index_of_intent.insert(&entry.intent, index);
            if entry.answer.trim().is_empty() {
                return Err(invalid(EntryProblem::EmptyAnswer));
            }
            if entry.examples.is_empty() {
                return Err(invalid(EntryProblem::NoExamples));
            }
            for (position, example) in entry.examples.iter().enumerate() {
                if example.trim().is_empty() {
                    return Err(invalid(EntryProblem::BlankExample { position }));
                }
                let key = comparable_example(example);
                match intent_of_example.get(&key) {
                    Some(&other_intent) if other_intent != entry.intent => {
                        return Err(invalid(EntryProblem::SharedExample {
                            position,
                            example: example.clone(),
                            other_intent: other_intent.to_owned(),
                        }));
                    }
                    Some(_) => {}
                    None => {
                        intent_of_example.insert(key, &entry.intent);
                    }
                }
            }
            if let Some(position) = entry.keywords.iter().position(|k| k.trim().is_empty()) {
                return Err(invalid(EntryProblem::BlankKeyword { position }));
            }
            if let Some(es) = &entry.es {
                if es.answer.trim().is_empty() {
                    return Err(invalid(EntryProblem::EmptyTranslatedAnswer));
                }
                if let Some(position) = es.examples.iter().position(|e| e.trim().is_empty()) {
                    return Err(invalid(EntryProblem::BlankTranslatedExample { position }));
                }
            }
        }
        Ok(())
    }
}

/// How an entry is named in error messages.
fn intent_label(intent: &str) -> String {
    if intent.trim().is_empty() {
        "<no intent>".to_owned()
    } else {
        intent.to_owned()
    }
}

fn check_intent(intent: &str) -> Result<(), EntryProblem> {
    let trimmed = intent.trim();
    if trimmed.is_empty() {
        return Err(EntryProblem::EmptyIntent);
    }
    let Some(topic) = intent.strip_prefix(INTENT_PREFIX) else {
        if trimmed.starts_with(INTENT_PREFIX) {
            // Leading whitespace: the name is right but not clean.
            return Err(EntryProblem::MalformedIntent);
        }
        return Err(EntryProblem::MissingFaqPrefix {
            suggestion: format!(
                "{INTENT_PREFIX}{}",
                trimmed.to_lowercase().replace(' ', "_")
            ),
        });
    };
    let well_formed = !topic.is_empty()
        && !topic.starts_with('.')
        && !topic.ends_with('.')
        && topic
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
    if well_formed {
        Ok(())
    } else {
        Err(EntryProblem::MalformedIntent)
    }
}

/// Examples compared ignoring case, spacing and trailing punctuation.
fn comparable_example(example: &str) -> String {
    example
        .split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(['?', '!', '.'])
        .to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const DEMO_KNOWLEDGE: &str = DEMO_KNOWLEDGE_TOML;

    fn find<'a>(knowledge: &'a KnowledgeBase, intent: &str) -> Option<&'a FaqEntry> {
        knowledge.faq.iter().find(|entry| entry.intent == intent)
    }

    fn entry(intent: &str, answer: &str, examples: &[&str]) -> FaqEntry {
        FaqEntry {
            intent: intent.to_owned(),
            answer: answer.to_owned(),
            examples: examples.iter().map(|e| (*e).to_owned()).collect(),
            keywords: Vec::new(),
            es: None,
        }
    }

    fn valid_pair() -> Vec<FaqEntry> {
        vec![
            entry(
                "faq.hours",
                "We are open 8 to 6.",
                &["What are your hours?"],
            ),
            entry(
                "faq.parking",
                "Park behind the building.",
                &["Where do I park?"],
            ),
        ]
    }

    fn message_for(faq: Vec<FaqEntry>) -> String {
        KnowledgeBase { faq }.validate().unwrap_err().to_string()
    }

    #[test]
    fn demo_file_parses_and_validates() {
        let knowledge = KnowledgeBase::from_toml_str(DEMO_KNOWLEDGE).unwrap();
        assert!(knowledge.faq.len() >= 17);
        for required in [
            "faq.hours",
            "faq.location",
            "faq.directions",
            "faq.phone",
            "faq.insurance",
            "faq.services",
            "faq.parking",
            "faq.new_patients",
            "faq.walk_in",
            "faq.telehealth",
            "faq.billing",
            "faq.records_request",
            "faq.languages",
            "faq.accessibility",
            "faq.covid_flu_vaccines",
            "faq.lab_hours",
            "faq.after_hours",
        ] {
            let entry =
                find(&knowledge, required).unwrap_or_else(|| panic!("demo file lacks {required}"));
            assert!(
                (5..=12).contains(&entry.examples.len()),
                "{required} has {} examples; the demo keeps 5 to 12",
                entry.examples.len()
            );
        }
    }

    #[test]
    fn demo_answers_state_the_clinic_facts() {
        let knowledge = KnowledgeBase::from_toml_str(DEMO_KNOWLEDGE).unwrap();
        let answer = |intent: &str| find(&knowledge, intent).unwrap().answer.clone();
        assert!(answer("faq.location").contains("1200 Maple Grove Ave, Suite 200"));
        assert!(answer("faq.phone").contains("(555) 010-4477"));
        let hours = answer("faq.hours");
        for fact in ["8am", "6pm", "Saturday", "9am", "1pm", "Sunday", "holidays"] {
            assert!(hours.contains(fact), "hours answer lacks {fact}: {hours}");
        }
        let insurance = answer("faq.insurance");
        for insurer in [
            "Aetna",
            "Blue Cross Blue Shield",
            "Cigna",
            "UnitedHealthcare",
            "Medicare",
            "Medicaid",
        ] {
            assert!(
                insurance.contains(insurer),
                "insurance answer lacks {insurer}"
            );
        }
        assert!(answer("faq.after_hours").contains("911"));
    }

    #[test]
    fn valid_content_passes() {
        KnowledgeBase { faq: valid_pair() }.validate().unwrap();
    }

    #[test]
    fn empty_examples_names_the_entry_and_the_fix() {
        let mut faq = valid_pair();
        faq[1].examples.clear();
        assert_eq!(
            message_for(faq),
            "knowledge.faq[1] (faq.parking): examples is empty; add at least one example question"
        );
    }

    #[test]
    fn duplicate_intent_points_at_the_first_use() {
        let mut faq = valid_pair();
        faq.push(entry("faq.hours", "Other answer.", &["When do you close?"]));
        assert_eq!(
            message_for(faq),
            "knowledge.faq[2] (faq.hours): intent is also used by knowledge.faq[0]; \
             give each entry its own intent or merge the two entries"
        );
    }

    #[test]
    fn intent_without_prefix_suggests_the_prefixed_name() {
        let mut faq = valid_pair();
        faq[0].intent = "hours".to_owned();
        assert_eq!(
            message_for(faq),
            "knowledge.faq[0] (hours): intent must start with \"faq.\"; rename it to \"faq.hours\""
        );
    }

    #[test]
    fn empty_answer_asks_for_the_reply() {
        let mut faq = valid_pair();
        faq[1].answer = "  ".to_owned();
        assert_eq!(
            message_for(faq),
            "knowledge.faq[1] (faq.parking): answer is empty; write the reply patients should see"
        );
    }

    #[test]
    fn empty_intent_is_named_by_position() {
        let mut faq = valid_pair();
        faq[0].intent = String::new();
        let message = message_for(faq);
        assert!(
            message.starts_with("knowledge.faq[0] (<no intent>): intent is empty"),
            "{message}"
        );
    }

    #[test]
    fn malformed_intent_says_which_characters_are_allowed() {
        for bad in ["faq.", "faq.Parking", "faq.lab hours", "faq..x."] {
            let mut faq = valid_pair();
            faq[1].intent = bad.to_owned();
            let message = message_for(faq);
            assert!(
                message.contains("lowercase letters, digits"),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn blank_example_and_keyword_are_pointed_at() {
        let mut faq = valid_pair();
        faq[0].examples.push(" ".to_owned());
        assert!(message_for(faq).contains("examples[1] is blank"));
        let mut faq = valid_pair();
        faq[1].keywords = vec!["parking".to_owned(), String::new()];
        assert!(message_for(faq).contains("keywords[1] is blank"));
    }

    #[test]
    fn example_shared_by_two_intents_is_rejected() {
        let mut faq = valid_pair();
        faq[1].examples.push("what are your HOURS".to_owned());
        assert_eq!(
            message_for(faq),
            "knowledge.faq[1] (faq.parking): examples[1] \"what are your HOURS\" is also an example \
             of faq.hours; keep it only under the entry that answers it"
        );
    }

    #[test]
    fn no_entries_is_an_error() {
        let error = KnowledgeBase::from_toml_str("faq = []").unwrap_err();
        assert!(matches!(error, KnowledgeError::NoEntries));
    }

    #[test]
    fn unknown_field_is_rejected_with_its_name() {
        let text = r#"
            [[faq]]
            intent = "faq.hours"
            answer = "8 to 6"
            exmaples = ["When are you open?"]
        "#;
        let message = KnowledgeBase::from_toml_str(text).unwrap_err().to_string();
        assert!(message.contains("exmaples"), "{message}");
    }

    #[test]
    fn keywords_are_optional_and_errors_are_typed() {
        let text = r#"
            [[faq]]
            intent = "parking"
            answer = "Behind the building."
            examples = ["Where do I park?"]
        "#;
        let error = KnowledgeBase::from_toml_str(text).unwrap_err();
        match error {
            KnowledgeError::InvalidEntry { index, problem, .. } => {
                assert_eq!(index, 0);
                assert_eq!(
                    problem,
                    EntryProblem::MissingFaqPrefix {
                        suggestion: "faq.parking".to_owned()
                    }
                );
            }
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn missing_file_names_the_path() {
        let error = KnowledgeBase::load(Path::new("/nonexistent/knowledge.toml")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/knowledge.toml"));
    }
}
