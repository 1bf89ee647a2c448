//! Claiming due escalations with leases, and committing what a fired step decided.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::alertmanager::LabelSet;
use crate::core::escalation::{Chain, PolicySnapshot};
use crate::core::policy::EscalationPolicy;
use crate::routing::matcher::{MatchOp, all_match};
use crate::routing::suppress::InhibitRule;

/// The channel woken when an earlier due time appears.
pub const ESCALATION_CHANNEL: &str = "alertrouter_escalations";

/// An incident claimed by this worker.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    /// Held by another worker whose lease had run out.
    pub taken_over: bool,
}

/// Leases up to `limit` incidents whose next step is due at `now` and that no live lease holds,
/// or (with `retake`) that `worker` itself holds.
pub async fn claim_due_escalations(
    pool: &PgPool,
    worker: Uuid,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
    retake: bool,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let rows: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(
        "with due as (
            select id, lease_owner from incidents
            -- Besides the free ones, with $5 this worker's own: what Postgres going away kept
            -- it from firing (or a claim whose answer was lost), taken again without waiting
            -- for the lease.
            where escalation_due_at <= $2
              and (lease_until is null or lease_until < $2 or (lease_owner = $1 and $5))
            order by escalation_due_at
            limit $4
            for update skip locked
        )
        update incidents i set lease_owner = $1, lease_until = $3
        from due where i.id = due.id
        returning i.id, due.lease_owner",
    )
    .bind(worker)
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .bind(retake)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, previous)| Claimed {
            id,
            taken_over: previous.is_some_and(|p| p != worker),
        })
        .collect())
}

/// The earliest pending due time (a step, a response target, a report), to sleep until.
pub async fn next_escalation_due(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "select least(
            (select min(escalation_due_at) from incidents where escalation_due_at is not null),
            (select min(response_due_at) from incidents where response_due_at is not null),
            (select min(due_at) from incident_reports where due_at is not null))",
    )
    .fetch_one(pool)
    .await
}

/// Clears up to `limit` response deadlines passed by `now` and writes `response_target_missed`
/// (at the deadline) for those whose incident is still open, unacknowledged and not held by a
/// mute or maintenance window. Returns the severities of the incidents that missed.
pub async fn record_missed_response_targets(
    pool: &PgPool,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "with due as (
            select id, severity, response_due_at, response_target,
                status = 'open' and acknowledged_at is null and escalation_held_since is null
                    as missed
            from incidents where response_due_at <= $1
            order by response_due_at limit $2
            for update skip locked
        ), cleared as (
            update incidents i set response_due_at = null,
                response_target_missed_at = case when due.missed then due.response_due_at
                    else i.response_target_missed_at end
            from due where i.id = due.id
        ), missed as (
            insert into incident_events (incident_id, kind, severity, occurred_at, received_at,
                integration, detail)
            select id, 'response_target_missed', severity, response_due_at, $1, 'escalation',
                jsonb_build_object('target_secs', extract(epoch from response_target)::bigint,
                    'due_at', response_due_at)
            from due where missed
            returning incident_id
        )
        select due.severity from due join missed on missed.incident_id = due.id",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// An incident's chain, locked for this transaction.
pub struct ChainRow {
    /// The stored policy snapshot: `Err` says why it could not be read.
    pub snapshot: Result<Option<PolicySnapshot>, String>,
    pub chain: Chain,
    pub status: String,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub route: String,
    /// Set while the chain is held by a mute, maintenance window or inhibition.
    pub held_since: Option<DateTime<Utc>>,
}

impl ChainRow {
    /// The policy the chain runs, as stored when it started; `Err` says why it is unusable
    /// (no snapshot, or one that does not parse).
    pub fn policy(&self) -> Result<EscalationPolicy, String> {
        match &self.snapshot {
            Ok(Some(s)) => EscalationPolicy::try_from(s),
            Ok(None) => Err("no policy snapshot".into()),
            Err(e) => Err(e.clone()),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    policy_snapshot: Option<serde_json::Value>,
    #[sqlx(flatten)]
    chain: super::chain::ChainColumns,
    status: String,
    acknowledged_at: Option<DateTime<Utc>>,
    route: String,
    escalation_held_since: Option<DateTime<Utc>>,
}

/// Locks those of `ids` whose lease this worker still holds (in id order, so two batches never
/// wait on each other in a cycle) and reads their chains.
pub async fn lock_claimed(
    tx: &mut sqlx::PgConnection,
    ids: &[Uuid],
    worker: Uuid,
) -> Result<Vec<(Uuid, ChainRow)>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "select id, policy_snapshot, chain_generation, chain_origin, chain_repeat, chain_step,
                escalation_due_at, status, acknowledged_at, route, escalation_held_since
         from incidents where id = any($1) and lease_owner = $2 order by id for update",
    )
    .bind(ids)
    .bind(worker)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let row = ChainRow {
                snapshot: r
                    .policy_snapshot
                    .map(serde_json::from_value::<PolicySnapshot>)
                    .transpose()
                    .map_err(|e| e.to_string()),
                chain: r.chain.chain(),
                status: r.status,
                acknowledged_at: r.acknowledged_at,
                route: r.route,
                held_since: r.escalation_held_since,
            };
            (r.id, row)
        })
        .collect())
}

/// Labels of the firing alerts of each of `ids`.
pub async fn firing_alert_labels(
    tx: &mut sqlx::PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<LabelSet>>, sqlx::Error> {
    let rows: Vec<(Uuid, sqlx::types::Json<LabelSet>)> = sqlx::query_as(
        "select incident_id, labels from alerts where incident_id = any($1) and status = 'firing'",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut out: HashMap<Uuid, Vec<LabelSet>> = HashMap::new();
    for (id, labels) in rows {
        out.entry(id).or_default().push(labels.0);
    }
    Ok(out)
}

/// Firing alerts that could inhibit `targets` under `rules`: those carrying the rule's
/// equality matchers and the targets' values of its `equal` labels (regex matchers are checked
/// by the caller).
pub async fn inhibit_sources(
    tx: &mut sqlx::PgConnection,
    rules: &[InhibitRule],
    targets: &[LabelSet],
) -> Result<Vec<LabelSet>, sqlx::Error> {
    let mut out = Vec::new();
    for rule in rules {
        for target in targets.iter().filter(|t| all_match(&rule.target, t)) {
            let mut wanted = serde_json::Map::new();
            for m in rule
                .source
                .iter()
                .filter(|m| m.op == MatchOp::Equal && !m.value.is_empty())
            {
                wanted.insert(m.name.clone(), m.value.clone().into());
            }
            for l in &rule.equal {
                if let Some(v) = target.get(l) {
                    wanted.insert(l.clone(), v.clone().into());
                }
            }
            let rows: Vec<sqlx::types::Json<LabelSet>> = sqlx::query_scalar(
                "select labels from alerts where status = 'firing' and labels @> $1 limit 100",
            )
            .bind(serde_json::Value::Object(wanted))
            .fetch_all(&mut *tx)
            .await?;
            out.extend(rows.into_iter().map(|j| j.0));
        }
    }
    Ok(out)
}

/// Holds a suppressed incident's chain until `until` (when it is checked again) and records why,
/// once, in the timeline.
pub async fn hold(
    tx: &mut sqlx::PgConnection,
    id: Uuid,
    until: DateTime<Utc>,
    reason: &str,
    first: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "with held as (
            update incidents set escalation_due_at = $2,
                escalation_held_since = coalesce(escalation_held_since, $5),
                lease_owner = null, lease_until = null
            where id = $1
        )
        insert into incident_events (incident_id, kind, occurred_at, received_at, integration, detail)
        select $1, 'suppressed', $5, $5, 'escalation', jsonb_build_object('reason', $3::text, 'until', $2)
        where $4",
    )
    .bind(id)
    .bind(until)
    .bind(reason)
    .bind(first)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
