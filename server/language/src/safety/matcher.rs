//! Reading a message into words with their terms, and matching rules.

use std::collections::{HashMap, HashSet};

use super::compile::{BitSet, NUMBER_TERM};
use super::{Finding, Node, Pattern, Rule, Screen};
use crate::text;

/// How many words before a match an `unless` phrase may start.
const UNLESS_REACH: usize = 8;

/// Words longer than this are not searched for typos (no trigger is).
const MAX_FUZZY_CHARS: usize = 40;

/// Joined runs of letters longer than this are not split into words.
const MAX_SEGMENT_CHARS: usize = 64;

/// A reading of the message: the terms of each word, in order.
type Reading = Vec<Vec<u32>>;

pub(super) fn explain<'s>(screen: &'s Screen, text: &str) -> Option<Finding<'s>> {
    let mut cache: HashMap<String, Vec<u32>> = HashMap::new();
    let words = text::leet_words(text);
    let mut readings: Vec<Reading> = vec![screen.read(&words, &mut cache)];
    if let Some(joined) = text::join_spaced_letters(&text::fold(text)) {
        let original: HashSet<&str> = words.iter().map(String::as_str).collect();
        let mut spaced: Vec<String> = Vec::new();
        for word in text::leet_words(&joined) {
            if original.contains(word.as_str()) || word.chars().count() < 3 {
                spaced.push(word);
            } else {
                spaced.extend(screen.segment(&word));
            }
        }
        readings.push(screen.read(&spaced, &mut cache));
    }
    let mut present = BitSet::default();
    for terms in cache.values() {
        for term in terms {
            present.insert(*term);
        }
    }
    for (concern, rules) in &screen.categories {
        for rule in rules {
            let possible = rule.main.first.intersects(&present)
                && rule
                    .required
                    .iter()
                    .all(|slot| screen.slots[*slot].intersects(&present));
            if possible
                && readings
                    .iter()
                    .any(|reading| screen.rule_matches(rule, reading))
            {
                return Some(Finding {
                    concern: *concern,
                    list: &rule.origin.list,
                    section: rule.origin.section,
                    group: &rule.origin.group,
                    number: rule.origin.number,
                    phrase: &rule.origin.phrase,
                });
            }
        }
    }
    None
}

impl Screen {
    /// The terms of each word, computed once per distinct word.
    fn read(&self, words: &[String], cache: &mut HashMap<String, Vec<u32>>) -> Reading {
        words
            .iter()
            .map(|word| {
                cache
                    .entry(word.clone())
                    .or_insert_with(|| self.word_terms(word))
                    .clone()
            })
            .collect()
    }

    /// Every term a word may stand for: as written, read with digits and
    /// symbols as letters, without stretched letters, and at a few typos.
    pub(super) fn word_terms(&self, word: &str) -> Vec<u32> {
        let mut terms = Vec::new();
        let mut forms = vec![word.to_owned()];
        forms.extend(text::unleet_variants(word));
        for form in &forms {
            if !form.is_empty() && form.chars().all(|c| c.is_ascii_digit()) {
                terms.push(NUMBER_TERM);
            }
            self.form_terms(form, &mut terms);
            if text::longest_letter_run(form) >= 3 {
                self.form_terms(&text::squeeze_repeats(form), &mut terms);
                let collapsed = text::squeeze_doubles(form);
                if let Some(ids) = self.squeezed_exact.get(&collapsed) {
                    terms.extend(ids);
                }
                for end in char_ends(&collapsed, self.longest_squeezed_stem) {
                    if let Some(ids) = self.squeezed_prefixes.get(&collapsed[..end]) {
                        terms.extend(ids);
                    }
                }
            }
        }
        terms.sort_unstable();
        terms.dedup();
        terms
    }

    /// The terms of one spelling: exact, by stem, and (for a word that is
    /// not a real word) at a few edits.
    fn form_terms(&self, form: &str, terms: &mut Vec<u32>) {
        let exact = self.exact.get(form);
        if let Some(id) = exact {
            terms.push(*id);
        }
        for end in char_ends(form, self.longest_stem) {
            if let Some(id) = self.prefixes.get(&form[..end]) {
                terms.push(*id);
            }
        }
        let real_word = exact.is_some()
            || self.known.contains(form)
            || self
                .known_stems
                .iter()
                .any(|stem| form.starts_with(stem.as_str()));
        if !real_word {
            self.fuzzy_terms(form, terms);
        }
    }

    /// The trigger words and stems within their allowed edits of `form`,
    /// among those with the same first letter.
    fn fuzzy_terms(&self, form: &str, terms: &mut Vec<u32>) {
        let chars: Vec<char> = form.chars().collect();
        if chars.len() < 5
            || chars.len() > MAX_FUZZY_CHARS
            || !chars.iter().all(|c| c.is_alphabetic())
        {
            return;
        }
        let Some(entries) = self.fuzzy.get(&chars[0]) else {
            return;
        };
        for entry in entries {
            let size = entry.chars.len();
            let near = if entry.prefix {
                chars.len() >= size
                    && (size.saturating_sub(entry.edits)..=(size + entry.edits).min(chars.len()))
                        .any(|len| {
                            text::edits_within_chars(&chars[..len], &entry.chars, entry.edits)
                                .is_some()
                        })
            } else {
                chars.len().abs_diff(size) <= entry.edits
                    && text::edits_within_chars(&chars, &entry.chars, entry.edits).is_some()
            };
            if near {
                terms.push(entry.term);
            }
        }
    }

    /// Splits letters that were joined from a spaced-out run into the
    /// lists' words ("killmyself" → kill, myself), preferring known words,
    /// then few letters beyond a stem, then few pieces. Letters that fit no
    /// word stay together as one piece.
    pub(super) fn segment(&self, joined: &str) -> Vec<String> {
        let form = text::unleet_variants(joined)
            .into_iter()
            .next()
            .unwrap_or_else(|| joined.to_owned());
        let chars: Vec<char> = form.chars().collect();
        let n = chars.len();
        if n > MAX_SEGMENT_CHARS || n == 0 {
            return vec![joined.to_owned()];
        }
        const UNKNOWN: u32 = 100;
        const BEYOND_STEM: u32 = 10;
        // best[i][u]: cost of splitting chars[..i], u = 1 when the last
        // piece is unknown letters; back[i][u] = (start of piece, its u).
        let mut best = vec![[u32::MAX; 2]; n + 1];
        let mut back = vec![[(0_usize, 0_usize); 2]; n + 1];
        best[0][0] = 0;
        for i in 0..n {
            for state in 0..2 {
                let here = best[i][state];
                if here == u32::MAX {
                    continue;
                }
                for j in i + 1..=n.min(i + self.longest_word.max(1)) {
                    let piece: String = chars[i..j].iter().collect();
                    let cost = if self.exact.contains_key(&piece) {
                        Some(1)
                    } else {
                        char_ends(&piece, self.longest_stem)
                            .filter(|end| self.prefixes.contains_key(&piece[..*end]))
                            .map(|end| 1 + BEYOND_STEM * (piece.len() - end) as u32)
                            .min()
                    };
                    if let Some(cost) = cost {
                        if here + cost < best[j][0] {
                            best[j][0] = here + cost;
                            back[j][0] = (i, state);
                        }
                    }
                }
                let cost = here + UNKNOWN + u32::from(state == 0);
                if cost < best[i + 1][1] {
                    best[i + 1][1] = cost;
                    back[i + 1][1] = (i, state);
                }
            }
        }
        let mut state = if best[n][0] <= best[n][1] { 0 } else { 1 };
        let mut end = n;
        let mut pieces: Vec<(usize, usize, usize)> = Vec::new(); // start, end, unknown
        while end > 0 {
            let (start, previous) = back[end][state];
            match pieces.last_mut() {
                Some(last) if state == 1 && last.2 == 1 => last.0 = start,
                _ => pieces.push((start, end, state)),
            }
            end = start;
            state = previous;
        }
        pieces.reverse();
        pieces
            .into_iter()
            .map(|(start, end, _)| chars[start..end].iter().collect())
            .collect()
    }

    /// Whether the rule matches anywhere in the reading, without one of its
    /// `unless` phrases over the same words.
    fn rule_matches(&self, rule: &Rule, reading: &Reading) -> bool {
        (0..reading.len()).any(|start| {
            rule.main.first.any(&reading[start])
                && self
                    .advance(&rule.main.nodes, reading, vec![start])
                    .into_iter()
                    .any(|end| end > start && !self.cancelled(rule, reading, start, end))
        })
    }

    fn cancelled(&self, rule: &Rule, reading: &Reading, start: usize, end: usize) -> bool {
        rule.unless.iter().any(|unless: &Pattern| {
            (start.saturating_sub(UNLESS_REACH)..end).any(|from| {
                unless.first.any(&reading[from])
                    && self
                        .advance(&unless.nodes, reading, vec![from])
                        .into_iter()
                        .any(|to| to > start && to > from)
            })
        })
    }

    /// The positions just after each way `nodes` can match from each of
    /// `positions`.
    fn advance(&self, nodes: &[Node], reading: &Reading, mut positions: Vec<usize>) -> Vec<usize> {
        let len = reading.len();
        for node in nodes {
            if positions.is_empty() {
                break;
            }
            positions = match node {
                Node::Slot(slot) => {
                    let terms = &self.slots[*slot];
                    positions
                        .into_iter()
                        .filter(|&p| p < len && terms.any(&reading[p]))
                        .map(|p| p + 1)
                        .collect()
                }
                Node::Gap(gap) => {
                    let mut next: Vec<usize> = positions
                        .iter()
                        .flat_map(|&p| p..=(p + gap).min(len))
                        .collect();
                    next.sort_unstable();
                    next.dedup();
                    next
                }
                Node::Opt(sequence) => {
                    let mut next = self.advance(sequence, reading, positions.clone());
                    next.extend(positions);
                    next.sort_unstable();
                    next.dedup();
                    next
                }
                Node::Alt(sequences) => {
                    let mut next: Vec<usize> = sequences
                        .iter()
                        .flat_map(|sequence| self.advance(sequence, reading, positions.clone()))
                        .collect();
                    next.sort_unstable();
                    next.dedup();
                    next
                }
            };
        }
        positions
    }
}

/// The byte offsets just after each of the first `max` characters of `s`.
fn char_ends(s: &str, max: usize) -> impl Iterator<Item = usize> + '_ {
    s.char_indices().take(max).map(|(i, c)| i + c.len_utf8())
}
