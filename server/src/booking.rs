//! Scheduling in words: reading "a checkup with Dr. Patel next Tuesday
//! afternoon" into what to look for, choosing up to three real free slots,
//! and saying times the way the clinic's patients read them (in the
//! clinic's time zone).
//!
//! Understanding is deliberately literal: a practitioner named by family
//! name, a service by a few words per type, a day (today, tomorrow, a
//! weekday, "next week", 12/3, "Dec 3"), and a part of the day. Anything it
//! cannot read widens the search rather than guessing.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::ehr::{Practitioner, Slot, SlotQuery};
use crate::identity::details::fold;

/// How many slots are offered at once.
pub const OFFERED: usize = 3;
/// How far ahead a search without a day looks.
const DEFAULT_HORIZON_DAYS: i64 = 21;

/// A part of the day, in clinic local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayPart {
    /// Before noon.
    Morning,
    /// Noon to 5 PM.
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
            Self::Afternoon => time >= noon && time < five,
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
}

/// Service words: (code, words that mean it).
const SERVICES: &[(&str, &[&str])] = &[
    (
        "checkup",
        &[
            "checkup", "check-up", "physical", "annual", "wellness", "check up",
        ],
    ),
    ("follow-up", &["follow-up", "followup", "follow up"]),
    ("sick-visit", &["sick visit", "sick-visit", "sick"]),
    (
        "vaccination",
        &["vaccine", "vaccination", "flu shot", "shot"],
    ),
];

/// Reads a scheduling request. `today` is the clinic's local date.
#[must_use]
pub fn understand(text: &str, practitioners: &[Practitioner], today: NaiveDate) -> Wish {
    let folded = fold(text);
    let words: Vec<&str> = folded.split(' ').collect();
    let mut wish = Wish {
        practitioner_id: practitioners
            .iter()
            .find(|p| words.contains(&fold(&p.family).as_str()))
            .map(|p| p.id.clone()),
        ..Wish::default()
    };
    let padded = format!(" {folded} ");
    wish.service = SERVICES
        .iter()
        .find(|(_, names)| names.iter().any(|n| padded.contains(&format!(" {n} "))))
        .map(|(code, _)| (*code).to_owned());
    wish.part = if words.contains(&"morning") {
        Some(DayPart::Morning)
    } else if words.contains(&"afternoon") {
        Some(DayPart::Afternoon)
    } else if words.contains(&"evening") {
        Some(DayPart::Evening)
    } else {
        None
    };
    let next = words.contains(&"next");
    if words.contains(&"today") {
        wish.day = Some(today);
    } else if words.contains(&"tomorrow") {
        wish.day = today.succ_opt();
    } else if let Some(weekday) = words.iter().find_map(|w| weekday(w)) {
        let ahead = (i64::from(weekday.num_days_from_monday())
            - i64::from(today.weekday().num_days_from_monday()))
        .rem_euclid(7);
        // "Tuesday" on a Tuesday means next week's; "next Tuesday" means
        // the one in the coming week, never today.
        let ahead = if ahead == 0 { 7 } else { ahead };
        wish.day = Some(today + Duration::days(ahead));
    } else if next && words.contains(&"week") {
        let to_monday = 7 - i64::from(today.weekday().num_days_from_monday());
        wish.day = Some(today + Duration::days(to_monday));
        wish.whole_week = true;
    } else if let Some(day) = explicit_date(&words, today) {
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
        _ => return None,
    })
}

/// "12/3", "dec 3", "3 december": the next such date from today.
fn explicit_date(words: &[&str], today: NaiveDate) -> Option<NaiveDate> {
    const MONTHS: &[&str] = &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let month = |w: &str| {
        (w.len() >= 3)
            .then(|| MONTHS.iter().position(|m| w.starts_with(m)))
            .flatten()
            .and_then(|i| u32::try_from(i + 1).ok())
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

/// "Tue, Dec 1 · 2:30 PM" in the clinic's time zone.
#[must_use]
pub fn when(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%a, %b %-d · %-I:%M %p")
        .to_string()
}

/// A service code in words ("sick-visit" → "Sick visit").
#[must_use]
pub fn service_name(code: &str) -> String {
    let spaced = code.replace('-', " ");
    let mut chars = spaced.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().collect::<String>() + chars.as_str()
    })
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
        assert_eq!(when(slots[1].start, tz), "Tue, Nov 24 · 1:00 PM");
    }
}
