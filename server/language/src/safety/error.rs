//! Why a safety word list could not be compiled.

/// A word list that cannot be used, with where the problem is and what to
/// change. Lists are named by their `language` line (`"en"`), or by their
/// position (`#2`) when that line is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScreenError {
    /// A problem with the file as a whole: not TOML, a missing or unknown
    /// section, a value of the wrong type.
    #[error("safety list {list}: {problem}")]
    List {
        /// The list's `language`, quoted, or `#N` for the Nth file.
        list: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A word class under `[classes]` that cannot be compiled.
    #[error("safety list {list}, [classes] {class} = \"{definition}\": {problem}")]
    Class {
        /// The list's `language`, quoted, or `#N` for the Nth file.
        list: String,
        /// The class name, without `@`.
        class: String,
        /// The class as written.
        definition: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A rule (or one of its `unless` phrases) that cannot be compiled.
    #[error("safety list {list}, [{section}] {group} rule {number} \"{phrase}\": {problem}")]
    Rule {
        /// The list's `language`, quoted, or `#N` for the Nth file.
        list: String,
        /// The section (category) the rule is in, such as `self_harm`.
        section: String,
        /// The group of rules within the section, such as `direct`.
        group: String,
        /// The rule's position in its group, from 1.
        number: usize,
        /// The phrase as written.
        phrase: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
}
