//! Labels are hostile text: an incident whose labels and annotations carry mentions, links,
//! markup, quotes, newlines, Chinese, emoji and a 2,500-character value renders in every
//! channel escaped, cut to the provider's limits and linking only to http(s) URLs. The rendering
//! is kept as a golden file (`UPDATE_GOLDEN=1` rewrites it).

use alertrouter::channels::pagerduty::trigger_event;
use alertrouter::channels::slack::message;
use alertrouter::channels::sms::sms_body;
use alertrouter::channels::templates::Templates;
use alertrouter::channels::{Delivery, IncidentSummary, email};
use serde_json::{Map, Value, json};

pub fn hostile_delivery() -> Delivery {
    let mut labels = Map::new();
    labels.insert("alertname".into(), json!("<!channel> 磁盘满了 😀"));
    labels.insert("service".into(), json!("web \"quoted\" \\back\\slash"));
    labels.insert(
        "note".into(),
        json!("line one\nline two\r\n<script>alert(1)</script>"),
    );
    labels.insert("long".into(), json!("é".repeat(2500)));
    for i in 0..36 {
        labels.insert(format!("label_{i:02}"), json!(format!("<@U{i:04}> & more")));
    }
    Delivery {
        id: 7,
        dedup_key: "key-7".into(),
        channel: "slack".into(),
        recipient: "user:alice".into(),
        payload: json!({"kind": "page", "step": 0, "recipient": "user:alice"}),
        attempts: 0,
        incident: IncidentSummary {
            id: uuid::Uuid::nil(),
            number: 7,
            status: "open".into(),
            severity: "critical".into(),
            title: format!(
                "<https://evil.example|click me> & <!here>\r\nSubject: x {}",
                "长".repeat(200)
            ),
            group_labels: Value::Object(labels.clone()),
            alert_labels: json!({"instance": "db-1:9100\n", "job": "node"}),
            annotations: json!({
                "description": "",
                "runbook_url": "javascript:alert(1)",
                "dashboard_url": "https://grafana.example/d?a=1&b=<x>|y",
            }),
            generator_url: Some("https://prometheus.example/graph?g0.expr=up|x".into()),
            external_url: Some("http://alertmanager:9093".into()),
            acknowledged_by: Some("<!everyone>".into()),
            flapping: true,
        },
        redelivery: false,
        deferrals: 0,
        bundled: Vec::new(),
        created_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
    }
}

fn collect_mrkdwn(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) if o.get("type") == Some(&json!("mrkdwn")) => {
            out.push(o["text"].as_str().unwrap_or("").to_string())
        }
        Value::Object(o) => o.values().for_each(|v| collect_mrkdwn(v, out)),
        Value::Array(a) => a.iter().for_each(|v| collect_mrkdwn(v, out)),
        _ => {}
    }
}

/// Every text object in a Block Kit message, with the limit Slack sets for it.
fn text_objects(blocks: &Value) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for b in blocks.as_array().unwrap() {
        match b["type"].as_str().unwrap() {
            "header" => out.push((b["text"]["text"].as_str().unwrap().to_string(), 150)),
            "section" => {
                if let Some(t) = b["text"]["text"].as_str() {
                    out.push((t.to_string(), 3000));
                }
                for f in b["fields"].as_array().into_iter().flatten() {
                    out.push((f["text"].as_str().unwrap().to_string(), 2000));
                }
            }
            "context" => {
                for e in b["elements"].as_array().unwrap() {
                    out.push((e["text"].as_str().unwrap().to_string(), 3000));
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn hostile_labels_are_escaped_and_cut_in_every_channel() {
    let templates = Templates::new("en", None).unwrap();
    let d = hostile_delivery();

    let (_, text, blocks) = message(&templates, &d, Some("U0ALICE"));
    // Slack reads markup in `text` and in mrkdwn objects (plain_text shows as it is).
    let mut mrkdwn = vec![text.clone()];
    collect_mrkdwn(&blocks, &mut mrkdwn);
    let all = mrkdwn.join("\n");
    assert!(all.contains("&lt;!channel&gt;"), "shown as text: {all}");
    for planted in [
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<https://evil",
        "<@U0000>",
        "javascript:",
    ] {
        assert!(!all.contains(planted), "{planted} reached Slack: {all}");
    }
    assert!(
        all.contains("Paging <@U0ALICE>"),
        "our own mention stays: {all}"
    );
    assert!(all.contains(":warning: FLAPPING"));
    let list = blocks.as_array().unwrap();
    assert!(list.len() <= 50);
    assert!(
        !list
            .iter()
            .any(|b| b["type"] == "section" && b["text"]["text"] == ""),
        "an empty description sends no section"
    );
    for b in list.iter().filter(|b| b["fields"].is_array()) {
        assert!(b["fields"].as_array().unwrap().len() <= 10);
    }
    for (t, max) in text_objects(&blocks) {
        assert!(!t.is_empty(), "an empty text object");
        assert!(
            t.chars().count() <= max,
            "{} > {max}: {t}",
            t.chars().count()
        );
    }
    assert!(text.chars().count() <= 3000);

    let (subject, plain, html) = email::render(&templates, &d);
    assert!(
        !subject.contains('\r') && !subject.contains('\n'),
        "{subject:?}"
    );
    assert!(subject.chars().count() <= 200);
    assert!(
        !html.contains("<script>") && !html.contains("<!channel>"),
        "{html}"
    );
    assert!(!html.contains("javascript:"), "{html}");

    let sms = sms_body(&templates, &d);
    assert!(sms.chars().count() <= 160, "one segment: {sms}");

    let pd = trigger_event(&templates, "0123456789abcdef0123456789abcdef", &d);
    assert!(pd["payload"]["summary"].as_str().unwrap().len() <= 1024);
    assert_eq!(pd["payload"]["source"], "db-1:9100");
    let hrefs: Vec<&str> = pd["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["href"].as_str().unwrap())
        .collect();
    assert!(
        !hrefs.iter().any(|h| h.starts_with("javascript:")),
        "{hrefs:?}"
    );
    assert_eq!(hrefs.len(), 3, "dashboard, source, silence: {hrefs:?}");

    let rendered = format!(
        "===== slack text\n{text}\n===== slack blocks\n{}\n===== email subject\n{subject}\n\
         ===== email text\n{plain}\n===== email html\n{html}\n===== sms\n{sms}\n\
         ===== pagerduty event\n{}\n",
        serde_json::to_string_pretty(&blocks).unwrap(),
        serde_json::to_string_pretty(&pd).unwrap(),
    );
    crate::messages::golden("messages_hostile.txt", &rendered);
}
