//! The clinic's staffed hours: when a person can answer a handed-off chat.
//! Read from `[clinic.staffed_hours]` (one `"HH:MM-HH:MM"` range per
//! weekday, days left out are closed); Monday to Friday 08:00–17:00 when
//! the clinic sets nothing.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

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

/// As written in the configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStaffedHours {
    mon: Option<String>,
    tue: Option<String>,
    wed: Option<String>,
    thu: Option<String>,
    fri: Option<String>,
    sat: Option<String>,
    sun: Option<String>,
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
}
