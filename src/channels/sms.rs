//! SMS over the Twilio Messages API: a short body that fits one segment, with the incident's
//! number and how to reply (`Reply ACK 42`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use super::templates::{Templates, context};
use super::{Delivery, SendResult, retry_after};
use crate::config::SmsProvider;

/// Sends SMS.
pub struct SmsChannel {
    client: reqwest::Client,
    provider: Option<SmsProvider>,
    templates: Arc<Templates>,
}

impl SmsChannel {
    /// A sender; without a provider every SMS is a dead letter saying so.
    pub fn new(
        provider: Option<SmsProvider>,
        timeout: Duration,
        templates: Arc<Templates>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(SmsChannel {
            client,
            provider,
            templates,
        })
    }

    /// Texts `to` (E.164) about the delivery's incident.
    pub async fn send(&self, to: &str, delivery: &Delivery, now: DateTime<Utc>) -> SendResult {
        let body = sms_body(&self.templates, delivery);
        let t = match &self.provider {
            Some(SmsProvider::Twilio(t)) => t,
            Some(SmsProvider::Http(gateway)) => {
                return gateway.send(&self.client, to, &body, now).await;
            }
            None => {
                return SendResult::Dead {
                    error: "SMS is not configured (channels.sms)".into(),
                };
            }
        };
        let mut form = vec![
            ("To", to.to_string()),
            ("From", t.from.clone()),
            ("Body", body),
        ];
        if let Some(cb) = &t.status_callback {
            form.push(("StatusCallback", cb.clone()));
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            t.base_url.trim_end_matches('/'),
            t.account_sid
        );
        let sent = self
            .client
            .post(url)
            .basic_auth(&t.account_sid, Some(t.auth_token.expose_secret()))
            .form(&form)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                let after = retry_after(response.headers(), now);
                let json: serde_json::Value = response.json().await.unwrap_or_default();
                match status.as_u16() {
                    200..=299 => SendResult::Sent {
                        reference: json["sid"].as_str().unwrap_or("").to_string(),
                    },
                    429 | 500..=599 => SendResult::Retry {
                        after,
                        error: format!("Twilio HTTP {status}"),
                    },
                    _ => SendResult::Dead {
                        error: format!(
                            "Twilio HTTP {status}: {} {}",
                            json["code"], json["message"]
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

/// GSM 03.38 basic characters (one septet each) and the extension table (two septets each).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENDED: &str = "^{}\\[~]|€\x0c";

/// The length of `text` in its cheapest encoding and that encoding's single-segment limit:
/// GSM-7 septets (160) when every character has one, else UTF-16 units (70).
pub fn segment_cost(text: &str) -> (usize, usize) {
    let mut septets = 0;
    for c in text.chars() {
        if GSM7_BASIC.contains(c) {
            septets += 1;
        } else if GSM7_EXTENDED.contains(c) {
            septets += 2;
        } else {
            return (text.encode_utf16().count(), 70);
        }
    }
    (septets, 160)
}

/// The `sms.txt` template (`CRIT INC-42: <title>. Reply ACK 42`), the title shortened until the
/// whole fits one segment.
pub fn sms_body(templates: &Templates, delivery: &Delivery) -> String {
    let inc = &delivery.incident;
    let text = |title: &str| templates.text("sms.txt", &context(inc, title, Some(delivery), ""));
    let fits = |t: &str| {
        let (cost, limit) = segment_cost(t);
        cost <= limit
    };
    let whole = text(&inc.title);
    if fits(&whole) {
        return whole;
    }
    // Shorten the title until the whole fits; ".." and a following "." make an ellipsis.
    let chars: Vec<char> = inc.title.chars().collect();
    (0..chars.len())
        .rev()
        .map(|keep| {
            text(
                &(chars[..keep]
                    .iter()
                    .collect::<String>()
                    .trim_end()
                    .to_string()
                    + ".."),
            )
        })
        .find(|t| fits(t))
        .unwrap_or_else(|| text(".."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::IncidentSummary;

    fn delivery(title: &str) -> Delivery {
        Delivery {
            id: 1,
            dedup_key: "k".into(),
            channel: "sms".into(),
            recipient: "user:alice".into(),
            payload: serde_json::Value::Null,
            attempts: 0,
            incident: IncidentSummary {
                id: uuid::Uuid::nil(),
                number: 4821,
                status: "open".into(),
                severity: "critical".into(),
                title: title.into(),
                group_labels: serde_json::Value::Null,
                alert_labels: serde_json::Value::Null,
                annotations: serde_json::Value::Null,
                generator_url: None,
                external_url: None,
                acknowledged_by: None,
                flapping: false,
            },
            redelivery: false,
            deferrals: 0,
            bundled: Vec::new(),
            created_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_short_title_is_kept_whole() {
        assert_eq!(
            sms_body(&Templates::default(), &delivery("HighErrorRate on web-1")),
            "CRIT INC-4821: HighErrorRate on web-1. Reply ACK 4821"
        );
    }

    #[test]
    fn a_long_title_is_cut_to_one_gsm7_segment() {
        let body = sms_body(
            &Templates::default(),
            &delivery(&"disk almost full on db-7 ".repeat(20)),
        );
        assert_eq!(segment_cost(&body), (160, 160));
        assert!(body.ends_with("... Reply ACK 4821"), "{body}");
        assert!(!body.contains("...."), "{body}");
    }

    #[test]
    fn a_non_gsm_title_fits_one_ucs2_segment() {
        let body = sms_body(
            &Templates::default(),
            &delivery(&"支付服务错误率过高".repeat(10)),
        );
        let (cost, limit) = segment_cost(&body);
        assert_eq!(limit, 70);
        assert!(cost <= 70, "{cost}: {body}");
        assert!(body.ends_with(". Reply ACK 4821"));
    }

    #[test]
    fn gsm7_extension_characters_count_twice() {
        assert_eq!(segment_cost("a{b}"), (6, 160));
        assert_eq!(segment_cost("a€"), (3, 160));
        assert_eq!(segment_cost("a✓"), (2, 70));
    }
}
