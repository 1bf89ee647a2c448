//! Message texts, rendered from minijinja templates: English and zh-CN sets are built in, and
//! any of them can be replaced by a file of the same name in `templates.dir`.

use std::path::Path;

use minijinja::Environment;
use serde_json::{Value, json};

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

/// What a template sees (`channels::templates::context` builds it from a delivery), filled with
/// sample values; a test there checks that both have the same shape.
pub fn sample_context() -> Value {
    json!({
        "incident": {
            "id": "00000000-0000-0000-0000-000000000000", "number": 1, "title": "sample",
            "severity": "critical", "sev_short": "CRIT", "sev_zh": "严重", "status": "open",
            "status_zh": "处理中", "labels": {"alertname": "Sample"},
            "annotations": {"description": "d", "runbook_url": "https://example/runbook"},
            "generator_url": "https://example/graph",
        },
        "step": 1, "who": "someone", "more": [], "action": "page", "actor": "",
        "detail": null, "ordinal": "0th",
    })
}

mod sms_gateway;
pub use self::sms_gateway::HttpSmsSettings;
