//! Message texts, rendered from minijinja templates: English and zh-CN sets are built in, and
//! any of them can be replaced by a file of the same name in `templates.dir`.

use std::path::Path;

use minijinja::Environment;
use serde_json::{Value, json};

use super::{Delivery, IncidentSummary};

/// The templates, by name; `.html` ones are HTML-escaped.
pub const NAMES: [&str; 9] = [
    "sms.txt",
    "email_subject.txt",
    "email_text.txt",
    "email_html.html",
    "pagerduty_summary.txt",
    "slack_text.txt",
    "slack_reply_page.txt",
    "slack_reply_resolved.txt",
    "slack_reply_action.txt",
];

macro_rules! set {
    ($dir:literal) => {
        [
            include_str!(concat!("../../templates/", $dir, "/sms.txt")),
            include_str!(concat!("../../templates/", $dir, "/email_subject.txt")),
            include_str!(concat!("../../templates/", $dir, "/email_text.txt")),
            include_str!(concat!("../../templates/", $dir, "/email_html.html")),
            include_str!(concat!("../../templates/", $dir, "/pagerduty_summary.txt")),
            include_str!(concat!("../../templates/", $dir, "/slack_text.txt")),
            include_str!(concat!("../../templates/", $dir, "/slack_reply_page.txt")),
            include_str!(concat!(
                "../../templates/",
                $dir,
                "/slack_reply_resolved.txt"
            )),
            include_str!(concat!("../../templates/", $dir, "/slack_reply_action.txt")),
        ]
    };
}

const EN: [&str; 9] = set!("en");
const ZH_CN: [&str; 9] = set!("zh-CN");

/// The compiled templates of one locale, with overrides applied.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new("en", None).expect("the built-in templates compile")
    }
}

impl Templates {
    /// The built-in set of `locale` (`en` or `zh-CN`), then any `dir/<name>` file instead.
    pub fn new(locale: &str, dir: Option<&Path>) -> Result<Templates, String> {
        let builtin = match locale {
            "en" => EN,
            "zh-CN" => ZH_CN,
            other => return Err(format!("{other:?} is not a built-in locale (en, zh-CN)")),
        };
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        for (name, source) in NAMES.iter().zip(builtin) {
            let text = match dir.map(|d| d.join(name)).filter(|p| p.exists()) {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
                None => source.to_string(),
            };
            env.add_template_owned(name.to_string(), text)
                .map_err(|e| format!("template {name}: {e}"))?;
        }
        let templates = Templates { env };
        // Render every template once, so a broken override is refused at load, not at 3 a.m.
        // With a bundle too, so both branches of `{% if more %}` are checked.
        let plain = sample_context();
        let mut bundled = plain.clone();
        bundled["more"] = json!([{"number": 2, "title": "other", "severity": "warning"}]);
        for ctx in [&plain, &bundled] {
            for name in NAMES {
                templates.render(name, ctx)?;
            }
        }
        Ok(templates)
    }

    /// Renders a template with `ctx`.
    pub fn render(&self, name: &str, ctx: &Value) -> Result<String, String> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| format!("template {name}: {e}"))
    }

    /// Renders, falling back to a plain line naming the incident if the template fails.
    pub fn text(&self, name: &str, ctx: &Value) -> String {
        self.render(name, ctx).unwrap_or_else(|e| {
            tracing::error!(error = %e, "template failed; sending a plain text instead");
            format!(
                "INC-{} {}",
                ctx["incident"]["number"],
                ctx["incident"]["title"].as_str().unwrap_or("")
            )
        })
    }
}

/// What every template sees: `incident` (number, title, severity, sev_short, sev_zh, status,
/// status_zh, labels, annotations, generator_url), `step` (1-based), `who`, and `more`: the other
/// incidents whose pages ride in this message (number, title, severity), usually empty.
pub fn context(
    inc: &IncidentSummary,
    title: &str,
    delivery: Option<&Delivery>,
    who: &str,
) -> Value {
    let (sev_short, sev_zh) = match inc.severity.as_str() {
        "critical" => ("CRIT", "严重"),
        "warning" => ("WARN", "警告"),
        _ => ("INFO", "提示"),
    };
    let status_zh = if inc.status == "resolved" {
        "已恢复"
    } else {
        "处理中"
    };
    let mut more: Vec<Value> = Vec::new();
    let mut seen = vec![inc.number];
    for b in delivery.map_or(&[][..], |d| &d.bundled) {
        if !seen.contains(&b.number) {
            seen.push(b.number);
            more.push(json!({"number": b.number, "title": b.title, "severity": b.severity}));
        }
    }
    json!({
        "incident": {
            "id": inc.id.to_string(),
            "number": inc.number,
            "title": title,
            "severity": inc.severity,
            "sev_short": sev_short,
            "sev_zh": sev_zh,
            "status": inc.status,
            "status_zh": status_zh,
            "labels": inc.group_labels,
            "annotations": inc.annotations,
            "generator_url": inc.generator_url,
        },
        "step": delivery.and_then(|d| d.payload["step"].as_u64()).map_or(1, |s| s + 1),
        "who": who,
        "more": more,
        // For notices of actions: what was done (acknowledged, snoozed, ...) and by whom.
        "action": delivery.and_then(|d| d.payload["kind"].as_str()).unwrap_or("page"),
        "actor": delivery.and_then(|d| d.payload["actor"].as_str()).unwrap_or(""),
        // For reopens: how many within the flapping window (count, window_minutes, flapping).
        "detail": delivery.map_or(Value::Null, |d| d.payload["detail"].clone()),
        "ordinal": ordinal(delivery.and_then(|d| d.payload["detail"]["count"].as_u64()).unwrap_or(0)),
    })
}

/// 1st, 2nd, 3rd, 4th, 11th, 21st …
fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn sample_context() -> Value {
    let inc = IncidentSummary {
        id: uuid::Uuid::nil(),
        number: 1,
        status: "open".into(),
        severity: "critical".into(),
        title: "sample".into(),
        group_labels: json!({"alertname": "Sample"}),
        alert_labels: serde_json::Value::Null,
        annotations: json!({"description": "d", "runbook_url": "https://example/runbook"}),
        generator_url: Some("https://example/graph".into()),
        external_url: None,
        acknowledged_by: None,
        flapping: false,
    };
    context(&inc, "sample", None, "someone")
}
