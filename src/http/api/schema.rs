//! What the API answers, as types: each handler returns one of these, and the OpenAPI document
//! is generated from them (utoipa), so the document is the answers' real shape.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::core::IncidentStatus;
use crate::store::read::{AlertRow, EventRow, IncidentRow, NotificationRow, Stats};

mod admin;
mod reports;
mod schedules;
pub use self::admin::{AuditEntryView, AuditPage, DeadLetter, DeadLetters, Retried};
pub use self::reports::{ReportView, SectionsBody};
pub use self::schedules::{Ended, OnCall, OnCallNow, Override, Overrides, Window, Windows};

/// Every error: what kind, and what exactly is wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// `unauthorized`, `forbidden`, `not found`, `conflict`, `invalid input`, …
    pub error: String,
    pub detail: String,
}

/// Whether an incident still needs attention.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Resolved,
}

impl From<IncidentStatus> for Status {
    fn from(s: IncidentStatus) -> Self {
        match s {
            IncidentStatus::Open => Status::Open,
            IncidentStatus::Resolved => Status::Resolved,
        }
    }
}

/// How bad an incident is.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

/// What an action does.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActionName {
    Ack,
    Unack,
    Resolve,
    Escalate,
    Snooze,
    Reassign,
    Note,
}

fn status(text: &str) -> Status {
    match IncidentStatus::from_db(text) {
        Some(s) => s.into(),
        None => Status::Open,
    }
}

fn labels(v: Value) -> BTreeMap<String, String> {
    serde_json::from_value(v).unwrap_or_default()
}

/// An incident as lists show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentSummary {
    pub id: Uuid,
    pub number: i64,
    /// `INC-42`.
    pub key: String,
    /// The first alert's `summary` annotation, else its alertname.
    pub title: String,
    pub status: Status,
    #[schema(value_type = Severity)]
    pub severity: String,
    pub service: Option<String>,
    pub team: Option<String>,
    pub route: String,
    pub group_labels: BTreeMap<String, String>,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub snoozed_until: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub flapping: bool,
    pub flapping_since: Option<DateTime<Utc>>,
}

impl From<IncidentRow> for IncidentSummary {
    fn from(r: IncidentRow) -> Self {
        IncidentSummary {
            id: r.id,
            number: r.number,
            key: format!("INC-{}", r.number),
            title: r.title,
            status: status(&r.status),
            severity: r.severity,
            service: r.service,
            team: r.team,
            route: r.route,
            group_labels: labels(r.group_labels),
            opened_at: r.opened_at,
            acknowledged_at: r.acknowledged_at,
            acknowledged_by: r.acknowledged_by,
            snoozed_until: r.snoozed_until,
            resolved_at: r.resolved_at,
            resolved_by: r.resolved_by,
            flapping: r.flapping_since.is_some(),
            flapping_since: r.flapping_since,
        }
    }
}

/// A page of incidents, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentPage {
    pub incidents: Vec<IncidentSummary>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// One alert occurrence.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    pub fingerprint: String,
    pub alertname: String,
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub generator_url: String,
}

impl From<AlertRow> for AlertView {
    fn from(r: AlertRow) -> Self {
        AlertView {
            fingerprint: r.fingerprint,
            alertname: r.alertname,
            status: r.status,
            labels: labels(r.labels),
            annotations: labels(r.annotations),
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            generator_url: r.generator_url,
        }
    }
}

/// One entry of the timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub id: i64,
    /// `opened`, `alert_firing`, `escalated`, `acknowledged`, `resolved`, …
    pub kind: String,
    pub at: DateTime<Utc>,
    pub fingerprint: Option<String>,
    /// What the entry records besides its kind (who, which step, …).
    pub detail: Option<Value>,
}

impl From<EventRow> for TimelineEntry {
    fn from(r: EventRow) -> Self {
        TimelineEntry {
            id: r.id,
            kind: r.kind,
            at: r.at,
            fingerprint: r.fingerprint,
            detail: r.detail,
        }
    }
}

/// One notification and how its delivery went.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    /// `slack`, `email`, `sms`, `pagerduty` or `webhook`.
    pub channel: String,
    pub recipient: String,
    /// `pending`, `sent`, `dead`, `cancelled` or `bundled`.
    pub status: String,
    /// `page`, or the news it carries (`acknowledged`, `resolved`, …).
    pub kind: Option<String>,
    pub attempts: i32,
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub provider_ref: Option<String>,
    pub provider_status: Option<String>,
    pub last_error: Option<String>,
}

impl From<NotificationRow> for NotificationView {
    fn from(r: NotificationRow) -> Self {
        NotificationView {
            id: r.id,
            channel: r.channel,
            recipient: r.recipient,
            status: r.status,
            kind: r.kind,
            attempts: r.attempts,
            due_at: r.due_at,
            sent_at: r.sent_at,
            provider_ref: r.provider_ref,
            provider_status: r.provider_status,
            last_error: r.last_error,
        }
    }
}

/// An incident whole: its summary, alerts, timeline and notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub summary: IncidentSummary,
    pub alerts: Vec<AlertView>,
    pub timeline: Vec<TimelineEntry>,
    pub notifications: Vec<NotificationView>,
}

/// What an action did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionDone {
    pub id: Uuid,
    /// `INC-42`.
    pub incident: String,
    pub action: String,
    pub status: Status,
    pub acknowledged_by: Option<String>,
    pub snoozed_until: Option<DateTime<Utc>>,
}

/// Open incidents now, response times over 30 days, and the statistics of the asked period.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    /// Open incidents by severity.
    pub open: BTreeMap<String, i64>,
    pub mtta_seconds_30d: Option<f64>,
    pub mttr_seconds_30d: Option<f64>,
    pub period: crate::reports::stats::PeriodStats,
}

impl StatsView {
    pub fn new(s: Stats, period: crate::reports::stats::PeriodStats) -> Self {
        StatsView {
            open: s.open.into_iter().collect(),
            mtta_seconds_30d: s.mtta_30d,
            mttr_seconds_30d: s.mttr_30d,
            period,
        }
    }
}
