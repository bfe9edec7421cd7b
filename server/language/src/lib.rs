//! What CareChat understands of a patient's words. Pure: no I/O, no clock,
//! no randomness, so everything here is deterministic and tests in seconds.
//!
//! # Layout
//! - [`text`]: normalising (NFKC, invisible characters, case, accents,
//!   look-alike letters, digits used as letters, spaced and repeated
//!   letters), words, and edit distance. The one copy every other module
//!   uses.
//! - [`safety`]: the safety screen, run first on every piece of patient
//!   text in every state: word lists per language (`data/safety/*.toml`)
//!   and a learned layer trained on example messages
//!   (`data/safety/examples.tsv`), all data files a clinician can review.
//! - [`lang`]: which language a message is written in (English or Spanish).
//! - [`intents`]: the intent model, trained at start-up from example
//!   phrases (the clinic's FAQ entries and the built-in tasks), with a
//!   confidence for each answer.
//! - [`knowledge`]: the clinic's knowledge file (FAQ entries in each
//!   language) and its checks.
//! - [`eval`]: the labelled evaluation set and its figures (the
//!   `carechat-eval` command prints them).
//!
//! This crate decides what a message *is*; it never decides what to say.
//! Replies live in the server's message catalog.

pub mod eval;
pub mod intents;
pub mod knowledge;
pub mod lang;
pub mod safety;
pub mod text;
