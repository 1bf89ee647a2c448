//! What a message template sees, built from the delivery and its incident (the templates
//! themselves are `crate::templates`).

use serde_json::{Value, json};

pub use crate::templates::{NAMES, Templates};

use super::{Delivery, IncidentSummary};

/// What every template sees: `incident` (number, title, severity, sev_short, sev_zh, status,
/// status_zh, labels, annotations, generator_url), `step` (1-based), `who`, and `more`: the other
/// incidents whose pages ride in this message (number, title, severity), usually empty.
pub fn context(
    inc: &IncidentSummary,
    title: &str,
    delivery: Option<&Delivery>,
    who: &str,
) -> Value {
    let (sev_short, sev_zh) = match inc.severity.as_str() {
        "critical" => ("CRIT", "严重"),
        "warning" => ("WARN", "警告"),
        _ => ("INFO", "提示"),
    };
    let status_zh = if inc.status == "resolved" {
        "已恢复"
    } else {
        "处理中"
    };
    let mut more: Vec<Value> = Vec::new();
    let mut seen = vec![inc.number];
    for b in delivery.map_or(&[][..], |d| &d.bundled) {
        if !seen.contains(&b.number) {
            seen.push(b.number);
            more.push(json!({"number": b.number, "title": b.title, "severity": b.severity}));
        }
    }
    json!({
        "incident": {
            "id": inc.id.to_string(),
            "number": inc.number,
            "title": title,
            "severity": inc.severity,
            "sev_short": sev_short,
            "sev_zh": sev_zh,
            "status": inc.status,
            "status_zh": status_zh,
            "labels": inc.group_labels,
            "annotations": inc.annotations,
            "generator_url": inc.generator_url,
        },
        "step": delivery.and_then(|d| d.payload["step"].as_u64()).map_or(1, |s| s + 1),
        "who": who,
        "more": more,
        // For notices of actions: what was done (acknowledged, snoozed, ...) and by whom.
        "action": delivery.and_then(|d| d.payload["kind"].as_str()).unwrap_or("page"),
        "actor": delivery.and_then(|d| d.payload["actor"].as_str()).unwrap_or(""),
        // For reopens: how many within the flapping window (count, window_minutes, flapping).
        "detail": delivery.map_or(Value::Null, |d| d.payload["detail"].clone()),
        "ordinal": ordinal(delivery.and_then(|d| d.payload["detail"]["count"].as_u64()).unwrap_or(0)),
    })
}

/// 1st, 2nd, 3rd, 4th, 11th, 21st …
fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod shape {
    use super::*;

    /// The sample the templates are tried with at load is what `context` makes.
    #[test]
    fn the_load_time_sample_has_the_contexts_shape() {
        let inc = IncidentSummary {
            id: uuid::Uuid::nil(),
            number: 1,
            status: "open".into(),
            severity: "critical".into(),
            title: "sample".into(),
            group_labels: json!({"alertname": "Sample"}),
            alert_labels: serde_json::Value::Null,
            annotations: json!({"description": "d", "runbook_url": "https://example/runbook"}),
            generator_url: Some("https://example/graph".into()),
            external_url: None,
            acknowledged_by: None,
            flapping: false,
        };
        assert_eq!(
            context(&inc, "sample", None, "someone"),
            crate::templates::sample_context()
        );
    }
}
