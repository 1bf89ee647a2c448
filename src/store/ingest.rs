//! Loading a group's state and committing what the core decided about a webhook.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::alertmanager::LabelSet;
use crate::core::escalation::{PolicySnapshot, StoredChain};
use crate::core::ingest::{GroupSnapshot, IncidentSnapshot, KnownAlert, Plan};
use crate::core::policy::EscalationPolicy;
use crate::core::{IncidentStatus, Severity};

/// Whether a plan was committed or lost a race with another writer of the same group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Committed,
    /// The group changed since it was loaded: reload, decide again.
    Conflict,
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    version: i64,
    id: Uuid,
    status: String,
    severity: String,
    resolved_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    reopen_times: Vec<DateTime<Utc>>,
    flapping: bool,
    #[sqlx(flatten)]
    chain: super::chain::ChainColumns,
    acknowledged: bool,
    policy_snapshot: Option<serde_json::Value>,
    a_incident: Vec<Uuid>,
    a_fingerprint: Vec<String>,
    a_starts: Vec<DateTime<Utc>>,
    a_firing: Vec<bool>,
    a_severity: Vec<String>,
}

/// Loads the group's latest incident (with its chain), the known occurrences of
/// `fingerprints`, and the alerts still firing in that incident — in one round trip.
pub async fn load_group(
    pool: &PgPool,
    integration: &str,
    route: &str,
    group_key: &str,
    fingerprints: &[String],
) -> Result<GroupSnapshot, sqlx::Error> {
    let row: Option<GroupRow> = sqlx::query_as(
        "select g.version, i.id, i.status, i.severity, i.resolved_at, i.ended_at, i.reopen_times,
            i.flapping_since is not null as flapping, i.chain_generation, i.chain_origin,
            i.chain_repeat, i.chain_step, i.acknowledged_at is not null as acknowledged,
            -- Only a resolved incident can resume its chain: skip the snapshot otherwise.
            case when i.status = 'resolved' then i.policy_snapshot end as policy_snapshot,
            coalesce(array_agg(a.incident_id) filter (where a.group_id is not null), '{}')
                as a_incident,
            coalesce(array_agg(a.fingerprint) filter (where a.group_id is not null), '{}')
                as a_fingerprint,
            coalesce(array_agg(a.starts_at) filter (where a.group_id is not null), '{}')
                as a_starts,
            coalesce(array_agg(a.status = 'firing') filter (where a.group_id is not null), '{}')
                as a_firing,
            coalesce(array_agg(a.severity) filter (where a.group_id is not null), '{}')
                as a_severity
         from incident_groups g
         join incidents i on i.id = g.current_incident_id
         left join alerts a on a.group_id = g.id
             and (a.fingerprint = any($3)
                  or (a.incident_id = g.current_incident_id and a.status = 'firing'))
         where g.integration = $1 and g.route = $4 and g.group_key = $2
         group by g.version, i.id",
    )
    .bind(integration)
    .bind(group_key)
    .bind(fingerprints)
    .bind(route)
    .fetch_optional(pool)
    .await?;

    let Some(r) = row else {
        return Ok(GroupSnapshot::default());
    };
    let corrupt = |what: &str| sqlx::Error::Protocol(format!("unexpected {what} in database"));
    let alerts = (0..r.a_fingerprint.len())
        .map(|i| {
            Ok(KnownAlert {
                incident_id: r.a_incident[i],
                fingerprint: r.a_fingerprint[i]
                    .parse()
                    .map_err(|_| corrupt("fingerprint"))?,
                starts_at: r.a_starts[i],
                firing: r.a_firing[i],
                severity: r.a_severity[i].parse().map_err(|_| corrupt("severity"))?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let chain = StoredChain {
        chain: r.chain.chain(),
        acknowledged: r.acknowledged,
        policy: r
            .policy_snapshot
            .and_then(|v| serde_json::from_value::<PolicySnapshot>(v).ok())
            .and_then(|p| EscalationPolicy::try_from(&p).ok()),
    };
    Ok(GroupSnapshot {
        version: r.version,
        incident: Some(IncidentSnapshot {
            id: r.id,
            status: IncidentStatus::from_db(&r.status).ok_or_else(|| corrupt("status"))?,
            severity: r
                .severity
                .parse::<Severity>()
                .map_err(|_| corrupt("severity"))?,
            resolved_at: r.resolved_at,
            ended_at: r.ended_at,
            reopens: r.reopen_times,
            flapping: r.flapping,
            chain: Some(chain),
        }),
        alerts,
    })
}

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

/// Commits a plan in one statement (so one transaction): the group's version check, the incident,
/// the alert occurrences and the timeline events. Nothing is written unless the group is still at
/// `expected_version` (0: not yet created).
pub async fn apply_plan<'c, E: sqlx::PgExecutor<'c>>(
    db: E,
    group: &GroupRef<'_>,
    expected_version: i64,
    plan: &Plan<'_>,
    now: DateTime<Utc>,
) -> Result<WriteOutcome, sqlx::Error> {
    let inc = &plan.incident;
    let n = plan.alerts.len();
    let mut a_incident = Vec::with_capacity(n);
    let mut a_fingerprint = Vec::with_capacity(n);
    let mut a_starts = Vec::with_capacity(n);
    let mut a_ends = Vec::with_capacity(n);
    let mut a_status = Vec::with_capacity(n);
    let mut a_severity = Vec::with_capacity(n);
    let mut a_alertname = Vec::with_capacity(n);
    let mut a_labels = Vec::with_capacity(n);
    let mut a_annotations = Vec::with_capacity(n);
    let mut a_generator = Vec::with_capacity(n);
    for w in &plan.alerts {
        a_incident.push(w.incident_id);
        a_fingerprint.push(w.alert.fingerprint.to_string());
        a_starts.push(w.alert.starts_at);
        a_ends.push(w.alert.ends_at);
        a_status.push(w.alert.status.as_str());
        a_severity.push(w.severity.as_str());
        a_alertname.push(w.alert.alertname());
        a_labels.push(json(&w.alert.labels));
        a_annotations.push(json(&w.alert.annotations));
        a_generator.push(w.alert.generator_url.as_str());
    }
    let m = plan.events.len();
    let mut e_incident = Vec::with_capacity(m);
    let mut e_kind = Vec::with_capacity(m);
    let mut e_fingerprint = Vec::with_capacity(m);
    let mut e_severity = Vec::with_capacity(m);
    let mut e_at = Vec::with_capacity(m);
    for e in &plan.events {
        e_incident.push(e.incident_id);
        e_kind.push(e.kind.as_str());
        e_fingerprint.push(e.fingerprint.map(|f| f.to_string()));
        e_severity.push(e.severity.map(Severity::as_str));
        e_at.push(e.occurred_at);
    }

    let (snapshot, due_at) = match &group.escalation {
        EscalationWrite::Start {
            due_at, snapshot, ..
        } => (Some(snapshot), *due_at),
        EscalationWrite::Resume { due_at, snapshot } => (snapshot.as_ref(), *due_at),
        _ => (None, None),
    };
    let response_secs = match &group.escalation {
        EscalationWrite::Start {
            response_target: Some(t),
            ..
        } => Some(t.as_secs_f64()),
        _ => None,
    };
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
        integration = group.integration,
        group_key = group.group_key,
        expected_version = expected_version,
        incident = inc.id,
        group_labels = json(group.group_labels),
        status = inc.status.as_str(),
        severity = inc.severity.as_str(),
        started_at = inc.started_at,
        now = now,
        resolved_at = inc.resolved_at,
        ended_at = inc.ended_at,
        a_incident = &a_incident,
        a_fingerprint = &a_fingerprint,
        a_starts = &a_starts,
        a_ends = &a_ends,
        a_status = &a_status,
        a_severity = &a_severity,
        a_alertname = &a_alertname,
        a_labels = &a_labels,
        a_annotations = &a_annotations,
        a_generator = &a_generator,
        e_incident = &e_incident,
        e_kind = &e_kind,
        e_fingerprint = &e_fingerprint,
        e_severity = &e_severity,
        e_at = &e_at,
        is_new = inc.is_new,
        route = group.route,
        policy = group.policy,
        chain = group.escalation.action(),
        snapshot = snapshot,
        due_at = due_at,
        response_secs = response_secs,
        wake_timers = crate::store::escalation::ESCALATION_CHANNEL,
        external_url = group.external_url,
        reopen_times = inc.reopen.as_ref().map(|r| r.times.clone()),
        starts_flapping = inc.reopen.as_ref().is_some_and(|r| r.starts_flapping),
    )
    .fetch_one(db)
    .await?;
    Ok(if written == 1 {
        WriteOutcome::Committed
    } else {
        WriteOutcome::Conflict
    })
}

fn json(labels: &LabelSet) -> String {
    serde_json::to_string(labels).unwrap_or_else(|_| "{}".into())
}

/// When `incident` opened (for its time to resolve); `None` if there is no such incident.
pub async fn opened_at(
    tx: &mut sqlx::PgConnection,
    incident: Uuid,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("select opened_at from incidents where id = $1")
        .bind(incident)
        .fetch_optional(&mut *tx)
        .await
}
