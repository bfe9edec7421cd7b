//! Understanding free text: turns a patient's message into comparable words
//! and routes it to the FAQ entry that answers it.
//!
//! This module owns text normalization (shared with [`crate::safety`], which
//! screens the same words) and the [`FaqMatcher`]. It does not decide what to
//! say when nothing matches, and it should never see a message the safety
//! screen flagged: the caller screens first.
//!
//! # How a message is matched
//!
//! The matcher is built once from the [`KnowledgeBase`] and precomputes every
//! index, so matching a typical message takes microseconds. No model, no
//! network: everything below is plain lookups and arithmetic.
//!
//! 1. **Normalize** ([`normalize_words`]): lowercase, fold accents (é→e),
//!    drop apostrophes (don't→dont), turn other punctuation into spaces, and
//!    expand texting forms and contractions ("r u"→"are you", "pls"→"please",
//!    "tmrw"→"tomorrow", "sat"→"saturday", "dont"→"do not").
//! 2. **Correct typos** against the vocabulary: every word of the knowledge
//!    base's examples and keywords plus this module's synonym and stop-word
//!    lists. An unknown word of 4–7 letters becomes the known word at most one
//!    edit away (Damerau–Levenshtein, a swap of two letters is one edit); 8
//!    letters or more, at most two edits. Words of 4–5 letters must keep their
//!    first letter ("game" is not a typo of "name"), and everyday English
//!    words from a built-in list are never corrected ("last" is not a typo
//!    of "lost", nor "router" of "route"). A corrected word weighs less than
//!    a word typed right ([`CORRECTED_WORD_WEIGHT`]).
//! 3. **Concepts**: a few two-word phrases are joined ("walk in", "after
//!    hours", "sign up"), stop words are dropped, the rest is stemmed lightly
//!    (plural, -ing, -ed, final e) and synonyms become one concept, so
//!    "insurer", "coverage" and "Aetna" are one term, and so are "garage",
//!    "park" and "parking".
//! 4. **Score** each entry between 0 and 1 as a weighted sum of
//!    - *coverage*: the share of the message's weight (IDF over entries,
//!      BM25-style) that the entry's vocabulary explains, each term counted
//!      by how many of the entry's examples use it (saturating, so one stray
//!      "pay for parking" does not make "pay" a parking word); words the
//!      clinic never uses, such as "france" or "joke", keep it low;
//!    - *best example*: the highest cosine similarity between the message and
//!      one example question, with terms weighted by IDF;
//!    - *trigrams*: the highest character-trigram (Dice) similarity between
//!      the message's content words and one example's, partial credit for
//!      typos too far off to correct;
//!    - a small bonus when one of the entry's keywords appears.
//! 5. **Decide**: the best entry wins if it scores at least [`MIN_SCORE`].
//!    If the runner-up is within [`AMBIGUITY_MARGIN`] and the best is below
//!    [`CLEAR_SCORE`], nothing is returned: asking the patient to rephrase is
//!    better than a wrong answer.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use crate::knowledge::KnowledgeBase;

/// Below this score no entry is returned. Calibrated on the demo clinic's
/// knowledge base: in the tests the lowest-scoring paraphrase scores about
/// 0.52 and the highest-scoring off-topic message ("who won the game last
/// night", which shares "night" with the after-hours entry) about 0.36.
/// After changing weights, the lexicon or the demo file, re-run
/// `cargo test calibration -- --ignored --nocapture`.
pub const MIN_SCORE: f32 = 0.45;

/// When the two best entries score within this of each other...
pub const AMBIGUITY_MARGIN: f32 = 0.10;

/// ...and the best scores below this, the message is ambiguous and no entry
/// is returned.
pub const CLEAR_SCORE: f32 = 0.60;

/// Weight of a word the matcher had to correct, relative to one typed right:
/// a correction may be wrong, so it should not carry a match on its own.
pub const CORRECTED_WORD_WEIGHT: f32 = 0.8;

/// Weight of a word that appears in no entry, relative to the rarest word
/// that does: a message that is mostly about something else should not
/// match because one of its words is a clinic word.
const UNKNOWN_WORD_WEIGHT: f32 = 1.0;

const COVERAGE_WEIGHT: f32 = 0.45;
const EXAMPLE_WEIGHT: f32 = 0.35;
const TRIGRAM_WEIGHT: f32 = 0.20;
const KEYWORD_BONUS: f32 = 0.05;

/// Only the first this-many words of a message are matched. FAQ questions
/// are short; a long message is a story that needs a person, and bounding
/// the input bounds the time a match takes.
const MAX_MESSAGE_WORDS: usize = 64;

/// Words longer than this are never typo-corrected (and bound the edit
/// distance tables).
const MAX_CORRECTABLE_LEN: usize = 24;

/// The FAQ entry a message was routed to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaqMatch<'a> {
    /// The entry's intent, e.g. `faq.hours`.
    pub intent: &'a str,
    /// The reply to send.
    pub answer: &'a str,
    /// Confidence in [0, 1]; see the module docs for how it is computed.
    pub score: f32,
}

/// Routes free text to an FAQ entry. Build once per knowledge base with
/// [`FaqMatcher::new`] and share it; matching takes `&self`.
#[derive(Debug, Clone)]
pub struct FaqMatcher {
    entries: Vec<IndexedEntry>,
    /// Term (a concept such as `@insurance`, or a stemmed word) to its id.
    term_ids: HashMap<String, u32>,
    /// Inverse document frequency by term id, where a document is an entry:
    /// a term used by one entry only is what tells entries apart.
    idf: Vec<f32>,
    /// Weight given to a word no entry uses.
    unknown_word_idf: f32,
    vocabulary: Vocabulary,
}

#[derive(Debug, Clone)]
struct IndexedEntry {
    intent: String,
    answer: String,
    examples: Vec<IndexedExample>,
    /// Every term of the entry's examples and keywords, sorted, with how
    /// strongly the entry uses it (see [`term_strength`]).
    terms: Vec<(u32, f32)>,
    /// The terms of the entry's keywords, sorted.
    keyword_terms: Vec<u32>,
}

#[derive(Debug, Clone)]
struct IndexedExample {
    /// Terms with IDF weights, scaled to unit length, sorted by term id.
    weights: Vec<(u32, f32)>,
    /// Character trigrams of the content words, sorted and deduplicated.
    trigrams: Vec<u64>,
}

/// A message after normalization, correction and concept mapping.
#[derive(Debug, Default)]
struct AnalyzedText {
    /// Term keys with whether the word had to be corrected; deduplicated.
    terms: Vec<(String, bool)>,
    /// Content words as typed (before correction and stemming), for trigrams.
    content_words: Vec<String>,
}

impl FaqMatcher {
    /// Builds the matcher and its indexes from a validated knowledge base.
    #[must_use]
    // Entry and document counts are far below f32's 2^24 exact integers.
    #[allow(clippy::cast_precision_loss)]
    pub fn new(kb: &KnowledgeBase) -> Self {
        let vocabulary = Vocabulary::build(kb);

        // First pass: analyze every example and keyword, number the terms.
        let mut term_ids: HashMap<String, u32> = HashMap::new();
        let mut term_id = |key: &str| -> u32 {
            let next = u32::try_from(term_ids.len()).unwrap_or(u32::MAX);
            *term_ids.entry(key.to_owned()).or_insert(next)
        };
        let drafts: Vec<EntryDraft> = kb
            .faq
            .iter()
            .map(|entry| {
                let examples: Vec<AnalyzedText> = entry
                    .examples
                    .iter()
                    .map(|example| analyze(example, None))
                    .collect();
                let mut keyword_terms: Vec<u32> = entry
                    .keywords
                    .iter()
                    .flat_map(|keyword| analyze(keyword, None).terms)
                    .map(|(key, _)| term_id(&key))
                    .collect();
                keyword_terms.sort_unstable();
                keyword_terms.dedup();
                // Each example lists a term once, so counting occurrences
                // counts the examples (plus the keyword list) that use it.
                let mut uses: Vec<u32> = examples
                    .iter()
                    .flat_map(|example| &example.terms)
                    .map(|(key, _)| term_id(key))
                    .chain(keyword_terms.iter().copied())
                    .collect();
                uses.sort_unstable();
                let mut terms: Vec<(u32, f32)> = Vec::new();
                for term in uses {
                    match terms.last_mut() {
                        Some((last, count)) if *last == term => *count += 1.0,
                        _ => terms.push((term, 1.0)),
                    }
                }
                for (_, count) in &mut terms {
                    *count = term_strength(*count);
                }
                EntryDraft {
                    examples,
                    terms,
                    keyword_terms,
                }
            })
            .collect();

        // Second pass: IDF over entries, then the example vectors.
        let entry_count = kb.faq.len() as f32;
        let mut document_frequency = vec![0_u32; term_ids.len()];
        for draft in &drafts {
            for &(term, _) in &draft.terms {
                if let Some(count) = document_frequency.get_mut(term as usize) {
                    *count += 1;
                }
            }
        }
        let idf_for = |df: f32| (1.0 + (entry_count - df + 0.5) / (df + 0.5)).ln();
        let idf: Vec<f32> = document_frequency
            .iter()
            .map(|&df| idf_for(df as f32))
            .collect();
        let unknown_word_idf = UNKNOWN_WORD_WEIGHT * idf_for(1.0);

        let entries = kb
            .faq
            .iter()
            .zip(drafts)
            .map(|(entry, draft)| IndexedEntry {
                intent: entry.intent.clone(),
                answer: entry.answer.clone(),
                examples: draft
                    .examples
                    .iter()
                    .map(|example| index_example(example, &term_ids, &idf))
                    .collect(),
                terms: draft.terms,
                keyword_terms: draft.keyword_terms,
            })
            .collect();
        Self {
            entries,
            term_ids,
            idf,
            unknown_word_idf,
            vocabulary,
        }
    }

    /// Best FAQ entry for the text, or None when nothing matches confidently.
    #[must_use]
    pub fn best_match(&self, text: &str) -> Option<FaqMatch<'_>> {
        let ranked = self.ranked(text);
        let best = *ranked.first()?;
        if best.score < MIN_SCORE {
            return None;
        }
        if let Some(runner_up) = ranked.get(1) {
            if best.score < CLEAR_SCORE && best.score - runner_up.score < AMBIGUITY_MARGIN {
                return None;
            }
        }
        Some(best)
    }

    /// Every entry with a non-zero score, best first. For diagnostics and
    /// calibration; patients should get [`FaqMatcher::best_match`].
    #[must_use]
    pub fn ranked(&self, text: &str) -> Vec<FaqMatch<'_>> {
        let analyzed = analyze(text, Some(&self.vocabulary));
        let query = self.weigh(&analyzed);
        if query.terms.is_empty() {
            return Vec::new();
        }
        let mut ranked: Vec<FaqMatch<'_>> = self
            .entries
            .iter()
            .map(|entry| FaqMatch {
                intent: &entry.intent,
                answer: &entry.answer,
                score: score_entry(entry, &query),
            })
            .filter(|found| found.score > 0.0)
            .collect();
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
        ranked
    }

    fn weigh(&self, analyzed: &AnalyzedText) -> WeighedQuery {
        let mut terms = Vec::with_capacity(analyzed.terms.len());
        let mut total_weight = 0.0;
        let mut squared_norm = 0.0;
        for (key, corrected) in &analyzed.terms {
            let factor = if *corrected {
                CORRECTED_WORD_WEIGHT
            } else {
                1.0
            };
            let (id, idf) = match self.term_ids.get(key) {
                Some(&id) => (Some(id), self.idf.get(id as usize).copied().unwrap_or(0.0)),
                None => (None, self.unknown_word_idf),
            };
            let weight = idf * factor;
            total_weight += weight;
            squared_norm += weight * weight;
            terms.push((id, weight));
        }
        WeighedQuery {
            terms,
            total_weight,
            norm: squared_norm.sqrt(),
            trigrams: trigrams(&analyzed.content_words),
        }
    }
}

/// An entry between the two passes of [`FaqMatcher::new`].
struct EntryDraft {
    examples: Vec<AnalyzedText>,
    terms: Vec<(u32, f32)>,
    keyword_terms: Vec<u32>,
}

struct WeighedQuery {
    /// Term id (None for words no entry uses) and weight.
    terms: Vec<(Option<u32>, f32)>,
    total_weight: f32,
    norm: f32,
    trigrams: Vec<u64>,
}

fn index_example(
    example: &AnalyzedText,
    term_ids: &HashMap<String, u32>,
    idf: &[f32],
) -> IndexedExample {
    let mut weights: Vec<(u32, f32)> = example
        .terms
        .iter()
        .filter_map(|(key, _)| term_ids.get(key))
        .map(|&id| (id, idf.get(id as usize).copied().unwrap_or(0.0)))
        .collect();
    weights.sort_unstable_by_key(|&(id, _)| id);
    weights.dedup_by_key(|&mut (id, _)| id);
    let norm = weights.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, weight) in &mut weights {
            *weight /= norm;
        }
    }
    IndexedExample {
        weights,
        trigrams: trigrams(&example.content_words),
    }
}

/// How strongly an entry is about a term it uses in `uses` examples or
/// keyword lists: 1 use counts 0.67, 2 count 0.8, 4 count 0.89. One stray
/// mention ("pay for parking") should not make the term the entry's own.
fn term_strength(uses: f32) -> f32 {
    uses / (uses + 0.5)
}

fn score_entry(entry: &IndexedEntry, query: &WeighedQuery) -> f32 {
    if query.total_weight <= 0.0 {
        return 0.0;
    }
    let mut covered = 0.0;
    let mut keyword_hit = false;
    for &(id, weight) in &query.terms {
        if let Some(id) = id {
            if let Ok(at) = entry.terms.binary_search_by_key(&id, |&(t, _)| t) {
                covered += weight * entry.terms.get(at).map_or(0.0, |&(_, strength)| strength);
            }
            keyword_hit |= entry.keyword_terms.binary_search(&id).is_ok();
        }
    }
    let coverage = covered / query.total_weight;

    let mut best_cosine: f32 = 0.0;
    let mut best_trigram: f32 = 0.0;
    for example in &entry.examples {
        if query.norm > 0.0 {
            let dot: f32 = query
                .terms
                .iter()
                .filter_map(|&(id, weight)| {
                    let id = id?;
                    let at = example
                        .weights
                        .binary_search_by_key(&id, |&(t, _)| t)
                        .ok()?;
                    example.weights.get(at).map(|&(_, w)| w * weight)
                })
                .sum();
            best_cosine = best_cosine.max(dot / query.norm);
        }
        best_trigram = best_trigram.max(dice(&query.trigrams, &example.trigrams));
    }
    let bonus = if keyword_hit { KEYWORD_BONUS } else { 0.0 };
    (COVERAGE_WEIGHT * coverage
        + EXAMPLE_WEIGHT * best_cosine
        + TRIGRAM_WEIGHT * best_trigram
        + bonus)
        .min(1.0)
}

// ---------------------------------------------------------------------------
// Analysis: words -> corrected words -> terms.

/// Normalizes, corrects (when a vocabulary is given) and maps a text to terms.
fn analyze(text: &str, vocabulary: Option<&Vocabulary>) -> AnalyzedText {
    let words: Vec<Token> = normalize_words(text)
        .into_iter()
        .take(MAX_MESSAGE_WORDS)
        .map(|typed| match vocabulary.and_then(|v| v.correct(&typed)) {
            Some(word) => Token {
                word,
                typed,
                corrected: true,
            },
            None => Token {
                word: typed.clone(),
                typed,
                corrected: false,
            },
        })
        .collect();

    let lexicon = &*LEXICON;
    let mut analyzed = AnalyzedText::default();
    for token in join_phrases(words) {
        if lexicon.stop_words.contains(token.word.as_str()) {
            continue;
        }
        let key = lexicon.term_key(&token.word);
        match analyzed
            .terms
            .iter_mut()
            .find(|(existing, _)| *existing == key)
        {
            // Seen already: keep it, and trust it if any spelling was exact.
            Some((_, seen_corrected)) => *seen_corrected &= token.corrected,
            None => analyzed.terms.push((key, token.corrected)),
        }
        // Trigrams compare what was typed: a correction already counts in
        // the term scores, and may be wrong.
        analyzed.content_words.push(token.typed);
    }
    analyzed
}

/// One word of a message on its way to becoming a term.
struct Token {
    /// The word after typo correction.
    word: String,
    /// The word as normalized from what the patient typed.
    typed: String,
    corrected: bool,
}

/// Joins two-word phrases that mean one thing ("walk in" -> "walkin").
fn join_phrases(tokens: Vec<Token>) -> Vec<Token> {
    let mut joined = Vec::with_capacity(tokens.len());
    let mut rest = tokens.into_iter().peekable();
    while let Some(token) = rest.next() {
        let phrase = rest.peek().and_then(|next| {
            LEXICON
                .phrases
                .get(&(token.word.as_str(), next.word.as_str()))
                .copied()
        });
        match (phrase, rest.next_if(|_| phrase.is_some())) {
            (Some(phrase), Some(next)) => joined.push(Token {
                word: phrase.to_owned(),
                typed: format!("{}{}", token.typed, next.typed),
                corrected: token.corrected || next.corrected,
            }),
            _ => joined.push(token),
        }
    }
    joined
}

/// Lowercases, folds accents and punctuation and expands texting forms and
/// contractions, returning the words. Shared by [`crate::safety`].
///
/// `"When r u open Sat?"` becomes `["when", "are", "you", "open", "saturday"]`;
/// `"I don't"` becomes `["i", "do", "not"]`.
#[must_use]
pub fn normalize_words(text: &str) -> Vec<String> {
    let folded = fold_text(text);
    let mut words = Vec::new();
    for word in folded.split_whitespace() {
        match texting_expansion(word) {
            Some(expansion) => words.extend(expansion.iter().map(|w| (*w).to_owned())),
            None => words.push(word.to_owned()),
        }
    }
    words
}

/// Lowercase, accents folded to ASCII where a Latin letter has one,
/// apostrophes removed (so "don't" is one word), `&` spelled out, and every
/// other non-alphanumeric character turned into a space.
fn fold_text(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            '\'' | '\u{2019}' | '\u{2018}' | '\u{02bc}' | '`' | '\u{00b4}' => {}
            '&' => folded.push_str(" and "),
            c if c.is_ascii_alphanumeric() => folded.push(c),
            c => match fold_accent(c) {
                Some(ascii) => folded.push_str(ascii),
                None if c.is_alphanumeric() => folded.push(c),
                None => folded.push(' '),
            },
        }
    }
    folded
}

fn fold_accent(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' | 'ľ' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'ř' => "r",
        'ś' | 'š' | 'ş' => "s",
        'ť' | 'ţ' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        _ => return None,
    })
}

/// Texting forms, abbreviations and contractions (apostrophes already
/// removed) spelled out.
fn texting_expansion(word: &str) -> Option<&'static [&'static str]> {
    Some(match word {
        "u" | "ya" | "yu" => &["you"],
        "r" => &["are"],
        "ur" | "yor" => &["your"],
        "y" => &["why"],
        "n" => &["and"],
        "w" => &["with"],
        "b4" => &["before"],
        "pls" | "plz" | "plis" | "pleez" => &["please"],
        "thx" | "thnx" | "thanx" | "ty" => &["thanks"],
        "tmrw" | "tmr" | "tmrow" | "tmw" | "tmro" | "2moro" | "2morrow" | "tomoz" => &["tomorrow"],
        "tdy" | "2day" => &["today"],
        "tonite" | "2nite" => &["tonight"],
        "wknd" | "wkend" => &["weekend"],
        "mon" => &["monday"],
        "tue" | "tues" => &["tuesday"],
        "wed" => &["wednesday"],
        "thu" | "thur" | "thurs" => &["thursday"],
        "fri" => &["friday"],
        "sat" => &["saturday"],
        "sun" => &["sunday"],
        "hrs" => &["hours"],
        "hr" => &["hour"],
        "appt" | "appts" | "apt" => &["appointment"],
        "dr" | "doc" | "drs" | "docs" => &["doctor"],
        "addr" | "addy" => &["address"],
        "ph" | "tel" => &["phone"],
        "info" => &["information"],
        "pt" | "pts" => &["patient"],
        "rx" => &["prescription"],
        "bcbs" => &["blue", "cross", "blue", "shield"],
        "uhc" => &["unitedhealthcare"],
        "covid19" => &["covid"],
        "abt" | "bout" => &["about"],
        "ppl" => &["people"],
        "msg" => &["message"],
        "txt" => &["text"],
        "wat" | "wut" | "wht" | "wot" => &["what"],
        "wen" | "whn" => &["when"],
        "wher" | "whr" => &["where"],
        "hw" => &["how"],
        "bc" | "cuz" | "coz" | "bcuz" | "becuz" => &["because"],
        "gonna" => &["going", "to"],
        "wanna" => &["want", "to"],
        "gotta" => &["got", "to"],
        "lemme" => &["let", "me"],
        "gimme" => &["give", "me"],
        "im" => &["i", "am"],
        "ive" => &["i", "have"],
        "youre" | "ure" => &["you", "are"],
        "theyre" => &["they", "are"],
        "whats" | "wats" | "wuts" => &["what", "is"],
        "wheres" => &["where", "is"],
        "whens" => &["when", "is"],
        "hows" => &["how", "is"],
        "whos" => &["who", "is"],
        "thats" => &["that", "is"],
        "its" => &["it", "is"],
        "rn" => &["right", "now"],
        "til" | "till" => &["until"],
        "theres" => &["there", "is"],
        "dont" | "dnt" => &["do", "not"],
        "doesnt" => &["does", "not"],
        "didnt" => &["did", "not"],
        "cant" | "cannot" | "cnt" => &["can", "not"],
        "couldnt" => &["could", "not"],
        "wont" => &["will", "not"],
        "wouldnt" => &["would", "not"],
        "shouldnt" => &["should", "not"],
        "isnt" | "aint" => &["is", "not"],
        "arent" => &["are", "not"],
        "wasnt" => &["was", "not"],
        "werent" => &["were", "not"],
        "havent" => &["have", "not"],
        "hasnt" => &["has", "not"],
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Lexicon: stop words, phrases and concepts. Shared by every matcher.

/// Words that carry no topic. Question words that do ("where", "when",
/// "how", "much", "why") are kept.
#[rustfmt::skip]
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "anybody", "anyone", "anything", "are",
    "as", "able", "actually", "at", "be", "been", "being", "best", "but", "by", "can", "come", "could", "did",
    "do", "does", "doing", "for", "from", "get", "gets", "getting", "go", "going", "guy", "guys", "folks",
    "here", "somewhere", "anywhere", "got", "had", "has", "have", "having", "he", "hello", "her", "hey", "hi",
    "him", "his", "i", "if", "in", "into", "is", "it", "its", "just", "know", "let", "like", "me", "might",
    "mine", "my", "myself", "need", "needs", "no", "not", "now", "of", "off", "ok", "okay", "on", "one", "or",
    "our", "ours", "out", "please", "possible", "question", "quick", "really", "right", "see", "seen", "shall",
    "she", "should", "so", "some", "somebody", "someone", "something", "still", "sure", "tell", "than", "thank",
    "thanks", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "too",
    "uh", "um", "up", "us", "very", "want", "wanted", "was", "way", "we", "were", "what", "which", "who",
    "whom", "will", "with", "wondering", "would", "until", "currently", "curious", "kindly", "yall", "yes",
    "yet", "you", "your", "yours", "yourself",
];

/// Everyday English words that are never "corrected" into a clinic word,
/// because the patient most likely meant them: "last night" is not "lost",
/// "my router" is not "route", "meaning of life" is not "line".
#[rustfmt::skip]
const COMMON_WORDS: &[&str] = &[
    "about", "above", "across", "actually", "again", "against", "ahead", "alone", "along", "already", "always",
    "among", "amount", "another", "answer", "anybody", "anyway", "anywhere", "apple", "around", "arrive",
    "asked", "away", "awesome", "baby", "back", "bake", "ball", "band", "bank", "base", "basket", "bath",
    "beach", "bear", "beat", "beautiful", "because", "become", "bedroom", "beer", "before", "began", "begin",
    "behind", "being", "believe", "below", "beside", "better", "between", "bike", "bird", "birthday", "black",
    "blog", "blue", "board", "boat", "body", "bone", "book", "boring", "born", "borrow", "boss", "both",
    "bottle", "bottom", "bought", "bowl", "brain", "brand", "bread", "break", "bring", "broke", "brother",
    "brought", "brown", "build", "built", "burn", "business", "busy", "butter", "button", "cake", "camera",
    "camp", "candy", "capital", "captain", "card", "careful", "carry", "case", "cash", "castle", "catch",
    "cause", "chair", "chance", "change", "cheap", "cheese", "chicken", "choose", "church", "city", "class",
    "clean", "clear", "climb", "clock", "cloud", "coat", "coffee", "coin", "cold", "college", "color", "come",
    "comes", "company", "compare", "computer", "contest", "cook", "cookie", "cool", "copy", "corner", "couch",
    "could", "count", "country", "couple", "course", "cousin", "crazy", "cream", "crowd", "dance", "dark",
    "data", "date", "dead", "deal", "dear", "death", "decide", "deep", "deliver", "delivery", "dessert",
    "device", "dinner", "dish", "doing", "dollar", "done", "door", "double", "down", "draw", "dream", "dress",
    "drink", "drop", "during", "each", "early", "earn", "earth", "east", "easy", "edge", "eight", "either",
    "else", "empty", "ending", "engine", "enjoy", "enough", "enter", "even", "event", "ever", "every", "exact",
    "exactly", "example", "except", "excited", "expect", "eyes", "face", "fact", "fair", "fall", "false",
    "famous", "fancy", "farm", "fast", "father", "favorite", "feel", "feet", "fell", "felt", "fight", "figure",
    "fill", "film", "final", "find", "fine", "finger", "finish", "fire", "fish", "five", "flag", "flat",
    "flight", "floor", "flower", "fly", "follow", "food", "foot", "football", "force", "forest", "forget",
    "fork", "form", "forward", "found", "four", "france", "free", "fresh", "friend", "fruit", "full", "funny",
    "future", "game", "garden", "gate", "gave", "gift", "girl", "give", "glad", "glass", "goal", "goes", "gold",
    "golf", "gone", "good", "goods", "grade", "grand", "grass", "gray", "great", "green", "grew", "ground",
    "group", "grow", "guess", "guest", "guitar", "hair", "half", "hall", "hand", "handle", "hang", "happen",
    "happy", "hard", "hate", "head", "hear", "heard", "heart", "heat", "heavy", "held", "helped", "hero",
    "hide", "high", "hill", "hire", "hold", "hole", "holiday", "home", "honey", "hope", "horse", "host",
    "house", "however", "huge", "human", "hungry", "hunt", "hurry", "husband", "idea", "ideas", "image", "inch",
    "inside", "instead", "island", "issue", "item", "join", "joke", "judge", "juice", "jump", "junk", "keep",
    "kept", "kettle", "keys", "kick", "kind", "king", "kiss", "kitchen", "knew", "knife", "known", "lady",
    "lake", "land", "large", "last", "late", "later", "laugh", "lawn", "lazy", "lead", "learn", "least",
    "leave", "left", "legal", "lemon", "less", "lesson", "letter", "level", "library", "life", "light", "like",
    "likes", "line", "link", "list", "listen", "little", "live", "lives", "loan", "local", "lock", "long",
    "look", "looks", "lose", "loud", "love", "lovely", "luck", "lucky", "lunch", "made", "magic", "mail",
    "main", "major", "male", "mall", "manager", "many", "mark", "market", "master", "match", "matter", "maybe",
    "meal", "mean", "means", "meat", "meet", "member", "menu", "message", "metal", "middle", "might", "mile",
    "milk", "mind", "minute", "miss", "mistake", "model", "moment", "money", "monkey", "month", "moon", "more",
    "morning", "most", "mother", "mountain", "mouse", "move", "movie", "much", "music", "must", "name",
    "nation", "nature", "near", "nearly", "neck", "never", "news", "next", "nice", "nine", "noise", "none",
    "noon", "north", "note", "nothing", "notice", "novel", "ocean", "offer", "often", "once", "only", "orange",
    "order", "other", "outside", "owner", "pack", "package", "page", "paid", "paint", "pair", "paper", "parent",
    "part", "party", "pass", "past", "path", "pays", "peace", "pencil", "people", "pepper", "perfect",
    "perhaps", "person", "pick", "picnic", "picture", "piece", "pink", "pizza", "plane", "planet", "plant",
    "plate", "play", "player", "plays", "pocket", "poem", "point", "police", "pool", "poor", "post", "potato",
    "pound", "power", "pretty", "price", "print", "prize", "problem", "program", "pull", "puppy", "purple",
    "push", "quiet", "quite", "race", "radio", "rain", "raise", "rather", "reach", "read", "ready", "real",
    "reason", "record", "remember", "rent", "reset", "rest", "rice", "rich", "ride", "river", "road", "rock",
    "roof", "room", "root", "rope", "round", "router", "rule", "ruler", "rush", "safe", "said", "salad", "sale",
    "salt", "same", "sand", "save", "scale", "school", "science", "score", "screen", "season", "seat", "second",
    "seed", "seem", "sell", "send", "sense", "sent", "serve", "seven", "shape", "share", "sharp", "sheep",
    "shelf", "shine", "ship", "shipped", "shirt", "shoe", "shoes", "shop", "shopping", "short", "shout", "show",
    "shower", "sick", "side", "sign", "silly", "silver", "simple", "since", "sing", "singer", "sister", "size",
    "skin", "skirt", "sleep", "slow", "small", "smart", "smell", "smile", "snow", "soap", "soccer", "sock",
    "soft", "soil", "sold", "solve", "song", "soon", "sorry", "sort", "soul", "sound", "soup", "south", "space",
    "speed", "spell", "spend", "spoon", "sport", "spot", "spring", "square", "stamp", "stand", "star", "start",
    "state", "stay", "steal", "step", "stick", "stone", "store", "storm", "story", "strange", "street",
    "strong", "student", "study", "stuff", "style", "sugar", "summer", "super", "supper", "swim", "table",
    "tail", "talk", "tall", "taste", "taxi", "teach", "team", "tears", "teeth", "tennis", "tent", "test",
    "text", "thing", "think", "third", "those", "though", "thought", "three", "threw", "throw", "ticket",
    "tiger", "tired", "title", "toast", "today", "together", "toilet", "told", "tomato", "tomorrow", "tone",
    "tonight", "took", "tool", "tooth", "total", "touch", "tour", "towel", "tower", "town", "track", "trade",
    "traffic", "train", "travel", "tree", "trick", "trip", "truck", "true", "trust", "truth", "turtle", "twice",
    "type", "uncle", "under", "until", "upon", "upset", "usual", "valley", "video", "view", "village", "visit",
    "voice", "vote", "wait", "wake", "walk", "wall", "wallet", "warm", "wash", "watch", "water", "wave", "wear",
    "weather", "week", "weight", "welcome", "well", "went", "west", "whale", "wheel", "while", "white", "whole",
    "wide", "wife", "wild", "will", "wind", "window", "wine", "wing", "winner", "winter", "wise", "wish",
    "woman", "women", "wonder", "wood", "word", "words", "work", "world", "worry", "worse", "worst", "would",
    "write", "wrong", "yard", "year", "yellow", "young", "zone",
];

/// Two words that mean one thing, and the single word that stands for them.
const PHRASES: &[(&str, &str, &str)] = &[
    ("walk", "in", "walkin"),
    ("walk", "ins", "walkin"),
    ("drop", "in", "walkin"),
    ("show", "up", "walkin"),
    ("same", "day", "sameday"),
    ("sign", "up", "signup"),
    ("sign", "language", "asl"),
    // "speak to a person" asks for a human, not about languages.
    ("speak", "to", "speakto"),
    ("speak", "with", "speakto"),
    ("after", "hours", "afterhours"),
    ("after", "hour", "afterhours"),
    ("on", "call", "oncall"),
    ("24", "7", "afterhours"),
    ("24", "hour", "afterhours"),
    ("24", "hours", "afterhours"),
    ("nurse", "line", "nurseline"),
    ("x", "ray", "xray"),
    ("united", "healthcare", "unitedhealthcare"),
    ("united", "health", "unitedhealthcare"),
    ("e", "mail", "email"),
    ("tele", "health", "telehealth"),
    ("tele", "medicine", "telemedicine"),
    ("in", "network", "innetwork"),
    ("get", "there", "getthere"),
    ("get", "to", "getto"),
    ("blood", "work", "bloodwork"),
    ("blood", "draw", "bloodwork"),
    ("blood", "drawn", "bloodwork"),
    ("blood", "test", "bloodtest"),
    ("blood", "tests", "bloodtest"),
    ("lab", "work", "labwork"),
    ("check", "up", "checkup"),
    ("wheel", "chair", "wheelchair"),
    ("service", "dog", "serviceanimal"),
    ("service", "animal", "serviceanimal"),
    ("self", "pay", "selfpay"),
    ("co", "pay", "copay"),
    ("primary", "care", "primarycare"),
    ("on", "site", "onsite"),
    ("from", "home", "fromhome"),
    ("front", "desk", "frontdesk"),
    ("urgent", "care", "urgentcare"),
];

/// Words that mean the same thing to a clinic's FAQ, grouped under a concept.
/// Stems of these words map to the concept too.
#[rustfmt::skip]
const CONCEPTS: &[(&str, &[&str])] = &[
    ("@hours", &[
        "hours", "hour", "open", "opens", "opening", "opened", "close", "closes", "closing", "closed", "time",
        "times",
    ]),
    ("@day", &[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "saturdays", "sunday", "sundays",
        "weekday", "weekdays", "weekend", "weekends", "today", "tomorrow", "holiday", "holidays", "christmas",
        "thanksgiving", "easter",
    ]),
    ("@night", &[
        "night", "nights", "tonight", "overnight", "evening", "evenings", "midnight",
    ]),
    ("@insurance", &[
        "insurance", "insurances", "insurer", "insurers", "insured", "coverage", "covered", "cover", "covers",
        "network", "innetwork", "aetna", "cigna", "humana", "medicare", "medicaid", "unitedhealthcare",
        "unitedhealth", "united", "blue", "cross", "shield", "anthem", "kaiser", "tricare", "ambetter",
        "molina", "oscar", "wellcare", "hmo", "ppo", "obamacare", "marketplace",
    ]),
    ("@parking", &[
        "parking", "park", "parked", "garage", "car", "cars", "vehicle", "valet",
    ]),
    ("@address", &[
        "address", "addresses", "located", "location", "locations", "locate", "situated", "whereabouts",
    ]),
    ("@route", &[
        "directions", "direction", "route", "highway", "freeway", "interstate", "exit", "bus", "transit",
        "train", "subway", "drive", "driving", "navigate", "gps", "map", "maps", "getthere", "getto", "turn",
    ]),
    ("@phone", &[
        "phone", "telephone", "call", "calling", "number", "contact", "reach", "ring", "dial",
    ]),
    ("@join", &[
        "new", "register", "registration", "enroll", "enrollment", "signup", "join", "become", "establish",
    ]),
    ("@doctor", &[
        "doctor", "doctors", "physician", "physicians", "provider", "providers", "practitioner", "md",
    ]),
    ("@child", &[
        "kid", "kids", "child", "children", "pediatric", "pediatrics", "pediatrician", "baby", "babies",
        "infant", "infants", "toddler", "teen", "teens", "teenager", "son", "daughter",
    ]),
    ("@vaccine", &[
        "vaccine", "vaccines", "vaccination", "vaccinations", "vaccinate", "vaccinated", "shot", "shots", "jab",
        "immunization", "immunizations", "immunize", "booster", "boosters",
    ]),
    ("@flu", &[
        "flu", "influenza",
    ]),
    ("@covid", &[
        "covid", "coronavirus",
    ]),
    ("@walkin", &[
        "walkin", "walkins", "dropin", "sameday", "unscheduled",
    ]),
    ("@appointment", &[
        "appointment", "appointments", "booking", "book", "booked",
    ]),
    ("@bill", &[
        "bill", "bills", "billing", "billed", "pay", "paying", "payment", "payments", "cost", "costs", "price",
        "prices", "pricing", "charge", "charges", "charged", "fee", "fees", "owe", "balance", "invoice",
        "copay", "copays", "deductible", "selfpay", "expensive", "afford", "affordable", "rates",
    ]),
    ("@records", &[
        "record", "records", "chart", "charts",
    ]),
    ("@language", &[
        "language", "languages", "spanish", "espanol", "english", "french", "mandarin", "cantonese", "chinese",
        "vietnamese", "arabic", "russian", "korean", "tagalog", "portuguese", "creole", "somali", "interpreter",
        "interpreters", "interpretation", "translator", "translators", "translation", "translate", "asl",
        "bilingual", "habla", "speak", "speaks",
    ]),
    ("@access", &[
        "wheelchair", "wheelchairs", "accessible", "accessibility", "ramp", "ramps", "elevator", "elevators",
        "lift", "disability", "disabilities", "disabled", "handicap", "handicapped", "ada", "mobility",
        "walker", "stairs", "steps", "accommodation", "accommodations", "serviceanimal",
    ]),
    ("@virtual", &[
        "telehealth", "telemedicine", "virtual", "virtually", "video", "videos", "zoom", "remote", "remotely",
        "evisit", "televisit", "telemed", "facetime", "fromhome",
    ]),
    ("@lab", &[
        "lab", "labs", "laboratory", "bloodwork", "labwork", "phlebotomy", "bloodtest",
    ]),
    ("@afterhours", &[
        "afterhours", "oncall", "nurseline",
    ]),
    ("@urgent", &[
        "urgent", "urgently", "emergency", "emergencies", "asap", "urgentcare",
    ]),
    ("@refill", &[
        "refill", "refills", "refilled", "renew", "renewal", "prescription", "prescriptions", "pharmacy",
        "pharmacies",
    ]),
    ("@checkup", &[
        "physical", "physicals", "checkup", "checkups", "exam", "exams", "wellness", "annual",
    ]),
    ("@clinic", &[
        "clinic", "clinics", "office", "offices", "practice", "center", "facility", "place",
    ]),
];

struct Lexicon {
    stop_words: HashSet<&'static str>,
    phrases: HashMap<(&'static str, &'static str), &'static str>,
    /// Word, and the stem of the word, to its concept.
    concepts: HashMap<String, &'static str>,
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let mut concepts = HashMap::new();
    for (concept, words) in CONCEPTS {
        for word in *words {
            concepts.entry((*word).to_owned()).or_insert(*concept);
            concepts.entry(stem(word)).or_insert(*concept);
        }
    }
    Lexicon {
        stop_words: STOP_WORDS.iter().copied().collect(),
        phrases: PHRASES
            .iter()
            .map(|&(first, second, joined)| ((first, second), joined))
            .collect(),
        concepts,
    }
});

impl Lexicon {
    /// The term a content word counts as: its concept, or else its stem.
    fn term_key(&self, word: &str) -> String {
        if let Some(concept) = self.concepts.get(word) {
            return (*concept).to_owned();
        }
        let stemmed = stem(word);
        match self.concepts.get(&stemmed) {
            Some(concept) => (*concept).to_owned(),
            None => stemmed,
        }
    }

    /// Every word the lexicon itself knows, for the typo vocabulary.
    fn words() -> impl Iterator<Item = &'static str> {
        STOP_WORDS
            .iter()
            .copied()
            .chain(CONCEPTS.iter().flat_map(|(_, words)| words.iter().copied()))
            .chain(
                PHRASES
                    .iter()
                    .flat_map(|&(first, second, _)| [first, second]),
            )
    }
}

/// A light, predictable suffix stripper. It only has to map the forms
/// patients use to the same key on both sides (examples and messages), not
/// to produce real words: "taking" and "take" both become "tak".
fn stem(word: &str) -> String {
    if !word.is_ascii() || word.len() <= 3 {
        return word.to_owned();
    }
    let mut stemmed = word.to_owned();
    if stemmed.len() > 4 && stemmed.ends_with("ies") {
        stemmed.truncate(stemmed.len() - 3);
        stemmed.push('y');
        return stemmed;
    }
    if stemmed.len() > 5 && stemmed.ends_with("ing") {
        stemmed.truncate(stemmed.len() - 3);
        undouble(&mut stemmed);
    } else if stemmed.len() > 4 && stemmed.ends_with("ed") {
        stemmed.truncate(stemmed.len() - 2);
        undouble(&mut stemmed);
    } else if stemmed.ends_with('s')
        && !stemmed.ends_with("ss")
        && !stemmed.ends_with("us")
        && !stemmed.ends_with("is")
    {
        stemmed.pop();
    }
    if stemmed.len() > 3 && stemmed.ends_with('e') {
        stemmed.pop();
    }
    stemmed
}

/// "gett" -> "get", "shipp" -> "ship"; "call" and "pass" keep their pair.
fn undouble(stemmed: &mut String) {
    let bytes = stemmed.as_bytes();
    if let [.., before, last] = bytes {
        if before == last && !matches!(last, b'l' | b's' | b'z' | b'e' | b'o') {
            stemmed.pop();
        }
    }
}

fn trigrams(words: &[String]) -> Vec<u64> {
    const START: u64 = 1;
    const END: u64 = 2;
    let mut grams = Vec::new();
    for word in words {
        let chars: Vec<u64> = std::iter::once(START)
            .chain(word.chars().map(u64::from))
            .chain(std::iter::once(END))
            .collect();
        for window in chars.windows(3) {
            if let [a, b, c] = window {
                grams.push((a << 42) | (b << 21) | c);
            }
        }
    }
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// Dice coefficient of two sorted, deduplicated sets.
// Trigram counts of a short message are far below f32's 2^24 exact integers.
#[allow(clippy::cast_precision_loss)]
fn dice(a: &[u64], b: &[u64]) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut shared) = (0, 0, 0_usize);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    (2 * shared) as f32 / (a.len() + b.len()) as f32
}

// ---------------------------------------------------------------------------
// Typo correction.

/// The words typos are corrected to, indexed by length.
#[derive(Debug, Clone)]
struct Vocabulary {
    /// Every known word, with how often the knowledge base uses it.
    counts: HashMap<String, u32>,
    /// Stems of known words, so "opened" counts as known through "open".
    stems: HashSet<String>,
    /// Everyday words, and their stems, left as typed (see [`COMMON_WORDS`]).
    common: HashSet<String>,
    /// Known words (as chars, with counts) by their length in chars.
    by_length: Vec<Vec<(Vec<char>, String, u32)>>,
}

impl Vocabulary {
    fn build(kb: &KnowledgeBase) -> Self {
        let mut counts: HashMap<String, u32> = HashMap::new();
        for entry in &kb.faq {
            for text in entry.examples.iter().chain(&entry.keywords) {
                for word in normalize_words(text) {
                    *counts.entry(word).or_insert(0) += 1;
                }
            }
        }
        for word in Lexicon::words() {
            counts.entry(word.to_owned()).or_insert(0);
        }
        let stems = counts.keys().map(|word| stem(word)).collect();
        let mut by_length: Vec<Vec<(Vec<char>, String, u32)>> =
            vec![Vec::new(); MAX_CORRECTABLE_LEN + 3];
        for (word, &count) in &counts {
            let chars: Vec<char> = word.chars().collect();
            if let Some(bucket) = by_length.get_mut(chars.len()) {
                bucket.push((chars, word.clone(), count));
            }
        }
        for bucket in &mut by_length {
            // Deterministic tie-breaking regardless of hash order.
            bucket.sort_by(|a, b| a.1.cmp(&b.1));
        }
        Self {
            counts,
            stems,
            common: COMMON_WORDS
                .iter()
                .flat_map(|word| [(*word).to_owned(), stem(word)])
                .collect(),
            by_length,
        }
    }

    /// The known word an unknown word was probably meant to be, or None if
    /// the word is known, too short, has digits, or nothing is close enough.
    fn correct(&self, word: &str) -> Option<String> {
        if self.counts.contains_key(word) || self.common.contains(word) {
            return None;
        }
        // An inflected form of a known or everyday word ("opened", "filled")
        // is known; a word that only looks like a stem ("ther", from "there")
        // is not.
        let stemmed = stem(word);
        if stemmed != word && (self.stems.contains(&stemmed) || self.common.contains(&stemmed)) {
            return None;
        }
        let chars: Vec<char> = word.chars().collect();
        let len = chars.len();
        if !(4..=MAX_CORRECTABLE_LEN).contains(&len) || chars.iter().any(char::is_ascii_digit) {
            return None;
        }
        let max_edits = if len >= 8 { 2 } else { 1 };
        let keep_first_letter = len <= 5;
        // (edits, differs in first letter, fewer uses, word): smaller is better.
        let mut best: Option<(usize, bool, std::cmp::Reverse<u32>, &str)> = None;
        for candidate_len in len - max_edits..=len + max_edits {
            for (candidate, text, count) in self.by_length.get(candidate_len).into_iter().flatten()
            {
                let other_first = candidate.first() != chars.first();
                if keep_first_letter && other_first {
                    continue;
                }
                if let Some(edits) = edits_within(&chars, candidate, max_edits) {
                    let rank = (edits, other_first, std::cmp::Reverse(*count), text.as_str());
                    if best.is_none_or(|current| rank < current) {
                        best = Some(rank);
                    }
                }
            }
        }
        best.map(|(_, _, _, text)| text.to_owned())
    }
}

/// Damerau–Levenshtein distance (optimal string alignment: a swap of two
/// adjacent letters is one edit) if it is at most `max`, else None. Stops
/// early once every alignment costs more than `max`.
pub(crate) fn edits_within(a: &[char], b: &[char], max: usize) -> Option<usize> {
    const WIDTH: usize = MAX_CORRECTABLE_LEN + 4;
    let (n, m) = (a.len(), b.len());
    if n.abs_diff(m) > max || n >= WIDTH || m >= WIDTH {
        return None;
    }
    let mut two_back = [0_usize; WIDTH];
    let mut one_back = [0_usize; WIDTH];
    let mut current = [0_usize; WIDTH];
    for (j, cell) in one_back.iter_mut().enumerate().take(m + 1) {
        *cell = j;
    }
    for i in 1..=n {
        current[0] = i;
        let mut row_min = i;
        for j in 1..=m {
            let substitution = one_back[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut cost = substitution.min(one_back[j] + 1).min(current[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cost = cost.min(two_back[j - 2] + 1);
            }
            current[j] = cost;
            row_min = row_min.min(cost);
        }
        if row_min > max {
            return None;
        }
        two_back = one_back;
        one_back = current;
    }
    let distance = one_back[m];
    (distance <= max).then_some(distance)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

    use super::*;

    use crate::knowledge::DEMO_KNOWLEDGE_TOML as DEMO_KNOWLEDGE;

    fn demo_matcher() -> FaqMatcher {
        FaqMatcher::new(&KnowledgeBase::from_toml_str(DEMO_KNOWLEDGE).unwrap())
    }

    fn describe(matcher: &FaqMatcher, text: &str) -> String {
        let ranked = matcher.ranked(text);
        let top: Vec<String> = ranked
            .iter()
            .take(3)
            .map(|m| format!("{} {:.3}", m.intent, m.score))
            .collect();
        format!(
            "{text:?} -> {top:?}; analyzed {:?}",
            analyze(text, Some(&matcher.vocabulary)).terms
        )
    }

    fn assert_routes(matcher: &FaqMatcher, cases: &[(&str, &str)]) {
        let failures: Vec<String> = cases
            .iter()
            .filter(|(text, intent)| matcher.best_match(text).map(|m| m.intent) != Some(*intent))
            .map(|(text, intent)| format!("expected {intent}: {}", describe(matcher, text)))
            .collect();
        assert!(
            failures.is_empty(),
            "{} misrouted:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// The cases the brief requires, verbatim.
    const REQUIRED_CASES: &[(&str, &str)] = &[
        ("when r u open saturday", "faq.hours"),
        ("what time do you open on saturday?", "faq.hours"),
        ("do you take aetna?", "faq.insurance"),
        ("do u acept blue cross", "faq.insurance"),
        ("wher is the clinic", "faq.location"),
        ("hw do i get there from the highway", "faq.directions"),
        ("is ther parking", "faq.parking"),
        ("are you taking new patints", "faq.new_patients"),
        ("whats ur phone number", "faq.phone"),
        ("can i get a flu shot", "faq.covid_flu_vaccines"),
    ];

    /// Paraphrases and typos across every intent.
    const PARAPHRASE_CASES: &[(&str, &str)] = &[
        // hours
        ("r u open sun", "faq.hours"),
        ("what r ur hrs", "faq.hours"),
        ("are you open tmrw", "faq.hours"),
        ("wat time do u close on friday", "faq.hours"),
        ("Are you guys open on Christmas?", "faq.hours"),
        ("opening hours pls", "faq.hours"),
        ("how early do you open", "faq.hours"),
        ("is the office open on the weekend", "faq.hours"),
        // location and directions
        ("whats your adress", "faq.location"),
        ("where r u located", "faq.location"),
        ("what's the clinic's street address?", "faq.location"),
        ("which suite is maple grove family clinic", "faq.location"),
        ("directons please", "faq.directions"),
        ("how do i get to you by bus", "faq.directions"),
        ("what exit do i take", "faq.directions"),
        ("how do i get there", "faq.directions"),
        // phone
        ("how do i call the clinic", "faq.phone"),
        ("whats the number to call", "faq.phone"),
        ("can i get ur phone #", "faq.phone"),
        ("telephone number?", "faq.phone"),
        // insurance
        ("do you accept cigna insurance", "faq.insurance"),
        ("r u in network w united healthcare", "faq.insurance"),
        ("do you take medicad", "faq.insurance"),
        ("is medicare accepted", "faq.insurance"),
        ("which insurances do u take", "faq.insurance"),
        ("do you take bcbs", "faq.insurance"),
        ("will my insurence cover it", "faq.insurance"),
        ("Do you take Humana?", "faq.insurance"),
        // services
        ("what services do u have", "faq.services"),
        ("do you see kids", "faq.services"),
        ("do yall do sports physicals", "faq.services"),
        ("do you offer annual checkups", "faq.services"),
        ("do you have pediatricians", "faq.services"),
        // parking
        ("where can i park", "faq.parking"),
        ("is parking free?", "faq.parking"),
        ("do i need to pay for parkng", "faq.parking"),
        ("where do i put my car", "faq.parking"),
        ("parking garage?", "faq.parking"),
        // new patients
        ("r u accepting new pts", "faq.new_patients"),
        ("how do i sign up as a new patient", "faq.new_patients"),
        ("can i register with you", "faq.new_patients"),
        ("i want to switch to your practice", "faq.new_patients"),
        // walk-in
        ("do u take walk ins", "faq.walk_in"),
        ("can i walk in today", "faq.walk_in"),
        ("do i need an appt", "faq.walk_in"),
        ("can i come in without an appointment", "faq.walk_in"),
        // telehealth
        ("do you do telehealth visits", "faq.telehealth"),
        ("can i do a virtual visit", "faq.telehealth"),
        ("video appointment?", "faq.telehealth"),
        ("can i see a doctor from home", "faq.telehealth"),
        // billing
        ("how can i pay my bill", "faq.billing"),
        ("how much is an office visit", "faq.billing"),
        ("do you have payment plans", "faq.billing"),
        ("i got a bill i dont understand", "faq.billing"),
        ("what are your self pay prices", "faq.billing"),
        // records
        (
            "how can i get a copy of my medical records",
            "faq.records_request",
        ),
        ("transfer my records to a new doctor", "faq.records_request"),
        (
            "i need my chart sent to a specialist",
            "faq.records_request",
        ),
        ("medical recrods request", "faq.records_request"),
        // languages
        ("hablan espanol", "faq.languages"),
        ("¿Hablan español?", "faq.languages"),
        ("do you have a spanish interpreter", "faq.languages"),
        ("do you have an ASL interpreter", "faq.languages"),
        ("can i get an interpeter", "faq.languages"),
        // accessibility
        ("is there wheelchair access", "faq.accessibility"),
        ("do you have an elevatr", "faq.accessibility"),
        ("is the building handicap accessible", "faq.accessibility"),
        ("can my service animal come", "faq.accessibility"),
        // vaccines
        ("do u have covid vaccines", "faq.covid_flu_vaccines"),
        ("can my kids get flu shots there", "faq.covid_flu_vaccines"),
        ("where can i get a covid booster", "faq.covid_flu_vaccines"),
        ("do you give vacines", "faq.covid_flu_vaccines"),
        // lab
        ("lab hours?", "faq.lab_hours"),
        ("when does the lab open on saturday", "faq.lab_hours"),
        (
            "can i get bloodwork done without an appointment",
            "faq.lab_hours",
        ),
        ("where do i get my blood drawn", "faq.lab_hours"),
        // after hours
        ("who do i call after hours", "faq.after_hours"),
        ("what if i need a nurse at night", "faq.after_hours"),
        ("is there a 24/7 nurse line", "faq.after_hours"),
        ("who can i call when ur closed", "faq.after_hours"),
        // appointments
        ("how do i book an appointment", "faq.appointments"),
        ("i need to cancel my appt", "faq.appointments"),
        ("can i reschedule", "faq.appointments"),
        ("how do i schedule a visit online", "faq.appointments"),
        // refills
        ("i need a refil", "faq.prescription_refills"),
        (
            "how do i get my prescription refilled",
            "faq.prescription_refills",
        ),
        (
            "can you send my rx to cvs pharmacy",
            "faq.prescription_refills",
        ),
    ];

    /// Messages that are not about the clinic.
    const OFF_TOPIC: &[&str] = &[
        "what is the capital of france",
        "tell me a joke",
        "asdfgh",
        "",
        "   ",
        "?!",
        "my order hasn't shipped",
        "who won the game last night",
        "what's the weather like",
        "can you write me a poem",
        "how do i reset my router",
        "what is the meaning of life",
        "lol",
        "ok",
        "hello",
        "thanks!",
        "I love pizza",
        "recommend a good movie",
        "how tall is mount everest",
        "qwerty uiop",
    ];

    #[test]
    fn required_cases_route_to_their_intent() {
        assert_routes(&demo_matcher(), REQUIRED_CASES);
    }

    #[test]
    fn paraphrases_and_typos_route_to_their_intent() {
        assert_routes(&demo_matcher(), PARAPHRASE_CASES);
    }

    #[test]
    fn off_topic_messages_match_nothing() {
        let matcher = demo_matcher();
        let failures: Vec<String> = OFF_TOPIC
            .iter()
            .filter(|text| matcher.best_match(text).is_some())
            .map(|text| describe(&matcher, text))
            .collect();
        assert!(
            failures.is_empty(),
            "matched but should not:\n{}",
            failures.join("\n")
        );
    }

    /// The safety screen runs first; a question it flags never reaches the
    /// matcher, so every routing case must pass it.
    #[test]
    fn routing_cases_pass_the_safety_screen() {
        let flagged: Vec<String> = REQUIRED_CASES
            .iter()
            .chain(PARAPHRASE_CASES)
            .chain(HELD_OUT_CASES)
            .map(|(text, _)| *text)
            .chain(OFF_TOPIC.iter().copied())
            .filter_map(|text| {
                crate::safety::screen(text).map(|concern| format!("{text:?} -> {concern}"))
            })
            .collect();
        assert!(
            flagged.is_empty(),
            "flagged by the safety screen:\n{}",
            flagged.join("\n")
        );
    }

    /// Prints how far the scores are from the thresholds; run with
    /// `cargo test calibration -- --ignored --nocapture` after changing
    /// weights, the lexicon or the demo file.
    #[test]
    #[ignore = "a report for tuning, not a check"]
    fn calibration_report() {
        let matcher = demo_matcher();
        let mut positives: Vec<(f32, f32, String)> = REQUIRED_CASES
            .iter()
            .chain(PARAPHRASE_CASES)
            .chain(HELD_OUT_CASES)
            .map(|(text, intent)| {
                let ranked = matcher.ranked(text);
                let score = ranked
                    .iter()
                    .find(|m| m.intent == *intent)
                    .map_or(0.0, |m| m.score);
                let best_other = ranked
                    .iter()
                    .find(|m| m.intent != *intent)
                    .map_or(0.0, |m| m.score);
                (score, score - best_other, describe(&matcher, text))
            })
            .collect();
        positives.sort_by(|a, b| a.0.total_cmp(&b.0));
        eprintln!("lowest-scoring positives:");
        for (score, lead, text) in positives.iter().take(12) {
            eprintln!("  {score:.3} lead {lead:+.3} {text}");
        }
        positives.sort_by(|a, b| a.1.total_cmp(&b.1));
        eprintln!("smallest leads:");
        for (score, lead, text) in positives.iter().take(12) {
            eprintln!("  {score:.3} lead {lead:+.3} {text}");
        }
        let mut negatives: Vec<(f32, String)> = OFF_TOPIC
            .iter()
            .map(|text| {
                (
                    matcher.ranked(text).first().map_or(0.0, |m| m.score),
                    describe(&matcher, text),
                )
            })
            .collect();
        negatives.sort_by(|a, b| b.0.total_cmp(&a.0));
        eprintln!("highest-scoring off-topic:");
        for (score, text) in negatives.iter().take(8) {
            eprintln!("  {score:.3} {text}");
        }
    }

    #[test]
    fn every_example_routes_to_its_own_intent() {
        let knowledge = KnowledgeBase::from_toml_str(DEMO_KNOWLEDGE).unwrap();
        let matcher = FaqMatcher::new(&knowledge);
        let cases: Vec<(&str, &str)> = knowledge
            .faq
            .iter()
            .flat_map(|entry| {
                entry
                    .examples
                    .iter()
                    .map(|e| (e.as_str(), entry.intent.as_str()))
            })
            .collect();
        assert_routes(&matcher, &cases);
    }

    /// Phrasings written without looking at the scores; misses here are
    /// acceptable in small numbers (the patient is asked to rephrase), so
    /// the test reports accuracy rather than demanding every case.
    const HELD_OUT_CASES: &[(&str, &str)] = &[
        ("u guys open rn?", "faq.hours"),
        ("hours on saturday?", "faq.hours"),
        ("til what time r u open", "faq.hours"),
        ("are you closed on memorial day", "faq.hours"),
        ("where is your clinic located at", "faq.location"),
        ("address of the office", "faq.location"),
        ("best way to drive there", "faq.directions"),
        ("which bus route stops near you", "faq.directions"),
        ("i need your number", "faq.phone"),
        ("how can i contact you", "faq.phone"),
        ("do you take tricare", "faq.insurance"),
        ("are you in my insurance network", "faq.insurance"),
        ("does my plan cover visits there", "faq.insurance"),
        ("what do you guys treat", "faq.services"),
        ("do you do womens health", "faq.services"),
        ("is there somewhere to park", "faq.parking"),
        ("parking lot location", "faq.parking"),
        ("can new patients sign up online", "faq.new_patients"),
        (
            "how do i become a new patient at maple grove",
            "faq.new_patients",
        ),
        ("can i just drop in", "faq.walk_in"),
        ("same day visits?", "faq.walk_in"),
        ("do you do zoom appointments", "faq.telehealth"),
        ("telemed?", "faq.telehealth"),
        ("how much do you charge", "faq.billing"),
        ("question about my balance", "faq.billing"),
        ("send records to my new provider", "faq.records_request"),
        ("how to request medical records", "faq.records_request"),
        ("do you have vietnamese speaking staff", "faq.languages"),
        ("translator available?", "faq.languages"),
        ("are you wheelchair friendly", "faq.accessibility"),
        ("is there an elevator or ramp", "faq.accessibility"),
        ("flu vaccine available?", "faq.covid_flu_vaccines"),
        ("covid shots for kids?", "faq.covid_flu_vaccines"),
        ("lab open saturday?", "faq.lab_hours"),
        ("do i need an appt for blood test", "faq.lab_hours"),
        ("what do i do at night if i need advice", "faq.after_hours"),
        ("is someone on call overnight", "faq.after_hours"),
        ("how can i make an appt", "faq.appointments"),
        ("need to reschedule my appointment", "faq.appointments"),
        ("refill request", "faq.prescription_refills"),
        // Written after the weights were tuned, and not tuned on.
        ("do you guys work on weekends", "faq.hours"),
        ("what time do you close on weekdays", "faq.hours"),
        ("whats the address for the clinic", "faq.location"),
        ("are you near downtown springfield", "faq.location"),
        ("directions from the interstate", "faq.directions"),
        ("can i take the bus there", "faq.directions"),
        ("call the office number", "faq.phone"),
        ("is cigna accepted", "faq.insurance"),
        ("do you accept medi-cal", "faq.insurance"),
        ("i have united healthcare, is that ok", "faq.insurance"),
        ("do you do school physicals", "faq.services"),
        ("is there free parking", "faq.parking"),
        ("are you currently accepting patients", "faq.new_patients"),
        ("i want to become a patient", "faq.new_patients"),
        ("do you accept walkins on saturday", "faq.walk_in"),
        ("can i do my visit by video", "faq.telehealth"),
        ("where do i pay my bill", "faq.billing"),
        ("can i get my records emailed", "faq.records_request"),
        ("habla espanol alguien", "faq.languages"),
        ("is there an elevator in the building", "faq.accessibility"),
        ("when are flu shots available", "faq.covid_flu_vaccines"),
        ("what time does the lab close", "faq.lab_hours"),
        ("who do i call at night", "faq.after_hours"),
        ("i need to make an appointment", "faq.appointments"),
        (
            "can i get a refill sent to my pharmacy",
            "faq.prescription_refills",
        ),
    ];

    #[test]
    fn held_out_accuracy_is_reported_and_high() {
        let held_out = HELD_OUT_CASES;
        let matcher = demo_matcher();
        let mut misses = Vec::new();
        for (text, intent) in held_out {
            if matcher.best_match(text).map(|m| m.intent) != Some(*intent) {
                misses.push(format!("expected {intent}: {}", describe(&matcher, text)));
            }
        }
        let correct = held_out.len() - misses.len();
        let accuracy = correct as f32 / held_out.len() as f32;
        eprintln!(
            "held-out accuracy: {correct}/{} = {:.1}%\n{}",
            held_out.len(),
            accuracy * 100.0,
            misses.join("\n")
        );
        assert!(accuracy >= 0.85, "held-out accuracy fell to {accuracy}");
    }

    /// One typo (a dropped letter or two swapped letters) in the longest
    /// word of every example question: most must still route home, and a
    /// miss should mostly be "no match", not a wrong answer.
    #[test]
    fn single_typos_in_examples_still_route() {
        let knowledge = KnowledgeBase::from_toml_str(DEMO_KNOWLEDGE).unwrap();
        let matcher = FaqMatcher::new(&knowledge);
        let (mut total, mut right, mut wrong_answers) = (0, 0, Vec::new());
        for entry in &knowledge.faq {
            for (n, example) in entry.examples.iter().enumerate() {
                let words: Vec<&str> = example.split_whitespace().collect();
                let Some((at, longest)) = words.iter().enumerate().max_by_key(|(_, w)| w.len())
                else {
                    continue;
                };
                let chars: Vec<char> = longest.chars().filter(|c| c.is_alphabetic()).collect();
                if chars.len() < 5 {
                    continue;
                }
                let position = 1 + n % (chars.len() - 2);
                let mut typo = chars.clone();
                if n % 2 == 0 {
                    typo.remove(position);
                } else {
                    typo.swap(position, position + 1);
                }
                let mut typed = words.clone();
                let typo: String = typo.into_iter().collect();
                typed[at] = &typo;
                let text = typed.join(" ");
                total += 1;
                match matcher.best_match(&text) {
                    Some(found) if found.intent == entry.intent => right += 1,
                    Some(_) => wrong_answers.push(format!(
                        "expected {}: {}",
                        entry.intent,
                        describe(&matcher, &text)
                    )),
                    None => {}
                }
            }
        }
        let accuracy = right as f32 / total as f32;
        eprintln!(
            "single-typo accuracy: {right}/{total} = {:.1}%, wrong answers {}\n{}",
            accuracy * 100.0,
            wrong_answers.len(),
            wrong_answers.join("\n")
        );
        assert!(accuracy >= 0.85, "single-typo accuracy fell to {accuracy}");
        assert!(wrong_answers.len() * 20 <= total, "too many wrong answers");
    }

    #[test]
    fn match_carries_the_answer_and_a_score_in_range() {
        let matcher = demo_matcher();
        let found = matcher.best_match("where do i park").unwrap();
        assert_eq!(found.intent, "faq.parking");
        assert!(found.answer.contains("parking"));
        assert!((MIN_SCORE..=1.0).contains(&found.score), "{}", found.score);
    }

    #[test]
    fn normalization_folds_case_accents_punctuation_and_texting() {
        assert_eq!(
            normalize_words("When R U open Sat?"),
            ["when", "are", "you", "open", "saturday"]
        );
        assert_eq!(normalize_words("I don't know"), ["i", "do", "not", "know"]);
        assert_eq!(normalize_words("¿Habla ESPAÑOL?"), ["habla", "espanol"]);
        assert_eq!(
            normalize_words("pls call tmrw"),
            ["please", "call", "tomorrow"]
        );
        assert_eq!(
            normalize_words("walk-ins, 24/7!"),
            ["walk", "ins", "24", "7"]
        );
        assert_eq!(normalize_words("he OD'd"), ["he", "odd"]);
        assert_eq!(normalize_words("it’s Q&A"), ["it", "is", "q", "and", "a"]);
        assert!(normalize_words("...").is_empty());
    }

    #[test]
    fn typo_correction_is_bounded() {
        let matcher = demo_matcher();
        let vocabulary = &matcher.vocabulary;
        assert_eq!(vocabulary.correct("parkng").as_deref(), Some("parking"));
        assert_eq!(
            vocabulary.correct("insurence").as_deref(),
            Some("insurance")
        );
        assert_eq!(vocabulary.correct("adress").as_deref(), Some("address"));
        // Transposition counts as one edit.
        assert_eq!(vocabulary.correct("pakring").as_deref(), Some("parking"));
        // Known words, short words and numbers are left alone.
        assert_eq!(vocabulary.correct("parking"), None);
        assert_eq!(vocabulary.correct("opened"), None);
        assert_eq!(vocabulary.correct("thr"), None);
        assert_eq!(vocabulary.correct("4477"), None);
        // Too far off.
        assert_eq!(vocabulary.correct("asdfgh"), None);
    }

    #[test]
    fn edit_distance_counts_swaps_once() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(
            edits_within(&chars("parking"), &chars("parking"), 1),
            Some(0)
        );
        assert_eq!(
            edits_within(&chars("pakring"), &chars("parking"), 1),
            Some(1)
        );
        assert_eq!(
            edits_within(&chars("parkng"), &chars("parking"), 1),
            Some(1)
        );
        assert_eq!(
            edits_within(&chars("prakng"), &chars("parking"), 2),
            Some(2)
        );
        assert_eq!(edits_within(&chars("garden"), &chars("parking"), 2), None);
        assert_eq!(edits_within(&chars(""), &chars("ab"), 2), Some(2));
    }

    #[test]
    fn stemming_maps_forms_to_one_key() {
        assert_eq!(stem("taking"), stem("take"));
        assert_eq!(stem("closed"), stem("close"));
        assert_eq!(stem("patients"), stem("patient"));
        assert_eq!(stem("getting"), "get");
        assert_eq!(stem("calling"), "call");
        assert_eq!(stem("pharmacies"), "pharmacy");
        assert_eq!(stem("bus"), "bus");
    }

    #[test]
    fn concept_words_do_not_collide_across_concepts() {
        let mut owner: HashMap<String, &str> = HashMap::new();
        for (concept, words) in CONCEPTS {
            for word in *words {
                for key in [(*word).to_owned(), stem(word)] {
                    let previous = owner.insert(key.clone(), concept);
                    assert!(
                        previous.is_none_or(|p| p == *concept),
                        "{key} belongs to both {previous:?} and {concept}"
                    );
                }
            }
            assert!(
                !STOP_WORDS.iter().any(|stop| words.contains(stop)),
                "{concept} has a stop word"
            );
        }
    }

    #[test]
    fn empty_knowledge_base_matches_nothing() {
        let matcher = FaqMatcher::new(&KnowledgeBase { faq: Vec::new() });
        assert!(matcher.best_match("what are your hours").is_none());
    }

    #[test]
    fn long_messages_are_bounded_and_fast() {
        let matcher = demo_matcher();
        let long = "where do i park ".repeat(500);
        assert_eq!(
            matcher.best_match(&long).map(|m| m.intent),
            Some("faq.parking")
        );
        let started = std::time::Instant::now();
        for _ in 0..200 {
            let _ = matcher.best_match("hw do i get ther frm the hiway tmrw");
        }
        let per_match = started.elapsed() / 200;
        // Generous so unoptimised test builds on a busy CI machine pass; a
        // release build takes a few microseconds.
        assert!(
            per_match < std::time::Duration::from_millis(20),
            "{per_match:?} per match"
        );
    }
}
