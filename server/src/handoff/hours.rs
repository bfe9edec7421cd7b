//! The clinic's staffed hours: when a person can answer a handed-off chat.
//! Read from `[clinic.staffed_hours]` (one `"HH:MM-HH:MM"` range per
//! weekday, days left out are closed); Monday to Friday 08:00–17:00 when
//! the clinic sets nothing. An admin may override them in the console
//! ([`crate::settings`]), with [`StaffedHours::from_days`].

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Opening and closing time for one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First staffed minute.
    pub opens: NaiveTime,
    /// First minute no longer staffed.
    pub closes: NaiveTime,
}

/// The week's staffed hours, Monday first.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawStaffedHours")]
pub struct StaffedHours {
    days: [Option<Range>; 7],
}

/// As written in the configuration (and stored by the settings, as JSON).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawStaffedHours {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sun: Option<String>,
}

/// The weekdays' short names, Monday first, as the configuration writes them.
pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Range {
    /// Parses `"HH:MM-HH:MM"`, the opening first.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        parse_range(text)
    }

    /// `"HH:MM-HH:MM"`.
    #[must_use]
    pub fn to_text(&self) -> String {
        format!(
            "{}-{}",
            self.opens.format("%H:%M"),
            self.closes.format("%H:%M")
        )
    }
}

impl Default for StaffedHours {
    fn default() -> Self {
        let weekday = Range {
            opens: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN),
            closes: NaiveTime::from_hms_opt(17, 0, 0).unwrap_or(NaiveTime::MIN),
        };
        Self {
            days: [
                Some(weekday),
                Some(weekday),
                Some(weekday),
                Some(weekday),
                Some(weekday),
                None,
                None,
            ],
        }
    }
}

impl StaffedHours {
    /// Validates the configured hours; none configured means the default.
    ///
    /// # Errors
    /// A range that is not `"HH:MM-HH:MM"` with the opening first, named
    /// by its day.
    pub fn from_raw(raw: &RawStaffedHours) -> Result<Self, String> {
        let all = [
            ("mon", &raw.mon),
            ("tue", &raw.tue),
            ("wed", &raw.wed),
            ("thu", &raw.thu),
            ("fri", &raw.fri),
            ("sat", &raw.sat),
            ("sun", &raw.sun),
        ];
        if all.iter().all(|(_, value)| value.is_none()) {
            return Ok(Self::default());
        }
        let mut days = [None; 7];
        for (slot, (name, value)) in days.iter_mut().zip(all) {
            if let Some(text) = value {
                *slot = Some(parse_range(text).ok_or_else(|| {
                    format!(
                        "clinic.staffed_hours.{name} = {text:?}: write a range such as \"08:00-17:00\", opening first"
                    )
                })?);
            }
        }
        Ok(Self { days })
    }

    /// Hours from one range (or none, closed) per weekday, Monday first.
    #[must_use]
    pub fn from_days(days: [Option<Range>; 7]) -> Self {
        Self { days }
    }

    /// The range of each weekday, Monday first (`None`: closed).
    #[must_use]
    pub fn days(&self) -> [Option<Range>; 7] {
        self.days
    }

    /// The same hours as the configuration writes them (every day
    /// closed when `self` has no staffed day).
    #[must_use]
    pub fn to_raw(&self) -> RawStaffedHours {
        let text = |i: usize| self.days[i].map(|r| r.to_text());
        RawStaffedHours {
            mon: text(0),
            tue: text(1),
            wed: text(2),
            thu: text(3),
            fri: text(4),
            sat: text(5),
            sun: text(6),
        }
    }

    fn range(&self, day: Weekday) -> Option<Range> {
        self.days[day.num_days_from_monday() as usize]
    }

    /// Whether someone is at the clinic at `now`.
    #[must_use]
    pub fn is_open(&self, now: DateTime<Utc>, tz: Tz) -> bool {
        let local = now.with_timezone(&tz);
        self.range(local.weekday())
            .is_some_and(|r| (r.opens..r.closes).contains(&local.time()))
    }

    /// When the clinic next opens after `now` (within a week), in its time
    /// zone.
    #[must_use]
    pub fn next_open(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Tz>> {
        let local = now.with_timezone(&tz);
        (0..8).find_map(|ahead| {
            let day = local.date_naive() + Duration::days(ahead);
            let range = self.range(day.weekday())?;
            let opens = tz
                .from_local_datetime(&day.and_time(range.opens))
                .earliest()?;
            (opens > local).then_some(opens)
        })
    }
}

impl TryFrom<RawStaffedHours> for StaffedHours {
    type Error = String;

    fn try_from(raw: RawStaffedHours) -> Result<Self, String> {
        Self::from_raw(&raw)
    }
}

fn parse_range(text: &str) -> Option<Range> {
    let (a, b) = text.trim().split_once('-')?;
    let opens = NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?;
    let closes = NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?;
    (opens < closes).then_some(Range { opens, closes })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn weekdays_eight_to_five_by_default() {
        let hours = StaffedHours::default();
        let tz = chrono_tz::America::Chicago;
        // Wednesday 2026-12-02, 10:00 in Chicago is 16:00 UTC.
        assert!(hours.is_open(at("2026-12-02T16:00:00Z"), tz));
        // 18:00 local.
        assert!(!hours.is_open(at("2026-12-03T00:00:00Z"), tz));
        let next = hours.next_open(at("2026-12-03T00:00:00Z"), tz).unwrap();
        assert_eq!(next.to_rfc3339(), "2026-12-03T08:00:00-06:00");
        // Saturday evening: Monday morning.
        let next = hours.next_open(at("2026-12-06T01:00:00Z"), tz).unwrap();
        assert_eq!(next.to_rfc3339(), "2026-12-07T08:00:00-06:00");
    }

    #[test]
    fn a_broken_range_is_named() {
        let raw = RawStaffedHours {
            sat: Some("9-noon".into()),
            ..RawStaffedHours::default()
        };
        let e = StaffedHours::from_raw(&raw).unwrap_err();
        assert!(e.contains("clinic.staffed_hours.sat"), "{e}");
        let raw = RawStaffedHours {
            sat: Some("09:00-13:00".into()),
            ..RawStaffedHours::default()
        };
        assert!(StaffedHours::from_raw(&raw).is_ok());
    }

    #[test]
    fn hours_survive_the_trip_through_their_written_form() {
        let mut days = StaffedHours::default().days();
        days[5] = Range::parse("09:30-13:00");
        days[0] = None;
        let hours = StaffedHours::from_days(days);
        let json = serde_json::to_string(&hours.to_raw()).unwrap();
        assert!(!json.contains("mon"), "{json}");
        let raw: RawStaffedHours = serde_json::from_str(&json).unwrap();
        assert_eq!(StaffedHours::from_raw(&raw).unwrap(), hours);
        assert_eq!(days[5].unwrap().to_text(), "09:30-13:00");
        assert_eq!(Range::parse("13:00-09:00"), None);
    }
}
