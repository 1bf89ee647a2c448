//! An HTTP SMS gateway as configured under `channels.sms.http`: its URL, headers and body as
//! templates, compiled and tried once at load (the channel sends with them).

use minijinja::Environment;
use serde_json::json;

/// A request's URL, headers and body.
type Rendered = (String, Vec<(String, String)>, String);

/// A gateway as configured under `channels.sms.http`.
#[derive(Debug)]
pub struct HttpSmsSettings {
    pub method: reqwest::Method,
    /// Header names and value templates (`Bearer ${TOKEN}` is expanded at load).
    pub headers: Vec<(String, String)>,
    /// The sending number or name, for templates that need it.
    pub from: String,
    templates: Environment<'static>,
}

impl HttpSmsSettings {
    /// Compiles the templates and renders them once with sample values, so a broken one is
    /// refused at load.
    pub fn new(
        url: &str,
        method: &str,
        headers: Vec<(String, String)>,
        body: Option<&str>,
        from: String,
    ) -> Result<HttpSmsSettings, String> {
        let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("{method:?} is not an HTTP method"))?;
        let mut templates = Environment::new();
        templates
            .add_template_owned("url", url.to_string())
            .map_err(|e| format!("url: {e}"))?;
        templates
            .add_template_owned("body", body.unwrap_or("").to_string())
            .map_err(|e| format!("body: {e}"))?;
        for (i, (name, value)) in headers.iter().enumerate() {
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("headers: {name:?} is not a header name"))?;
            templates
                .add_template_owned(format!("header{i}"), value.clone())
                .map_err(|e| format!("headers.{name}: {e}"))?;
        }
        let settings = HttpSmsSettings {
            method,
            headers,
            from,
            templates,
        };
        let (url, _, _) = settings.render("+4915112345678", "sample")?;
        reqwest::Url::parse(&url).map_err(|e| {
            format!(
                "url renders to {}: {e}",
                crate::channels::redact::text(&url)
            )
        })?;
        Ok(settings)
    }

    /// The URL, headers and body for one message.
    pub(crate) fn render(&self, to: &str, text: &str) -> Result<Rendered, String> {
        let ctx = json!({"to": to, "from": self.from, "body": text});
        let render = |name: &str| {
            self.templates
                .get_template(name)
                .and_then(|t| t.render(&ctx))
                .map_err(|e| format!("template {name}: {e}"))
        };
        let headers = self
            .headers
            .iter()
            .enumerate()
            .map(|(i, (name, _))| Ok((name.clone(), render(&format!("header{i}"))?)))
            .collect::<Result<_, String>>()?;
        Ok((render("url")?, headers, render("body")?))
    }
}
