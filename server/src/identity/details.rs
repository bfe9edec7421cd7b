//! Reading identifying details from what a patient types: a date of birth,
//! a last name and, where the clinic asks for it, a medical record number.
//!
//! "03/14/1985 Rivera", "Rivera, born March 14 1985", "dob 1985-03-14 last
//! name de la Cruz", "Morgan Sample, born 03/02/1984", "Sample, Morgan
//! 3/2/84" and "nací el 2 de marzo de 1984, Sample" all work. A two-digit
//! year is the latest one not in the future ("84" is 1984, "05" is 2005);
//! dates in the future are refused. Numeric dates are month first, as US
//! clinics write them.
//!
//! Patients often type their whole name, so the name words give several
//! [`Details::family_candidates`] (the whole name, the last word, the last
//! two, the first), and verification looks each one up.

use chrono::NaiveDate;

use crate::phi::Phi;

/// Details typed by a patient, not yet checked against the EHR.
/// Serializable for the session snapshot only (details the EHR could not
/// be asked about yet), which the store seals.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Details {
    /// Date of birth.
    #[serde(with = "crate::phi::sealed_serde")]
    pub birth_date: Phi<NaiveDate>,
    /// Last name, as typed (trimmed).
    #[serde(with = "crate::phi::sealed_serde")]
    pub family: Phi<String>,
    /// Medical record number, when one was typed.
    #[serde(with = "crate::phi::sealed_serde_opt")]
    pub identifier: Option<Phi<String>>,
}

impl Details {
    /// One canonical string for these details (lower case, single spaces),
    /// so the same details typed differently count as the same subject.
    #[must_use]
    pub fn normalized(&self) -> Phi<String> {
        let family = fold(self.family.expose());
        let id = self
            .identifier
            .as_ref()
            .map(|i| i.expose().to_ascii_lowercase())
            .unwrap_or_default();
        Phi::new(format!("{}|{family}|{id}", self.birth_date.expose()))
    }

    /// The last names these details could mean, most likely first, at most
    /// [`MAX_FAMILY_CANDIDATES`]: the name as typed, the part from a
    /// particle on ("de la Cruz"), the last two words (two surnames), the
    /// last word, the first word ("Sample, Morgan").
    #[must_use]
    pub fn family_candidates(&self) -> Vec<Phi<String>> {
        let words: Vec<&str> = self.family.expose().split_whitespace().collect();
        let mut candidates: Vec<String> = vec![words.join(" ")];
        let mut add = |c: String| {
            if !c.is_empty() && !candidates.iter().any(|k| fold(k) == fold(&c)) {
                candidates.push(c);
            }
        };
        if let Some(start) =
            (1..words.len()).find(|&i| PARTICLES.contains(&fold(words[i]).as_str()))
        {
            add(words[start..].join(" "));
        }
        if words.len() > 2 {
            add(words[words.len() - 2..].join(" "));
        }
        if let Some(last) = words.last() {
            add((*last).to_owned());
        }
        if let Some(first) = words
            .first()
            .filter(|w| !PARTICLES.contains(&fold(w).as_str()))
        {
            add((*first).to_owned());
        }
        candidates.truncate(MAX_FAMILY_CANDIDATES);
        candidates.into_iter().map(Phi::new).collect()
    }
}

/// Most last names one message of details is looked up under.
pub const MAX_FAMILY_CANDIDATES: usize = 4;

/// Words that start a compound last name.
const PARTICLES: &[&str] = &[
    "de", "del", "la", "las", "los", "van", "von", "da", "di", "du", "le", "mc", "st",
];

/// What was missing from a message that tried to give details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// No date that could be a date of birth.
    BirthDate,
    /// No name.
    Family,
    /// The clinic requires a record number and none was given.
    Identifier,
}

/// Whether `text` looks like an attempt at giving a date of birth.
#[must_use]
pub fn mentions_date(text: &str) -> bool {
    find_date(&tokens(text), today_year()).is_some()
}

/// Reads details from `text`; `require_identifier` when the clinic asks
/// for a record number.
///
/// # Errors
/// Names the first thing missing.
pub fn parse(text: &str, require_identifier: bool) -> Result<Details, Missing> {
    let toks = tokens(text);
    let (date, used) = find_date(&toks, today_year()).ok_or(Missing::BirthDate)?;
    let mut identifier = None;
    let mut name_words = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if used.contains(&i) {
            continue;
        }
        let lower = t.to_lowercase();
        if t.chars().any(|c| c.is_ascii_digit()) {
            if t.chars().filter(char::is_ascii_digit).count() >= 4 && identifier.is_none() {
                identifier = Some(t.clone());
            }
            continue;
        }
        if FILLER.contains(&fold(&lower).as_str()) {
            continue;
        }
        name_words.push((i, t.clone()));
    }
    // A particle belongs to a name only when a name word follows it ("de la
    // Cruz"), not in "fecha de nacimiento".
    let positions: Vec<usize> = name_words.iter().map(|(i, _)| *i).collect();
    let mut name_words: Vec<String> = name_words
        .iter()
        .enumerate()
        .rev()
        .scan(false, |named_after, (k, (i, word))| {
            let particle = PARTICLES.contains(&fold(word).as_str());
            let next_is_name = positions.get(k + 1) == Some(&(i + 1)) && *named_after;
            let keep = !particle || next_is_name;
            *named_after = keep;
            Some(keep.then(|| word.clone()))
        })
        .flatten()
        .collect();
    name_words.reverse();
    if name_words.is_empty() {
        return Err(Missing::Family);
    }
    if require_identifier && identifier.is_none() {
        return Err(Missing::Identifier);
    }
    Ok(Details {
        birth_date: Phi::new(date),
        family: Phi::new(name_words.join(" ")),
        identifier: identifier.map(Phi::new),
    })
}

/// Words around details that are not a name.
/// Compared folded (no accents): "nací" is "naci".
const FILLER: &[&str] = &[
    "my",
    "name",
    "is",
    "last",
    "surname",
    "family",
    "dob",
    "d.o.b",
    "date",
    "of",
    "birth",
    "born",
    "on",
    "in",
    "and",
    "i",
    "am",
    "i'm",
    "im",
    "was",
    "it's",
    "its",
    "the",
    "mrn",
    "record",
    "number",
    "medical",
    "no",
    "id",
    "birthday",
    "b",
    "day",
    "it",
    "s",
    "sure",
    "ok",
    "okay",
    "yes",
    "here",
    "are",
    "details",
    "me",
    "first",
    "full",
    "called",
    "this",
    "patient",
    // Spanish
    "naci",
    "nacio",
    "el",
    "mi",
    "apellido",
    "apellidos",
    "nombre",
    "es",
    "fecha",
    "nacimiento",
    "soy",
    "llamo",
    "y",
    "con",
    "numero",
    "expediente",
    "historia",
    "clinica",
    "cumpleanos",
    "si",
    "claro",
    "aqui",
    "estan",
    "mis",
    "datos",
    "yo",
    "a",
    "en",
    "del",
    "ano",
    "dia",
    "paciente",
    "se",
    "por",
    "favor",
    "hola",
    "ella",
    "el",
];

/// Month names, English then Spanish; a word naming a month starts with one
/// of these (the index modulo 12 is the month).
const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "ene",
    "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic",
];

fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .map(|t| t.trim_matches(|c: char| matches!(c, '.' | ':' | '(' | ')' | '"')))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn today_year() -> i32 {
    use chrono::Datelike as _;
    chrono::Utc::now().year()
}

fn month_of(word: &str) -> Option<u32> {
    let w = word.to_lowercase();
    if w.len() < 3 {
        return None;
    }
    let w = fold(&w);
    MONTHS
        .iter()
        .position(|m| w.starts_with(m))
        .and_then(|i| u32::try_from(i % 12 + 1).ok())
}

/// A four-digit year, or a two-digit one as the latest such year not after
/// `this_year`.
fn year_of(word: &str, this_year: i32) -> Option<i32> {
    if !word.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let y: i32 = word.parse().ok()?;
    match word.len() {
        4 => (1900..=this_year).contains(&y).then_some(y),
        2 => {
            let century = this_year - this_year % 100;
            Some(if century + y <= this_year {
                century + y
            } else {
                century - 100 + y
            })
        }
        _ => None,
    }
}

fn day_of(word: &str) -> Option<u32> {
    let w = word.to_lowercase();
    let digits = w
        .trim_end_matches("st")
        .trim_end_matches("nd")
        .trim_end_matches("rd")
        .trim_end_matches("th");
    let d: u32 = digits.parse().ok()?;
    (1..=31).contains(&d).then_some(d)
}

/// The first date of birth in the tokens, and which tokens it used.
fn find_date(toks: &[String], this_year: i32) -> Option<(NaiveDate, Vec<usize>)> {
    let today = chrono::Utc::now().date_naive();
    let valid = |d: NaiveDate| (d <= today).then_some(d);
    for (i, t) in toks.iter().enumerate() {
        // 03/14/1985, 3-14-1985, 1985-03-14
        let parts: Vec<&str> = t.split(['/', '-']).collect();
        if parts.len() == 3 && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit())) {
            let nums: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
            if nums.len() == 3 {
                let date = if parts[0].len() == 4 {
                    year_of(parts[0], this_year)
                        .and_then(|y| NaiveDate::from_ymd_opt(y, nums[1], nums[2]))
                } else if parts[2].len() == 4 || parts[2].len() == 2 {
                    year_of(parts[2], this_year)
                        .and_then(|y| NaiveDate::from_ymd_opt(y, nums[0], nums[1]))
                } else {
                    None
                };
                if let Some(d) = date.and_then(valid) {
                    return Some((d, vec![i]));
                }
            }
        }
        // March 14 1985 / Mar 14th, 1985
        if let Some(m) = month_of(t) {
            if let (Some(d), Some(y)) = (
                toks.get(i + 1).and_then(|w| day_of(w)),
                toks.get(i + 2).and_then(|w| year_of(w, this_year)),
            ) {
                if let Some(date) = NaiveDate::from_ymd_opt(y, m, d).and_then(valid) {
                    return Some((date, vec![i, i + 1, i + 2]));
                }
            }
        }
        // 2 de marzo de 1984
        if let Some(d) = day_of(t) {
            let de = |j: usize| toks.get(j).is_some_and(|w| w.eq_ignore_ascii_case("de"));
            if de(i + 1) && de(i + 3) {
                if let (Some(m), Some(y)) = (
                    toks.get(i + 2).and_then(|w| month_of(w)),
                    toks.get(i + 4).and_then(|w| year_of(w, this_year)),
                ) {
                    if let Some(date) = NaiveDate::from_ymd_opt(y, m, d).and_then(valid) {
                        return Some((date, vec![i, i + 1, i + 2, i + 3, i + 4]));
                    }
                }
            }
        }
        // 14 March 1985
        if let Some(d) = day_of(t) {
            if let (Some(m), Some(y)) = (
                toks.get(i + 1).and_then(|w| month_of(w)),
                toks.get(i + 2).and_then(|w| year_of(w, this_year)),
            ) {
                if let Some(date) = NaiveDate::from_ymd_opt(y, m, d).and_then(valid) {
                    return Some((date, vec![i, i + 1, i + 2]));
                }
            }
        }
    }
    None
}

/// Case-, accent-, punctuation- and space-insensitive form of a name or a
/// sentence ("Dr. Núñez," and "dr nunez" fold alike).
#[must_use]
pub fn fold(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' || c == '-' || c == '/' {
                c
            } else {
                ' '
            }
        })
        .collect();
    crate::ehr::fold_name(&spaced)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn reads_the_usual_ways_of_giving_details() {
        for (text, date, family) in [
            ("03/14/1985 Rivera", ymd(1985, 3, 14), "Rivera"),
            ("Rivera, born March 14 1985", ymd(1985, 3, 14), "Rivera"),
            (
                "dob 1985-03-14 last name de la Cruz",
                ymd(1985, 3, 14),
                "de la Cruz",
            ),
            (
                "my name is Okafor and my birthday is 14 Mar 1985",
                ymd(1985, 3, 14),
                "Okafor",
            ),
            ("3-4-1990 Núñez", ymd(1990, 3, 4), "Núñez"),
            (
                "Morgan Sample, born 03/02/1984",
                ymd(1984, 3, 2),
                "Morgan Sample",
            ),
            ("Sample, Morgan 3/2/84", ymd(1984, 3, 2), "Sample Morgan"),
            (
                "nací el 2 de marzo de 1984, Sample",
                ymd(1984, 3, 2),
                "Sample",
            ),
            (
                "mi apellido es García López, fecha de nacimiento 5 de enero de 2005",
                ymd(2005, 1, 5),
                "García López",
            ),
        ] {
            let d = parse(text, false).unwrap();
            assert_eq!(*d.birth_date.expose(), date, "{text}");
            assert_eq!(d.family.expose(), family, "{text}");
        }
    }

    #[test]
    fn says_what_is_missing() {
        assert_eq!(parse("Rivera", false).unwrap_err(), Missing::BirthDate);
        assert_eq!(
            parse("02/30/1985 Rivera", false).unwrap_err(),
            Missing::BirthDate
        );
        assert_eq!(
            parse("03/14/2999 Rivera", false).unwrap_err(),
            Missing::BirthDate
        );
        assert_eq!(parse("03/14/1985", false).unwrap_err(), Missing::Family);
        assert_eq!(
            parse("03/14/1985 Rivera", true).unwrap_err(),
            Missing::Identifier
        );
        let d = parse("03/14/1985 Rivera MRN MG-100234", true).unwrap();
        assert_eq!(d.identifier.unwrap().expose(), "MG-100234");
    }

    #[test]
    fn a_whole_name_gives_each_way_it_could_hold_the_last_name() {
        let names = |t: &str| -> Vec<String> {
            parse(t, false)
                .unwrap()
                .family_candidates()
                .iter()
                .map(|c| c.expose().clone())
                .collect()
        };
        assert_eq!(
            names("Morgan Sample, born 03/02/1984"),
            ["Morgan Sample", "Sample", "Morgan"]
        );
        assert_eq!(
            names("Sample, Morgan 3/2/84"),
            ["Sample Morgan", "Morgan", "Sample"]
        );
        assert_eq!(
            names("03/14/1985 Maria de la Cruz"),
            ["Maria de la Cruz", "de la Cruz", "la Cruz", "Cruz"]
        );
        assert_eq!(names("03/14/1985 Rivera"), ["Rivera"]);
        assert_eq!(
            parse("03/14/85 Rivera", false)
                .unwrap()
                .birth_date
                .expose()
                .to_string(),
            "1985-03-14"
        );
    }

    #[test]
    fn a_year_first_date_before_1900_is_not_a_birth_date() {
        // Found by the `details` fuzz target: "1492-3-1 u" read as 1 March
        // 1492, since the year-first form skipped the year's range check.
        for text in ["1492-3-1 u", "0001-01-01 Rivera", "1899-12-31 Rivera"] {
            assert_eq!(
                parse(text, false).unwrap_err(),
                Missing::BirthDate,
                "{text}"
            );
            assert!(!mentions_date(text), "{text}");
        }
        assert_eq!(
            *parse("1900-01-01 Rivera", false)
                .unwrap()
                .birth_date
                .expose(),
            ymd(1900, 1, 1)
        );
    }

    #[test]
    fn the_same_details_typed_differently_normalize_alike() {
        let a = parse("03/14/1985 NÚÑEZ", false).unwrap().normalized();
        let b = parse("born march 14 1985, nunez", false)
            .unwrap()
            .normalized();
        assert_eq!(a, b);
    }
}
