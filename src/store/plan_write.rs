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
    policy: Option<String>,
    group_labels: String,
    external_url: String,
    expected_version: i64,
    incident: Uuid,
    is_new: bool,
    status: &'static str,
    severity: &'static str,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    reopen_times: Option<Vec<DateTime<Utc>>>,
    starts_flapping: bool,
    chain: &'static str,
    snapshot: Option<serde_json::Value>,
    due_at: Option<DateTime<Utc>>,
    response_secs: Option<f64>,
    a_incident: Vec<Uuid>,
    a_fingerprint: Vec<String>,
    a_starts: Vec<DateTime<Utc>>,
    a_ends: Vec<Option<DateTime<Utc>>>,
    a_status: Vec<&'static str>,
    a_severity: Vec<&'static str>,
    a_alertname: Vec<String>,
    a_labels: Vec<String>,
    a_annotations: Vec<String>,
    a_generator: Vec<String>,
    e_incident: Vec<Uuid>,
    e_kind: Vec<&'static str>,
    e_fingerprint: Vec<Option<String>>,
    e_severity: Vec<Option<&'static str>>,
    e_at: Vec<DateTime<Utc>>,
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

    /// Runs the statement (one statement, so atomic on its own): the group's version check, the
    /// incident, the alert occurrences and the timeline events.
    pub async fn execute<'c, E: sqlx::PgExecutor<'c>>(
        &self,
        db: E,
    ) -> Result<WriteOutcome, sqlx::Error> {
        let (written, _notified): (i64, i64) = super::named::named!(
        sqlx::query_as,
        "with head as (
            insert into incident_groups as g (integration, route, group_key, version,
                current_incident_id)
            values (:integration, :route, :group_key, 1, :incident)
            on conflict (integration, route, group_key) do update
                set version = g.version + 1, current_incident_id = excluded.current_incident_id
                where g.version = :expected_version
            returning g.id
        ), new_incident as (
            -- Insert and update are separate so updates do not burn incident numbers.
            insert into incidents (id, group_id, integration, route, policy, group_key,
                group_labels, status, severity, started_at, opened_at, resolved_at, ended_at,
                updated_at, policy_snapshot, chain_generation, chain_origin, escalation_due_at,
                external_url, response_target, response_due_at)
            select :incident, head.id, :integration, :route, :policy, :group_key, :group_labels::jsonb, :status, :severity, :started_at, :now, :resolved_at, :ended_at, :now,
                :snapshot, case when :chain = 'start' then 1 else 0 end, :now, :due_at, nullif(:external_url, ''),
                make_interval(secs => :response_secs::float8), :now + make_interval(secs => :response_secs::float8)
            from head
            where :is_new
        ), changed_incident as (
            update incidents
                set status = :status, severity = :severity, resolved_at = :resolved_at, ended_at = :ended_at, updated_at = :now,
                    policy_snapshot = case :chain when 'start' then :snapshot
                        when 'resume' then coalesce(:snapshot, policy_snapshot) else policy_snapshot end,
                    reopen_times = coalesce(:reopen_times, reopen_times),
                    flapping_since = case when :starts_flapping then :now else flapping_since end,
                    chain_generation = chain_generation + (case when :chain = 'start' then 1 else 0 end),
                    chain_origin = case when :chain = 'start' then :now else chain_origin end,
                    chain_repeat = case when :chain = 'start' then 0 else chain_repeat end,
                    chain_step = case when :chain = 'start' then 0 else chain_step end,
                    escalation_due_at = case :chain when 'start' then :due_at when 'resume' then :due_at
                        when 'stop' then null else escalation_due_at end,
                    acknowledged_at = case when :chain = 'start' then null else acknowledged_at end,
                    acknowledged_by = case when :chain = 'start' then null else acknowledged_by end,
                    response_target = case when :chain = 'start' then make_interval(secs => :response_secs::float8)
                        else response_target end,
                    response_due_at = case when :chain = 'start' then :now + make_interval(secs => :response_secs::float8)
                        when :chain = 'stop' then null else response_due_at end,
                    escalation_held_since = case when :chain = 'keep' then escalation_held_since
                        else null end
            where id = :incident and not :is_new and exists (select 1 from head)
        ), cancelled as (
            -- Marked, so that a reopen within the window can send them after all.
            update outbox set status = 'cancelled', last_error = 'cancelled: resolved'
            where incident_id = :incident and status = 'pending' and :chain = 'stop'
                and exists (select 1 from head)
                and payload->>'kind' = 'page'
        ), notified as (
            -- Delivered at commit: wakes the timer workers for the new due time.
            select pg_notify(:wake_timers, '') from head where :chain in ('start', 'resume')
        ), occurrences as (
            insert into alerts as a (group_id, incident_id, fingerprint, starts_at, ends_at, status,
                severity, alertname, labels, annotations, generator_url, created_at, updated_at)
            select head.id, u.incident_id, u.fingerprint, u.starts_at, u.ends_at, u.status,
                u.severity, u.alertname, u.labels::jsonb, u.annotations::jsonb, u.generator_url,
                :now, :now
            from head, unnest(:a_incident::uuid[], :a_fingerprint::text[], :a_starts::timestamptz[], :a_ends::timestamptz[],
                :a_status::text[], :a_severity::text[], :a_alertname::text[], :a_labels::text[], :a_annotations::text[], :a_generator::text[])
                as u(incident_id, fingerprint, starts_at, ends_at, status, severity, alertname,
                     labels, annotations, generator_url)
            on conflict (group_id, fingerprint, starts_at) do update
                set status = excluded.status, ends_at = excluded.ends_at,
                    updated_at = excluded.updated_at
        ), timeline as (
            insert into incident_events (incident_id, kind, fingerprint, severity, occurred_at,
                received_at, integration)
            select u.incident_id, u.kind, u.fingerprint, u.severity, u.occurred_at, :now, :integration
            from head, unnest(:e_incident::uuid[], :e_kind::text[], :e_fingerprint::text[], :e_severity::text[],
                :e_at::timestamptz[]) with ordinality as u(incident_id, kind, fingerprint, severity,
                occurred_at, n)
            order by u.n
        )
        select (select count(*) from head), (select count(*) from notified)",
        integration = &self.integration,
        group_key = &self.group_key,
        expected_version = self.expected_version,
        incident = self.incident,
        group_labels = &self.group_labels,
        status = self.status,
        severity = self.severity,
        started_at = self.started_at,
        now = self.now,
        resolved_at = self.resolved_at,
        ended_at = self.ended_at,
        a_incident = &self.a_incident,
        a_fingerprint = &self.a_fingerprint,
        a_starts = &self.a_starts,
        a_ends = &self.a_ends,
        a_status = &self.a_status,
        a_severity = &self.a_severity,
        a_alertname = &self.a_alertname,
        a_labels = &self.a_labels,
        a_annotations = &self.a_annotations,
        a_generator = &self.a_generator,
        e_incident = &self.e_incident,
        e_kind = &self.e_kind,
        e_fingerprint = &self.e_fingerprint,
        e_severity = &self.e_severity,
        e_at = &self.e_at,
        is_new = self.is_new,
        route = &self.route,
        policy = &self.policy,
        chain = self.chain,
        snapshot = &self.snapshot,
        due_at = self.due_at,
        response_secs = self.response_secs,
        wake_timers = crate::store::escalation::ESCALATION_CHANNEL,
        external_url = &self.external_url,
        reopen_times = &self.reopen_times,
        starts_flapping = self.starts_flapping,
    )
    .fetch_one(db)
    .await?;
        Ok(if written == 1 {
            WriteOutcome::Committed
        } else {
            WriteOutcome::Conflict
        })
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
