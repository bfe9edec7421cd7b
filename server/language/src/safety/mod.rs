//! The safety screen: the first thing every piece of patient text passes,
//! in every state of the conversation, before the intent model or the FAQ
//! sees it.
//!
//! This module owns one decision: does a message show a crisis (suicide or
//! self-harm, harm to others, abuse, poisoning, a medical emergency) or ask
//! for medical advice (diagnosis, dosing, treatment, "is this serious"),
//! which a chat assistant must never answer from an FAQ. It does not own the
//! reply: the caller answers each [`Concern`] with the clinic's fixed text
//! (crisis line, 911, "please call us"), and never logs the message, which
//! is PHI. The labels and close-call rules it follows are in
//! `eval/LABELS.md`.
//!
//! # The word lists
//!
//! The rules are data, one file per language (`data/safety/en.toml`,
//! `data/safety/es.toml`), written for a clinician to read and review: a
//! section per category, rules in named groups, phrases written as plain
//! words with a few wildcards (see the header of either file, and
//! [`pattern`] for the phrase syntax):
//!
//! ```toml
//! language = "en"
//!
//! [classes]
//! self = "myself | meself | my self"
//!
//! [self_harm]
//! # Saying outright that they want to die or kill themselves.
//! direct = [
//!     "suicid*",
//!     "kill* @self",
//!     "[want|wanna] to? die",
//!     { phrase = "[im|i am] dying", unless = "dying [to|for]" },
//! ]
//! ```
//!
//! # The learned layer
//!
//! Patients in crisis rarely use the words a list expects ("no point
//! refilling my meds, I won't need them"). When the lists find no crisis,
//! [`learned`] asks a classifier trained at start-up on example messages
//! (`data/safety/examples.tsv`, also for clinicians to review) whether the
//! crisis categories together are likely; it can only add an escalation,
//! never remove one. [`screen`] runs both; [`Screen::check`] is the lists
//! alone.
//!
//! Every list is applied to every message, whatever its language (patients
//! mix languages, and language detection can be wrong on a short message).
//! A clinic may add its own lists with [`Screen::from_toml`].
//!
//! # How a message is read
//!
//! The text is folded ([`crate::text::fold`]: NFKC, invisible characters
//! removed, lowercase, accents removed, Cyrillic and Greek look-alike
//! letters made Latin) and split into words that keep digits and symbols
//! used as letters ([`crate::text::leet_words`]). Each word then stands for
//! every spelling it may be:
//!
//! - itself, and, when it has digits or symbols, its letter readings
//!   ("k1ll" → kill, "m@t@rme" → matarme);
//! - when a letter is repeated three times or more, the word without the
//!   repeats ("diiiie" → die; "kiiilll" matches kill because both are
//!   "kil" with doubled letters collapsed);
//! - when it is not a real word, the trigger words within a small edit
//!   distance that start with the same letter: none for words of up to 5
//!   letters, one edit from 6, two from 10 ("sucide", "suicdal",
//!   "suisidio"). Words listed under `[typos] never` are real words, never
//!   typos ("strange" is not "strangle").
//!
//! Letters spaced out or separated by dots or dashes ("k i l l  m y s e l
//! f", "s-u-i-c-i-d-e") are joined and, when joined into one run, split
//! back into the list's words ("killmyself" → kill myself); the message is
//! read both ways.
//!
//! Rules are tried most severe first ([`Screen::check`]); the first that
//! matches decides. Negation never lowers a concern: no rule looks for
//! "not", so "I'm not suicidal but I want to die" is still a crisis.
//!
//! # Cost
//!
//! The work is linear in the length of the message: each distinct word is
//! examined once (its typo search bounded by the banded edit distance), and
//! each rule is tried only where its first word occurs, after a check that
//! all its required words occur somewhere. With both lists and the learned
//! layer, a 5,000-character message took 2.4 ms and a 20,000-character one
//! 8.7 ms in a release build on 2 busy cores (`cargo test --release -p
//! carechat-language --test safety -- --ignored --nocapture` prints it);
//! the Spanish list's long multi-word choices are most of it.

#[allow(clippy::result_large_err)]
// Compile errors name the list, section, group, rule and phrase; they are built only when a list is loaded, never per message.
mod compile;
mod error;
pub mod learned;
mod matcher;
pub mod pattern;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

pub use error::ScreenError;

use compile::BitSet;

/// What kind of crisis a message shows. Serialized under its
/// [`Category::as_str`] name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Suicide or self-harm: direct, indirect or passive ideation, plans
    /// and means, giving things away, an overdose already taken, cutting or
    /// burning themselves.
    SelfHarm,
    /// Wanting or planning to hurt or kill someone, voices telling them to,
    /// threats.
    HarmToOthers,
    /// Domestic violence, a child abused by an adult, sexual assault,
    /// trafficking, being afraid to go home.
    Abuse,
    /// A medical emergency now: chest pain, stroke signs, trouble breathing,
    /// severe bleeding, anaphylaxis, a seizure, an unresponsive person, a
    /// pregnancy emergency.
    MedicalEmergency,
    /// Someone swallowed something poisonous or too much medicine by
    /// accident.
    Poisoning,
}

impl Category {
    /// Every category, most severe first: the order in which the screen
    /// prefers one when a message shows several.
    pub const BY_SEVERITY: [Category; 5] = [
        Self::SelfHarm,
        Self::HarmToOthers,
        Self::Abuse,
        Self::Poisoning,
        Self::MedicalEmergency,
    ];

    /// A stable name for logs and metrics (never log the message itself):
    /// `self_harm`, `harm_to_others`, `abuse`, `medical_emergency`,
    /// `poisoning`. Also the name of the category's section in the word
    /// lists.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SelfHarm => "self_harm",
            Self::HarmToOthers => "harm_to_others",
            Self::Abuse => "abuse",
            Self::MedicalEmergency => "medical_emergency",
            Self::Poisoning => "poisoning",
        }
    }

    /// Whether the category is a medical emergency (the reply is 911 or
    /// poison control) rather than a mental-health or safety crisis.
    #[must_use]
    pub fn is_medical(self) -> bool {
        matches!(self, Self::MedicalEmergency | Self::Poisoning)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the screen found in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Concern {
    /// A crisis or an emergency: answer with the crisis or emergency text,
    /// never with the FAQ.
    Crisis(Category),
    /// A request for diagnosis, dosing, treatment or whether a symptom is
    /// serious: only a clinician can answer it.
    MedicalAdvice,
}

impl Concern {
    /// A stable name for logs and metrics: the category's name, or
    /// `medical_advice`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crisis(category) => category.as_str(),
            Self::MedicalAdvice => "medical_advice",
        }
    }

    /// The concern's label in the evaluation set (`eval/LABELS.md`):
    /// `crisis.self_harm`, `crisis.harm_to_others`, `crisis.abuse`,
    /// `emergency.medical`, `emergency.poisoning`, `safety.medical_advice`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Crisis(Category::SelfHarm) => "crisis.self_harm",
            Self::Crisis(Category::HarmToOthers) => "crisis.harm_to_others",
            Self::Crisis(Category::Abuse) => "crisis.abuse",
            Self::Crisis(Category::MedicalEmergency) => "emergency.medical",
            Self::Crisis(Category::Poisoning) => "emergency.poisoning",
            Self::MedicalAdvice => "safety.medical_advice",
        }
    }
}

impl fmt::Display for Concern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rule that decided, for reviewing the word lists (it names the rule,
/// never the patient's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding<'a> {
    /// What the message shows.
    pub concern: Concern,
    /// The list the rule is in: its `language`, quoted (`"en"`).
    pub list: &'a str,
    /// The rule's section, such as `self_harm`.
    pub section: &'a str,
    /// The rule's group within the section, such as `direct`.
    pub group: &'a str,
    /// The rule's position in its group, from 1.
    pub number: usize,
    /// The rule's phrase as written.
    pub phrase: &'a str,
}

/// The built-in word lists, one per language, embedded in the binary.
pub const BUILTIN_LISTS: [&str; 2] = [
    include_str!("../../data/safety/en.toml"),
    include_str!("../../data/safety/es.toml"),
];

/// Compiled word lists, ready to screen messages. Build one with
/// [`Screen::from_toml`], or use the built-in lists through
/// [`Screen::builtin`] or [`screen`].
pub struct Screen {
    /// Exact words → their term.
    exact: HashMap<String, u32>,
    /// Stems (`kill*`) → their term.
    prefixes: HashMap<String, u32>,
    /// The longest stem, in characters.
    longest_stem: usize,
    /// The longest word or stem, in characters (for splitting joined
    /// letters).
    longest_word: usize,
    /// Exact words with doubled letters collapsed → their terms.
    squeezed_exact: HashMap<String, Vec<u32>>,
    /// Stems with doubled letters collapsed → their terms.
    squeezed_prefixes: HashMap<String, Vec<u32>>,
    /// The longest collapsed stem, in characters.
    longest_squeezed_stem: usize,
    /// Words and stems that tolerate typos, by first letter.
    fuzzy: HashMap<char, Vec<Fuzzy>>,
    /// Real words: never read as a typo.
    known: HashSet<String>,
    /// Stems of real words: never read as a typo.
    known_stems: Vec<String>,
    /// The text of each term (`kill*` for a stem), by term id.
    term_names: Vec<String>,
    /// Each word slot of every rule: the terms it accepts.
    slots: Vec<BitSet>,
    /// The rules of each concern, most severe first.
    categories: Vec<(Concern, Vec<Rule>)>,
}

/// A word or stem that matches at a few edits.
struct Fuzzy {
    chars: Vec<char>,
    term: u32,
    prefix: bool,
    edits: usize,
}

/// A compiled phrase.
#[derive(Clone)]
enum Node {
    /// One word, accepted when it carries one of the slot's terms.
    Slot(usize),
    /// Up to this many words of anything.
    Gap(usize),
    /// One of several sequences.
    Alt(Vec<Vec<Node>>),
    /// The sequence, or nothing.
    Opt(Vec<Node>),
}

/// A compiled phrase and the terms its first word can carry.
struct Pattern {
    nodes: Vec<Node>,
    first: BitSet,
}

/// A compiled rule.
struct Rule {
    main: Pattern,
    /// Slots that every match goes through: if a message has none of the
    /// terms of one of them, the rule cannot match.
    required: Vec<usize>,
    /// Phrases that, matched over the same words, cancel a match.
    unless: Vec<Pattern>,
    origin: Origin,
}

/// Where a rule is written.
struct Origin {
    list: String,
    section: &'static str,
    group: String,
    number: usize,
    phrase: String,
}

static BUILTIN: LazyLock<Screen> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Screen::from_toml(&BUILTIN_LISTS)
        .expect("the built-in safety lists in data/safety/ must compile; run `cargo test -p carechat-language --test safety`")
});

impl Screen {
    /// The built-in lists (`data/safety/*.toml`), compiled once on first use.
    ///
    /// # Panics
    ///
    /// If a built-in list does not compile; the crate's tests compile every
    /// one, so a release never does.
    #[must_use]
    pub fn builtin() -> &'static Screen {
        &BUILTIN
    }

    /// Compiles word lists, each the TOML text of one list file. Lists are
    /// independent: each has its own `[classes]`; the `[typos] never`
    /// words of every list apply to all.
    ///
    /// # Errors
    ///
    /// The first problem found, naming the list, the section, the group and
    /// the rule or class, and saying what to fix.
    #[allow(clippy::result_large_err)] // See `mod compile`: built only when a list is loaded.
    pub fn from_toml(files: &[&str]) -> Result<Screen, ScreenError> {
        compile::compile(files)
    }

    /// Screens a message: `None` means it may go on to the intent model.
    /// When several concerns apply the most severe wins: any crisis over
    /// medical advice, and among crises self-harm, harm to others, abuse,
    /// poisoning, then medical emergency.
    #[must_use]
    pub fn check(&self, text: &str) -> Option<Concern> {
        self.explain(text).map(|finding| finding.concern)
    }

    /// Like [`Screen::check`], with the rule that decided.
    #[must_use]
    pub fn explain(&self, text: &str) -> Option<Finding<'_>> {
        matcher::explain(self, text)
    }

    /// The list words and stems (`kill*`) that one written word is read as:
    /// itself, its letter readings, its unstretched form and its typo
    /// neighbours. A tool for reviewing the lists: a real word that is read
    /// as a trigger word it is not belongs under `[typos] never`.
    #[must_use]
    pub fn read_word(&self, word: &str) -> Vec<&str> {
        let word = crate::text::leet_words(word).concat();
        self.word_terms(&word)
            .into_iter()
            .filter_map(|term| self.term_names.get(term as usize).map(String::as_str))
            .collect()
    }

    /// How many rules the lists have for `concern`, in the list whose
    /// `language` is `list` (`"en"`), or in all lists when `list` is `None`.
    #[must_use]
    pub fn rule_count(&self, list: Option<&str>, concern: Concern) -> usize {
        self.categories
            .iter()
            .filter(|(c, _)| *c == concern)
            .flat_map(|(_, rules)| rules)
            .filter(|rule| list.is_none_or(|list| rule.origin.list.trim_matches('"') == list))
            .count()
    }
}

impl fmt::Debug for Screen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: usize = self.categories.iter().map(|(_, rules)| rules.len()).sum();
        f.debug_struct("Screen")
            .field("rules", &rules)
            .field("words", &self.exact.len())
            .field("stems", &self.prefixes.len())
            .finish_non_exhaustive()
    }
}

/// Screens a message with the built-in lists: [`Screen::builtin`] then
/// [`Screen::check`].
///
/// ```
/// use carechat_language::safety::{screen, Category, Concern};
/// assert_eq!(screen("I want to kill myself"), Some(Concern::Crisis(Category::SelfHarm)));
/// assert_eq!(screen("ya no quiero vivir"), Some(Concern::Crisis(Category::SelfHarm)));
/// assert_eq!(screen("what are your hours?"), None);
/// ```
///
/// The word lists decide first; when they find no crisis, the learned
/// layer ([`learned`]) may still find one (it only ever adds an
/// escalation). A crisis from either wins over medical advice.
#[must_use]
pub fn screen(text: &str) -> Option<Concern> {
    let lists = Screen::builtin().check(text);
    if matches!(lists, Some(Concern::Crisis(_))) {
        return lists;
    }
    let learned = learned::LearnedScreen::builtin().and_then(|layer| layer.check(text));
    match learned {
        Some(Concern::Crisis(_)) => learned,
        _ => lists.or(learned),
    }
}
