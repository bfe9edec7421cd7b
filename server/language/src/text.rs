//! Text normalisation: the one copy that the safety screen, the intent
//! model, identity details and booking all use.
//!
//! This module owns how a patient's raw characters become comparable words:
//!
//! - [`fold`]: Unicode NFKC (fullwidth and styled letters become ASCII),
//!   removal of invisible (default-ignorable) characters, lowercase, accent
//!   folding ("é" → "e", "ñ" → "n") and Cyrillic or Greek look-alike letters
//!   mapped to the Latin letter they imitate ("kіll" with a Cyrillic "і" →
//!   "kill"). Punctuation and digits are kept.
//! - [`words`]: the folded words of a text, apostrophes dropped ("don't" →
//!   "dont").
//! - [`edits_within`]: a bounded Damerau–Levenshtein (optimal string
//!   alignment) distance, for typo tolerance.
//! - The tricks people use to write a word without writing it:
//!   [`squeeze_repeats`] and [`squeeze_doubles`] for stretched letters
//!   ("diiie"), [`unleet_variants`] for digits and symbols used as letters
//!   ("k1ll", "m@t@rme"), [`leet_words`] to split a text without breaking
//!   such words apart, and [`join_spaced_letters`] for letters spaced out
//!   or separated by dots and dashes ("k i l l", "s-u-i-c-i-d-e").
//!
//! Everything here is pure and deterministic, and the work is linear in the
//! length of the text (the edit distance is banded and the leet variants
//! are capped).

use unicode_normalization::char::{decompose_canonical, is_combining_mark};
use unicode_normalization::UnicodeNormalization;
use unicode_security::skeleton;

/// Whether `c` is a Unicode Default_Ignorable_Code_Point: a character that is
/// invisible when rendered (zero-width space, joiner and non-joiner, word
/// joiner, byte-order mark, soft hyphen, bidirectional controls, variation
/// selectors, the combining grapheme joiner, tag characters, Hangul fillers
/// and the other reserved ranges of that property).
#[must_use]
pub fn is_default_ignorable(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// Folds a text for comparison: NFKC, default-ignorable characters removed,
/// lowercase, accents removed (NFD, then combining marks dropped) and
/// non-ASCII look-alike letters (Cyrillic, Greek, small capitals...)
/// replaced by their Latin skeleton from Unicode TR39. ASCII text is only
/// lowercased; punctuation, digits and spacing are kept as they are.
///
/// ```
/// use carechat_language::text::fold;
/// assert_eq!(fold("Dolor de PECHO, ¿qué hago?"), "dolor de pecho, ¿que hago?");
/// assert_eq!(fold("su\u{200B}i\u{AD}cide"), "suicide");
/// assert_eq!(fold("ｋｉｌｌ"), "kill");
/// assert_eq!(fold("kіll"), "kill"); // Cyrillic і
/// ```
#[must_use]
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let visible = text.chars().filter(|c| !is_default_ignorable(*c));
    for c in visible.nfkc() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if !is_default_ignorable(c) {
            decompose_canonical(c, |d| fold_decomposed(d, &mut out));
        }
    }
    out
}

/// One character of a canonical decomposition: marks dropped, ASCII
/// lowercased, other letters lowercased or replaced by a Latin skeleton.
fn fold_decomposed(d: char, out: &mut String) {
    if d.is_ascii() {
        out.push(d.to_ascii_lowercase());
    } else if is_combining_mark(d) || is_default_ignorable(d) {
        // Accents and other marks: dropped.
    } else if d.is_alphabetic() {
        match latin_skeleton(d) {
            Some(latin) => out.push_str(&latin),
            None => out.extend(d.to_lowercase()),
        }
    } else {
        out.push(d);
    }
}

/// The ASCII letters a non-ASCII letter imitates, if TR39 gives one. The
/// lowercase form is tried first (Cyrillic "і" is "i"), then the uppercase
/// one, whose skeletons are more often plain ASCII (Cyrillic "к" maps to
/// "ĸ" but "К" to "K"; "ß" becomes "ss").
fn latin_skeleton(c: char) -> Option<String> {
    let lower: String = c.to_lowercase().collect();
    let upper: String = c.to_uppercase().collect();
    [lower, upper].iter().find_map(|form| {
        let latin: String = skeleton(form).filter(|s| !is_combining_mark(*s)).collect();
        (!latin.is_empty() && latin.chars().all(|s| s.is_ascii_alphanumeric()))
            .then(|| latin.to_ascii_lowercase())
    })
}

/// Whether `c` is an apostrophe or a character used as one (right single
/// quote, modifier letter apostrophe, grave and acute accents, prime,
/// fullwidth apostrophe).
#[must_use]
pub fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' | '\u{00B4}' | '\u{2032}' | '\u{FF07}'
    )
}

/// The folded words of a text: [`fold`], apostrophes dropped ("don't" →
/// "dont"), split on every character that is not a letter or a digit,
/// empty pieces dropped.
///
/// ```
/// use carechat_language::text::words;
/// assert_eq!(words("I don't feel SAFE at home!"), ["i", "dont", "feel", "safe", "at", "home"]);
/// assert_eq!(words("¿Tengo que ayunar?"), ["tengo", "que", "ayunar"]);
/// ```
#[must_use]
pub fn words(text: &str) -> Vec<String> {
    let without: String = text.chars().filter(|c| !is_apostrophe(*c)).collect();
    let folded: String = fold(&without)
        .chars()
        .filter(|c| !is_apostrophe(*c))
        .collect();
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The optimal-string-alignment Damerau–Levenshtein distance between `a`
/// and `b` (insertions, deletions, substitutions, and swaps of two adjacent
/// characters each count one edit), compared by `char`, if it is at most
/// `max`; `None` if it is more.
///
/// The work is bounded: a length difference above `max` returns at once,
/// only the band of `2 * max + 1` cells around the diagonal is computed, and
/// the search stops as soon as every alignment costs more than `max`.
///
/// ```
/// use carechat_language::text::edits_within;
/// assert_eq!(edits_within("suicide", "sucide", 1), Some(1));
/// assert_eq!(edits_within("suicide", "siucide", 1), Some(1)); // a swap
/// assert_eq!(edits_within("kill", "bill", 0), None);
/// ```
#[must_use]
pub fn edits_within(a: &str, b: &str, max: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    edits_within_chars(&a, &b, max)
}

/// [`edits_within`] on strings already split into characters, for callers
/// that compare one word against many.
#[must_use]
pub fn edits_within_chars(a: &[char], b: &[char], max: usize) -> Option<usize> {
    let (n, m) = (a.len(), b.len());
    if n.abs_diff(m) > max {
        return None;
    }
    if n == 0 || m == 0 {
        return Some(n.max(m));
    }
    let over = max + 1;
    // Rows i-2, i-1 and i of the matrix; cells outside the band hold `over`.
    let mut two_back = vec![over; m + 1];
    let mut one_back: Vec<usize> = (0..=m).map(|j| j.min(over)).collect();
    let mut current = vec![over; m + 1];
    for i in 1..=n {
        let low = i.saturating_sub(max).max(1);
        let high = (i + max).min(m);
        current.fill(over);
        current[0] = i.min(over);
        let mut row_min = current[0];
        for j in low..=high {
            let substitution = one_back[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut cost = substitution.min(one_back[j] + 1).min(current[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cost = cost.min(two_back[j - 2] + 1);
            }
            current[j] = cost.min(over);
            row_min = row_min.min(current[j]);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut two_back, &mut one_back);
        std::mem::swap(&mut one_back, &mut current);
    }
    let distance = one_back[m];
    (distance <= max).then_some(distance)
}

/// Collapses every run of three or more of one letter to one letter:
/// "diiie" → "die", "kiiilll" → "kil", "moriiiir" → "morir". Doubled
/// letters, which are ordinary spelling ("kill", "llamar"), are kept; digits
/// and other characters are never collapsed.
#[must_use]
pub fn squeeze_repeats(word: &str) -> String {
    squeeze_runs(word, 3)
}

/// Collapses every run of two or more of one letter to one letter: "kill" →
/// "kil", "kiiilll" → "kil". Comparing two words by this form tells whether
/// they differ only in how long their runs of letters are, which is how
/// the screen recognises a stretched word ("piiiilllls" and "pills" are
/// both "pils").
#[must_use]
pub fn squeeze_doubles(word: &str) -> String {
    squeeze_runs(word, 2)
}

fn squeeze_runs(word: &str, min_run: usize) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut start = 0;
    while start < chars.len() {
        let c = chars[start];
        let mut end = start + 1;
        while end < chars.len() && chars[end] == c {
            end += 1;
        }
        let run = end - start;
        let keep = if c.is_alphabetic() && run >= min_run {
            1
        } else {
            run
        };
        out.extend(std::iter::repeat_n(c, keep));
        start = end;
    }
    out
}

/// The length of the longest run of one repeated letter in `word` (1 for a
/// word without doubled letters, 0 for a word without letters).
#[must_use]
pub fn longest_letter_run(word: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    let mut previous = None;
    for c in word.chars() {
        if !c.is_alphabetic() {
            run = 0;
            previous = None;
            continue;
        }
        run = if previous == Some(c) { run + 1 } else { 1 };
        previous = Some(c);
        longest = longest.max(run);
    }
    longest
}

/// Symbols that people type in place of letters (besides digits): `@` for
/// "a", `$` for "s", `!` for "i", `|` for "l".
pub const LEET_SYMBOLS: [char; 4] = ['@', '$', '!', '|'];

/// The letters a digit or symbol may stand for ("1" may be "i" or "l"), or
/// an empty slice for a character that is not used as a letter.
#[must_use]
pub fn leet_letters(c: char) -> &'static [char] {
    match c {
        '0' => &['o'],
        '1' => &['i', 'l'],
        '3' => &['e'],
        '4' => &['a'],
        '5' => &['s'],
        '7' => &['t'],
        '8' => &['b'],
        '@' => &['a'],
        '$' => &['s'],
        '!' => &['i'],
        '|' => &['l'],
        _ => &[],
    }
}

/// Unit and ordinal endings that make a number followed by letters a
/// measure, not a word written with digits ("5mg", "10am", "2nd").
const NUMBER_SUFFIXES: &[&str] = &[
    "am", "pm", "mg", "mcg", "ml", "g", "kg", "lb", "lbs", "oz", "st", "nd", "rd", "th", "x", "yo",
    "y", "yr", "yrs", "h", "hr", "hrs", "min", "mins", "s", "k", "m", "cm", "mm", "in", "ft", "wk",
    "wks", "mo", "mos", "d", "day", "days", "iu", "cc", "a", "o", "ro", "do", "er", "ero",
];

/// Most spellings [`unleet_variants`] returns for one word.
pub const MAX_LEET_VARIANTS: usize = 8;

/// The spellings of `word` with its digits and symbols read as letters
/// ("k1ll" → ["kill", "klll"], "m@t@rme" → ["matarme"], "su1c1d3" →
/// ["suicide", "suilide", "sulcide", "sulclde"]). Empty when the word has no
/// such character, or is a number ("911", "2024") or a measure ("5mg",
/// "10am", "2nd"), which are not words in disguise. A "1" may be "i" or "l":
/// with up to three of them every combination is returned, with more only
/// "all i" and "all l", so at most [`MAX_LEET_VARIANTS`] spellings come
/// back, the "i" readings first.
#[must_use]
pub fn unleet_variants(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    if !chars.iter().any(|c| !leet_letters(*c).is_empty()) || is_number_like(&chars) {
        return Vec::new();
    }
    let ambiguous = chars.iter().filter(|c| leet_letters(**c).len() > 1).count();
    let choices: Vec<u32> = if ambiguous <= 3 {
        (0..1_u32 << ambiguous).collect()
    } else {
        vec![0, u32::MAX]
    };
    let mut variants: Vec<String> = Vec::with_capacity(choices.len());
    for choice in choices {
        let mut bit = 0;
        let mut variant = String::with_capacity(word.len());
        for &c in &chars {
            match leet_letters(c) {
                [] => variant.push(c),
                [only] => variant.push(*only),
                several => {
                    let pick = usize::from((choice >> bit.min(31)) & 1 == 1);
                    bit += 1;
                    variant.push(several[pick.min(several.len() - 1)]);
                }
            }
        }
        if !variants.contains(&variant) {
            variants.push(variant);
        }
    }
    variants.truncate(MAX_LEET_VARIANTS);
    variants
}

/// A number of two or more digits, possibly followed by a unit or ordinal
/// ending: "911", "30", "5mg", "10am", "2nd", "1ro".
fn is_number_like(chars: &[char]) -> bool {
    let digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    let rest: String = chars[digits..].iter().collect();
    if rest.is_empty() {
        return digits >= 2;
    }
    NUMBER_SUFFIXES.contains(&rest.as_str())
}

/// Whether `c` can be part of a word written with digits and symbols.
#[must_use]
pub fn is_leet_word_char(c: char) -> bool {
    c.is_alphanumeric() || LEET_SYMBOLS.contains(&c)
}

/// The folded words of a text like [`words`], except that the symbols used
/// as letters ([`LEET_SYMBOLS`]) stay inside a word ("m@t@rme" is one word,
/// not three). A `!` or `|` at either end of a word is punctuation and is
/// dropped ("die!!!" → "die"); a `@` or `$` standing alone is kept, since it
/// may be a spaced-out letter.
///
/// ```
/// use carechat_language::text::leet_words;
/// assert_eq!(leet_words("I w@nt to k!ll myself!!"), ["i", "w@nt", "to", "k!ll", "myself"]);
/// ```
#[must_use]
pub fn leet_words(text: &str) -> Vec<String> {
    let without: String = text.chars().filter(|c| !is_apostrophe(*c)).collect();
    let folded: String = fold(&without)
        .chars()
        .filter(|c| !is_apostrophe(*c))
        .collect();
    folded
        .split(|c: char| !is_leet_word_char(c))
        .map(|word| word.trim_matches(|c| c == '!' || c == '|'))
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Joins letters that are spaced out or separated by dots, dashes and the
/// like into words: "k i l l  m y s e l f" → "kill myself", "k.i.l.l" →
/// "kill", "s-u-i-c-i-d-e" → "suicide". `None` when the text has no such
/// letters.
///
/// A spaced-out word is a run of single letters (or digits, or
/// [`LEET_SYMBOLS`]) each separated from the next by exactly one character
/// that is not part of a word; two or more separators end the word, so a
/// double space separates spaced-out words. A text counts as spaced out only
/// if it has a run of at least three single letters; then every run of two
/// or more is joined ("m e  q u i e r o" → "me quiero"). Single-letter words
/// standing alone ("i", "a", "y") are left as they are. The result keeps
/// the rest of the text unchanged.
#[must_use]
pub fn join_spaced_letters(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    // Maximal pieces of word characters, as [start, end) character ranges.
    let mut pieces: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if is_leet_word_char(chars[i]) {
            let start = i;
            while i < chars.len() && is_leet_word_char(chars[i]) {
                i += 1;
            }
            pieces.push((start, i));
        } else {
            i += 1;
        }
    }
    // Runs of consecutive single-character pieces one separator apart.
    let mut runs: Vec<(usize, usize)> = Vec::new(); // indices into `pieces`, inclusive
    let mut p = 0;
    while p < pieces.len() {
        if pieces[p].1 - pieces[p].0 != 1 {
            p += 1;
            continue;
        }
        let first = p;
        while p + 1 < pieces.len()
            && pieces[p + 1].1 - pieces[p + 1].0 == 1
            && pieces[p + 1].0 == pieces[p].1 + 1
        {
            p += 1;
        }
        runs.push((first, p));
        p += 1;
    }
    let letters_in = |(first, last): (usize, usize)| {
        (first..=last)
            .filter(|&k| chars[pieces[k].0].is_alphabetic())
            .count()
    };
    if !runs
        .iter()
        .any(|&(first, last)| last - first + 1 >= 3 && letters_in((first, last)) >= 2)
    {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0; // characters of `text` already handled
    for &(first, last) in runs.iter().filter(|&&(f, l)| l > f) {
        let (start, end) = (pieces[first].0, pieces[last].1);
        out.extend(&chars[copied..start]);
        out.push(' ');
        out.extend((first..=last).map(|k| chars[pieces[k].0]));
        out.push(' ');
        copied = end;
    }
    out.extend(&chars[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn fold_lowercases_and_removes_accents() {
        assert_eq!(fold("ÉL ESTÁ AQUÍ"), "el esta aqui");
        assert_eq!(fold("niño, año, pingüino"), "nino, ano, pinguino");
        assert_eq!(fold("Ça va? Über!"), "ca va? uber!");
        assert_eq!(fold("straße æ œ ø ł"), "strasse ae oe o l");
    }

    #[test]
    fn fold_keeps_ascii_punctuation_and_digits() {
        let ascii = "call 911 at 10:30, ok? (yes) $5 @home k1ll";
        assert_eq!(fold(ascii), ascii);
        assert_eq!(fold("¿Qué? ¡Sí!"), "¿que? ¡si!");
    }

    #[test]
    fn fold_removes_default_ignorable_characters() {
        for invisible in [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{FE0F}',
            '\u{034F}',
            '\u{E0041}',
            '\u{E0100}',
            '\u{180E}',
            '\u{3164}',
        ] {
            let text = format!("su{invisible}ici{invisible}de");
            assert_eq!(fold(&text), "suicide", "U+{:04X}", invisible as u32);
            assert!(is_default_ignorable(invisible));
        }
        assert!(!is_default_ignorable('a'));
        assert!(!is_default_ignorable(' '));
        assert!(!is_default_ignorable('\u{0301}'));
    }

    #[test]
    fn fold_maps_fullwidth_and_styled_letters_to_ascii() {
        assert_eq!(fold("ＫＩＬＬ　ＭＹＳＥＬＦ"), "kill myself");
        assert_eq!(fold("𝐤𝐢𝐥𝐥"), "kill");
        assert_eq!(fold("ⓚⓘⓛⓛ"), "kill");
        assert_eq!(fold("ﬁne"), "fine");
    }

    #[test]
    fn fold_maps_cyrillic_and_greek_look_alikes_to_latin() {
        assert_eq!(fold("kіll myself"), "kill myself"); // Cyrillic і
        assert_eq!(fold("suісidе"), "suicide"); // Cyrillic і, с, е
        assert_eq!(fold("mаtаrme"), "matarme"); // Cyrillic а
        assert_eq!(fold("\u{043A}ill"), "kill"); // Cyrillic к
        assert_eq!(fold("s\u{03BF}s"), "sos"); // Greek ο
        assert_eq!(fold("\u{03B9}"), "i"); // Greek ι
        assert_eq!(fold("ΚΙLL"), "kill"); // Greek capitals
                                          // Letters with no Latin look-alike stay as they are.
        assert_eq!(fold("Ж"), "ж");
        assert_eq!(fold("日本"), "日本");
    }

    #[test]
    fn words_drop_apostrophes_and_split_on_punctuation() {
        assert_eq!(words("Don't"), ["dont"]);
        assert_eq!(words("can\u{2019}t breathe"), ["cant", "breathe"]);
        assert_eq!(words("don´t"), ["dont"]);
        assert_eq!(words("self-harm... again?!"), ["self", "harm", "again"]);
        assert_eq!(words("  "), Vec::<String>::new());
        assert_eq!(words("Tengo 3 años"), ["tengo", "3", "anos"]);
        assert_eq!(words("me\u{200B}dica\u{00AD}mentos"), ["medicamentos"]);
    }

    #[test]
    fn edit_distance_counts_each_edit_once() {
        assert_eq!(edits_within("kitten", "sitting", 3), Some(3));
        assert_eq!(edits_within("kitten", "sitting", 2), None);
        assert_eq!(edits_within("suicide", "suicide", 0), Some(0));
        assert_eq!(edits_within("suicidal", "suicdal", 1), Some(1));
        assert_eq!(edits_within("suicidal", "suicidla", 1), Some(1));
        assert_eq!(edits_within("ca", "abc", 3), Some(3)); // OSA, not full Damerau
        assert_eq!(edits_within("", "abc", 3), Some(3));
        assert_eq!(edits_within("", "abc", 2), None);
        assert_eq!(edits_within("suicidio", "suisidio", 1), Some(1));
        assert_eq!(edits_within("año", "ano", 1), Some(1));
    }

    #[test]
    fn edit_distance_exits_early_on_length() {
        let long = "a".repeat(10_000);
        assert_eq!(edits_within(&long, "a", 2), None);
        assert_eq!(edits_within(&long, &long, 1), Some(0));
    }

    #[test]
    fn edit_distance_matches_a_full_matrix() {
        fn full(a: &[char], b: &[char]) -> usize {
            let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
            for (i, row) in d.iter_mut().enumerate() {
                row[0] = i;
            }
            for (j, cell) in d[0].iter_mut().enumerate() {
                *cell = j;
            }
            for i in 1..=a.len() {
                for j in 1..=b.len() {
                    let cost = usize::from(a[i - 1] != b[j - 1]);
                    d[i][j] = (d[i - 1][j] + 1)
                        .min(d[i][j - 1] + 1)
                        .min(d[i - 1][j - 1] + cost);
                    if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                        d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
                    }
                }
            }
            d[a.len()][b.len()]
        }
        let samples = [
            "kill", "bill", "skill", "die", "diet", "dime", "pill", "suicide", "sucide", "abc",
            "acb", "ba", "overdose", "ovredose", "", "a", "matarme", "matame",
        ];
        for a in samples {
            for b in samples {
                let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
                let expected = full(&ca, &cb);
                for max in 0..4 {
                    let got = edits_within(a, b, max);
                    assert_eq!(got, (expected <= max).then_some(expected), "{a} {b} {max}");
                }
            }
        }
    }

    #[test]
    fn squeezing_collapses_runs() {
        assert_eq!(squeeze_repeats("diiie"), "die");
        assert_eq!(squeeze_repeats("kiiilll"), "kil");
        assert_eq!(squeeze_repeats("moriiiir"), "morir");
        assert_eq!(squeeze_repeats("kill"), "kill");
        assert_eq!(squeeze_repeats("1000"), "1000");
        assert_eq!(squeeze_doubles("kill"), "kil");
        assert_eq!(squeeze_doubles("piiiilllls"), "pils");
        assert_eq!(squeeze_doubles("llamar"), "lamar");
        assert_eq!(longest_letter_run("diiie"), 3);
        assert_eq!(longest_letter_run("kill"), 2);
        assert_eq!(longest_letter_run("a1a"), 1);
        assert_eq!(longest_letter_run("911"), 0);
    }

    #[test]
    fn leet_variants_read_digits_and_symbols_as_letters() {
        assert_eq!(unleet_variants("k1ll"), ["kill", "klll"]);
        assert_eq!(unleet_variants("mys3lf"), ["myself"]);
        assert_eq!(unleet_variants("m@t@rme"), ["matarme"]);
        assert_eq!(unleet_variants("$uicide"), ["suicide"]);
        assert_eq!(unleet_variants("k!ll"), ["kill"]);
        assert_eq!(unleet_variants("ki|l"), ["kill"]);
        assert_eq!(unleet_variants("qu13r0"), ["quiero", "qulero"]);
        let suicide = unleet_variants("su1c1d3");
        assert_eq!(suicide.len(), 4);
        assert_eq!(suicide[0], "suicide");
        assert_eq!(unleet_variants("1"), ["i", "l"]);
        let many = unleet_variants("b1111y");
        assert_eq!(many, ["biiiiy", "blllly"]);
        assert!(unleet_variants("kill").is_empty());
        assert!(unleet_variants("911").is_empty());
        assert!(unleet_variants("5mg").is_empty());
        assert!(unleet_variants("10am").is_empty());
        assert!(unleet_variants("2nd").is_empty());
    }

    #[test]
    fn leet_words_keep_symbols_inside_words() {
        assert_eq!(leet_words("m@t@rme"), ["m@t@rme"]);
        assert_eq!(leet_words("die!!! now"), ["die", "now"]);
        assert_eq!(leet_words("I can't"), ["i", "cant"]);
        assert_eq!(leet_words("k.i.l.l"), ["k", "i", "l", "l"]);
        assert_eq!(leet_words("m @ t"), ["m", "@", "t"]);
    }

    #[test]
    fn spaced_letters_are_joined() {
        assert_eq!(
            words(&join_spaced_letters("k i l l  m y s e l f").unwrap()),
            ["kill", "myself"]
        );
        assert_eq!(
            words(&join_spaced_letters("k i l l m y s e l f").unwrap()),
            ["killmyself"]
        );
        assert_eq!(words(&join_spaced_letters("k.i.l.l").unwrap()), ["kill"]);
        assert_eq!(
            words(&join_spaced_letters("s-u-i-c-i-d-e").unwrap()),
            ["suicide"]
        );
        assert_eq!(
            words(&join_spaced_letters("i want to d i e").unwrap()),
            ["i", "want", "to", "die"]
        );
        assert_eq!(
            words(&join_spaced_letters("m e  q u i e r o  m o r i r").unwrap()),
            ["me", "quiero", "morir"]
        );
        assert_eq!(
            leet_words(&join_spaced_letters("k 1 l l").unwrap()),
            ["k1ll"]
        );
        assert_eq!(join_spaced_letters("i want to die"), None);
        assert_eq!(join_spaced_letters("a b"), None);
        assert_eq!(join_spaced_letters("1 2 3"), None);
    }
}
