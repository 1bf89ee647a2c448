//! The write of one decided plan: its bind values owned (`PlanRow`), so that plans of
//! concurrent webhooks can be handed to one committer and written in one transaction.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::WriteOutcome;
use crate::alertmanager::LabelSet;
use crate::core::Severity;
use crate::core::ingest::Plan;

/// What a plan does to the incident's escalation chain.
#[derive(Debug, Clone, PartialEq)]
pub enum EscalationWrite {
    /// Leave it as it is.
    Keep,
    /// (Re)start it: a new generation whose first step is due at `due_at`, with this policy.
    Start {
        due_at: Option<DateTime<Utc>>,
        snapshot: serde_json::Value,
        /// The policy's response target: unacknowledged this long, it is missed.
        response_target: Option<std::time::Duration>,
    },
    /// Resume the stored run (reopened within the window): same generation and origin, next
    /// step due at `due_at`; `snapshot` replaces an unusable stored policy.
    Resume {
        due_at: Option<DateTime<Utc>>,
        snapshot: Option<serde_json::Value>,
    },
    /// Stop it and cancel the incident's pending notifications (resolved).
    Stop,
}

impl EscalationWrite {
    fn action(&self) -> &'static str {
        match self {
            EscalationWrite::Keep => "keep",
            EscalationWrite::Start { .. } => "start",
            EscalationWrite::Resume { .. } => "resume",
            EscalationWrite::Stop => "stop",
        }
    }
}

/// The webhook-level facts a plan is committed with.
pub struct GroupRef<'a> {
    pub escalation: EscalationWrite,
    pub integration: &'a str,
    pub route: &'a str,
    /// The route's escalation policy, recorded on incidents it opens.
    pub policy: Option<&'a str>,
    pub group_key: &'a str,
    pub group_labels: &'a LabelSet,
    /// The reporting Alertmanager's externalURL, kept on incidents it opens.
    pub external_url: &'a str,
}

/// One plan's statement, every value it binds owned. Nothing is written unless the group is
/// still at the version it was decided on (0: not yet created).
#[derive(Debug, Clone)]
pub struct PlanRow {
    pub integration: String,
    pub route: String,
    pub group_key: String,
    pub(super) policy: Option<String>,
    pub(super) group_labels: String,
    pub(super) external_url: String,
    pub(super) expected_version: i64,
    pub(super) incident: Uuid,
    pub(super) is_new: bool,
    pub(super) status: &'static str,
    pub(super) severity: &'static str,
    pub(super) started_at: DateTime<Utc>,
    pub(super) now: DateTime<Utc>,
    pub(super) resolved_at: Option<DateTime<Utc>>,
    pub(super) ended_at: Option<DateTime<Utc>>,
    pub(super) reopen_times: Option<Vec<DateTime<Utc>>>,
    pub(super) starts_flapping: bool,
    pub(super) chain: &'static str,
    pub(super) snapshot: Option<serde_json::Value>,
    pub(super) due_at: Option<DateTime<Utc>>,
    pub(super) response_secs: Option<f64>,
    pub(super) a_incident: Vec<Uuid>,
    pub(super) a_fingerprint: Vec<String>,
    pub(super) a_starts: Vec<DateTime<Utc>>,
    pub(super) a_ends: Vec<Option<DateTime<Utc>>>,
    pub(super) a_status: Vec<&'static str>,
    pub(super) a_severity: Vec<&'static str>,
    pub(super) a_alertname: Vec<String>,
    pub(super) a_labels: Vec<String>,
    pub(super) a_annotations: Vec<String>,
    pub(super) a_generator: Vec<String>,
    pub(super) e_incident: Vec<Uuid>,
    pub(super) e_kind: Vec<&'static str>,
    pub(super) e_fingerprint: Vec<Option<String>>,
    pub(super) e_severity: Vec<Option<&'static str>>,
    pub(super) e_at: Vec<DateTime<Utc>>,
}

impl PlanRow {
    /// The statement that commits `plan` for `group`, decided on the group at `expected_version`.
    pub fn new(
        group: &GroupRef<'_>,
        expected_version: i64,
        plan: &Plan<'_>,
        now: DateTime<Utc>,
    ) -> PlanRow {
        let inc = &plan.incident;
        let alerts = &plan.alerts;
        let events = &plan.events;
        let (snapshot, due_at) = match &group.escalation {
            EscalationWrite::Start {
                due_at, snapshot, ..
            } => (Some(snapshot.clone()), *due_at),
            EscalationWrite::Resume { due_at, snapshot } => (snapshot.clone(), *due_at),
            _ => (None, None),
        };
        let response_secs = match &group.escalation {
            EscalationWrite::Start {
                response_target: Some(t),
                ..
            } => Some(t.as_secs_f64()),
            _ => None,
        };
        PlanRow {
            integration: group.integration.to_string(),
            route: group.route.to_string(),
            group_key: group.group_key.to_string(),
            policy: group.policy.map(str::to_string),
            group_labels: json(group.group_labels),
            external_url: group.external_url.to_string(),
            expected_version,
            incident: inc.id,
            is_new: inc.is_new,
            status: inc.status.as_str(),
            severity: inc.severity.as_str(),
            started_at: inc.started_at,
            now,
            resolved_at: inc.resolved_at,
            ended_at: inc.ended_at,
            reopen_times: inc.reopen.as_ref().map(|r| r.times.clone()),
            starts_flapping: inc.reopen.as_ref().is_some_and(|r| r.starts_flapping),
            chain: group.escalation.action(),
            snapshot,
            due_at,
            response_secs,
            a_incident: alerts.iter().map(|w| w.incident_id).collect(),
            a_fingerprint: alerts
                .iter()
                .map(|w| w.alert.fingerprint.to_string())
                .collect(),
            a_starts: alerts.iter().map(|w| w.alert.starts_at).collect(),
            a_ends: alerts.iter().map(|w| w.alert.ends_at).collect(),
            a_status: alerts.iter().map(|w| w.alert.status.as_str()).collect(),
            a_severity: alerts.iter().map(|w| w.severity.as_str()).collect(),
            a_alertname: alerts
                .iter()
                .map(|w| w.alert.alertname().to_string())
                .collect(),
            a_labels: alerts.iter().map(|w| json(&w.alert.labels)).collect(),
            a_annotations: alerts.iter().map(|w| json(&w.alert.annotations)).collect(),
            a_generator: alerts
                .iter()
                .map(|w| w.alert.generator_url.clone())
                .collect(),
            e_incident: events.iter().map(|e| e.incident_id).collect(),
            e_kind: events.iter().map(|e| e.kind.as_str()).collect(),
            e_fingerprint: events
                .iter()
                .map(|e| e.fingerprint.map(|f| f.to_string()))
                .collect(),
            e_severity: events
                .iter()
                .map(|e| e.severity.map(Severity::as_str))
                .collect(),
            e_at: events.iter().map(|e| e.occurred_at).collect(),
        }
    }

    /// Runs the plan's statement (one statement, so atomic on its own): the group's version
    /// check, the incident, the alert occurrences and the timeline events.
    pub async fn execute<'c, E: sqlx::PgExecutor<'c>>(
        &self,
        db: E,
    ) -> Result<WriteOutcome, sqlx::Error> {
        let outcomes = super::plan_batch::write_plans(db, &[self]).await?;
        Ok(outcomes.first().copied().unwrap_or(WriteOutcome::Conflict))
    }
}

/// Commits a plan in one statement (so one transaction); see `PlanRow`.
pub async fn apply_plan<'c, E: sqlx::PgExecutor<'c>>(
    db: E,
    group: &GroupRef<'_>,
    expected_version: i64,
    plan: &Plan<'_>,
    now: DateTime<Utc>,
) -> Result<WriteOutcome, sqlx::Error> {
    PlanRow::new(group, expected_version, plan, now)
        .execute(db)
        .await
}

fn json(labels: &LabelSet) -> String {
    serde_json::to_string(labels).unwrap_or_else(|_| "{}".into())
}
