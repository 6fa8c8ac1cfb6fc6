//! Business calendars: a tenant's weekly opening hours (several spans a day,
//! spans that run past midnight), its holidays, read in its time zone; and
//! the arithmetic that deadlines need: "8 business hours after Friday 16:30"
//! is Monday 16:30 for an office open 09:00 to 17:00 on weekdays, and later
//! if Monday is a holiday.
//!
//! Times are read in the zone's local time, day by day, so a daylight-saving
//! change shortens or lengthens the span it falls in by the hour the clocks
//! moved, as a person working that day would see it. A span belongs to the
//! day it starts on: a night shift from 22:00 to 06:00 that starts on a
//! holiday does not run, one that starts the evening before does.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone as _, Utc};

use crate::{TimeZoneName, ValidationError};

/// At most this many spans in one day (split shifts).
pub const SPANS_PER_DAY: usize = 6;
/// At most this many holidays on a calendar.
pub const HOLIDAYS: usize = 400;
/// How far ahead business time is looked for before giving up: a calendar
/// with no open hour in this many days has none.
const HORIZON_DAYS: i64 = 800;

const MINUTES_PER_DAY: u16 = 24 * 60;
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One span of opening hours on a day, in minutes from local midnight. An end
/// past 24:00 (`end > 1440`) runs into the next morning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start: u16,
    pub end: u16,
}

impl Span {
    /// `"09:00"` and `"17:30"`; an end at or before the start runs past
    /// midnight (`"22:00"`–`"06:00"`); `"24:00"` is the end of the day.
    pub fn parse(field: &str, start: &str, end: &str) -> Result<Self, ValidationError> {
        let start = minutes(field, start, false)?;
        let mut end = minutes(field, end, true)?;
        if end <= start {
            end += MINUTES_PER_DAY;
        }
        if end - start > MINUTES_PER_DAY {
            return Err(ValidationError::new(field, "a span is at most 24 hours"));
        }
        Ok(Self { start, end })
    }

    fn text(m: u16) -> String {
        format!("{:02}:{:02}", (m / 60) % 24, m % 60)
    }
}

fn minutes(field: &str, s: &str, end: bool) -> Result<u16, ValidationError> {
    let bad = || {
        ValidationError::new(
            field,
            format!("{s:?} is not a time of day such as \"09:30\" (24-hour clock)"),
        )
    };
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if end && h == 24 && m == 0 {
        return Ok(MINUTES_PER_DAY);
    }
    if h > 23 || m > 59 || s.trim().len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// A tenant's opening hours and holidays. Its JSON form:
/// `{"hours": {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], …},
///   "holidays": ["2026-12-25"]}`; a day left out is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Monday first.
    pub week: [Vec<Span>; 7],
    pub holidays: BTreeSet<NaiveDate>,
}

/// Until a tenant sets its own: [`Calendar::office_hours`].
impl Default for Calendar {
    fn default() -> Self {
        Self::office_hours()
    }
}

impl serde::Serialize for Calendar {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Calendar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Self::from_json(&v)
            .map_err(|e| serde::de::Error::custom(format!("{}: {}", e.field, e.reason)))
    }
}

impl Calendar {
    /// Monday to Friday, 09:00 to 17:00, no holidays: what a new tenant has.
    pub fn office_hours() -> Self {
        let day = vec![Span {
            start: 9 * 60,
            end: 17 * 60,
        }];
        let mut week: [Vec<Span>; 7] = Default::default();
        for d in week.iter_mut().take(5) {
            *d = day.clone();
        }
        Self {
            week,
            holidays: BTreeSet::new(),
        }
    }

    /// Reads and checks the JSON form; errors name the field (`hours.mon[1]`).
    pub fn from_json(v: &serde_json::Value) -> Result<Self, ValidationError> {
        let obj = v
            .as_object()
            .ok_or_else(|| ValidationError::new("calendar", "must be an object"))?;
        for key in obj.keys() {
            if key != "hours" && key != "holidays" {
                return Err(ValidationError::new(
                    key,
                    "is not a calendar field (hours, holidays)",
                ));
            }
        }
        let mut cal = Self {
            week: Default::default(),
            holidays: BTreeSet::new(),
        };
        if let Some(hours) = obj.get("hours") {
            let hours = hours
                .as_object()
                .ok_or_else(|| ValidationError::new("hours", "must be an object of days"))?;
            for (day, spans) in hours {
                let Some(i) = DAY_NAMES.iter().position(|d| d == day) else {
                    return Err(ValidationError::new(
                        format!("hours.{day}"),
                        "is not a day (mon, tue, wed, thu, fri, sat, sun)",
                    ));
                };
                cal.week[i] = parse_day(day, spans)?;
            }
        }
        if let Some(days) = obj.get("holidays") {
            let days = days
                .as_array()
                .ok_or_else(|| ValidationError::new("holidays", "must be a list of dates"))?;
            crate::limits::at_most("holidays", days.len(), HOLIDAYS)?;
            for (i, d) in days.iter().enumerate() {
                let field = format!("holidays[{i}]");
                let date = d
                    .as_str()
                    .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                    .ok_or_else(|| {
                        ValidationError::new(&field, "is not a date such as \"2026-12-25\"")
                    })?;
                cal.holidays.insert(date);
            }
        }
        if cal.week.iter().all(Vec::is_empty) {
            return Err(ValidationError::new(
                "hours",
                "a calendar needs at least one open span in the week",
            ));
        }
        Ok(cal)
    }

    pub fn to_json(&self) -> serde_json::Value {
        let hours: serde_json::Map<String, serde_json::Value> = DAY_NAMES
            .iter()
            .zip(&self.week)
            .filter(|(_, spans)| !spans.is_empty())
            .map(|(day, spans)| {
                let spans = spans
                    .iter()
                    .map(|s| serde_json::json!([Span::text(s.start), Span::text(s.end)]))
                    .collect();
                ((*day).to_owned(), serde_json::Value::Array(spans))
            })
            .collect();
        let holidays: Vec<String> = self.holidays.iter().map(|d| d.to_string()).collect();
        serde_json::json!({"hours": hours, "holidays": holidays})
    }

    /// The moment `amount` of open time after `from` has passed; None when the
    /// calendar has no open time within its horizon (every day a holiday).
    pub fn add(
        &self,
        zone: &TimeZoneName,
        from: DateTime<Utc>,
        amount: Duration,
    ) -> Option<DateTime<Utc>> {
        if amount <= Duration::zero() {
            return Some(from);
        }
        let mut left = amount;
        let mut cursor = from;
        for (open, close) in self.open_spans(zone, from) {
            let start = open.max(cursor);
            if close <= start {
                continue;
            }
            if close - start >= left {
                return Some(start + left);
            }
            left -= close - start;
            cursor = close;
        }
        None
    }

    /// How much open time lies between `from` and `to` (zero if `to` is not later).
    pub fn between(&self, zone: &TimeZoneName, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        let mut total = Duration::zero();
        let mut cursor = from;
        for (open, close) in self.open_spans(zone, from) {
            if open >= to {
                break;
            }
            let (start, end) = (open.max(cursor), close.min(to));
            if end > start {
                total += end - start;
                cursor = end;
            }
        }
        total
    }

    /// The open spans, in UTC and in order, from the local day before `from`
    /// (whose night shift may still be running) up to the horizon.
    fn open_spans<'a>(
        &'a self,
        zone: &'a TimeZoneName,
        from: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + 'a {
        let first = zone.local_date(from) - Duration::days(1);
        (0..HORIZON_DAYS)
            .map(move |i| first + Duration::days(i))
            .filter(|day| !self.holidays.contains(day))
            .flat_map(move |day| {
                use chrono::Datelike as _;
                let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
                self.week[day.weekday().num_days_from_monday() as usize]
                    .iter()
                    .map(move |s| {
                        let at = |m: u16| instant(zone, midnight + Duration::minutes(i64::from(m)));
                        (at(s.start), at(s.end))
                    })
            })
            .filter(move |(_, close)| *close > from)
    }
}

/// A local time as an instant: the earlier of two where clocks go back, the
/// first valid moment after where they jump forward (02:30 on a spring
/// morning that skips from 02:00 to 03:00 is 03:00).
fn instant(zone: &TimeZoneName, local: NaiveDateTime) -> DateTime<Utc> {
    let tz = zone.tz();
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        return t.with_timezone(&Utc);
    }
    // In a gap: the first whole minute that exists (gaps end on the minute).
    let mut probe = local;
    for _ in 0..(3 * 60) {
        probe += Duration::minutes(1);
        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
            return t.with_timezone(&Utc);
        }
    }
    local.and_utc()
}

fn parse_day(day: &str, spans: &serde_json::Value) -> Result<Vec<Span>, ValidationError> {
    let field = format!("hours.{day}");
    let list = spans
        .as_array()
        .ok_or_else(|| ValidationError::new(&field, "must be a list of [start, end] pairs"))?;
    crate::limits::at_most(&field, list.len(), SPANS_PER_DAY)?;
    let mut out = Vec::with_capacity(list.len());
    for (i, pair) in list.iter().enumerate() {
        let field = format!("{field}[{i}]");
        let (start, end) = match pair.as_array().map(Vec::as_slice) {
            Some([serde_json::Value::String(a), serde_json::Value::String(b)]) => (a, b),
            _ => {
                return Err(ValidationError::new(
                    &field,
                    "must be a pair of times such as [\"09:00\", \"17:00\"]",
                ))
            }
        };
        out.push(Span::parse(&field, start, end)?);
    }
    out.sort();
    for pair in out.windows(2) {
        if pair[1].start < pair[0].end {
            return Err(ValidationError::new(
                &field,
                format!(
                    "spans overlap ({}–{} and {}–{})",
                    Span::text(pair[0].start),
                    Span::text(pair[0].end),
                    Span::text(pair[1].start),
                    Span::text(pair[1].end)
                ),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
