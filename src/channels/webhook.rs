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

    /// Posts the delivery's event to `url`.
    pub async fn send(&self, url: &str, delivery: &Delivery, now: DateTime<Utc>) -> SendResult {
        let body = serde_json::json!({
            "type": "incident.page",
            "id": delivery.dedup_key,
            "timestamp": now.to_rfc3339(),
            "data": delivery.payload,
        })
        .to_string();
        let timestamp = now.timestamp().to_string();
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.dedup_key)
            .header("webhook-timestamp", &timestamp);
        if let Some(secret) = &self.secret {
            request = request.header(
                "webhook-signature",
                format!(
                    "v1,{}",
                    sign(
                        secret.expose_secret(),
                        &delivery.dedup_key,
                        &timestamp,
                        &body
                    )
                ),
            );
        }
        match request.body(body).send().await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    SendResult::Sent {
                        reference: format!("HTTP {}", status.as_u16()),
                    }
                } else if status.as_u16() == 429
                    || status.is_server_error()
                    || status.as_u16() == 408
                {
                    SendResult::Retry {
                        after: retry_after(response.headers(), now),
                        error: format!("HTTP {status}"),
                    }
                } else {
                    let text = response.text().await.unwrap_or_default();
                    SendResult::Dead {
                        error: format!(
                            "HTTP {status}: {}",
                            text.chars().take(500).collect::<String>()
                        ),
                    }
                }
            }
            Err(e) => SendResult::Retry {
                after: None,
                error: format!("{e}"),
            },
        }
    }
}

/// The Standard Webhooks signature of a message: base64 HMAC-SHA256 over `id.timestamp.body`.
/// A `whsec_`-prefixed secret is base64; any other is used as its bytes.
pub fn sign(secret: &str, id: &str, timestamp: &str, body: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = match secret.strip_prefix("whsec_") {
        Some(encoded) => b64
            .decode(encoded)
            .unwrap_or_else(|_| encoded.as_bytes().to_vec()),
        None => secret.as_bytes().to_vec(),
    };
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
}
