//! The Block Kit of an incident's Slack message, built with slack-morphism's typed models: every
//! payload value escaped and cut to Slack's limits (`slack_text`), links made only of http(s)
//! URLs, no empty text object, the action buttons last.

use serde_json::Value;
use slack_morphism::SlackActionId;
use slack_morphism::blocks::{
    SlackActionBlockElement, SlackActionsBlock, SlackBlock, SlackBlockButtonElement,
    SlackBlockButtonStyle, SlackBlockMarkDownText, SlackBlockText, SlackContextBlock,
    SlackContextBlockElement, SlackHeaderBlock, SlackSectionBlock,
};

use super::slack_text::{
    BLOCKS_MAX, CONTEXT_MAX, FIELD_MAX, FIELDS_MAX, HEADER_MAX, SECTION_MAX, TEXT_MAX, cut, escape,
    escape_context, link, mrkdwn, plain,
};
use super::templates::{Templates, context};
use super::{Delivery, IncidentSummary};

fn severity_badge(severity: &str) -> &'static str {
    match severity {
        "critical" => ":red_circle: CRITICAL",
        "warning" => ":large_orange_circle: WARNING",
        _ => ":large_blue_circle: INFO",
    }
}

fn md(text: String) -> SlackBlockMarkDownText {
    SlackBlockMarkDownText::new(text)
}

fn context_line(text: String) -> SlackBlock {
    SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(md(text))]).into()
}

fn section(text: String) -> SlackBlock {
    SlackSectionBlock::new()
        .with_text(SlackBlockText::MarkDown(md(text)))
        .into()
}

fn button(
    inc: &IncidentSummary,
    text: &str,
    action: &str,
    style: Option<SlackBlockButtonStyle>,
) -> SlackActionBlockElement {
    let mut b = SlackBlockButtonElement::new(text.into())
        .with_action_id(SlackActionId(action.to_string()))
        .with_value(inc.id.to_string());
    b.style = style;
    SlackActionBlockElement::Button(b)
}

/// The incident's message as Block Kit.
pub fn block_kit(inc: &IncidentSummary, mention: Option<&str>) -> Vec<SlackBlock> {
    let mention = mention.filter(|m| is_slack_id(m));
    let fields: Vec<SlackBlockText> = inc
        .group_labels
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .take(FIELDS_MAX)
                .map(|(k, v)| {
                    let text = format!("*{}*\n{}", escape(k), escape(v.as_str().unwrap_or("")));
                    SlackBlockText::MarkDown(md(cut(&text, FIELD_MAX)))
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
    let mut blocks: Vec<SlackBlock> = vec![
        SlackHeaderBlock::new(header.as_str().into()).into(),
        context_line(cut(
            &format!("{} · {status}{flapping}", severity_badge(&inc.severity)),
            CONTEXT_MAX,
        )),
    ];
    let description = inc.annotations["description"].as_str().unwrap_or("").trim();
    if !description.is_empty() {
        blocks.push(section(mrkdwn(description, SECTION_MAX)));
    }
    if !fields.is_empty() {
        blocks.push(SlackSectionBlock::new().with_fields(fields).into());
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
        blocks.push(context_line(line));
    }
    if inc.status != "resolved" {
        let first = if inc.acknowledged_by.is_some() {
            button(inc, "Unacknowledge", "incident_unack", None)
        } else {
            button(
                inc,
                "Acknowledge",
                "incident_ack",
                Some(SlackBlockButtonStyle::Primary),
            )
        };
        blocks.push(
            SlackActionsBlock::new(vec![
                first,
                button(inc, "Resolve", "incident_resolve", None),
                button(
                    inc,
                    "Escalate now",
                    "incident_escalate",
                    Some(SlackBlockButtonStyle::Danger),
                ),
                button(inc, "Snooze 1h", "incident_snooze", None),
            ])
            .into(),
        );
    }
    blocks.truncate(BLOCKS_MAX);
    blocks
}

/// The Block Kit of an incident's message, as the JSON Slack's Web API takes.
pub fn blocks(inc: &IncidentSummary, mention: Option<&str>) -> Value {
    to_json(&block_kit(inc, mention))
}

fn to_json(blocks: &[SlackBlock]) -> Value {
    // Plain data: serialising it cannot fail.
    serde_json::to_value(blocks).unwrap_or_else(|_| Value::Array(Vec::new()))
}

/// A Slack user or channel id as Slack writes them (`U0123ABC`), so a mention cannot carry
/// markup.
pub fn is_slack_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A message's `text`, cut to size and never empty (Slack refuses an empty one).
pub fn nonempty(text: &str, inc: &IncidentSummary) -> String {
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
    let mut blocks = block_kit(inc, mention);
    if let Some(more) = ctx["more"].as_array().filter(|m| !m.is_empty()) {
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
        let at = if matches!(blocks.last(), Some(SlackBlock::Actions(_))) {
            blocks.len() - 1
        } else {
            blocks.len()
        };
        blocks.insert(at, section(cut(&text, SECTION_MAX)));
        blocks.truncate(BLOCKS_MAX);
    }
    let text = nonempty(&templates.text("slack_text.txt", &ctx), inc);
    (ctx, text, to_json(&blocks))
}
