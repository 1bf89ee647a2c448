//! Outgoing webhooks: a JSON event per notification, signed as the Standard Webhooks spec says
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "id.timestamp.body">`), for custom tooling and automated remediation.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use super::{Delivery, SendResult, retry_after};

/// Sends webhook deliveries.
pub struct WebhookChannel {
    client: reqwest::Client,
    secret: Option<SecretString>,
}

impl WebhookChannel {
    /// A sender with a per-request timeout and an optional signing secret.
    pub fn new(timeout: Duration, secret: Option<SecretString>) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("alertrouter/", env!("CARGO_PKG_VERSION")))
            // A redirect is a failure to deliver, not an invitation to post elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(WebhookChannel { client, secret })
    }

    /// Posts the delivery's event to `url`. Every answer but a 2xx is retried with backoff (a
    /// 3xx too: no redirect is followed); a 410 says the endpoint is gone.
    pub async fn send(&self, url: &str, delivery: &Delivery, now: DateTime<Utc>) -> SendResult {
        let id = message_id(&delivery.dedup_key);
        let body = event(delivery, &id).to_string();
        // The header is the time of this attempt (receivers check it against replays); the
        // body's `timestamp` is when the change happened.
        let timestamp = now.timestamp().to_string();
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", &timestamp);
        if let Some(secret) = &self.secret {
            request = request.header(
                "webhook-signature",
                format!(
                    "v1,{}",
                    sign(secret.expose_secret(), &id, &timestamp, &body)
                ),
            );
        }
        match request.body(body).send().await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    return SendResult::Sent {
                        reference: format!("HTTP {}", status.as_u16()),
                    };
                }
                let after = retry_after(response.headers(), now);
                let text = response.text().await.unwrap_or_default();
                let error = format!(
                    "HTTP {status}: {}",
                    text.chars().take(500).collect::<String>()
                );
                if status == reqwest::StatusCode::GONE {
                    SendResult::Gone { error }
                } else {
                    SendResult::Retry { after, error }
                }
            }
            Err(e) => SendResult::Retry {
                after: None,
                error: super::redact::transport(e),
            },
        }
    }
}

/// The event's `type`: what changed.
pub fn event_type(payload: &serde_json::Value) -> &'static str {
    match payload["kind"].as_str().unwrap_or("page") {
        "page"
            if payload["step"].as_u64().unwrap_or(0) == 0
                && payload["loop"].as_u64().unwrap_or(0) == 0
                && payload["reassigned_by"].is_null() =>
        {
            "incident.opened"
        }
        "page" | "escalated" => "incident.escalated",
        "acknowledged" => "incident.acknowledged",
        "unacknowledged" => "incident.unacknowledged",
        "snoozed" => "incident.snoozed",
        "reassigned" => "incident.reassigned",
        "reopened" => "incident.reopened",
        "flapping" => "incident.flapping",
        "resolved" => "incident.resolved",
        "note" => "incident.note",
        _ => "incident.updated",
    }
}

/// The event body: Standard Webhooks' `type`, `timestamp` (when the change happened) and
/// `data` (the incident and the change).
fn event(delivery: &Delivery, id: &str) -> serde_json::Value {
    let inc = &delivery.incident;
    serde_json::json!({
        "type": event_type(&delivery.payload),
        "id": id,
        "timestamp": delivery.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": {
            "incident": {
                "id": inc.id,
                "key": format!("INC-{}", inc.number),
                "number": inc.number,
                "status": inc.status,
                "severity": inc.severity,
                "title": inc.title,
                "group_labels": inc.group_labels,
                "acknowledged_by": inc.acknowledged_by,
                "flapping": inc.flapping,
            },
            "change": delivery.payload,
        },
    })
}

/// A message id without dots (a dot would make `id.timestamp.body` ambiguous), the same for
/// every redelivery of a row so receivers can drop duplicates.
pub fn message_id(dedup_key: &str) -> String {
    let digest = <Sha256 as sha2::Digest>::digest(dedup_key.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

/// The Standard Webhooks signature of a message: base64 HMAC-SHA256 over `id.timestamp.body`
/// with the base64-decoded part of a `whsec_` secret (checked at config load).
pub fn sign(secret: &str, id: &str, timestamp: &str, body: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = b64
        .decode(encoded)
        .unwrap_or_else(|_| encoded.as_bytes().to_vec());
    // HMAC accepts keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    b64.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_follows_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn ids_carry_no_dots_and_stay_the_same_for_a_row() {
        let id = message_id("0190:1:0:0:webhook:remediation:webhook:2026-11-25 19:00:00.5+00");
        assert!(id.starts_with("msg_") && !id.contains('.'), "{id}");
        assert_eq!(
            id,
            message_id("0190:1:0:0:webhook:remediation:webhook:2026-11-25 19:00:00.5+00")
        );
    }

    #[test]
    fn every_change_has_its_type() {
        let t = |p: serde_json::Value| event_type(&p);
        assert_eq!(
            t(serde_json::json!({"kind": "page", "step": 0, "loop": 0})),
            "incident.opened"
        );
        assert_eq!(
            t(serde_json::json!({"kind": "page", "step": 1, "loop": 0})),
            "incident.escalated"
        );
        assert_eq!(
            t(serde_json::json!({"kind": "resolved"})),
            "incident.resolved"
        );
        assert_eq!(
            t(serde_json::json!({"kind": "reopened"})),
            "incident.reopened"
        );
        assert_eq!(
            t(serde_json::json!({"kind": "flapping"})),
            "incident.flapping"
        );
        assert_eq!(t(serde_json::json!({"kind": "note"})), "incident.note");
    }
}
