//! PagerDuty Events API v2: one `trigger` per page with a stable `dedup_key` per incident, so
//! PagerDuty folds every step and redelivery of an incident into one PagerDuty incident.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::templates::{Templates, context};
use super::{Delivery, SendResult, retry_after};

/// PagerDuty's summary limit.
const MAX_SUMMARY: usize = 1024;

/// Sends PagerDuty events.
pub struct PagerDutyChannel {
    client: reqwest::Client,
    url: String,
    templates: Arc<Templates>,
}

impl PagerDutyChannel {
    /// A sender posting to `url` (PagerDuty's `https://events.pagerduty.com/v2/enqueue`).
    pub fn new(
        url: String,
        timeout: Duration,
        templates: Arc<Templates>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(PagerDutyChannel {
            client,
            url,
            templates,
        })
    }

    /// Triggers the incident on the service whose routing key is given, or resolves it there
    /// when the delivery says the incident resolved.
    pub async fn send(
        &self,
        routing_key: &SecretString,
        delivery: &Delivery,
        now: DateTime<Utc>,
    ) -> SendResult {
        let follow_up = match delivery.payload["kind"].as_str() {
            Some("page") | None => None,
            Some("resolved") => Some("resolve"),
            Some("acknowledged" | "snoozed") => Some("acknowledge"),
            // Unacknowledged, escalated, reassigned: PagerDuty pages again on a new trigger.
            Some(_) => Some("trigger"),
        };
        let event = match follow_up {
            Some(action @ ("resolve" | "acknowledge")) => serde_json::json!({
                "routing_key": routing_key.expose_secret(),
                "event_action": action,
                "dedup_key": delivery.incident.id.to_string(),
            }),
            _ => trigger_event(&self.templates, routing_key.expose_secret(), delivery),
        };
        match self.client.post(&self.url).json(&event).send().await {
            Ok(response) => {
                let status = response.status();
                let after = retry_after(response.headers(), now);
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                match status.as_u16() {
                    200..=299 => SendResult::Sent {
                        reference: body["dedup_key"]
                            .as_str()
                            .unwrap_or(&delivery.incident.id.to_string())
                            .to_string(),
                    },
                    429 | 500..=599 => SendResult::Retry {
                        after,
                        error: format!("PagerDuty HTTP {status}"),
                    },
                    _ => SendResult::Dead {
                        error: format!(
                            "PagerDuty HTTP {status}: {} {}",
                            body["message"], body["errors"]
                        ),
                    },
                }
            }
            Err(e) => SendResult::Retry {
                after: None,
                error: super::redact::transport(e),
            },
        }
    }
}

/// PagerDuty's severity for ours.
fn severity(ours: &str) -> &'static str {
    match ours {
        "critical" => "critical",
        "warning" => "warning",
        _ => "info",
    }
}

/// The Events v2 `trigger` body of a page.
pub fn trigger_event(
    templates: &Templates,
    routing_key: &str,
    delivery: &Delivery,
) -> serde_json::Value {
    let inc = &delivery.incident;
    let ctx = context(inc, &inc.title, Some(delivery), "");
    let mut summary = templates.text("pagerduty_summary.txt", &ctx);
    if summary.len() > MAX_SUMMARY {
        let mut cut = MAX_SUMMARY - 3;
        while !summary.is_char_boundary(cut) {
            cut -= 1;
        }
        summary.truncate(cut);
        summary.push_str("...");
    }
    serde_json::json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": inc.id.to_string(),
        "client": "alertrouter",
        "links": links(inc),
        "payload": {
            "summary": summary,
            "source": source(inc),
            "severity": severity(&inc.severity),
            "custom_details": {
                "incident": format!("INC-{}", inc.number),
                "group_labels": inc.group_labels,
                "step": delivery.payload["step"],
                "paged": delivery.payload["recipient"],
            },
        },
    })
}

/// What PagerDuty shows as the affected system: the alert's `instance`, else its `job`, else
/// its `service` (cut to 255 characters), else alertrouter.
fn source(inc: &super::IncidentSummary) -> String {
    ["instance", "job", "service"]
        .iter()
        .find_map(|k| {
            inc.alert_labels[*k]
                .as_str()
                .or(inc.group_labels[*k].as_str())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        })
        .map_or("alertrouter".to_string(), |v| {
            super::slack_text::cut(v, 255)
        })
}

/// Runbook, dashboard, source and silence links, http(s) only.
fn links(inc: &super::IncidentSummary) -> Vec<serde_json::Value> {
    inc.links()
        .into_iter()
        .map(|(href, text)| serde_json::json!({"href": href, "text": text}))
        .collect()
}
