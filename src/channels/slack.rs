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

use super::templates::{Templates, context};
use super::{Delivery, IncidentSummary, SendResult, retry_after};

/// Sends Slack messages with a bot token.
pub struct SlackChannel {
    client: reqwest::Client,
    /// `https://slack.com/api` (tests point it at a fake).
    base_url: String,
    token: Option<SecretString>,
    templates: Arc<Templates>,
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
        })
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
        let who = to
            .mention
            .map_or("the on-call".to_string(), |m| format!("<@{m}>"));
        let ctx = context(inc, &inc.title, Some(delivery), &who);
        let mut blocks = blocks(inc, to.mention);
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
            let text = format!("*+{} more incidents*\n{}", more.len(), lines.join("\n"));
            // Above the buttons, which act on this message's own incident.
            let at = list.len().saturating_sub(1);
            list.insert(
                at,
                json!({"type": "section", "text": {"type": "mrkdwn", "text": text.chars().take(3000).collect::<String>()}}),
            );
        }
        let text = self.templates.text("slack_text.txt", &ctx);
        match &to.existing {
            // Nothing was posted here, so there is nothing to update.
            None if follow_up => SendResult::Sent {
                reference: "no message to update".into(),
            },
            None => {
                let body = json!({"channel": to.target, "text": text, "blocks": blocks});
                match self.call(token, "chat.postMessage", &body, now).await {
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
                if let Err(failed) = self.call(token, "chat.update", &update, now).await {
                    return failed;
                }
                let text = if resolved && delivery.payload["actor"].is_null() {
                    self.templates.text("slack_reply_resolved.txt", &ctx)
                } else if follow_up {
                    self.templates.text("slack_reply_action.txt", &ctx)
                } else {
                    self.templates.text("slack_reply_page.txt", &ctx)
                };
                let reply = json!({"channel": channel, "thread_ts": ts, "text": text});
                match self.call(token, "chat.postMessage", &reply, now).await {
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
    ) -> Result<Value, SendResult> {
        let url = format!("{}/{method}", self.base_url.trim_end_matches('/'));
        let response = self
            .client
            .post(url)
            .bearer_auth(token.expose_secret())
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| SendResult::Retry {
                after: None,
                error: e.to_string(),
            })?;
        let status = response.status();
        let after = retry_after(response.headers(), now);
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(SendResult::Retry {
                after,
                error: format!("Slack {method}: HTTP {status}"),
            });
        }
        let json: Value = match response.json().await {
            Ok(json) => json,
            // A proxy's error page, a cut-off answer: not Slack's word that the message is bad.
            Err(e) => {
                return Err(SendResult::Retry {
                    after,
                    error: format!("Slack {method}: HTTP {status} with an unreadable body: {e}"),
                });
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
        let error = format!("Slack {method}: {error}");
        Err(if transient {
            SendResult::Retry { after, error }
        } else {
            SendResult::Dead { error }
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

/// The Block Kit of an incident's message.
pub fn blocks(inc: &IncidentSummary, mention: Option<&str>) -> Value {
    let mut fields: Vec<Value> = inc
        .group_labels
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| json!({"type": "mrkdwn", "text": format!("*{k}*\n{}", v.as_str().unwrap_or(""))}))
                .collect()
        })
        .unwrap_or_default();
    fields.truncate(10); // Slack allows ten fields in a section.
    let flapping = if inc.flapping {
        " · :warning: FLAPPING"
    } else {
        ""
    };
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!("INC-{} {}", inc.number, inc.title).chars().take(150).collect::<String>()}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": match &inc.acknowledged_by {
            Some(by) if inc.status == "open" => format!("{} · acknowledged by {by}{flapping}", severity_badge(&inc.severity)),
            _ => format!("{} · {}{flapping}", severity_badge(&inc.severity), inc.status),
        }}]}),
    ];
    if let Some(description) = inc.annotations["description"].as_str() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": description.chars().take(3000).collect::<String>()}}));
    }
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    let mut links = Vec::new();
    if let Some(url) = inc.annotations["runbook_url"].as_str() {
        links.push(format!("<{url}|Runbook>"));
    }
    if let Some(url) = inc.annotations["dashboard_url"].as_str() {
        links.push(format!("<{url}|Dashboard>"));
    }
    if let Some(url) = &inc.generator_url {
        links.push(format!("<{url}|Source>"));
    }
    if let Some(url) = inc.silence_url() {
        links.push(format!("<{url}|Silence>"));
    }
    if let Some(who) = mention {
        links.push(format!("Paging <@{who}>"));
    }
    if !links.is_empty() {
        blocks.push(
            json!({"type": "context", "elements": [{"type": "mrkdwn", "text": links.join(" · ")}]}),
        );
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
    Value::Array(blocks)
}
