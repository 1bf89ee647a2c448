//! The dead man's switch. Alertmanager's always-firing `Watchdog` alert proves that Prometheus,
//! Alertmanager and the webhook to alertrouter all work; each integration may name its
//! heartbeat (`integrations[].heartbeat`). Heartbeat alerts are recorded, never made incidents.
//! When none has come for `missing_after`, alertrouter sends itself a critical alert about it
//! through the normal ingest path (so routes and policies page for it, and replicas that both
//! notice open one incident: the same group, the same alert, the same start), and resolves it
//! when the heartbeat returns.

use chrono::{DateTime, SubsecRound, Utc};

use crate::alertmanager::{Alert, AlertStatus, Fingerprint, LabelSet, Repairs, Webhook};
use crate::config::Heartbeat;
use crate::routing::matcher::all_match;

/// The `alertname` of the alert alertrouter raises about a missing heartbeat.
pub const MISSING_ALERTNAME: &str = "AlertrouterHeartbeatMissing";

/// Takes the heartbeat alerts out of `webhook`: whether a firing one was in it, and the rest
/// (`None` when nothing else was).
pub fn take(heartbeat: &Heartbeat, mut webhook: Webhook) -> (bool, Option<Webhook>) {
    let before = webhook.alerts.len();
    let mut seen = false;
    webhook.alerts.retain(|a| {
        let beat = all_match(&heartbeat.matchers, &a.labels);
        seen |= beat && a.status == AlertStatus::Firing;
        !beat
    });
    if webhook.alerts.len() == before {
        return (false, Some(webhook));
    }
    let rest = (!webhook.alerts.is_empty()).then_some(webhook);
    (seen, rest)
}

/// The webhook alertrouter sends itself about `integration`'s heartbeat, missing since `since`:
/// firing, or resolved at `back` (the heartbeat that returned).
pub fn missing_webhook(
    integration: &str,
    heartbeat: &Heartbeat,
    since: DateTime<Utc>,
    back: Option<DateTime<Utc>>,
) -> Webhook {
    let labels = LabelSet::from([
        ("alertname".to_string(), MISSING_ALERTNAME.to_string()),
        ("severity".to_string(), "critical".to_string()),
        ("integration".to_string(), integration.to_string()),
    ]);
    let matchers: Vec<String> = heartbeat.matchers.iter().map(|m| m.to_string()).collect();
    let annotations = LabelSet::from([
        (
            "summary".to_string(),
            format!("No heartbeat from integration {integration} since {since}"),
        ),
        (
            "description".to_string(),
            format!(
                "No alert matching {{{}}} arrived from {integration} for {}s: Prometheus, \
                 Alertmanager or the webhook to alertrouter is broken, and alerts may not be \
                 reaching anyone.",
                matchers.join(", "),
                heartbeat.missing_after.as_secs()
            ),
        ),
    ]);
    let status = match back {
        Some(_) => AlertStatus::Resolved,
        None => AlertStatus::Firing,
    };
    let alert = Alert {
        status,
        fingerprint: Fingerprint::of_labels(&labels),
        labels: labels.clone(),
        annotations: annotations.clone(),
        starts_at: since.trunc_subsecs(6),
        ends_at: back.map(|b| b.trunc_subsecs(6)),
        generator_url: String::new(),
    };
    Webhook {
        receiver: "alertrouter".into(),
        status,
        alerts: vec![alert],
        group_labels: LabelSet::from([
            ("alertname".to_string(), MISSING_ALERTNAME.to_string()),
            ("integration".to_string(), integration.to_string()),
        ]),
        common_labels: labels,
        common_annotations: annotations,
        external_url: String::new(),
        group_key: format!("alertrouter/heartbeat/{integration}"),
        truncated_alerts: 0,
        repairs: Repairs::default(),
    }
}
