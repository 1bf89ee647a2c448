//! Reports into Markdown through `minijinja`: the built-in English and Chinese templates, or one
//! from config. Whatever a template prints is escaped for Markdown unless a filter made it safe:
//! `block` (text people wrote, kept as Markdown without raw HTML) and `url` (an http(s) link).

use minijinja::value::Value as JValue;
use minijinja::{Environment, State};

use super::{Locale, Report, block, inline};

const EN: &str = include_str!("../../templates/reports/en.md");
const ZH_CN: &str = include_str!("../../templates/reports/zh-CN.md");
const MONTHLY_EN: &str = include_str!("../../templates/reports/monthly_en.md");
const MONTHLY_ZH_CN: &str = include_str!("../../templates/reports/monthly_zh-CN.md");

/// The locale and time zone the template renders for, from its context.
fn context_of(state: &State) -> (Locale, chrono_tz::Tz) {
    let locale = state
        .lookup("locale")
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_default();
    let tz = state
        .lookup("time_zone")
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(chrono_tz::UTC);
    (locale, tz)
}

/// Seconds as people read them: `0.4s`, `3m 10s`, `1小时5分钟`; `-` for none.
fn seconds(state: &State, value: Option<f64>) -> String {
    let (locale, _) = context_of(state);
    match value {
        None => "-".into(),
        Some(s) if s < 10.0 => match locale {
            Locale::En => format!("{s:.1}s"),
            Locale::ZhCn => format!("{s:.1}秒"),
        },
        Some(s) => super::phrases::span(locale, chrono::TimeDelta::seconds(s.round() as i64)),
    }
}

/// An RFC 3339 time in the context's zone.
fn local(state: &State, value: String) -> String {
    let (_, tz) = context_of(state);
    match chrono::DateTime::parse_from_rfc3339(&value) {
        Ok(at) => at
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string(),
        Err(_) => value,
    }
}

/// Compiled report templates.
#[derive(Debug)]
pub struct ReportTemplates {
    env: Environment<'static>,
    /// A template from config replaces both built-in ones.
    custom: bool,
}

impl Default for ReportTemplates {
    fn default() -> Self {
        ReportTemplates::new(None).expect("the built-in report templates compile")
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    env.set_formatter(|out, _state: &State, value: &JValue| {
        if value.is_undefined() || value.is_none() {
            return Ok(());
        }
        let shown = value.to_string();
        let text = if value.is_safe() {
            shown
        } else {
            inline(&shown)
        };
        out.write_str(&text).map_err(minijinja::Error::from)
    });
    env.add_filter("block", |text: &str| JValue::from_safe_string(block(text)));
    env.add_filter("secs", seconds);
    env.add_filter("local", local);
    env.add_filter("pct", |v: Option<f64>| {
        v.map_or("-".to_string(), |x| format!("{:.1}%", x * 100.0))
    });
    env.add_filter("change", |v: Option<f64>| {
        v.map_or("-".to_string(), |x| match (x * 100.0).round() {
            0.0 => "0%".to_string(),
            p => format!("{p:+.0}%"),
        })
    });
    env.add_filter("url", |url: &str| {
        if crate::channels::slack_text::is_web_url(url) && !url.contains(['<', '>']) {
            JValue::from_safe_string(url.to_string())
        } else {
            JValue::from(inline(url))
        }
    });
    env
}

impl ReportTemplates {
    /// The built-in templates, or `custom` (its name for errors, and its text) for every locale;
    /// a custom template is rendered once with a sample report, so a broken one is refused at
    /// load.
    pub fn new(custom: Option<(&str, String)>) -> Result<Self, String> {
        let mut env = environment();
        env.add_template("monthly-en", MONTHLY_EN)
            .map_err(|e| e.to_string())?;
        env.add_template("monthly-zh-CN", MONTHLY_ZH_CN)
            .map_err(|e| e.to_string())?;
        let is_custom = custom.is_some();
        match custom {
            Some((name, text)) => env
                .add_template_owned("custom", text)
                .map_err(|e| format!("{name}: {e}"))?,
            None => {
                env.add_template("en", EN).map_err(|e| e.to_string())?;
                env.add_template("zh-CN", ZH_CN)
                    .map_err(|e| e.to_string())?;
            }
        }
        let templates = ReportTemplates {
            env,
            custom: is_custom,
        };
        for locale in Locale::ALL {
            templates.render(&super::sample(locale))?;
        }
        Ok(templates)
    }

    /// Renders `report` with its locale's template (or the custom one).
    pub fn render(&self, report: &Report) -> Result<String, String> {
        let name = if self.custom { "custom" } else { report.locale };
        self.env
            .get_template(name)
            .and_then(|t| t.render(report))
            .map_err(|e| format!("report template {name}: {e}"))
    }

    /// The monthly report as Markdown.
    pub fn monthly(&self, report: &super::monthly::Monthly) -> Result<String, String> {
        let name = format!("monthly-{}", report.locale);
        self.env
            .get_template(&name)
            .and_then(|t| t.render(report))
            .map_err(|e| format!("report template {name}: {e}"))
    }

    /// Renders, falling back to the built-in template and then to a plain summary, so a broken
    /// template never loses the report.
    pub fn markdown(&self, report: &Report) -> String {
        match self.render(report) {
            Ok(text) => text,
            Err(e) => {
                tracing::error!(error = %e, report = %report.id, "report template failed; using the built-in one");
                ReportTemplates::default()
                    .render(report)
                    .unwrap_or_else(|_| {
                        format!(
                            "# {} ({})\n\n{}\n",
                            inline(&report.id),
                            inline(&report.alias),
                            inline(&report.title)
                        )
                    })
            }
        }
    }
}
