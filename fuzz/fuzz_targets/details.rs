//! The identity details parser (`identity::details::parse`): what a
//! patient types as their name, date of birth and record number.
//!
//! Asserts: a birth date is never in the future nor before 1900 (the range
//! the parser documents for years); the last name is non-empty, trimmed,
//! single-spaced and holds no digits; a record number has at least four
//! digits, and is there whenever the clinic requires one; the same text
//! reads the same with and without the requirement; the last-name
//! candidates are 1 to 4, the name itself first, none empty and no two
//! alike once folded; `mentions_date` agrees with the parser; the
//! normalized form starts with the date.

#![no_main]

use carechat::identity::details::{fold, mentions_date, parse, Missing, MAX_FAMILY_CANDIDATES};
use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lenient = parse(text, false);
    let strict = parse(text, true);
    let today = chrono::Utc::now().date_naive();
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).expect("date");
    assert_eq!(
        mentions_date(text),
        !matches!(lenient, Err(Missing::BirthDate)),
        "mentions_date disagrees with parse"
    );
    match (&lenient, &strict) {
        (Ok(a), Ok(b)) => {
            assert!(b.identifier.is_some());
            assert_eq!(a.normalized().expose(), b.normalized().expose());
        }
        (Ok(a), Err(e)) => {
            assert_eq!(*e, Missing::Identifier);
            assert!(a.identifier.is_none());
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        (Err(_), Ok(_)) => panic!("parses only when a record number is required"),
    }
    let Ok(details) = lenient else {
        return;
    };
    let date = *details.birth_date.expose();
    assert!(date <= today, "a birth date in the future: {date}");
    assert!(date >= earliest, "a birth date before 1900: {date}");

    let family = details.family.expose();
    assert!(!family.is_empty());
    assert_eq!(family.trim(), family);
    assert!(!family.contains("  "), "{family:?}");
    assert!(!family.chars().any(|c| c.is_ascii_digit()), "{family:?}");

    if let Some(id) = &details.identifier {
        assert!(id.expose().chars().filter(char::is_ascii_digit).count() >= 4);
    }

    let candidates = details.family_candidates();
    assert!((1..=MAX_FAMILY_CANDIDATES).contains(&candidates.len()));
    assert_eq!(
        candidates[0]
            .expose()
            .split_whitespace()
            .collect::<Vec<_>>(),
        family.split_whitespace().collect::<Vec<_>>()
    );
    for (i, c) in candidates.iter().enumerate() {
        assert!(!c.expose().trim().is_empty(), "an empty candidate");
        for other in &candidates[..i] {
            assert_ne!(
                fold(c.expose()),
                fold(other.expose()),
                "a repeated candidate"
            );
        }
    }
    assert!(details
        .normalized()
        .expose()
        .starts_with(&date.format("%Y-%m-%d").to_string()));
});
