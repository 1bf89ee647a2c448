//! Webhook bodies: the captured fixtures, and small synthetic ones for lifecycle tests.

use serde_json::{Value, json};

/// A captured fixture from `tests/fixtures/`.
pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every fixture file name, sorted.
pub fn fixture_names() -> Vec<String> {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// One alert: `instance` distinguishes alerts of a group; no fingerprint (the server computes it).
pub fn alert(
    instance: &str,
    severity: &str,
    status: &str,
    starts: &str,
    ends: Option<&str>,
) -> Value {
    json!({
        "status": status,
        "labels": {"alertname": "HighErrorRate", "service": "web", "instance": instance, "severity": severity},
        "annotations": {"summary": format!("errors on {instance}")},
        "startsAt": starts,
        "endsAt": ends.unwrap_or("0001-01-01T00:00:00Z"),
        "generatorURL": "http://prometheus:9090/graph",
    })
}

/// A v4 webhook of the `HighErrorRate/web` group carrying `alerts`.
pub fn webhook(alerts: Vec<Value>) -> String {
    webhook_truncated(alerts, 0)
}

/// The same, saying `truncated` more alerts were left out.
pub fn webhook_truncated(alerts: Vec<Value>, truncated: u64) -> String {
    let firing = alerts.iter().any(|a| a["status"] == "firing");
    json!({
        "receiver": "alertrouter",
        "status": if firing { "firing" } else { "resolved" },
        "alerts": alerts,
        "groupLabels": {"alertname": "HighErrorRate", "service": "web"},
        "commonLabels": {"alertname": "HighErrorRate"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": "{}:{alertname=\"HighErrorRate\", service=\"web\"}",
        "truncatedAlerts": truncated,
    })
    .to_string()
}

/// A webhook carrying `alerts` as the Alertmanager group `key` (its own incident).
pub fn grouped(key: &str, alerts: Vec<Value>) -> String {
    let mut body: Value = serde_json::from_str(&webhook(alerts)).unwrap();
    body["groupKey"] = json!(key);
    body.to_string()
}
