//! Slack through the Web API: `chat.postMessage` with Block Kit (severity, title, the labels that
//! matter, description, links, and Acknowledge / Resolve / Escalate now / Snooze buttons); later
//! pages of the same incident edit that message with `chat.update` and add a thread reply.
//!
//! Plain `reqwest` rather than slack-morphism: two Web API methods are all this needs, and
//! reqwest is already here for the other channels.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::slack_text::{
    BLOCKS_MAX, CONTEXT_MAX, FIELD_MAX, FIELDS_MAX, HEADER_MAX, SECTION_MAX, TEXT_MAX, cut, escape,
    escape_context, link, mrkdwn, plain,
};
use super::templates::{Templates, context};
use super::{Delivery, IncidentSummary, SendResult, retry_after};

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
                    m.plain_fallback("slack");
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
                    Ok(posted) => SendResult::Sent {
                        reference: format!(
                            "{} {}",
                            posted["channel"].as_str().unwrap_or(""),
                            posted["ts"].as_str().unwrap_or("")
                        ),
                    },
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
                    error: e.to_string(),
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

fn severity_badge(severity: &str) -> &'static str {
    match severity {
        "critical" => ":red_circle: CRITICAL",
        "warning" => ":large_orange_circle: WARNING",
        _ => ":large_blue_circle: INFO",
    }
}

/// The Block Kit of an incident's message. Every payload value is escaped and cut to Slack's
/// limits; links are made only of http(s) URLs; no text object is empty.
pub fn blocks(inc: &IncidentSummary, mention: Option<&str>) -> Value {
    let mention = mention.filter(|m| is_slack_id(m));
    let fields: Vec<Value> = inc
        .group_labels
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .take(FIELDS_MAX)
                .map(|(k, v)| {
                    let text = format!("*{}*\n{}", escape(k), escape(v.as_str().unwrap_or("")));
                    json!({"type": "mrkdwn", "text": cut(&text, FIELD_MAX)})
                })
                .collect()
        })
        .unwrap_or_default();
    let flapping = if inc.flapping {
        " · :warning: FLAPPING"
    } else {
        ""
    };
    let status = match &inc.acknowledged_by {
        Some(by) if inc.status == "open" => format!("acknowledged by {}", escape(by)),
        _ => escape(&inc.status),
    };
    let header = plain(&format!("INC-{} {}", inc.number, inc.title), HEADER_MAX);
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": header}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(
            &format!("{} · {status}{flapping}", severity_badge(&inc.severity)),
            CONTEXT_MAX,
        )}]}),
    ];
    let description = inc.annotations["description"].as_str().unwrap_or("").trim();
    if !description.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(description, SECTION_MAX)}}));
    }
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    let mut links: Vec<String> = inc
        .links()
        .iter()
        .filter_map(|(url, label)| link(url, label))
        .collect();
    if let Some(who) = mention {
        links.push(format!("Paging <@{who}>"));
    }
    // A link cut in half is broken markup: keep the links that fit whole.
    let mut line = String::new();
    for l in links {
        let sep = if line.is_empty() { "" } else { " · " };
        if line.chars().count() + sep.len() + l.chars().count() <= CONTEXT_MAX {
            line.push_str(sep);
            line.push_str(&l);
        }
    }
    if !line.is_empty() {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}));
    }
    let button = |text: &str, action: &str, style: Option<&str>| {
        let mut b = json!({"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action, "value": inc.id.to_string()});
        if let Some(style) = style {
            b["style"] = json!(style);
        }
        b
    };
    if inc.status == "resolved" {
        return Value::Array(blocks);
    }
    let first = if inc.acknowledged_by.is_some() {
        button("Unacknowledge", "incident_unack", None)
    } else {
        button("Acknowledge", "incident_ack", Some("primary"))
    };
    blocks.push(json!({"type": "actions", "elements": [
        first,
        button("Resolve", "incident_resolve", None),
        button("Escalate now", "incident_escalate", Some("danger")),
        button("Snooze 1h", "incident_snooze", None),
    ]}));
    blocks.truncate(BLOCKS_MAX);
    Value::Array(blocks)
}

/// A Slack user or channel id as Slack writes them (`U0123ABC`), so a mention cannot carry
/// markup.
fn is_slack_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A message's `text`, cut to size and never empty (Slack refuses an empty one).
fn nonempty(text: &str, inc: &IncidentSummary) -> String {
    let text = text.trim();
    if text.is_empty() {
        return format!("INC-{}", inc.number);
    }
    cut(text, TEXT_MAX)
}

/// A delivery's Slack message: the (escaped) template context, the top-level `text` and the
/// blocks, with the bundled incidents' section when pages ride along.
pub fn message(
    templates: &Templates,
    delivery: &Delivery,
    mention: Option<&str>,
) -> (Value, String, Value) {
    let inc = &delivery.incident;
    let who = mention
        .filter(|m| is_slack_id(m))
        .map_or("the on-call".to_string(), |m| format!("<@{m}>"));
    let mut ctx = context(inc, &inc.title, Some(delivery), &who);
    escape_context(&mut ctx);
    let mut blocks = blocks(inc, mention);
    let more = ctx["more"].as_array().filter(|m| !m.is_empty());
    if let (Some(more), Some(list)) = (more, blocks.as_array_mut()) {
        let lines: Vec<String> = more
            .iter()
            .map(|m| {
                format!(
                    "• INC-{} {}",
                    m["number"],
                    m["title"].as_str().unwrap_or("")
                )
            })
            .collect();
        // Titles in `more` are escaped already (escape_context).
        let text = format!("*+{} more incidents*\n{}", more.len(), lines.join("\n"));
        // Above the buttons, which act on this message's own incident.
        let at = list.len().saturating_sub(1);
        list.insert(
            at,
            json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&text, SECTION_MAX)}}),
        );
    }
    let text = nonempty(&templates.text("slack_text.txt", &ctx), inc);
    (ctx, text, blocks)
}
