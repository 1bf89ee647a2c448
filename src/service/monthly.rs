//! The monthly report of a month: its statistics, days, weeks and missed targets read from the
//! store, put together, and printed as Markdown, HTML (with charts) or JSON.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::live::Reloadable;
use crate::reports::Locale;
use crate::reports::monthly::{
    Monthly, every_day, every_week, midnight, month_bounds, month_name, trends,
};
use crate::store::statistics::{Period, period};

/// How a monthly report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "md" | "markdown" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            "json" => Ok(Format::Json),
            other => Err(format!("{other:?} is not a format (md, html, json)")),
        }
    }
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MonthlyError {
    /// The month (or the template) is not usable: the asker's to fix.
    #[error("{0}")]
    Invalid(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The incidents missed-target list's length.
const MISSED_LISTED: i64 = 50;

/// The report of `month` (`2026-11`, in `reports.time_zone`), in `locale` or the configured one.
pub async fn monthly(
    pool: &PgPool,
    live: &Reloadable,
    month: &str,
    locale: Option<Locale>,
    now: DateTime<Utc>,
) -> Result<Monthly, MonthlyError> {
    let settings = &live.reports;
    let locale = locale.unwrap_or(settings.locale);
    let tz = settings.time_zone;
    let (first, next) = month_bounds(month).map_err(MonthlyError::Invalid)?;
    let (from, to) = (midnight(first, tz), midnight(next, tz));
    let stats = |group_by| Period {
        from,
        to,
        group_by,
        hours: &settings.business_hours,
    };
    let by_severity = stats(Some("severity"));
    let (stats, days, weeks, (missed, missed_total)) = tokio::try_join!(
        period(pool, &by_severity),
        crate::store::monthly::days(pool, from, to, tz),
        crate::store::monthly::weeks(pool, from, to, tz),
        crate::store::monthly::missed(pool, from, to, MISSED_LISTED),
    )?;
    Ok(Monthly {
        month: first.format("%Y-%m").to_string(),
        month_name: month_name(first, locale),
        locale: locale.as_str(),
        time_zone: tz.name().to_string(),
        from,
        to,
        totals: stats.totals,
        by_severity: stats.groups,
        noisiest: stats.noisiest,
        missed,
        missed_total,
        days: every_day(first, next, &days),
        weeks: trends(every_week(first, next, &weeks)),
        generated_at: now.to_rfc3339(),
    })
}

/// `report` printed as `format`.
pub fn print(live: &Reloadable, report: &Monthly, format: Format) -> Result<String, MonthlyError> {
    let markdown = || {
        live.reports
            .templates
            .monthly(report)
            .map_err(MonthlyError::Invalid)
    };
    match format {
        Format::Markdown => markdown(),
        Format::Html => {
            crate::reports::html::page(report, &markdown()?).map_err(MonthlyError::Invalid)
        }
        Format::Json => serde_json::to_string_pretty(report)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(|e| MonthlyError::Invalid(e.to_string())),
    }
}

pub(crate) fn locale_arg(locale: Option<&str>) -> Result<Option<Locale>, String> {
    locale
        .map(str::parse)
        .transpose()
        .map_err(|e| format!("--locale: {e}"))
}

/// `alertrouter report monthly`: a month's report (default last month) as `md`, `html` or `json`.
pub async fn monthly_command(
    settings: &crate::config::Settings,
    month: Option<&str>,
    locale: Option<&str>,
    format: &str,
) -> Result<String, String> {
    let format: Format = format.parse().map_err(|e| format!("--format: {e}"))?;
    let live = Reloadable::from_settings(settings);
    let now = Utc::now();
    let month = month.map_or_else(
        || crate::reports::monthly::last_month(now, settings.reports.time_zone),
        str::to_string,
    );
    let pool = crate::store::pool(&settings.database).map_err(|e| e.to_string())?;
    let report = monthly(&pool, &live, &month, locale_arg(locale)?, now)
        .await
        .map_err(|e| e.to_string())?;
    print(&live, &report, format).map_err(|e| e.to_string())
}
