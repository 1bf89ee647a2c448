//! The Alertmanager webhook (payload version 4): wire types, validation and alert identity.
//!
//! Parsing happens once, here, at the edge: the rest of the crate only sees a [`Webhook`] whose
//! every alert has a status, an `alertname`, a valid `startsAt` and a fingerprint.

pub mod bounds;
mod fingerprint;

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Deserialize;

pub use bounds::Repairs;
pub use fingerprint::Fingerprint;

/// Labels or annotations, kept in name order (the order fingerprints are computed in).
pub type LabelSet = BTreeMap<String, String>;

/// Whether an alert is firing or has resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    /// The status as Alertmanager and the database spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// One validated alert of a webhook.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub status: AlertStatus,
    pub labels: LabelSet,
    pub annotations: LabelSet,
    /// Truncated to microseconds, the precision Postgres keeps, so a stored occurrence compares
    /// equal to the same occurrence in a later message.
    pub starts_at: DateTime<Utc>,
    /// `None` when Alertmanager sent its zero time (`0001-01-01T00:00:00Z`).
    pub ends_at: Option<DateTime<Utc>>,
    pub generator_url: String,
    pub fingerprint: Fingerprint,
}

impl Alert {
    /// The `alertname` label, present on every validated alert.
    pub fn alertname(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }
}

/// A validated webhook message: one Alertmanager group at one flush.
#[derive(Clone, Debug, PartialEq)]
pub struct Webhook {
    pub receiver: String,
    pub status: AlertStatus,
    pub alerts: Vec<Alert>,
    pub group_labels: LabelSet,
    pub common_labels: LabelSet,
    pub common_annotations: LabelSet,
    pub external_url: String,
    pub group_key: String,
    /// Alerts of the group left out of this message by `max_alerts`; they have not resolved.
    pub truncated_alerts: u64,
    /// What [`bounds`] repaired or cut to make the message storable.
    pub repairs: Repairs,
}

/// Why a webhook body was refused; `detail` names the field (`alerts[3].labels.alertname: missing`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct PayloadError {
    pub detail: String,
}

fn invalid(detail: impl Into<String>) -> PayloadError {
    PayloadError {
        detail: detail.into(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWebhook {
    version: Option<String>,
    #[serde(default)]
    receiver: String,
    status: Option<String>,
    alerts: Option<Vec<RawAlert>>,
    #[serde(default)]
    group_labels: LabelSet,
    #[serde(default)]
    common_labels: LabelSet,
    #[serde(default)]
    common_annotations: LabelSet,
    #[serde(default, rename = "externalURL")]
    external_url: String,
    group_key: Option<String>,
    #[serde(default)]
    truncated_alerts: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAlert {
    status: Option<String>,
    labels: Option<LabelSet>,
    #[serde(default)]
    annotations: LabelSet,
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: String,
    fingerprint: Option<String>,
}

/// Parses and validates a webhook body. Unknown fields are ignored; everything else is checked.
pub fn parse_webhook(body: &[u8]) -> Result<Webhook, PayloadError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'{') {
        // Valid JSON that is not an object would otherwise be read as a struct-from-array.
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => invalid("body: must be a JSON object"),
                Err(e) => invalid(format!("body: {e}")),
            },
        );
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let raw: RawWebhook = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            invalid(format!("body: {inner}"))
        } else {
            invalid(format!("{path}: {inner}"))
        }
    })?;
    de.end().map_err(|e| invalid(format!("body: {e}")))?;

    match raw.version.as_deref() {
        Some("4") => {}
        Some(other) => {
            return Err(invalid(format!(
                "version: unsupported {other:?}, expected \"4\""
            )));
        }
        None => return Err(invalid("version: missing")),
    }
    let status = parse_status(raw.status.as_deref(), "status")?;
    let mut repairs = Repairs::default();
    let mut group_key = match raw.group_key {
        Some(key) if !key.is_empty() => key,
        _ => return Err(invalid("groupKey: missing")),
    };
    repairs.group_key(&mut group_key);
    let mut raw_alerts = raw.alerts.ok_or_else(|| invalid("alerts: missing"))?;
    if raw_alerts.is_empty() {
        return Err(invalid("alerts: empty"));
    }
    if raw_alerts.len() > bounds::MAX_ALERTS {
        repairs.dropped_alerts = raw_alerts.len() - bounds::MAX_ALERTS;
        raw_alerts.truncate(bounds::MAX_ALERTS);
    }
    let alerts = raw_alerts
        .into_iter()
        .enumerate()
        .map(|(i, a)| parse_alert(a, i, &mut repairs))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut receiver, mut external_url) = (raw.receiver, raw.external_url);
    repairs.text(&mut receiver, bounds::MAX_VALUE_BYTES);
    repairs.url(&mut external_url);
    let (mut group_labels, mut common_labels, mut common_annotations) =
        (raw.group_labels, raw.common_labels, raw.common_annotations);
    repairs.labels(&mut group_labels, bounds::MAX_VALUE_BYTES);
    repairs.labels(&mut common_labels, bounds::MAX_VALUE_BYTES);
    repairs.labels(&mut common_annotations, bounds::MAX_ANNOTATION_BYTES);

    Ok(Webhook {
        receiver,
        status,
        alerts,
        group_labels,
        common_labels,
        common_annotations,
        external_url,
        group_key,
        truncated_alerts: raw
            .truncated_alerts
            .saturating_add(repairs.dropped_alerts as u64),
        repairs,
    })
}

fn parse_alert(raw: RawAlert, index: usize, repairs: &mut Repairs) -> Result<Alert, PayloadError> {
    let at = |field: &str| format!("alerts[{index}].{field}");
    let status = parse_status(raw.status.as_deref(), &at("status"))?;
    let mut labels = raw
        .labels
        .ok_or_else(|| invalid(format!("{}: missing", at("labels"))))?;
    repairs.labels(&mut labels, bounds::MAX_VALUE_BYTES);
    let mut annotations = raw.annotations;
    repairs.labels(&mut annotations, bounds::MAX_ANNOTATION_BYTES);
    let mut generator_url = raw.generator_url;
    repairs.url(&mut generator_url);
    match labels.get("alertname") {
        Some(name) if !name.is_empty() => {}
        Some(_) => return Err(invalid(format!("{}: empty", at("labels.alertname")))),
        None => return Err(invalid(format!("{}: missing", at("labels.alertname")))),
    }
    let starts_at = match raw.starts_at.as_deref() {
        None => return Err(invalid(format!("{}: missing", at("startsAt")))),
        Some(s) => parse_time(s)
            .ok_or_else(|| invalid(format!("{}: invalid RFC 3339 time {s:?}", at("startsAt"))))?
            .ok_or_else(|| invalid(format!("{}: zero time", at("startsAt"))))?,
    };
    let ends_at = match raw.ends_at.as_deref() {
        None | Some("") => None,
        Some(s) => parse_time(s)
            .ok_or_else(|| invalid(format!("{}: invalid RFC 3339 time {s:?}", at("endsAt"))))?,
    };
    let fingerprint = match raw.fingerprint.as_deref() {
        None | Some("") => Fingerprint::of_labels(&labels),
        Some(s) => s
            .parse()
            .map_err(|why| invalid(format!("{}: {why}", at("fingerprint"))))?,
    };
    Ok(Alert {
        status,
        labels,
        annotations,
        starts_at,
        ends_at,
        generator_url,
        fingerprint,
    })
}

fn parse_status(value: Option<&str>, field: &str) -> Result<AlertStatus, PayloadError> {
    match value {
        Some("firing") => Ok(AlertStatus::Firing),
        Some("resolved") => Ok(AlertStatus::Resolved),
        Some(other) => Err(invalid(format!(
            "{field}: {other:?} is not \"firing\" or \"resolved\""
        ))),
        None => Err(invalid(format!("{field}: missing"))),
    }
}

/// `Some(None)` for Go's zero time, which Alertmanager sends for "no end".
fn parse_time(s: &str) -> Option<Option<DateTime<Utc>>> {
    let t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    if t.timestamp() <= ZERO_TIME_SECS {
        return Some(None);
    }
    Some(Some(t.trunc_subsecs(6)))
}

/// `0001-01-01T00:00:00Z` in Unix seconds.
const ZERO_TIME_SECS: i64 = -62_135_596_800;

#[cfg(test)]
mod tests {
    use super::*;

    fn body(alert: &str) -> String {
        format!(r#"{{"version":"4","status":"firing","groupKey":"{{}}:{{}}","alerts":[{alert}]}}"#)
    }

    const GOOD: &str = r#"{"status":"firing","labels":{"alertname":"X"},"startsAt":"2026-01-01T00:00:00.123456789Z","endsAt":"0001-01-01T00:00:00Z"}"#;

    #[test]
    fn zero_end_means_none_and_times_are_truncated_to_micros() {
        let hook = parse_webhook(body(GOOD).as_bytes()).unwrap();
        let alert = &hook.alerts[0];
        assert_eq!(alert.ends_at, None);
        assert_eq!(alert.starts_at.timestamp_subsec_nanos(), 123_456_000);
        assert_eq!(alert.fingerprint, Fingerprint::of_labels(&alert.labels));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                r#"{"status":"firing","labels":{},"startsAt":"2026-01-01T00:00:00Z"}"#,
                "alerts[0].labels.alertname: missing",
            ),
            (
                r#"{"status":"boom","labels":{"alertname":"X"},"startsAt":"2026-01-01T00:00:00Z"}"#,
                "alerts[0].status: \"boom\" is not \"firing\" or \"resolved\"",
            ),
            (
                r#"{"status":"firing","labels":{"alertname":"X"},"startsAt":"yesterday"}"#,
                "alerts[0].startsAt: invalid RFC 3339 time \"yesterday\"",
            ),
            (
                r#"{"status":"firing","labels":{"alertname":"X"}}"#,
                "alerts[0].startsAt: missing",
            ),
        ];
        for (alert, want) in cases {
            assert_eq!(
                parse_webhook(body(alert).as_bytes()).unwrap_err().detail,
                want
            );
        }
        let err = parse_webhook(body(r#"{"status":"firing","labels":{"alertname":1}}"#).as_bytes())
            .unwrap_err();
        assert!(
            err.detail
                .starts_with("alerts[0].labels.alertname: invalid type"),
            "{}",
            err.detail
        );
    }
}
