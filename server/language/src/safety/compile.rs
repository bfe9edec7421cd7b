//! Compiling word lists (TOML) into a [`Screen`]: classes expanded, every
//! word and stem interned as a term, each word slot a set of terms, the
//! typo index built.

use std::collections::{HashMap, HashSet};

use toml::{Table, Value};

use super::pattern::{self, Item};
use super::{Category, Concern, Fuzzy, Node, Origin, Pattern, Rule, Screen, ScreenError};
use crate::text;

/// The sections of a list, in the order the screen tries them (most severe
/// first), with what a match in each means.
pub(crate) const SECTIONS: [(&str, Concern); 6] = [
    ("self_harm", Concern::Crisis(Category::SelfHarm)),
    ("harm_to_others", Concern::Crisis(Category::HarmToOthers)),
    ("abuse", Concern::Crisis(Category::Abuse)),
    ("poisoning", Concern::Crisis(Category::Poisoning)),
    (
        "medical_emergency",
        Concern::Crisis(Category::MedicalEmergency),
    ),
    ("medical_advice", Concern::MedicalAdvice),
];

/// The term every number written in digits carries (`@number`).
pub(crate) const NUMBER_TERM: u32 = 0;

/// Typo tolerance for a trigger word or stem of `chars` characters: none up
/// to 5 (short words have too many real neighbours: kill/bill, die/dime,
/// pill/bill), one edit from 6, two from 10.
pub(crate) fn allowed_edits(chars: usize) -> usize {
    match chars {
        0..=5 => 0,
        6..=9 => 1,
        _ => 2,
    }
}

/// A set of term ids.
#[derive(Debug, Clone, Default)]
pub(crate) struct BitSet(Vec<u64>);

impl BitSet {
    pub(crate) fn insert(&mut self, id: u32) {
        let (word, bit) = (id as usize / 64, id % 64);
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << bit;
    }

    pub(crate) fn contains(&self, id: u32) -> bool {
        self.0
            .get(id as usize / 64)
            .is_some_and(|word| word & (1 << (id % 64)) != 0)
    }

    pub(crate) fn union_with(&mut self, other: &BitSet) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine |= theirs;
        }
    }

    pub(crate) fn intersects(&self, other: &BitSet) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }

    /// Whether any of `ids` is in the set.
    pub(crate) fn any(&self, ids: &[u32]) -> bool {
        ids.iter().any(|id| self.contains(*id))
    }
}

/// Interned words and stems, and the word slots built from them.
#[derive(Default)]
struct Builder {
    exact: HashMap<String, u32>,
    prefixes: HashMap<String, u32>,
    next_term: u32,
    slots: Vec<BitSet>,
}

impl Builder {
    fn new() -> Self {
        Self {
            next_term: NUMBER_TERM + 1,
            ..Self::default()
        }
    }

    fn term(&mut self, text: &str, prefix: bool) -> u32 {
        let map = if prefix {
            &mut self.prefixes
        } else {
            &mut self.exact
        };
        if let Some(id) = map.get(text) {
            return *id;
        }
        let id = self.next_term;
        self.next_term += 1;
        map.insert(text.to_owned(), id);
        id
    }

    fn slot(&mut self, terms: BitSet) -> Node {
        self.slots.push(terms);
        Node::Slot(self.slots.len() - 1)
    }

    /// Compiles a sequence of items; `classes` holds the classes compiled so
    /// far.
    fn sequence(
        &mut self,
        items: &[Item],
        classes: &HashMap<String, Node>,
    ) -> Result<Vec<Node>, String> {
        items.iter().map(|item| self.item(item, classes)).collect()
    }

    fn item(&mut self, item: &Item, classes: &HashMap<String, Node>) -> Result<Node, String> {
        Ok(match item {
            Item::Word { text, prefix } => {
                let mut terms = BitSet::default();
                terms.insert(self.term(text, *prefix));
                self.slot(terms)
            }
            Item::Class(name) if name == "number" => {
                let mut terms = BitSet::default();
                terms.insert(NUMBER_TERM);
                self.slot(terms)
            }
            Item::Class(name) => classes.get(name).cloned().ok_or_else(|| {
                format!(
                    "unknown word class @{name}; define it under [classes], or fix its spelling"
                )
            })?,
            Item::Gap(n) => Node::Gap(*n),
            Item::Optional(inner) => match self.item(inner, classes)? {
                Node::Opt(sequence) => Node::Opt(sequence),
                node => Node::Opt(vec![node]),
            },
            Item::Choice(choices) => {
                let sequences = choices
                    .iter()
                    .map(|choice| self.sequence(choice, classes))
                    .collect::<Result<Vec<_>, _>>()?;
                self.choice(sequences)
            }
        })
    }

    /// A choice of sequences, with the one-word choices merged into one
    /// slot and nested choices flattened.
    fn choice(&mut self, sequences: Vec<Vec<Node>>) -> Node {
        let mut merged = BitSet::default();
        let mut any_merged = false;
        let mut others: Vec<Vec<Node>> = Vec::new();
        let mut pending = sequences;
        while let Some(mut sequence) = pending.pop() {
            if sequence.len() == 1 {
                match sequence.pop() {
                    Some(Node::Slot(slot)) => {
                        let terms = self.slots[slot].clone();
                        merged.union_with(&terms);
                        any_merged = true;
                        continue;
                    }
                    Some(Node::Alt(inner)) => {
                        pending.extend(inner);
                        continue;
                    }
                    Some(node) => sequence.push(node),
                    None => {}
                }
            }
            others.push(sequence);
        }
        others.reverse();
        if any_merged {
            let slot = self.slot(merged);
            if others.is_empty() {
                return slot;
            }
            others.insert(0, vec![slot]);
        }
        if others.len() == 1 && others[0].len() == 1 {
            if let Some(node) = others.pop().and_then(|only| only.into_iter().next()) {
                return node;
            }
        }
        Node::Alt(others)
    }

    /// The terms a match of `nodes` can start with, and whether `nodes` can
    /// match no words at all.
    fn first(&self, nodes: &[Node]) -> (BitSet, bool) {
        let mut first = BitSet::default();
        for node in nodes {
            let (terms, nullable) = match node {
                Node::Slot(slot) => (self.slots[*slot].clone(), false),
                Node::Gap(_) => (BitSet::default(), true),
                Node::Opt(inner) => (self.first(inner).0, true),
                Node::Alt(sequences) => {
                    let mut terms = BitSet::default();
                    let mut nullable = false;
                    for sequence in sequences {
                        let (t, n) = self.first(sequence);
                        terms.union_with(&t);
                        nullable |= n;
                    }
                    (terms, nullable)
                }
            };
            first.union_with(&terms);
            if !nullable {
                return (first, false);
            }
        }
        (first, true)
    }

    /// A phrase compiled for matching, checked for the shapes that cannot
    /// work.
    fn pattern(
        &mut self,
        phrase: &str,
        classes: &HashMap<String, Node>,
    ) -> Result<Pattern, String> {
        let items = pattern::parse_phrase(phrase)?;
        if matches!(items.first(), Some(Item::Gap(_))) || matches!(items.last(), Some(Item::Gap(_)))
        {
            return Err(
                "a phrase cannot start or end with `...`; the gap is only between words".to_owned(),
            );
        }
        let nodes = self.sequence(&items, classes)?;
        let (first, nullable) = self.first(&nodes);
        if nullable {
            return Err("every part of the phrase is optional, so it would match any message; make at least one word required".to_owned());
        }
        Ok(Pattern { nodes, first })
    }
}

/// One `[section]` rule as written.
struct Written {
    phrase: String,
    unless: Vec<String>,
}

/// Reads `files` (the TOML text of each list) into a screen.
pub(crate) fn compile(files: &[&str]) -> Result<Screen, ScreenError> {
    let mut builder = Builder::new();
    let mut rules: Vec<Vec<Rule>> = SECTIONS.iter().map(|_| Vec::new()).collect();
    let mut known: HashSet<String> = HashSet::new();
    let mut known_stems: Vec<String> = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let fallback = format!("#{}", index + 1);
        let list_error = |list: &str, problem: String| ScreenError::List {
            list: list.to_owned(),
            problem,
        };
        let table: Table = toml::from_str(file)
            .map_err(|error| list_error(&fallback, format!("not valid TOML: {error}")))?;
        let list = match table.get("language") {
            Some(Value::String(language)) if !language.trim().is_empty() => {
                format!("\"{}\"", language.trim())
            }
            _ => {
                return Err(list_error(
                    &fallback,
                    "add a line `language = \"en\"` (or the list's own name) at the top".to_owned(),
                ))
            }
        };
        for key in table.keys() {
            let allowed = key == "language"
                || key == "classes"
                || key == "typos"
                || SECTIONS.iter().any(|(name, _)| name == key);
            if !allowed {
                let names: Vec<&str> = SECTIONS.iter().map(|(name, _)| *name).collect();
                return Err(list_error(
                    &list,
                    format!(
                        "unknown section [{key}]; the sections are [classes], [typos] and [{}]",
                        names.join("], [")
                    ),
                ));
            }
        }
        let classes = compile_classes(&mut builder, &list, table.get("classes"))?;
        read_typos(&list, table.get("typos"), &mut known, &mut known_stems)?;
        for (position, (section, _)) in SECTIONS.iter().enumerate() {
            let Some(value) = table.get(*section) else {
                continue;
            };
            let Value::Table(groups) = value else {
                return Err(list_error(
                    &list,
                    format!("[{section}] must be a section of named rule lists, like `direct = [\"...\"]`"),
                ));
            };
            for (group, entries) in groups {
                let written = read_group(&list, section, group, entries)?;
                for (number, rule) in written.into_iter().enumerate() {
                    let origin = Origin {
                        list: list.clone(),
                        section,
                        group: group.clone(),
                        number: number + 1,
                        phrase: rule.phrase.clone(),
                    };
                    let rule_error = |phrase: &str, problem: String| ScreenError::Rule {
                        list: origin.list.clone(),
                        section: (*section).to_owned(),
                        group: origin.group.clone(),
                        number: origin.number,
                        phrase: phrase.to_owned(),
                        problem,
                    };
                    let main = builder
                        .pattern(&rule.phrase, &classes)
                        .map_err(|problem| rule_error(&rule.phrase, problem))?;
                    let mut unless = Vec::new();
                    for phrase in &rule.unless {
                        unless.push(builder.pattern(phrase, &classes).map_err(|problem| {
                            rule_error(&rule.phrase, format!("in unless \"{phrase}\": {problem}"))
                        })?);
                    }
                    let required = main
                        .nodes
                        .iter()
                        .filter_map(|node| match node {
                            Node::Slot(slot) => Some(*slot),
                            _ => None,
                        })
                        .collect();
                    rules[position].push(Rule {
                        main,
                        required,
                        unless,
                        origin,
                    });
                }
            }
        }
    }
    Ok(finish(builder, rules, known, known_stems))
}

/// Compiles the `[classes]` table of one list, every class (used or not),
/// in an order that puts each class after the classes it names.
fn compile_classes(
    builder: &mut Builder,
    list: &str,
    value: Option<&Value>,
) -> Result<HashMap<String, Node>, ScreenError> {
    let mut compiled: HashMap<String, Node> = HashMap::new();
    let Some(value) = value else {
        return Ok(compiled);
    };
    let Value::Table(table) = value else {
        return Err(ScreenError::List {
            list: list.to_owned(),
            problem: "[classes] must be a section of `name = \"word | word\"` lines".to_owned(),
        });
    };
    let mut written: HashMap<&str, String> = HashMap::new();
    for (name, definition) in table {
        let text = match definition {
            Value::String(text) => text.clone(),
            Value::Array(items) => {
                let mut parts = Vec::new();
                for item in items {
                    let Value::String(text) = item else {
                        return Err(class_error(
                            list,
                            name,
                            &definition.to_string(),
                            "every choice must be a quoted string".to_owned(),
                        ));
                    };
                    parts.push(text.clone());
                }
                parts.join(" | ")
            }
            other => {
                return Err(class_error(
                    list,
                    name,
                    &other.to_string(),
                    "a class is a quoted string of choices separated by |, or a list of strings"
                        .to_owned(),
                ));
            }
        };
        if name == "number" {
            return Err(class_error(
                list,
                name,
                &text,
                "@number is built in (any number in digits); choose another name".to_owned(),
            ));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(class_error(
                list,
                name,
                &text,
                "class names are lowercase letters, digits and _".to_owned(),
            ));
        }
        written.insert(name.as_str(), text);
    }
    let mut names: Vec<&str> = written.keys().copied().collect();
    names.sort_unstable();
    for name in names {
        let mut stack = Vec::new();
        compile_class(builder, list, name, &written, &mut compiled, &mut stack)?;
    }
    Ok(compiled)
}

fn compile_class(
    builder: &mut Builder,
    list: &str,
    name: &str,
    written: &HashMap<&str, String>,
    compiled: &mut HashMap<String, Node>,
    stack: &mut Vec<String>,
) -> Result<(), ScreenError> {
    if compiled.contains_key(name) {
        return Ok(());
    }
    let Some(text) = written.get(name) else {
        return Ok(()); // reported as an unknown class where it is used
    };
    if stack.iter().any(|open| open == name) {
        stack.push(name.to_owned());
        return Err(class_error(
            list,
            name,
            text,
            format!(
                "the classes name each other in a circle ({}); break the circle",
                stack.join(" → ")
            ),
        ));
    }
    let choices =
        pattern::parse_choices(text).map_err(|problem| class_error(list, name, text, problem))?;
    stack.push(name.to_owned());
    for used in choices.iter().flatten().flat_map(classes_named) {
        if written.contains_key(used.as_str()) {
            compile_class(builder, list, &used, written, compiled, stack)?;
        }
    }
    stack.pop();
    let sequences = choices
        .iter()
        .map(|choice| builder.sequence(choice, compiled))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|problem| class_error(list, name, text, problem))?;
    let node = builder.choice(sequences);
    compiled.insert(name.to_owned(), node);
    Ok(())
}

/// The class names an item mentions, at any depth.
fn classes_named(item: &Item) -> Vec<String> {
    match item {
        Item::Class(name) => vec![name.clone()],
        Item::Optional(inner) => classes_named(inner),
        Item::Choice(choices) => choices.iter().flatten().flat_map(classes_named).collect(),
        Item::Word { .. } | Item::Gap(_) => Vec::new(),
    }
}

fn class_error(list: &str, class: &str, definition: &str, problem: String) -> ScreenError {
    ScreenError::Class {
        list: list.to_owned(),
        class: class.to_owned(),
        definition: definition.to_owned(),
        problem,
    }
}

/// Reads `[typos] never = [...]`: real words that are never taken for a
/// misspelt trigger word (a trailing `*` covers every word with that stem).
fn read_typos(
    list: &str,
    value: Option<&Value>,
    known: &mut HashSet<String>,
    known_stems: &mut Vec<String>,
) -> Result<(), ScreenError> {
    let Some(value) = value else {
        return Ok(());
    };
    let problem = |problem: &str| ScreenError::List {
        list: list.to_owned(),
        problem: problem.to_owned(),
    };
    let Value::Table(table) = value else {
        return Err(problem(
            "[typos] must be a section with a `never = [\"word\", ...]` list",
        ));
    };
    for key in table.keys() {
        if key != "never" {
            return Err(problem(&format!(
                "unknown key `{key}` in [typos]; the only key is `never`"
            )));
        }
    }
    let Some(Value::Array(words)) = table.get("never") else {
        return Err(problem("[typos] needs a `never = [\"word\", ...]` list"));
    };
    for word in words {
        let Value::String(word) = word else {
            return Err(problem(
                "every word in [typos] never must be a quoted string",
            ));
        };
        for piece in word.split_whitespace() {
            match piece.strip_suffix('*') {
                Some(stem) => known_stems.extend(text::words(stem)),
                None => known.extend(text::words(piece)),
            }
        }
    }
    Ok(())
}

/// Reads one named group of rules: strings, or `{ phrase = "...", unless =
/// "..." }` tables (`unless` may be a list).
fn read_group(
    list: &str,
    section: &str,
    group: &str,
    value: &Value,
) -> Result<Vec<Written>, ScreenError> {
    let problem = |number: usize, phrase: &str, problem: String| ScreenError::Rule {
        list: list.to_owned(),
        section: section.to_owned(),
        group: group.to_owned(),
        number,
        phrase: phrase.to_owned(),
        problem,
    };
    let Value::Array(entries) = value else {
        return Err(ScreenError::List {
            list: list.to_owned(),
            problem: format!("[{section}] {group} must be a list of phrases in brackets: {group} = [\"...\", \"...\"]"),
        });
    };
    let mut written = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let number = index + 1;
        match entry {
            Value::String(phrase) => written.push(Written {
                phrase: phrase.clone(),
                unless: Vec::new(),
            }),
            Value::Table(table) => {
                let Some(Value::String(phrase)) = table.get("phrase") else {
                    return Err(problem(
                        number,
                        &entry.to_string(),
                        "a rule written as a table needs `phrase = \"...\"`".to_owned(),
                    ));
                };
                for key in table.keys() {
                    if key != "phrase" && key != "unless" {
                        return Err(problem(
                            number,
                            phrase,
                            format!("unknown key `{key}`; a rule has only `phrase` and `unless`"),
                        ));
                    }
                }
                let unless = match table.get("unless") {
                    None => Vec::new(),
                    Some(Value::String(text)) => vec![text.clone()],
                    Some(Value::Array(items)) => {
                        let mut phrases = Vec::new();
                        for item in items {
                            let Value::String(text) = item else {
                                return Err(problem(
                                    number,
                                    phrase,
                                    "every `unless` phrase must be a quoted string".to_owned(),
                                ));
                            };
                            phrases.push(text.clone());
                        }
                        phrases
                    }
                    Some(_) => {
                        return Err(problem(
                            number,
                            phrase,
                            "`unless` is a quoted phrase or a list of them".to_owned(),
                        ));
                    }
                };
                written.push(Written {
                    phrase: phrase.clone(),
                    unless,
                });
            }
            other => {
                return Err(problem(
                    number,
                    &other.to_string(),
                    "a rule is a quoted phrase, or { phrase = \"...\", unless = \"...\" }"
                        .to_owned(),
                ));
            }
        }
    }
    Ok(written)
}

/// The lookup tables built from the interned terms.
fn finish(
    builder: Builder,
    rules: Vec<Vec<Rule>>,
    mut known: HashSet<String>,
    known_stems: Vec<String>,
) -> Screen {
    let mut fuzzy: HashMap<char, Vec<Fuzzy>> = HashMap::new();
    let mut squeezed_exact: HashMap<String, Vec<u32>> = HashMap::new();
    let mut squeezed_prefixes: HashMap<String, Vec<u32>> = HashMap::new();
    let mut index_fuzzy = |text: &str, id: u32, prefix: bool| {
        let chars: Vec<char> = text.chars().collect();
        let edits = allowed_edits(chars.len());
        if edits == 0 || !chars.iter().all(|c| c.is_alphabetic()) {
            return;
        }
        if let Some(&first) = chars.first() {
            fuzzy.entry(first).or_default().push(Fuzzy {
                chars,
                term: id,
                prefix,
                edits,
            });
        }
    };
    for (text, &id) in &builder.exact {
        index_fuzzy(text, id, false);
        squeezed_exact
            .entry(text::squeeze_doubles(text))
            .or_default()
            .push(id);
    }
    for (text, &id) in &builder.prefixes {
        index_fuzzy(text, id, true);
        squeezed_prefixes
            .entry(text::squeeze_doubles(text))
            .or_default()
            .push(id);
    }
    for entries in fuzzy.values_mut() {
        entries.sort_by(|a, b| (&a.chars, a.prefix).cmp(&(&b.chars, b.prefix)));
    }
    known.extend(builder.exact.keys().cloned());
    let longest = |keys: &mut dyn Iterator<Item = &String>| {
        keys.map(|k| k.chars().count()).max().unwrap_or(0)
    };
    let longest_stem = longest(&mut builder.prefixes.keys());
    let longest_word = longest(&mut builder.exact.keys()).max(longest_stem);
    let longest_squeezed_stem = longest(&mut squeezed_prefixes.keys());
    let mut term_names = vec![String::new(); builder.next_term as usize];
    term_names[NUMBER_TERM as usize] = "@number".to_owned();
    for (text, &id) in &builder.exact {
        term_names[id as usize] = text.clone();
    }
    for (text, &id) in &builder.prefixes {
        term_names[id as usize] = format!("{text}*");
    }
    let categories = SECTIONS
        .iter()
        .zip(rules)
        .map(|((_, concern), rules)| (*concern, rules))
        .collect();
    Screen {
        exact: builder.exact,
        prefixes: builder.prefixes,
        longest_stem,
        longest_word,
        squeezed_exact,
        squeezed_prefixes,
        longest_squeezed_stem,
        fuzzy,
        known,
        known_stems,
        term_names,
        slots: builder.slots,
        categories,
    }
}
