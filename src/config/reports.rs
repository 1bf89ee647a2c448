//! `reports:` of alertrouter.yaml: the incident reports' language, template, time zone and
//! delay, and the business hours statistics count pages outside of.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

use super::{ConfigError, Validator, parse_duration};
use crate::reports::{Locale, ReportTemplates};

/// `reports:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReportsFile {
    /// `en` or `zh-CN`; default: `templates.locale`.
    pub locale: Option<String>,
    /// A minijinja Markdown template replacing the built-in ones (relative to the config).
    pub template: Option<PathBuf>,
    /// The zone report times are shown in beside UTC, unless the incident's team has its own.
    /// Default `UTC`.
    pub time_zone: Option<String>,
    /// From a resolution to its draft being made and sent (so the resolution's own
    /// notifications are in it). Default `30s`.
    pub delay: Option<String>,
    /// When people are at work: statistics count the pages sent outside these hours.
    pub business_hours: BusinessHoursFile,
}

/// `reports.business_hours:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BusinessHoursFile {
    /// `[mon, tue, wed, thu, fri]` by default.
    pub days: Option<Vec<String>>,
    /// Default `09:00`.
    pub start: Option<String>,
    /// Default `18:00`.
    pub end: Option<String>,
    /// Default: `reports.time_zone`.
    pub time_zone: Option<String>,
}

/// When people are at work, for counting pages outside of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    pub days: Vec<Weekday>,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub time_zone: Tz,
}

/// The validated `reports:`.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    pub locale: Locale,
    pub templates: Arc<ReportTemplates>,
    pub time_zone: Tz,
    pub delay: Duration,
    pub business_hours: BusinessHours,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            locale: Locale::En,
            templates: Arc::new(ReportTemplates::default()),
            time_zone: Tz::UTC,
            delay: Duration::from_secs(30),
            business_hours: BusinessHours {
                days: vec![
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                ],
                start: NaiveTime::from_hms_opt(9, 0, 0).expect("a valid time"),
                end: NaiveTime::from_hms_opt(18, 0, 0).expect("a valid time"),
                time_zone: Tz::UTC,
            },
        }
    }
}

impl Validator<'_> {
    pub(super) fn reports(
        &self,
        file: &ReportsFile,
        templates_locale: Option<&str>,
    ) -> Result<ReportSettings, ConfigError> {
        let defaults = ReportSettings::default();
        let locale = match file.locale.as_deref().or(templates_locale) {
            Some(text) => text
                .parse()
                .map_err(|e: String| self.error("reports.locale", e))?,
            None => defaults.locale,
        };
        let zone = |key: &str, text: &Option<String>, default: Tz| match text {
            Some(t) => t.parse::<Tz>().map_err(|_| {
                self.error(
                    key,
                    format!("{t:?} is not an IANA time zone (Europe/Berlin)"),
                )
            }),
            None => Ok(default),
        };
        let time_zone = zone("reports.time_zone", &file.time_zone, defaults.time_zone)?;
        let delay = match &file.delay {
            Some(text) => parse_duration(text).map_err(|e| self.error("reports.delay", e))?,
            None => defaults.delay,
        };
        let templates = match &file.template {
            Some(path) => {
                let full = self.base.join(path);
                let text = std::fs::read_to_string(&full).map_err(|e| {
                    self.error("reports.template", format!("{}: {e}", full.display()))
                })?;
                let name = full.display().to_string();
                ReportTemplates::new(Some((&name, text)))
                    .map_err(|e| self.error("reports.template", e))?
            }
            None => ReportTemplates::default(),
        };
        let b = &file.business_hours;
        let mut days = Vec::new();
        for d in b.days.clone().unwrap_or_default() {
            let day = d.parse::<Weekday>().map_err(|_| {
                self.error(
                    "reports.business_hours.days",
                    format!("{d:?} is not a weekday (mon, tue, …)"),
                )
            })?;
            days.push(day);
        }
        let time = |key: &str, text: &Option<String>, default: NaiveTime| match text {
            Some(t) => NaiveTime::parse_from_str(t, "%H:%M")
                .map_err(|_| self.error(key, format!("{t:?} is not a time of day (09:00)"))),
            None => Ok(default),
        };
        let hours = &defaults.business_hours;
        let business_hours = BusinessHours {
            days: if b.days.is_some() {
                days
            } else {
                hours.days.clone()
            },
            start: time("reports.business_hours.start", &b.start, hours.start)?,
            end: time("reports.business_hours.end", &b.end, hours.end)?,
            time_zone: zone("reports.business_hours.time_zone", &b.time_zone, time_zone)?,
        };
        if business_hours.end <= business_hours.start {
            return Err(self.error("reports.business_hours.end", "must be later than start"));
        }
        Ok(ReportSettings {
            locale,
            templates: Arc::new(templates),
            time_zone,
            delay,
            business_hours,
        })
    }
}
