//! The monthly report: how the paging path itself did (share of pages delivered, delivery
//! latency), incidents by severity, time to acknowledge and to resolve, the noisiest alerts, the
//! incidents that missed their response target, and the weeks' trends. Pure: the service fills
//! it from the store.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

use super::Locale;
use super::stats::{Group, Noisy};

/// Incidents opened on one local day, by severity.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Day {
    pub date: NaiveDate,
    pub critical: i64,
    pub warning: i64,
    pub info: i64,
}

/// One week's incidents and mean response times (seconds).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Week {
    /// Its Monday (the month's first week may start before the month).
    pub start: NaiveDate,
    pub incidents: i64,
    pub mtta: Option<f64>,
    pub mttr: Option<f64>,
}

/// A week beside the one before it: each change is `this / before - 1`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Trend {
    #[serde(flatten)]
    pub week: Week,
    pub incidents_change: Option<f64>,
    pub mtta_change: Option<f64>,
    pub mttr_change: Option<f64>,
}

/// An incident that missed its response target.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Missed {
    /// Its report id, else `INC-42`.
    pub incident: String,
    pub alias: String,
    pub severity: String,
    pub title: String,
    pub opened_at: DateTime<Utc>,
    pub target_secs: Option<f64>,
    pub acknowledged_after_secs: Option<f64>,
}

/// A month's report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Monthly {
    /// `2026-11`.
    pub month: String,
    /// `November 2026`, `2026年11月`.
    pub month_name: String,
    pub locale: &'static str,
    pub time_zone: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub totals: Group,
    pub by_severity: Vec<Group>,
    pub noisiest: Vec<Noisy>,
    /// The first 50 that missed, and how many did.
    pub missed: Vec<Missed>,
    pub missed_total: i64,
    /// Every day of the month, zeros included.
    pub days: Vec<Day>,
    pub weeks: Vec<Trend>,
    pub generated_at: String,
}

/// The first day of `month` (`2026-11`) and of the month after it.
pub fn month_bounds(month: &str) -> Result<(NaiveDate, NaiveDate), String> {
    let first = NaiveDate::parse_from_str(&format!("{}-01", month.trim()), "%Y-%m-%d")
        .map_err(|_| format!("{month:?} is not a month (2026-11)"))?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .ok_or_else(|| format!("{month:?} is out of range"))?;
    Ok((first, next))
}

/// Local midnight of `day` in `tz`, as UTC (the earlier one when a change of clocks repeats it).
pub fn midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let local = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&local)
        .earliest()
        .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
}

fn change(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    match (now, before) {
        (Some(n), Some(b)) if b > 0.0 => Some(n / b - 1.0),
        _ => None,
    }
}

/// Each week beside the week before it.
pub fn trends(weeks: Vec<Week>) -> Vec<Trend> {
    let mut out: Vec<Trend> = Vec::new();
    for week in weeks {
        let before = out.last().map(|t| &t.week);
        out.push(Trend {
            incidents_change: change(
                Some(week.incidents as f64),
                before.map(|b| b.incidents as f64),
            ),
            mtta_change: change(week.mtta, before.and_then(|b| b.mtta)),
            mttr_change: change(week.mttr, before.and_then(|b| b.mttr)),
            week,
        });
    }
    out
}

/// Every day of `[first, next)`, with the counts of `days` where there are some.
pub fn every_day(first: NaiveDate, next: NaiveDate, days: &[Day]) -> Vec<Day> {
    first
        .iter_days()
        .take_while(|d| *d < next)
        .map(|date| {
            days.iter()
                .find(|d| d.date == date)
                .cloned()
                .unwrap_or(Day {
                    date,
                    critical: 0,
                    warning: 0,
                    info: 0,
                })
        })
        .collect()
}

/// Every week (from its Monday) that overlaps `[first, next)`, with the figures of `weeks`
/// where there are some.
pub fn every_week(first: NaiveDate, next: NaiveDate, weeks: &[Week]) -> Vec<Week> {
    let monday = first - chrono::Days::new(u64::from(first.weekday().num_days_from_monday()));
    monday
        .iter_weeks()
        .take_while(|w| *w < next)
        .map(|start| {
            weeks
                .iter()
                .find(|w| w.start == start)
                .cloned()
                .unwrap_or(Week {
                    start,
                    incidents: 0,
                    mtta: None,
                    mttr: None,
                })
        })
        .collect()
}

/// The month before the one `now` is in (in `tz`), as `2026-11`.
pub fn last_month(now: DateTime<Utc>, tz: Tz) -> String {
    let today = now.with_timezone(&tz).date_naive();
    let first = today.with_day(1).unwrap_or(today);
    let before = first.pred_opt().unwrap_or(first);
    before.format("%Y-%m").to_string()
}

/// `November 2026` or `2026年11月`.
pub fn month_name(first: NaiveDate, locale: Locale) -> String {
    match locale {
        Locale::En => first.format("%B %Y").to_string(),
        Locale::ZhCn => format!("{}年{}月", first.year(), first.month()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_weeks_and_changes() {
        let (first, next) = month_bounds("2026-12").unwrap();
        assert_eq!(
            (first.to_string(), next.to_string()),
            ("2026-12-01".into(), "2027-01-01".into())
        );
        assert!(month_bounds("2026-13").is_err() && month_bounds("november").is_err());
        assert_eq!(
            midnight(first, chrono_tz::Europe::Berlin).to_rfc3339(),
            "2026-11-30T23:00:00+00:00"
        );
        let week = |incidents, mtta| Week {
            start: first,
            incidents,
            mtta,
            mttr: None,
        };
        let t = trends(vec![
            week(10, Some(100.0)),
            week(15, Some(50.0)),
            week(0, None),
        ]);
        assert_eq!(t[0].incidents_change, None);
        assert_eq!(
            (t[1].incidents_change, t[1].mtta_change),
            (Some(0.5), Some(-0.5))
        );
        assert_eq!(
            (t[2].incidents_change, t[2].mtta_change),
            (Some(-1.0), None)
        );
        assert_eq!(every_day(first, next, &[]).len(), 31);
        let weeks: Vec<String> = every_week(first, next, &[])
            .iter()
            .map(|w| w.start.to_string())
            .collect();
        assert_eq!(
            weeks,
            [
                "2026-11-30",
                "2026-12-07",
                "2026-12-14",
                "2026-12-21",
                "2026-12-28"
            ]
        );
        assert_eq!(month_name(first, Locale::ZhCn), "2026年12月");
    }
}
