//! Slack through the Web API: `chat.postMessage` with Block Kit (severity, title, the labels that
//! matter, description, links, and Acknowledge / Resolve / Escalate now / Snooze buttons); later
//! pages of the same incident edit that message with `chat.update` and add a thread reply.
//!
//! The blocks are slack-morphism's typed Block Kit models (`slack_blocks`); the two Web API
//! methods are called with reqwest, which every other channel uses too.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::slack_blocks::nonempty;
pub use super::slack_blocks::{blocks, message};
use super::slack_text::cut;
use super::templates::Templates;
use super::{Delivery, SendResult, retry_after};

/// Sends Slack messages with a bot token.
pub struct SlackChannel {
    client: reqwest::Client,
    /// `https://slack.com/api` (tests point it at a fake).
    base_url: String,
    token: Option<SecretString>,
    templates: Arc<Templates>,
    /// Where plain-text fallbacks are counted.
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

/// A posted message, as `Sent` records it: `"<channel> <ts>"`.
fn sent(posted: &Value) -> SendResult {
    SendResult::Sent {
        reference: format!(
            "{} {}",
            posted["channel"].as_str().unwrap_or(""),
            posted["ts"].as_str().unwrap_or("")
        ),
    }
}

/// Slack's errors that mean the blocks were refused: the page goes again as plain text.
const BLOCK_ERRORS: &[&str] = &[
    "invalid_blocks",
    "invalid_blocks_format",
    "msg_blocks_too_long",
    "invalid_attachments",
    "too_many_attachments",
];

/// A failed Web API call: what it means for the delivery, and Slack's own error code.
struct CallError {
    result: SendResult,
    code: Option<String>,
}

/// Where a page goes in Slack, and what is already there.
pub struct SlackTarget<'a> {
    /// A channel id, or a user id for a direct message.
    pub target: &'a str,
    /// The paged person's Slack user id, mentioned in the message.
    pub mention: Option<&'a str>,
    /// The incident's message at this target, as (channel, ts), if one was posted.
    pub existing: Option<(String, String)>,
}

impl SlackChannel {
    /// A sender; without a token every Slack message is a dead letter saying so.
    pub fn new(
        base_url: String,
        token: Option<SecretString>,
        timeout: Duration,
        templates: Arc<Templates>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(SlackChannel {
            client,
            base_url,
            token,
            templates,
            metrics: None,
        })
    }

    /// Counts plain-text fallbacks in `metrics`.
    pub fn count_fallbacks_in(&mut self, metrics: Arc<crate::metrics::Metrics>) {
        self.metrics = Some(metrics);
    }

    /// Posts or updates with blocks; if Slack refuses the blocks, once more as plain text, so
    /// a page is never lost to formatting.
    async fn call_blocks(
        &self,
        token: &SecretString,
        method: &str,
        body: Value,
        now: DateTime<Utc>,
    ) -> Result<Value, SendResult> {
        match self.call(token, method, &body, now).await {
            Ok(answer) => Ok(answer),
            Err(CallError {
                code: Some(code), ..
            }) if BLOCK_ERRORS.contains(&code.as_str()) => {
                tracing::error!(method, code, "Slack refused the blocks; sending plain text");
                if let Some(m) = &self.metrics {
                    m.risks.plain_fallback("slack");
                }
                let mut plain = body;
                if let Some(o) = plain.as_object_mut() {
                    o.remove("blocks");
                }
                self.call(token, method, &plain, now)
                    .await
                    .map_err(|e| e.result)
            }
            Err(e) => Err(e.result),
        }
    }

    /// Posts the incident's message, or edits it and replies in its thread when it exists.
    /// `Sent` carries `"<channel> <ts>"` of the message.
    pub async fn send(
        &self,
        to: SlackTarget<'_>,
        delivery: &Delivery,
        now: DateTime<Utc>,
    ) -> SendResult {
        let Some(token) = &self.token else {
            return SendResult::Dead {
                error: "Slack is not configured (channels.slack.bot_token)".into(),
            };
        };
        let kind = delivery.payload["kind"].as_str().unwrap_or("page");
        if kind == "report" {
            return self.send_report(token, &to, delivery, now).await;
        }
        let resolved = kind == "resolved";
        // Anything but a page changes a message that is already there.
        let follow_up = kind != "page";
        let inc = &delivery.incident;
        let (ctx, text, blocks) = message(&self.templates, delivery, to.mention);
        match &to.existing {
            // Nothing was posted here, so there is nothing to update.
            None if follow_up => SendResult::Sent {
                reference: "no message to update".into(),
            },
            None => {
                let body = json!({"channel": to.target, "text": text, "blocks": blocks});
                match self.call_blocks(token, "chat.postMessage", body, now).await {
                    Ok(posted) => sent(&posted),
                    Err(failed) => failed,
                }
            }
            Some((channel, ts)) => {
                let update = json!({"channel": channel, "ts": ts, "text": text, "blocks": blocks});
                if let Err(failed) = self.call_blocks(token, "chat.update", update, now).await {
                    return failed;
                }
                let text = if resolved && delivery.payload["actor"].is_null() {
                    self.templates.text("slack_reply_resolved.txt", &ctx)
                } else if follow_up {
                    self.templates.text("slack_reply_action.txt", &ctx)
                } else {
                    self.templates.text("slack_reply_page.txt", &ctx)
                };
                let reply =
                    json!({"channel": channel, "thread_ts": ts, "text": nonempty(&text, inc)});
                match self
                    .call(token, "chat.postMessage", &reply, now)
                    .await
                    .map_err(|e| e.result)
                {
                    Ok(_) => SendResult::Sent {
                        reference: format!("{channel} {ts}"),
                    },
                    Err(failed) => failed,
                }
            }
        }
    }

    /// A report: a thread reply under the incident's message (a message of its own where there
    /// is none), its Markdown in a `markdown` block (Slack's limit: 12,000 characters); the
    /// notification text, and all there is if Slack refuses the block, is its start as plain text.
    async fn send_report(
        &self,
        token: &SecretString,
        to: &SlackTarget<'_>,
        delivery: &Delivery,
        now: DateTime<Utc>,
    ) -> SendResult {
        let detail = &delivery.payload["detail"];
        let markdown = detail["markdown"].as_str().unwrap_or("");
        let subject = detail["subject"].as_str().unwrap_or("Incident report");
        let text = cut(&format!("{subject}\n\n{markdown}"), 3_000);
        let block = json!({"type": "markdown", "text": cut(markdown, 12_000)});
        let mut body = json!({"channel": to.target, "text": text, "blocks": [block]});
        if let Some((channel, ts)) = &to.existing {
            body["channel"] = json!(channel);
            body["thread_ts"] = json!(ts);
        }
        match self.call_blocks(token, "chat.postMessage", body, now).await {
            Ok(posted) => sent(&posted),
            Err(failed) => failed,
        }
    }

    /// One Web API call; Slack answers 200 with `ok: false` for most errors.
    async fn call(
        &self,
        token: &SecretString,
        method: &str,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<Value, CallError> {
        let failed = |result| CallError { result, code: None };
        let url = format!("{}/{method}", self.base_url.trim_end_matches('/'));
        let response = self
            .client
            .post(url)
            .bearer_auth(token.expose_secret())
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| {
                failed(SendResult::Retry {
                    after: None,
                    error: super::redact::transport(e),
                })
            })?;
        let status = response.status();
        let after = retry_after(response.headers(), now);
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(failed(SendResult::Retry {
                after,
                error: format!("Slack {method}: HTTP {status}"),
            }));
        }
        let json: Value = match response.json().await {
            Ok(json) => json,
            // A proxy's error page, a cut-off answer: not Slack's word that the message is bad.
            Err(e) => {
                return Err(failed(SendResult::Retry {
                    after,
                    error: format!("Slack {method}: HTTP {status} with an unreadable body: {e}"),
                }));
            }
        };
        if json["ok"].as_bool() == Some(true) {
            return Ok(json);
        }
        let error = json["error"]
            .as_str()
            .unwrap_or("unknown_error")
            .to_string();
        let transient = matches!(
            error.as_str(),
            "ratelimited"
                | "internal_error"
                | "fatal_error"
                | "service_unavailable"
                | "request_timeout"
        );
        let message = format!("Slack {method}: {error}");
        let result = if transient {
            SendResult::Retry {
                after,
                error: message,
            }
        } else {
            SendResult::Dead { error: message }
        };
        Err(CallError {
            result,
            code: Some(error),
        })
    }
}
