//! The phrase language of the word lists, parsed into a small syntax tree.
//!
//! A phrase is words separated by spaces, matched as consecutive words of
//! the message:
//!
//! | written | matches |
//! | --- | --- |
//! | `end my life` | those three words in a row |
//! | `kill*` | any word starting with `kill`: kill, kills, killed, killing |
//! | `[myself|me|my own self]` | one of the choices, each one or more words |
//! | `[really|just]?`, `own?` | the choice or word, or nothing |
//! | `...` | up to 3 words of anything (`...6`: up to 6 words) |
//! | `@self` | any choice of the word class `self` from `[classes]` |
//! | `@number` | any number written in digits (built in) |
//!
//! Words are written as a patient would type them, accents and apostrophes
//! included: the phrase is normalised exactly like the message
//! ([`crate::text::words`]), so `don't` is `dont` and `sería` is `seria`.

use crate::text;

/// The gap `...` stands for when written without a number.
pub(crate) const DEFAULT_GAP: usize = 3;

/// The widest gap a phrase may ask for.
pub(crate) const MAX_GAP: usize = 10;

/// Stems shorter than this may not end in `*`: `ki*` would match too much.
pub(crate) const MIN_STEM_CHARS: usize = 3;

/// One element of a phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// One normalised word; `prefix` when written with a trailing `*`.
    Word { text: String, prefix: bool },
    /// A named word class, `@name`, without the `@`.
    Class(String),
    /// Up to this many words of anything.
    Gap(usize),
    /// One of several sequences.
    Choice(Vec<Vec<Item>>),
    /// The item, or nothing.
    Optional(Box<Item>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Lexeme {
    Open,
    Close,
    Bar,
    Question,
    Gap(usize),
    Class(String),
    Word(String),
}

fn lex(text: &str) -> Result<Vec<Lexeme>, String> {
    let mut lexemes = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '[' | ']' | '|' | '?' => {
                chars.next();
                lexemes.push(match c {
                    '[' => Lexeme::Open,
                    ']' => Lexeme::Close,
                    '|' => Lexeme::Bar,
                    _ => Lexeme::Question,
                });
            }
            _ => {
                let mut raw = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '[' | ']' | '|' | '?') {
                        break;
                    }
                    raw.push(c);
                    chars.next();
                }
                lexemes.push(lex_word(raw)?);
            }
        }
    }
    Ok(lexemes)
}

fn lex_word(raw: String) -> Result<Lexeme, String> {
    if let Some(rest) = raw.strip_prefix("...") {
        if rest.is_empty() {
            return Ok(Lexeme::Gap(DEFAULT_GAP));
        }
        return match rest.parse::<usize>() {
            Ok(n) if (1..=MAX_GAP).contains(&n) => Ok(Lexeme::Gap(n)),
            _ => Err(format!(
                "`{raw}` is not a gap; write `...` for up to {DEFAULT_GAP} words or `...N` with N from 1 to {MAX_GAP}"
            )),
        };
    }
    if let Some(name) = raw.strip_prefix('@') {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!(
                "`{raw}` is not a class name; class names are lowercase letters, digits and _, as in @self"
            ));
        }
        return Ok(Lexeme::Class(name.to_owned()));
    }
    Ok(Lexeme::Word(raw))
}

/// Parses one phrase.
pub(crate) fn parse_phrase(text: &str) -> Result<Vec<Item>, String> {
    let lexemes = lex(text)?;
    let mut parser = Parser {
        lexemes: &lexemes,
        at: 0,
    };
    let sequence = parser.sequence()?;
    match parser.peek() {
        None => {}
        Some(Lexeme::Close) => return Err("`]` without a matching `[`".to_owned()),
        Some(Lexeme::Bar) => {
            return Err("`|` outside brackets; write the choices as [a|b]".to_owned())
        }
        Some(_) => return Err("unexpected text".to_owned()),
    }
    if sequence.is_empty() {
        return Err("the phrase is empty".to_owned());
    }
    Ok(sequence)
}

/// Parses a class definition: choices separated by `|` (no brackets
/// needed), each a phrase.
pub(crate) fn parse_choices(text: &str) -> Result<Vec<Vec<Item>>, String> {
    parse_phrase(&format!("[{text}]")).and_then(|mut items| match items.pop() {
        Some(Item::Choice(choices)) if items.is_empty() => Ok(choices),
        _ => Err("write the class as choices separated by |".to_owned()),
    })
}

struct Parser<'a> {
    lexemes: &'a [Lexeme],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Lexeme> {
        self.lexemes.get(self.at)
    }

    fn next(&mut self) -> Option<&Lexeme> {
        let lexeme = self.lexemes.get(self.at);
        self.at += 1;
        lexeme
    }

    fn sequence(&mut self) -> Result<Vec<Item>, String> {
        let mut items: Vec<Item> = Vec::new();
        while let Some(lexeme) = self.peek() {
            let item = match lexeme {
                Lexeme::Close | Lexeme::Bar => break,
                Lexeme::Question => {
                    return Err(
                        "`?` must follow a word or a [choice] that it makes optional".to_owned(),
                    )
                }
                Lexeme::Open => {
                    self.next();
                    self.choice()?
                }
                Lexeme::Gap(n) => {
                    let n = *n;
                    self.next();
                    Item::Gap(n)
                }
                Lexeme::Class(name) => {
                    let name = name.clone();
                    self.next();
                    Item::Class(name)
                }
                Lexeme::Word(raw) => {
                    let raw = raw.clone();
                    self.next();
                    word(&raw)?
                }
            };
            if self.peek() == Some(&Lexeme::Question) {
                self.next();
                if matches!(item, Item::Gap(_)) {
                    return Err("`...?` is not needed: a gap may already be empty".to_owned());
                }
                items.push(Item::Optional(Box::new(item)));
            } else {
                items.push(item);
            }
        }
        Ok(items)
    }

    fn choice(&mut self) -> Result<Item, String> {
        let mut choices = Vec::new();
        loop {
            let sequence = self.sequence()?;
            if sequence.is_empty() {
                return Err(
                    "a [choice] has an empty option; write [a|b]? to make the whole choice optional"
                        .to_owned(),
                );
            }
            choices.push(sequence);
            match self.next() {
                Some(Lexeme::Bar) => {}
                Some(Lexeme::Close) => return Ok(Item::Choice(choices)),
                _ => return Err("`[` without a matching `]`".to_owned()),
            }
        }
    }
}

/// A written word: normalised like message text, so it may become several
/// words ("self-harm" is `self harm`); a trailing `*` makes the last one a
/// stem.
fn word(raw: &str) -> Result<Item, String> {
    let (body, prefix) = match raw.strip_suffix('*') {
        Some(body) => (body, true),
        None => (raw, false),
    };
    if body.contains('*') {
        return Err(format!(
            "`{raw}`: `*` may only end a word, as in kill* for kill, kills, killing"
        ));
    }
    let mut pieces = text::words(body);
    let Some(last) = pieces.pop() else {
        return Err(format!("`{raw}` has no letters or digits"));
    };
    if prefix && last.chars().count() < MIN_STEM_CHARS {
        return Err(format!(
            "`{raw}`: a stem before `*` needs at least {MIN_STEM_CHARS} letters, or it matches too many words"
        ));
    }
    let mut items: Vec<Item> = pieces
        .into_iter()
        .map(|text| Item::Word {
            text,
            prefix: false,
        })
        .collect();
    items.push(Item::Word { text: last, prefix });
    Ok(match items.len() {
        1 => items.remove(0),
        _ => Item::Choice(vec![items]),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn w(text: &str) -> Item {
        Item::Word {
            text: text.to_owned(),
            prefix: false,
        }
    }

    #[test]
    fn phrases_parse() {
        assert_eq!(
            parse_phrase("kill* @self").unwrap(),
            [
                Item::Word {
                    text: "kill".into(),
                    prefix: true
                },
                Item::Class("self".into())
            ]
        );
        assert_eq!(
            parse_phrase("[i am|im] ... dying?").unwrap(),
            [
                Item::Choice(vec![vec![w("i"), w("am")], vec![w("im")]]),
                Item::Gap(3),
                Item::Optional(Box::new(w("dying")))
            ]
        );
        assert_eq!(parse_phrase("...6").unwrap(), [Item::Gap(6)]);
        assert_eq!(parse_phrase("Sería").unwrap(), [w("seria")]);
        assert_eq!(parse_phrase("don't").unwrap(), [w("dont")]);
        assert_eq!(
            parse_phrase("self-harm").unwrap(),
            [Item::Choice(vec![vec![w("self"), w("harm")]])]
        );
        assert_eq!(
            parse_choices("myself | me | my own self").unwrap(),
            vec![
                vec![w("myself")],
                vec![w("me")],
                vec![w("my"), w("own"), w("self")]
            ]
        );
    }

    #[test]
    fn mistakes_are_explained() {
        for (phrase, hint) in [
            ("[a|b", "without a matching `]`"),
            ("a]", "without a matching `[`"),
            ("a | b", "outside brackets"),
            ("[a||b]", "empty option"),
            ("? a", "must follow"),
            ("...11", "not a gap"),
            ("...x", "not a gap"),
            ("@Self", "not a class name"),
            ("ki*", "at least 3 letters"),
            ("k*ll", "may only end a word"),
            ("—", "no letters"),
            ("", "empty"),
            ("... ?", "not needed"),
        ] {
            let error = parse_phrase(phrase).unwrap_err();
            assert!(error.contains(hint), "{phrase}: {error}");
        }
    }
}
