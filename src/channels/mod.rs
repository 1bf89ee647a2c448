//! Channels send one notification and say what happened; they never touch the database (the
//! dispatcher records the result).

pub mod email;
pub mod log;
pub mod pagerduty;
pub mod redact;
pub mod slack;
pub mod slack_blocks;
pub mod slack_reply;
pub mod slack_text;
pub mod sms;
pub mod sms_http;
pub mod smtp;
pub mod templates;
pub mod webhook;

use std::time::Duration;

use self::email::EmailChannel;
use self::pagerduty::PagerDutyChannel;
use self::slack::SlackChannel;
use self::sms::SmsChannel;
use self::webhook::WebhookChannel;
use crate::config::ChannelSettings;

/// Every channel sender, built from config.
pub struct Channels {
    pub webhook: WebhookChannel,
    pub pagerduty: PagerDutyChannel,
    /// The service paged when a step says `via: pagerduty` for a person.
    pub pagerduty_default_service: Option<String>,
    pub sms: SmsChannel,
    pub slack: SlackChannel,
    pub email: EmailChannel,
    /// Channels whose messages are logged instead of sent (`channels.log`).
    pub log: log::LogChannel,
    /// Rate limits per channel.
    pub rate_limits: std::collections::BTreeMap<String, crate::workers::limits::ChannelRates>,
}

impl Channels {
    /// The senders `settings` describe; fails only if an HTTP client cannot be built (no TLS
    /// roots), which is reported at start rather than found at the first page.
    pub fn new(settings: &ChannelSettings) -> Result<Self, reqwest::Error> {
        Ok(Channels {
            webhook: WebhookChannel::new(
                settings.webhook_timeout,
                settings.webhook_secret.clone(),
            )?,
            pagerduty: PagerDutyChannel::new(
                settings.pagerduty_url.clone(),
                settings.pagerduty_timeout,
                settings.templates.clone(),
            )?,
            pagerduty_default_service: settings.pagerduty_default_service.clone(),
            sms: SmsChannel::new(
                settings.sms.clone(),
                settings.sms_timeout,
                settings.templates.clone(),
            )?,
            slack: SlackChannel::new(
                settings.slack_url.clone(),
                settings.slack_token.clone(),
                settings.slack_timeout,
                settings.templates.clone(),
            )?,
            email: EmailChannel::new(settings.email.as_ref(), settings.templates.clone())
                .with_links(settings.ack_links.clone()),
            log: log::LogChannel::new(settings.log.clone(), settings.templates.clone()),
            rate_limits: settings.rate_limits.clone(),
        })
    }
}

/// One outbox row on its way out.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    /// Stable across redeliveries: receivers deduplicate on it.
    pub dedup_key: String,
    pub channel: String,
    pub recipient: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub incident: IncidentSummary,
    /// Claimed again after a lease ran out: the last send may have gone out without its result
    /// being recorded, so this one may be a duplicate.
    pub redelivery: bool,
    /// How often a rate limit made it wait its turn.
    pub deferrals: i32,
    /// Pages to the same destination that go out with this one ("+N more incidents").
    pub bundled: Vec<Bundled>,
    /// When the change it tells of was committed (the event's time).
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A page carried by another page's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundled {
    pub id: i64,
    pub number: i64,
    pub severity: String,
    pub title: String,
}

/// What a message says about its incident.
#[derive(Debug, Clone, Default)]
pub struct IncidentSummary {
    pub id: uuid::Uuid,
    /// INC-42.
    pub number: i64,
    pub status: String,
    pub severity: String,
    /// The `summary` annotation of its first alert, else that alert's name.
    pub title: String,
    pub group_labels: serde_json::Value,
    /// Labels, annotations and source link of its first alert.
    pub alert_labels: serde_json::Value,
    pub annotations: serde_json::Value,
    pub generator_url: Option<String>,
    /// The reporting Alertmanager's externalURL.
    pub external_url: Option<String>,
    /// Who acknowledged it (or snoozed it), while that holds.
    pub acknowledged_by: Option<String>,
    /// Reopened often enough to be marked flapping.
    pub flapping: bool,
}

impl IncidentSummary {
    /// The links a message shows — runbook, dashboard, source, silence — as (URL, label), only
    /// those that are http(s) URLs.
    pub fn links(&self) -> Vec<(String, &'static str)> {
        let url = |key: &str| self.annotations[key].as_str().map(str::to_string);
        [
            (url("runbook_url"), "Runbook"),
            (url("dashboard_url"), "Dashboard"),
            (self.generator_url.clone(), "Source"),
            (self.silence_url(), "Silence"),
        ]
        .into_iter()
        .filter_map(|(u, label)| u.filter(|u| slack_text::is_web_url(u)).map(|u| (u, label)))
        .collect()
    }

    /// Alertmanager's new-silence page, pre-filled with the incident's group labels as matchers.
    pub fn silence_url(&self) -> Option<String> {
        silence_url(self.external_url.as_deref(), &self.group_labels)
    }
}

/// Alertmanager's new-silence page at `external_url`, pre-filled with `group_labels` as matchers.
pub fn silence_url(external_url: Option<&str>, group_labels: &serde_json::Value) -> Option<String> {
    let base = external_url?.trim_end_matches('/');
    let labels = group_labels.as_object()?;
    if labels.is_empty() {
        return None;
    }
    let matchers: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .unwrap_or("")
                .replace('\\', "\\\\")
                .replace('"', "\\\"");
            format!("{k}=\"{v}\"")
        })
        .collect();
    let filter = format!("{{{}}}", matchers.join(","));
    let encoded: String = url_encode(&filter);
    Some(format!("{base}/#/silences/new?filter={encoded}"))
}

/// Percent-encodes everything but unreserved characters.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What a send attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    /// Delivered; the provider's reference (message id, status code).
    Sent { reference: String },
    /// Failed for now: try again, after `after` if the provider said (`Retry-After`).
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// Will never succeed as it is (bad request, unknown destination).
    Dead { error: String },
    /// The destination said it is gone for good (HTTP 410): dead, and nothing more is sent to
    /// it until its configuration changes.
    Gone { error: String },
}

/// Reads a `Retry-After` header: delay-seconds or an HTTP date.
pub fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    at.with_timezone(&chrono::Utc)
        .signed_duration_since(now)
        .to_std()
        .ok()
}

/// Masks phone numbers (`+86******1234`) and e-mail addresses (`a***@example.com`) in text
/// bound for logs.
pub fn mask_contacts(text: &str) -> String {
    static PHONE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    static EMAIL: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let phone = PHONE
        .get_or_init(|| regex::Regex::new(r"\+(\d{2})(\d{2,9})(\d{4})\b").expect("valid regex"));
    let email = EMAIL.get_or_init(|| {
        regex::Regex::new(r"\b([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
            .expect("valid regex")
    });
    let text = phone.replace_all(text, |c: &regex::Captures<'_>| {
        format!("+{}{}{}", &c[1], "*".repeat(c[2].len()), &c[3])
    });
    email.replace_all(&text, "$1***@$2").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_silence_link_carries_the_group_labels_as_matchers() {
        let inc = IncidentSummary {
            id: uuid::Uuid::nil(),
            number: 1,
            status: "open".into(),
            severity: "critical".into(),
            title: "t".into(),
            group_labels: serde_json::json!({"alertname": "High \"5xx\"", "service": "web"}),
            alert_labels: serde_json::Value::Null,
            annotations: serde_json::Value::Null,
            generator_url: None,
            external_url: Some("http://am:9093/".into()),
            acknowledged_by: None,
            flapping: false,
        };
        assert_eq!(
            inc.silence_url().unwrap(),
            "http://am:9093/#/silences/new?filter=%7Balertname%3D%22High%20%5C%225xx%5C%22%22%2Cservice%3D%22web%22%7D"
        );
        assert_eq!(
            IncidentSummary {
                external_url: None,
                ..inc
            }
            .silence_url(),
            None
        );
    }

    #[test]
    fn contacts_are_masked() {
        assert_eq!(
            mask_contacts("to +8613812341234 and alice.smith@example.com failed"),
            "to +86*******1234 and a***@example.com failed"
        );
        assert_eq!(mask_contacts("INC-42 at 12:00"), "INC-42 at 12:00");
    }
}
