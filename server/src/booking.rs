//! Scheduling in words: reading "a checkup with Dr. Patel next Tuesday
//! afternoon" into what to look for, choosing up to three real free slots,
//! and saying times the way the clinic's patients read them (in the
//! clinic's time zone).
//!
//! Understanding is deliberately literal, in English and Spanish: a
//! practitioner named by family name, a service by a few words per type, a
//! day (today/hoy, tomorrow/mañana, a weekday/"el martes", "next week"/"la
//! semana que viene", 12/3, "Dec 3"/"3 de diciembre"), and a part of the day
//! ("afternoon"/"por la tarde" is after noon and before 5 PM; "mañana" after
//! "la" or "por la" is the morning, otherwise tomorrow). Anything it cannot
//! read widens the search rather than guessing. Times are said in the
//! patient's language ("Tue, Dec 1 · 2:30 PM", "martes 1 dic · 14:30").

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::ehr::{Practitioner, Slot, SlotQuery};
use carechat_language::lang::Locale;
use carechat_language::text;

/// How many slots are offered at once.
pub const OFFERED: usize = 3;
/// How far ahead a search without a day looks.
const DEFAULT_HORIZON_DAYS: i64 = 21;

/// A part of the day, in clinic local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayPart {
    /// Before noon.
    Morning,
    /// After noon (a 12:00 slot is not "afternoon"), before 5 PM.
    Afternoon,
    /// From 5 PM.
    Evening,
}

impl DayPart {
    fn contains(self, time: NaiveTime) -> bool {
        let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN);
        let five = NaiveTime::from_hms_opt(17, 0, 0).unwrap_or(NaiveTime::MIN);
        match self {
            Self::Morning => time < noon,
            Self::Afternoon => time > noon && time < five,
            Self::Evening => time >= five,
        }
    }
}

/// What the patient asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wish {
    /// `Practitioner/{id}`, when one was named.
    pub practitioner_id: Option<String>,
    /// Service type code, when one was recognised.
    pub service: Option<String>,
    /// A local day, or a first day of a week ("next week").
    pub day: Option<NaiveDate>,
    /// Whether `day` stands for the week starting there.
    pub whole_week: bool,
    /// Morning, afternoon or evening.
    pub part: Option<DayPart>,
    /// The patient named a practitioner ("Dr. Ramírez") whom the clinic
    /// does not have: the reply says so and offers everyone's free times.
    pub unknown_practitioner: bool,
}

/// Titles that are always followed by a practitioner's name ("Dr. Ramírez",
/// "la dra ramirez"). "Doctor" alone is not one: "the doctor Tuesday".
const TITLES: &[&str] = &["dr", "dra", "drs"];

/// Words that can follow a title without being a name ("a doctor for my
/// rash", "la doctora que esté libre").
const NOT_NAMES: &[&str] = &[
    "a",
    "an",
    "and",
    "any",
    "anyone",
    "appointment",
    "appointments",
    "about",
    "asap",
    "at",
    "available",
    "because",
    "but",
    "by",
    "can",
    "cita",
    "como",
    "con",
    "consulta",
    "cualquiera",
    "de",
    "del",
    "el",
    "en",
    "for",
    "free",
    "from",
    "hoy",
    "i",
    "if",
    "in",
    "is",
    "la",
    "las",
    "los",
    "manana",
    "me",
    "mi",
    "my",
    "next",
    "no",
    "o",
    "office",
    "on",
    "or",
    "para",
    "pero",
    "please",
    "por",
    "practitioner",
    "pronto",
    "que",
    "quien",
    "si",
    "so",
    "soon",
    "the",
    "this",
    "to",
    "today",
    "tomorrow",
    "visit",
    "who",
    "whoever",
    "with",
    "y",
    "you",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "lunes",
    "martes",
    "miercoles",
    "jueves",
    "viernes",
    "sabado",
    "domingo",
    "week",
    "semana",
    "morning",
    "afternoon",
    "tarde",
];

/// Whether a practitioner's name stands at `words[at]` (a typo allowed in
/// names of five letters or more).
fn names_practitioner(words: &[&str], at: usize, p: &Practitioner) -> bool {
    let family = text::words(&p.family);
    if family.is_empty() || at + family.len() > words.len() {
        return false;
    }
    family.iter().zip(&words[at..]).all(|(name, word)| {
        name == word || (name.len() >= 5 && text::edits_within(name, word, 1).is_some())
    })
}

/// Service words: (code, words that mean it).
const SERVICES: &[(&str, &[&str])] = &[
    (
        "checkup",
        &[
            "checkup",
            "check up",
            "physical",
            "annual",
            "wellness",
            "chequeo",
            "revision",
            "examen fisico",
            "fisico",
            "anual",
            "control",
        ],
    ),
    ("follow-up", &["follow up", "followup", "seguimiento"]),
    (
        "sick-visit",
        &["sick visit", "sick", "enfermo", "enferma", "malestar"],
    ),
    (
        "vaccination",
        &[
            "vaccine",
            "vaccination",
            "flu shot",
            "shot",
            "vacuna",
            "vacunas",
            "vacunacion",
        ],
    ),
];

/// Reads a scheduling request. `today` is the clinic's local date.
#[must_use]
pub fn understand(text: &str, practitioners: &[Practitioner], today: NaiveDate) -> Wish {
    let words = text::words(text);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let practitioner = (0..words.len()).find_map(|at| {
        practitioners
            .iter()
            .find(|p| names_practitioner(&words, at, p))
    });
    let titled_stranger = words.windows(2).any(|pair| {
        TITLES.contains(&pair[0])
            && pair[1].len() >= 3
            && pair[1].chars().all(char::is_alphabetic)
            && !NOT_NAMES.contains(&pair[1])
    });
    let mut wish = Wish {
        practitioner_id: practitioner.map(|p| p.id.clone()),
        unknown_practitioner: practitioner.is_none() && titled_stranger,
        ..Wish::default()
    };
    let padded = format!(" {} ", words.join(" "));
    let has = |phrase: &str| padded.contains(&format!(" {phrase} "));
    wish.service = SERVICES
        .iter()
        .find(|(_, names)| names.iter().any(|n| has(n)))
        .map(|(code, _)| (*code).to_owned());
    // "mañana" is the morning after an article ("por la mañana", "en la
    // mañana"), and tomorrow otherwise ("mañana a las 3").
    let morning_es = ["la manana", "las mananas"].iter().any(|p| has(p));
    let tomorrow_es = words.iter().enumerate().any(|(i, w)| {
        *w == "manana" && !matches!(i.checked_sub(1).map(|j| words[j]), Some("la" | "las"))
    });
    wish.part = if has("morning") || morning_es {
        Some(DayPart::Morning)
    } else if has("afternoon") || has("la tarde") || has("las tardes") {
        Some(DayPart::Afternoon)
    } else if has("evening") || has("la noche") || has("las noches") {
        Some(DayPart::Evening)
    } else {
        None
    };
    let next_week = (has("next") && has("week"))
        || has("semana que viene")
        || has("proxima semana")
        || has("semana proxima")
        || has("siguiente semana");
    if has("today") || has("hoy") {
        wish.day = Some(today);
    } else if has("tomorrow") || tomorrow_es {
        wish.day = today.succ_opt();
    } else if let Some(weekday) = words.iter().find_map(|w| weekday(w)) {
        let ahead = (i64::from(weekday.num_days_from_monday())
            - i64::from(today.weekday().num_days_from_monday()))
        .rem_euclid(7);
        // "Tuesday" on a Tuesday means next week's; "next Tuesday" means
        // the one in the coming week, never today.
        let ahead = if ahead == 0 { 7 } else { ahead };
        wish.day = Some(today + Duration::days(ahead));
    } else if next_week {
        let to_monday = 7 - i64::from(today.weekday().num_days_from_monday());
        wish.day = Some(today + Duration::days(to_monday));
        wish.whole_week = true;
    } else if let Some(day) = explicit_date(text, today) {
        wish.day = Some(day);
    }
    wish
}

fn weekday(word: &str) -> Option<Weekday> {
    Some(match word {
        "monday" | "mon" => Weekday::Mon,
        "tuesday" | "tue" | "tues" => Weekday::Tue,
        "wednesday" | "wed" => Weekday::Wed,
        "thursday" | "thu" | "thurs" => Weekday::Thu,
        "friday" | "fri" => Weekday::Fri,
        "saturday" | "sat" => Weekday::Sat,
        "sunday" | "sun" => Weekday::Sun,
        "lunes" => Weekday::Mon,
        "martes" => Weekday::Tue,
        "miercoles" => Weekday::Wed,
        "jueves" => Weekday::Thu,
        "viernes" => Weekday::Fri,
        "sabado" => Weekday::Sat,
        "domingo" => Weekday::Sun,
        _ => return None,
    })
}

/// "12/3", "dec 3", "3 december": the next such date from today.
fn explicit_date(text: &str, today: NaiveDate) -> Option<NaiveDate> {
    const MONTHS: &[&str] = &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "ene",
        "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic",
    ];
    // Words as typed but folded, keeping the slash of "12/3".
    let folded = text::fold(text);
    let words: Vec<&str> = folded
        .split(|c: char| !(c.is_alphanumeric() || c == '/'))
        .filter(|w| !w.is_empty() && *w != "de")
        .collect();
    let month = |w: &str| {
        (w.len() >= 3)
            .then(|| MONTHS.iter().position(|m| w.starts_with(m)))
            .flatten()
            .and_then(|i| u32::try_from(i % 12 + 1).ok())
    };
    let day = |w: &str| {
        w.trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=31).contains(d))
    };
    let upcoming = |m: u32, d: u32| {
        let this = NaiveDate::from_ymd_opt(today.year(), m, d)?;
        if this >= today {
            Some(this)
        } else {
            NaiveDate::from_ymd_opt(today.year() + 1, m, d)
        }
    };
    for (i, w) in words.iter().enumerate() {
        if let Some((m, d)) = w.split_once('/') {
            if let (Ok(m), Ok(d)) = (m.parse(), d.parse()) {
                if let Some(date) = upcoming(m, d) {
                    return Some(date);
                }
            }
        }
        if let Some(m) = month(w) {
            if let Some(d) = words.get(i + 1).and_then(|w| day(w)) {
                return upcoming(m, d);
            }
            if let Some(d) = i.checked_sub(1).and_then(|j| day(words[j])) {
                return upcoming(m, d);
            }
        }
    }
    None
}

/// The slot search for a wish, starting no earlier than `now`.
#[must_use]
pub fn query(wish: &Wish, now: DateTime<Utc>, tz: Tz) -> SlotQuery {
    let local_midnight = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
            .earliest()
            .map_or(now, |t| t.with_timezone(&Utc))
    };
    let (from, to) = match wish.day {
        Some(day) => {
            let days = if wish.whole_week { 7 } else { 1 };
            (
                local_midnight(day).max(now),
                local_midnight(day + Duration::days(days)),
            )
        }
        None => (now, now + Duration::days(DEFAULT_HORIZON_DAYS)),
    };
    SlotQuery {
        practitioner_id: wish.practitioner_id.clone(),
        service: wish.service.clone(),
        from,
        to: to.max(from),
    }
}

/// Up to [`OFFERED`] slots that fit the wish's part of the day, spread over
/// different days where the search spans several.
#[must_use]
pub fn pick(slots: &[Slot], wish: &Wish, tz: Tz) -> Vec<Slot> {
    let fits: Vec<&Slot> = slots
        .iter()
        .filter(|s| {
            wish.part
                .is_none_or(|p| p.contains(s.start.with_timezone(&tz).time()))
        })
        .collect();
    let mut chosen: Vec<Slot> = Vec::new();
    // First pass: one per day; second: fill up.
    for s in &fits {
        let day = s.start.with_timezone(&tz).date_naive();
        if chosen.len() < OFFERED
            && !chosen
                .iter()
                .any(|c| c.start.with_timezone(&tz).date_naive() == day)
        {
            chosen.push((*s).clone());
        }
    }
    for s in &fits {
        if chosen.len() < OFFERED && !chosen.iter().any(|c| c.id == s.id) {
            chosen.push((*s).clone());
        }
    }
    chosen.sort_by_key(|s| s.start);
    chosen
}

const DAYS_ES_LONG: [&str; 7] = [
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
];
const MONTHS_ES: [&str; 12] = [
    "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic",
];

/// A visit's time in the clinic's time zone, as the patient's language
/// writes it: "Tue, Dec 1 · 2:30 PM", "martes 1 dic · 14:30" (the Spanish
/// weekday in full: "mar" also reads as "sea").
#[must_use]
pub fn when(at: DateTime<Utc>, tz: Tz, locale: Locale) -> String {
    let local = at.with_timezone(&tz);
    match locale {
        Locale::En => local.format("%a, %b %-d · %-I:%M %p").to_string(),
        Locale::Es => format!(
            "{} {} {} · {}",
            DAYS_ES_LONG[local.weekday().num_days_from_monday() as usize],
            local.day(),
            MONTHS_ES[local.month0() as usize],
            local.format("%H:%M")
        ),
    }
}

/// A short date without a year: "Dec 3", "3 dic".
#[must_use]
pub fn short_date(date: NaiveDate, locale: Locale) -> String {
    match locale {
        Locale::En => date.format("%b %-d").to_string(),
        Locale::Es => format!("{} {}", date.day(), MONTHS_ES[date.month0() as usize]),
    }
}

/// The catalog key of a service type's name (`service-checkup`); a code
/// the catalog does not know is shown as it is.
#[must_use]
pub fn service_key(code: &str) -> String {
    format!("service-{code}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn practitioners() -> Vec<Practitioner> {
        vec![
            Practitioner {
                id: "pr-patel".into(),
                name: "Dr. Anika Patel".into(),
                family: "Patel".into(),
                services: vec!["checkup".into()],
            },
            Practitioner {
                id: "pr-chen".into(),
                name: "Dr. Marcus Chen".into(),
                family: "Chen".into(),
                services: vec!["checkup".into()],
            },
        ]
    }

    // Monday 2026-11-23.
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn reads_the_request_in_the_issue() {
        let wish = understand(
            "I need a checkup with Dr. Patel next Tuesday afternoon",
            &practitioners(),
            today(),
        );
        assert_eq!(wish.practitioner_id.as_deref(), Some("pr-patel"));
        assert_eq!(wish.service.as_deref(), Some("checkup"));
        assert_eq!(wish.day, NaiveDate::from_ymd_opt(2026, 11, 24));
        assert_eq!(wish.part, Some(DayPart::Afternoon));
    }

    #[test]
    fn a_practitioner_the_clinic_does_not_have_is_noticed() {
        let p = practitioners();
        let wish = |t: &str| understand(t, &p, today());
        assert!(wish("una cita con la Dra. Ramírez el martes").unknown_practitioner);
        assert!(wish("can i see dr smith next week").unknown_practitioner);
        let patel = wish("a checkup with dr patell on friday");
        assert_eq!(patel.practitioner_id.as_deref(), Some("pr-patel"));
        assert!(!patel.unknown_practitioner);
        assert!(!wish("I need to see a doctor tuesday").unknown_practitioner);
        assert!(!wish("the first dr available please").unknown_practitioner);
    }

    #[test]
    fn reads_days_in_several_ways() {
        let p = practitioners();
        let day = |t: &str| understand(t, &p, today()).day;
        assert_eq!(
            day("tomorrow morning"),
            NaiveDate::from_ymd_opt(2026, 11, 24)
        );
        assert_eq!(day("on monday"), NaiveDate::from_ymd_opt(2026, 11, 30));
        assert_eq!(day("dec 3"), NaiveDate::from_ymd_opt(2026, 12, 3));
        assert_eq!(day("12/3 please"), NaiveDate::from_ymd_opt(2026, 12, 3));
        assert_eq!(day("1/5"), NaiveDate::from_ymd_opt(2027, 1, 5));
        let week = understand("sometime next week", &p, today());
        assert!(week.whole_week);
        assert_eq!(week.day, NaiveDate::from_ymd_opt(2026, 11, 30));
        assert_eq!(day("whenever works"), None);
    }

    #[test]
    fn reads_spanish_requests() {
        let p = practitioners();
        let wish = understand(
            "una consulta con el Dr. Chen el martes por la tarde",
            &p,
            today(),
        );
        assert_eq!(wish.practitioner_id.as_deref(), Some("pr-chen"));
        assert_eq!(wish.day, NaiveDate::from_ymd_opt(2026, 11, 24));
        assert_eq!(wish.part, Some(DayPart::Afternoon));
        let day = |t: &str| understand(t, &p, today()).day;
        assert_eq!(
            day("mañana por la mañana"),
            NaiveDate::from_ymd_opt(2026, 11, 24)
        );
        assert_eq!(
            understand("mañana por la mañana", &p, today()).part,
            Some(DayPart::Morning)
        );
        assert_eq!(
            day("el 3 de diciembre"),
            NaiveDate::from_ymd_opt(2026, 12, 3)
        );
        assert_eq!(day("el miércoles"), NaiveDate::from_ymd_opt(2026, 11, 25));
        assert!(understand("la semana que viene", &p, today()).whole_week);
        assert_eq!(
            understand("quiero un chequeo", &p, today())
                .service
                .as_deref(),
            Some("checkup")
        );
    }

    #[test]
    fn afternoon_means_after_noon() {
        let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap();
        assert!(!DayPart::Afternoon.contains(noon));
        assert!(DayPart::Morning.contains(NaiveTime::from_hms_opt(11, 30, 0).unwrap()));
        assert!(DayPart::Afternoon.contains(NaiveTime::from_hms_opt(12, 30, 0).unwrap()));
    }

    #[test]
    fn picks_at_most_three_in_the_part_of_day_asked_for() {
        let tz: Tz = "America/Chicago".parse().unwrap();
        let slot = |id: &str, h: u32, d: u32| Slot {
            id: id.into(),
            start: tz
                .with_ymd_and_hms(2026, 11, d, h, 0, 0)
                .unwrap()
                .with_timezone(&Utc),
            end: tz
                .with_ymd_and_hms(2026, 11, d, h, 30, 0)
                .unwrap()
                .with_timezone(&Utc),
            practitioner_id: "pr-patel".into(),
            practitioner_name: "Dr. Anika Patel".into(),
            service: "checkup".into(),
            location_id: "loc".into(),
            location: "Maple Grove".into(),
        };
        let slots = vec![
            slot("a", 9, 24),
            slot("b", 13, 24),
            slot("c", 14, 24),
            slot("d", 15, 24),
            slot("e", 16, 24),
        ];
        let wish = Wish {
            part: Some(DayPart::Afternoon),
            ..Wish::default()
        };
        let picked: Vec<String> = pick(&slots, &wish, tz).into_iter().map(|s| s.id).collect();
        assert_eq!(picked, ["b", "c", "d"]);
        assert_eq!(
            when(slots[1].start, tz, Locale::En),
            "Tue, Nov 24 · 1:00 PM"
        );
        assert_eq!(
            when(slots[1].start, tz, Locale::Es),
            "martes 24 nov · 13:00"
        );
    }
}
