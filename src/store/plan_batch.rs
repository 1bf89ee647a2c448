//! Committing several webhooks' plans in one statement. Postgres' cost of a write like ingest's
//! is mostly per statement, not per row (starting the executor for eight sub-statements,
//! reading the tables' check constraints, the round trip), so plans written together cost little
//! more than one.

use std::collections::HashSet;

use super::WriteOutcome;
use super::plan_write::PlanRow;

/// Every plan's values, one array per column; alerts and events carry their plan's index.
#[derive(Default)]
struct Columns<'a> {
    n: Vec<i32>,
    integration: Vec<&'a str>,
    route: Vec<&'a str>,
    group_key: Vec<&'a str>,
    next_version: Vec<i64>,
    incident: Vec<uuid::Uuid>,
    is_new: Vec<bool>,
    status: Vec<&'a str>,
    severity: Vec<&'a str>,
    started_at: Vec<chrono::DateTime<chrono::Utc>>,
    now: Vec<chrono::DateTime<chrono::Utc>>,
    resolved_at: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    ended_at: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    group_labels: Vec<&'a str>,
    external_url: Vec<&'a str>,
    policy: Vec<Option<&'a str>>,
    chain: Vec<&'a str>,
    snapshot: Vec<Option<String>>,
    due_at: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    response_secs: Vec<Option<f64>>,
    reopen_times: Vec<Option<String>>,
    starts_flapping: Vec<bool>,
    a_plan: Vec<i32>,
    a_incident: Vec<uuid::Uuid>,
    a_fingerprint: Vec<&'a str>,
    a_starts: Vec<chrono::DateTime<chrono::Utc>>,
    a_ends: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    a_status: Vec<&'a str>,
    a_severity: Vec<&'a str>,
    a_alertname: Vec<&'a str>,
    a_labels: Vec<&'a str>,
    a_annotations: Vec<&'a str>,
    a_generator: Vec<&'a str>,
    e_plan: Vec<i32>,
    e_incident: Vec<uuid::Uuid>,
    e_kind: Vec<&'a str>,
    e_fingerprint: Vec<Option<&'a str>>,
    e_severity: Vec<Option<&'a str>>,
    e_at: Vec<chrono::DateTime<chrono::Utc>>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, n: i32, p: &'a PlanRow) {
        self.n.push(n);
        self.integration.push(&p.integration);
        self.route.push(&p.route);
        self.group_key.push(&p.group_key);
        // Inserted as the new version, so that the conflict clause can check the expected one.
        self.next_version.push(p.expected_version + 1);
        self.incident.push(p.incident);
        self.is_new.push(p.is_new);
        self.status.push(p.status);
        self.severity.push(p.severity);
        self.started_at.push(p.started_at);
        self.now.push(p.now);
        self.resolved_at.push(p.resolved_at);
        self.ended_at.push(p.ended_at);
        self.group_labels.push(&p.group_labels);
        self.external_url.push(&p.external_url);
        self.policy.push(p.policy.as_deref());
        self.chain.push(p.chain);
        self.snapshot
            .push(p.snapshot.as_ref().map(|s| s.to_string()));
        self.due_at.push(p.due_at);
        self.response_secs.push(p.response_secs);
        // A Postgres array literal: arrays of arrays must be rectangular, these are not.
        self.reopen_times.push(p.reopen_times.as_ref().map(|times| {
            let quoted: Vec<String> = times
                .iter()
                .map(|t| format!("\"{}\"", t.to_rfc3339()))
                .collect();
            format!("{{{}}}", quoted.join(","))
        }));
        self.starts_flapping.push(p.starts_flapping);
        self.a_plan
            .extend(std::iter::repeat_n(n, p.a_incident.len()));
        self.a_incident.extend(&p.a_incident);
        self.a_fingerprint
            .extend(p.a_fingerprint.iter().map(String::as_str));
        self.a_starts.extend(&p.a_starts);
        self.a_ends.extend(&p.a_ends);
        self.a_status.extend(&p.a_status);
        self.a_severity.extend(&p.a_severity);
        self.a_alertname
            .extend(p.a_alertname.iter().map(String::as_str));
        self.a_labels.extend(p.a_labels.iter().map(String::as_str));
        self.a_annotations
            .extend(p.a_annotations.iter().map(String::as_str));
        self.a_generator
            .extend(p.a_generator.iter().map(String::as_str));
        self.e_plan
            .extend(std::iter::repeat_n(n, p.e_incident.len()));
        self.e_incident.extend(&p.e_incident);
        self.e_kind.extend(&p.e_kind);
        self.e_fingerprint
            .extend(p.e_fingerprint.iter().map(Option::as_deref));
        self.e_severity.extend(&p.e_severity);
        self.e_at.extend(&p.e_at);
    }
}

/// Writes every plan of `rows` whose group is still at the version it was decided on, in one
/// statement (so atomically, and in one transaction unless `db` is one); the others write nothing
/// and come back `Conflict`. Two rows of one group: the first is tried, the second conflicts.
pub async fn write_plans<'c, E: sqlx::PgExecutor<'c>>(
    db: E,
    rows: &[&PlanRow],
) -> Result<Vec<WriteOutcome>, sqlx::Error> {
    let mut c = Columns::default();
    let mut groups = HashSet::new();
    for (i, row) in rows.iter().enumerate() {
        if groups.insert((&row.integration, &row.route, &row.group_key)) {
            c.push(i as i32, row);
        }
    }
    let written: Vec<i32> = super::named::named!(
        sqlx::query_scalar,
        "with p as (
            select * from unnest(:n::int[], :integration::text[], :route::text[], :group_key::text[],
                :next_version::bigint[], :incident::uuid[], :is_new::bool[], :status::text[],
                :severity::text[], :started_at::timestamptz[], :now::timestamptz[], :resolved_at::timestamptz[],
                :ended_at::timestamptz[], :group_labels::text[], :external_url::text[], :policy::text[],
                :chain::text[], :snapshot::text[], :due_at::timestamptz[], :response_secs::float8[],
                :reopen_times::text[], :starts_flapping::bool[])
            as p(n, integration, route, group_key, next_version, incident, is_new, status, severity,
                started_at, now, resolved_at, ended_at, group_labels, external_url, policy, chain,
                snapshot, due_at, response_secs, reopen_times, starts_flapping)
        ), head as (
            insert into incident_groups as g (integration, route, group_key, version,
                current_incident_id)
            select integration, route, group_key, next_version, incident from p order by n
            on conflict (integration, route, group_key) do update
                set version = excluded.version, current_incident_id = excluded.current_incident_id
                where g.version = excluded.version - 1
            returning g.id, g.integration, g.route, g.group_key
        ), w as (
            -- The plans written: their group was where they were decided.
            select p.*, head.id as group_id,
                make_interval(secs => p.response_secs) as response_target
            from p join head using (integration, route, group_key)
        ), new_incident as (
            -- Insert and update are separate so updates do not burn incident numbers.
            insert into incidents (id, group_id, integration, route, policy, group_key,
                group_labels, status, severity, started_at, opened_at, resolved_at, ended_at,
                updated_at, policy_snapshot, chain_generation, chain_origin, escalation_due_at,
                external_url, response_target, response_due_at)
            select incident, group_id, integration, route, policy, group_key, group_labels::jsonb,
                status, severity, started_at, now, resolved_at, ended_at, now, snapshot::jsonb,
                case when chain = 'start' then 1 else 0 end, now, due_at, nullif(external_url, ''),
                response_target, now + response_target
            from w where is_new
            order by n
        ), changed_incident as (
            update incidents i
                set status = w.status, severity = w.severity, resolved_at = w.resolved_at,
                    ended_at = w.ended_at, updated_at = w.now,
                    policy_snapshot = case w.chain when 'start' then w.snapshot::jsonb
                        when 'resume' then coalesce(w.snapshot::jsonb, i.policy_snapshot)
                        else i.policy_snapshot end,
                    reopen_times = coalesce(w.reopen_times::timestamptz[], i.reopen_times),
                    flapping_since = case when w.starts_flapping then w.now else i.flapping_since end,
                    chain_generation = i.chain_generation + (case when w.chain = 'start' then 1 else 0 end),
                    chain_origin = case when w.chain = 'start' then w.now else i.chain_origin end,
                    chain_repeat = case when w.chain = 'start' then 0 else i.chain_repeat end,
                    chain_step = case when w.chain = 'start' then 0 else i.chain_step end,
                    escalation_due_at = case w.chain when 'start' then w.due_at when 'resume' then w.due_at
                        when 'stop' then null else i.escalation_due_at end,
                    acknowledged_at = case when w.chain = 'start' then null else i.acknowledged_at end,
                    acknowledged_by = case when w.chain = 'start' then null else i.acknowledged_by end,
                    response_target = case when w.chain = 'start' then w.response_target
                        else i.response_target end,
                    response_due_at = case when w.chain = 'start' then w.now + w.response_target
                        when w.chain = 'stop' then null else i.response_due_at end,
                    escalation_held_since = case when w.chain = 'keep' then i.escalation_held_since
                        else null end
            from w where i.id = w.incident and not w.is_new
        ), cancelled as (
            -- Marked, so that a reopen within the window can send them after all.
            update outbox o set status = 'cancelled', last_error = 'cancelled: resolved'
            from w
            where o.incident_id = w.incident and o.status = 'pending' and w.chain = 'stop'
                and o.payload->>'kind' = 'page'
        ), notified as (
            -- Delivered at commit: wakes the timer workers for the new due time.
            select pg_notify(:wake_timers, '')
            where exists (select 1 from w where chain in ('start', 'resume'))
        ), occurrences as (
            insert into alerts as a (group_id, incident_id, fingerprint, starts_at, ends_at, status,
                severity, alertname, labels, annotations, generator_url, created_at, updated_at)
            select w.group_id, u.incident_id, u.fingerprint, u.starts_at, u.ends_at, u.status,
                u.severity, u.alertname, u.labels::jsonb, u.annotations::jsonb, u.generator_url,
                w.now, w.now
            from unnest(:a_plan::int[], :a_incident::uuid[], :a_fingerprint::text[],
                :a_starts::timestamptz[], :a_ends::timestamptz[], :a_status::text[], :a_severity::text[],
                :a_alertname::text[], :a_labels::text[], :a_annotations::text[], :a_generator::text[])
                as u(plan, incident_id, fingerprint, starts_at, ends_at, status, severity, alertname,
                     labels, annotations, generator_url)
            join w on w.n = u.plan
            on conflict (group_id, fingerprint, starts_at) do update
                set status = excluded.status, ends_at = excluded.ends_at,
                    updated_at = excluded.updated_at
        ), timeline as (
            insert into incident_events (incident_id, kind, fingerprint, severity, occurred_at,
                received_at, integration)
            select u.incident_id, u.kind, u.fingerprint, u.severity, u.occurred_at, w.now, w.integration
            from unnest(:e_plan::int[], :e_incident::uuid[], :e_kind::text[], :e_fingerprint::text[],
                :e_severity::text[], :e_at::timestamptz[]) with ordinality
                as u(plan, incident_id, kind, fingerprint, severity, occurred_at, k)
            join w on w.n = u.plan
            order by u.k
        )
        select n from w, (select count(*) from notified) as wake",
        n = &c.n,
        integration = &c.integration,
        route = &c.route,
        group_key = &c.group_key,
        next_version = &c.next_version,
        incident = &c.incident,
        is_new = &c.is_new,
        status = &c.status,
        severity = &c.severity,
        started_at = &c.started_at,
        now = &c.now,
        resolved_at = &c.resolved_at,
        ended_at = &c.ended_at,
        group_labels = &c.group_labels,
        external_url = &c.external_url,
        policy = &c.policy,
        chain = &c.chain,
        snapshot = &c.snapshot,
        due_at = &c.due_at,
        response_secs = &c.response_secs,
        reopen_times = &c.reopen_times,
        starts_flapping = &c.starts_flapping,
        wake_timers = crate::store::escalation::ESCALATION_CHANNEL,
        a_plan = &c.a_plan,
        a_incident = &c.a_incident,
        a_fingerprint = &c.a_fingerprint,
        a_starts = &c.a_starts,
        a_ends = &c.a_ends,
        a_status = &c.a_status,
        a_severity = &c.a_severity,
        a_alertname = &c.a_alertname,
        a_labels = &c.a_labels,
        a_annotations = &c.a_annotations,
        a_generator = &c.a_generator,
        e_plan = &c.e_plan,
        e_incident = &c.e_incident,
        e_kind = &c.e_kind,
        e_fingerprint = &c.e_fingerprint,
        e_severity = &c.e_severity,
        e_at = &c.e_at,
    )
    .fetch_all(db)
    .await?;
    let written: HashSet<i32> = written.into_iter().collect();
    Ok((0..rows.len() as i32)
        .map(|i| {
            if written.contains(&i) {
                WriteOutcome::Committed
            } else {
                WriteOutcome::Conflict
            }
        })
        .collect())
}
