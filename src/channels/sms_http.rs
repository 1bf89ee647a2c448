//! SMS through any HTTP gateway, described by a template: URL, method, headers and body, each
//! rendered with `to`, `from` and `body` (the same one-segment text Twilio would send).

use super::SendResult;
pub use crate::templates::HttpSmsSettings;

impl HttpSmsSettings {
    /// Sends `text` to `to`: 2xx is sent (the answer's `id`, `sid` or `message_id` is kept if it
    /// has one), 429 and 5xx are retried, anything else is a dead letter.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        to: &str,
        text: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> SendResult {
        let (url, headers, body) = match self.render(to, text) {
            Ok(parts) => parts,
            Err(error) => return SendResult::Dead { error },
        };
        let mut request = client.request(self.method.clone(), url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if !body.is_empty() {
            request = request.body(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                return SendResult::Retry {
                    after: None,
                    error: super::redact::transport(e),
                };
            }
        };
        let status = response.status();
        let after = super::retry_after(response.headers(), now);
        let answer = response.text().await.unwrap_or_default();
        match status.as_u16() {
            200..=299 => {
                let json: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
                let reference = ["id", "sid", "message_id"]
                    .iter()
                    .find_map(|k| match &json[k] {
                        serde_json::Value::String(s) => Some(s.clone()),
                        serde_json::Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
                SendResult::Sent { reference }
            }
            429 | 500..=599 => SendResult::Retry {
                after,
                error: format!("SMS gateway HTTP {status}"),
            },
            _ => SendResult::Dead {
                error: format!(
                    "SMS gateway HTTP {status}: {}",
                    answer.chars().take(300).collect::<String>()
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_the_message_and_bad_ones_are_refused() {
        let gw = HttpSmsSettings::new(
            "https://sms.example/v1/send?to={{ to|urlencode }}",
            "post",
            vec![("X-Api-Key".into(), "k1".into())],
            Some(r#"{"from": {{ from|tojson }}, "text": {{ body|tojson }}}"#),
            "alertrouter".into(),
        )
        .unwrap();
        let (url, headers, body) = gw.render("+49 151", "CRIT \"x\"").unwrap();
        assert_eq!(url, "https://sms.example/v1/send?to=%2B49%20151");
        assert_eq!(headers, [("X-Api-Key".to_string(), "k1".to_string())]);
        assert_eq!(body, r#"{"from": "alertrouter", "text": "CRIT \"x\""}"#);
        assert_eq!(gw.method, reqwest::Method::POST);

        let bad = |url: &str, method: &str, header: &str, body: &str| {
            HttpSmsSettings::new(
                url,
                method,
                vec![(header.into(), "v".into())],
                Some(body),
                "x".into(),
            )
            .unwrap_err()
        };
        let ok_url = "https://sms.example/send";
        assert!(bad("{{ to", "POST", "a", "").starts_with("url:"));
        assert!(bad("not a url {{ to }}", "POST", "a", "").contains("renders to"));
        assert!(bad(ok_url, "PO ST", "a", "").contains("not an HTTP method"));
        assert!(bad(ok_url, "POST", "bad header", "").contains("not a header name"));
        assert!(bad(ok_url, "POST", "a", "{% if %}").starts_with("body:"));
    }
}
