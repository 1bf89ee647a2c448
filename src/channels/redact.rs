//! URLs out of what is logged or stored: a destination URL often carries its credential (a
//! token in the query, userinfo, or the path of a Slack-style incoming webhook), and errors
//! travel to logs, the outbox's `last_error` and the API.

use std::error::Error as _;

/// A transport error without its URL, with its causes ("connection refused"), redacted.
/// The destination is named by its origin only (`… (http://host:port/…)`).
pub fn transport(e: reqwest::Error) -> String {
    let origin = e.url().map(|u| url(u.as_str()));
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    if let Some(origin) = origin {
        text.push_str(&format!(" ({origin})"));
    }
    self::text(&text)
}

/// The origin of a URL only (`https://hooks.example.com/…`): no userinfo, path, query or
/// fragment, any of which may hold a secret.
pub fn url(raw: &str) -> String {
    match reqwest::Url::parse(raw) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let rest = if u.path() == "/" && u.query().is_none() {
                ""
            } else {
                "/…"
            };
            format!("{}://{host}{port}{rest}", u.scheme())
        }
        Err(_) => "(a URL)".into(),
    }
}

/// `text` with every http(s) URL in it cut to its origin.
pub fn text(text: &str) -> String {
    let next = |s: &str| {
        [s.find("http://"), s.find("https://")]
            .into_iter()
            .flatten()
            .min()
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = next(rest) {
        out.push_str(&rest[..at]);
        let end = rest[at..]
            .find(|c: char| c.is_whitespace() || "\"'<>()[]{}`".contains(c))
            .map_or(rest.len(), |n| at + n);
        out.push_str(&url(&rest[at..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_urls_are_cut_from_text() {
        let t = text(
            "error sending request for url (https://user:pw@sms.example.com:8443/send?token=s3cret&to=1): refused; see http://h/x",
        );
        assert_eq!(
            t,
            "error sending request for url (https://sms.example.com:8443/…): refused; see http://h/…"
        );
        assert_eq!(
            url("https://hooks.slack.com/services/T0/B0/XYZ"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(url("http://127.0.0.1:9/"), "http://127.0.0.1:9");
        assert_eq!(text("no url here"), "no url here");
    }
}
