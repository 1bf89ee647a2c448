//! A made-up incident, resolved after an acknowledgement, with notes and a missed target: what a
//! custom template is checked against at load, and the unit tests' report.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::{Facts, Locale, Report, build};
use crate::store::read::{AlertRow, EventRow, IncidentDetail, IncidentRow, NotificationRow};

fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T19:00:00Z")
        .expect("a valid time")
        .with_timezone(&Utc)
        + TimeDelta::minutes(minutes)
}

fn event(id: i64, kind: &str, minutes: i64, detail: serde_json::Value) -> EventRow {
    EventRow {
        id,
        kind: kind.into(),
        at: at(minutes),
        fingerprint: (kind.starts_with("alert_")).then(|| "f1".to_string()),
        severity: Some("critical".into()),
        detail: (!detail.is_null()).then_some(detail),
    }
}

/// The sample incident's rows and facts.
pub fn detail() -> (IncidentDetail, Facts) {
    let incident = IncidentRow {
        id: uuid::Uuid::nil(),
        number: 42,
        status: "resolved".into(),
        severity: "critical".into(),
        route: "critical".into(),
        group_labels: json!({"alertname": "HighErrorRate", "service": "web"}),
        opened_at: at(0),
        acknowledged_at: Some(at(7)),
        acknowledged_by: Some("alice".into()),
        snoozed_until: None,
        resolved_at: Some(at(40)),
        resolved_by: None,
        flapping_since: None,
        service: Some("web".into()),
        team: Some("sre".into()),
        title: "5xx above 5% on web".into(),
    };
    let alert = AlertRow {
        fingerprint: "f1".into(),
        alertname: "HighErrorRate".into(),
        status: "resolved".into(),
        labels: json!({"alertname": "HighErrorRate", "service": "web", "instance": "web-1"}),
        annotations: json!({"summary": "5xx above 5% on web", "description": "Users see errors.",
            "runbook_url": "https://runbooks.example/web"}),
        starts_at: at(-2),
        ends_at: Some(at(39)),
        generator_url: "https://prometheus.example/graph".into(),
    };
    let actor = |name: &str| json!({"actor": name, "source": "slack"});
    let mut note = actor("alice");
    note["text"] = json!("root cause: a bad deploy of web");
    let timeline = vec![
        event(1, "opened", 0, json!(null)),
        event(2, "alert_fired", 0, json!(null)),
        event(
            3,
            "escalated",
            0,
            json!({"step": 0, "paged": ["user:alice"]}),
        ),
        event(4, "response_target_missed", 5, json!({"target_secs": 300})),
        event(5, "acknowledged", 7, actor("alice")),
        event(6, "note", 20, note),
        event(7, "alert_resolved", 39, json!(null)),
        event(8, "resolved", 40, json!(null)),
    ];
    let notifications = vec![NotificationRow {
        id: 1,
        channel: "sms".into(),
        recipient: "user:alice".into(),
        status: "sent".into(),
        kind: Some("page".into()),
        attempts: 2,
        due_at: at(0),
        sent_at: Some(at(1)),
        provider_ref: None,
        provider_status: None,
        last_error: None,
    }];
    let facts = Facts {
        report_id: Some("INC-202611251858".into()),
        started_at: at(-2),
        policy: Some("critical".into()),
        response_target: Some(TimeDelta::minutes(5)),
        external_url: Some("https://alertmanager.example".into()),
        sections: Default::default(),
    };
    let detail = IncidentDetail {
        incident,
        alerts: vec![alert],
        timeline,
        notifications,
    };
    (detail, facts)
}

/// The sample incident's report.
pub fn sample(locale: Locale) -> Report {
    let (detail, facts) = detail();
    build(&detail, &facts, locale, chrono_tz::Europe::Berlin, at(45))
}
