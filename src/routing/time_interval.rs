//! Alertmanager's `time_intervals`: times of day, weekdays, days of month, months and years,
//! in a location. An instant is inside an interval when it matches every field given.

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

/// An inclusive range of integers (weekdays 0 = Sunday, months 1–12, days of month may be negative).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: i32,
    pub end: i32,
}

/// One `time_intervals` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeInterval {
    /// Minutes since midnight, `[start, end)`.
    pub times: Vec<(u32, u32)>,
    pub weekdays: Vec<Range>,
    pub days_of_month: Vec<Range>,
    pub months: Vec<Range>,
    pub years: Vec<Range>,
    pub location: Tz,
}

/// A named interval: inside when any of its entries matches.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedInterval {
    pub name: String,
    pub intervals: Vec<TimeInterval>,
}

impl NamedInterval {
    /// Whether `at` falls inside.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.intervals.iter().any(|i| i.contains(at))
    }
}

impl TimeInterval {
    /// Whether `at` falls inside.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.location);
        let minute = local.hour() * 60 + local.minute();
        if !self.times.is_empty() && !self.times.iter().any(|&(s, e)| s <= minute && minute < e) {
            return false;
        }
        let weekday = local.weekday().num_days_from_sunday() as i32;
        if !self.weekdays.is_empty()
            && !self
                .weekdays
                .iter()
                .any(|r| r.start <= weekday && weekday <= r.end)
        {
            return false;
        }
        if !self.days_of_month.is_empty() {
            let day = local.day() as i32;
            let days_in_month = days_in_month(local.year(), local.month());
            // Negative days count from the end of the month: -1 is the last day.
            let resolve = |d: i32| if d < 0 { days_in_month + 1 + d } else { d };
            if !self
                .days_of_month
                .iter()
                .any(|r| resolve(r.start) <= day && day <= resolve(r.end))
            {
                return false;
            }
        }
        let month = local.month() as i32;
        if !self.months.is_empty()
            && !self
                .months
                .iter()
                .any(|r| r.start <= month && month <= r.end)
        {
            return false;
        }
        let year = local.year();
        if !self.years.is_empty() && !self.years.iter().any(|r| r.start <= year && year <= r.end) {
            return false;
        }
        true
    }
}

fn days_in_month(year: i32, month: u32) -> i32 {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    chrono::NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day() as i32)
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Parses `HH:MM` (24:00 allowed as an end) into minutes.
pub fn parse_time(s: &str) -> Result<u32, String> {
    let err = || format!("{s:?} is not a time like 09:00");
    let (h, m) = s.split_once(':').ok_or_else(err)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) || h.to_string().len() > 2 {
        return Err(err());
    }
    Ok(h * 60 + m)
}

/// Parses `monday:friday` or `saturday` into a weekday range.
pub fn parse_weekdays(s: &str) -> Result<Range, String> {
    let one = |x: &str| {
        WEEKDAYS
            .iter()
            .position(|d| d.eq_ignore_ascii_case(x.trim()))
            .map(|i| i as i32)
            .ok_or_else(|| format!("{x:?} is not a weekday"))
    };
    range(s, one, |a, b| a <= b)
}

/// Parses `january:march`, `1:3` or `12` into a month range.
pub fn parse_months(s: &str) -> Result<Range, String> {
    let one = |x: &str| {
        let x = x.trim();
        if let Some(i) = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(x)) {
            return Ok(i as i32 + 1);
        }
        match x.parse::<i32>() {
            Ok(n) if (1..=12).contains(&n) => Ok(n),
            _ => Err(format!("{x:?} is not a month")),
        }
    };
    range(s, one, |a, b| a <= b)
}

/// Parses `1:7`, `-1` or `-7:-1` into a days-of-month range.
pub fn parse_days_of_month(s: &str) -> Result<Range, String> {
    let one = |x: &str| match x.trim().parse::<i32>() {
        Ok(n) if (1..=31).contains(&n) || (-31..=-1).contains(&n) => Ok(n),
        _ => Err(format!(
            "{x:?} is not a day of month (1 to 31, or -31 to -1)"
        )),
    };
    // Mixed signs (5:-1) are allowed, as in Alertmanager; same signs must be in order.
    range(s, one, |a, b| (a < 0) != (b < 0) || a <= b)
}

/// Parses `2026` or `2026:2027` into a year range.
pub fn parse_years(s: &str) -> Result<Range, String> {
    let one = |x: &str| {
        x.trim()
            .parse::<i32>()
            .ok()
            .filter(|y| (1970..=9999).contains(y))
            .ok_or_else(|| format!("{x:?} is not a year"))
    };
    range(s, one, |a, b| a <= b)
}

fn range(
    s: &str,
    one: impl Fn(&str) -> Result<i32, String>,
    ordered: impl Fn(i32, i32) -> bool,
) -> Result<Range, String> {
    let (a, b) = match s.split_once(':') {
        Some((a, b)) => (one(a)?, one(b)?),
        None => {
            let v = one(s)?;
            (v, v)
        }
    };
    if !ordered(a, b) {
        return Err(format!("{s:?}: the range ends before it starts"));
    }
    Ok(Range { start: a, end: b })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn business_hours() -> TimeInterval {
        TimeInterval {
            times: vec![(parse_time("09:00").unwrap(), parse_time("17:00").unwrap())],
            weekdays: vec![parse_weekdays("monday:friday").unwrap()],
            days_of_month: vec![],
            months: vec![],
            years: vec![],
            location: chrono_tz::Europe::Berlin,
        }
    }

    #[test]
    fn business_hours_in_berlin() {
        let bh = business_hours();
        assert!(bh.contains(utc("2026-11-25T08:00:00Z"))); // Wed 09:00 CET
        assert!(!bh.contains(utc("2026-11-25T07:59:00Z")));
        assert!(!bh.contains(utc("2026-11-25T16:00:00Z"))); // 17:00: end is exclusive
        assert!(!bh.contains(utc("2026-11-28T10:00:00Z"))); // Saturday
        assert!(bh.contains(utc("2026-07-01T07:00:00Z"))); // 09:00 CEST
    }

    #[test]
    fn days_of_month_count_back_from_the_end() {
        let last_week = TimeInterval {
            times: vec![],
            weekdays: vec![],
            days_of_month: vec![parse_days_of_month("-7:-1").unwrap()],
            months: vec![parse_months("february").unwrap()],
            years: vec![parse_years("2026:2027").unwrap()],
            location: chrono_tz::UTC,
        };
        assert!(last_week.contains(utc("2026-02-22T00:00:00Z")));
        assert!(!last_week.contains(utc("2026-02-21T23:59:00Z")));
        assert!(!last_week.contains(utc("2026-03-28T12:00:00Z")));
        assert!(!last_week.contains(utc("2028-02-25T12:00:00Z")));
    }

    #[test]
    fn parse_errors() {
        assert!(parse_time("9am").is_err());
        assert!(parse_time("24:30").is_err());
        assert_eq!(parse_time("24:00"), Ok(1440));
        assert!(parse_weekdays("friday:monday").is_err());
        assert!(parse_weekdays("funday").is_err());
        assert_eq!(parse_months("3:december"), Ok(Range { start: 3, end: 12 }));
        assert!(parse_days_of_month("0").is_err());
        assert!(parse_days_of_month("-1:-7").is_err());
        assert!(parse_days_of_month("5:-1").is_ok());
    }
}
