//! What the API reads: incidents (filtered, a page at a time), one incident whole, the audit log
//! and dead letters.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::core::IncidentRef;

/// Filters of the incident list; `None` matches anything.
#[derive(Debug, Default, Clone)]
pub struct IncidentFilter {
    pub status: Option<String>,
    pub severity: Option<String>,
    pub service: Option<String>,
    pub team: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only these services (a developer's).
    pub services: Option<Vec<String>>,
    /// Incidents numbered below this (the cursor).
    pub before: Option<i64>,
    pub limit: i64,
}

/// The incident's service and team: its group labels', else its first alert's.
const SUMMARY: &str = "
    select i.id, i.number, i.status, i.severity, i.route, i.group_labels, i.opened_at,
        i.acknowledged_at, i.acknowledged_by, i.snoozed_until, i.resolved_at, i.resolved_by,
        i.flapping_since,
        coalesce(i.group_labels->>'service', first.labels->>'service') as service,
        coalesce(i.group_labels->>'team', first.labels->>'team') as team,
        coalesce(first.title, 'alert') as title
    from incidents i
    left join lateral (
        select a.labels, coalesce(a.annotations->>'summary', a.alertname) as title
        from alerts a where a.group_id = i.group_id and a.incident_id = i.id
        order by a.starts_at limit 1
    ) first on true";

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: Uuid,
    number: i64,
    status: String,
    severity: String,
    route: String,
    group_labels: Value,
    opened_at: DateTime<Utc>,
    acknowledged_at: Option<DateTime<Utc>>,
    acknowledged_by: Option<String>,
    snoozed_until: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    resolved_by: Option<String>,
    flapping_since: Option<DateTime<Utc>>,
    service: Option<String>,
    team: Option<String>,
    title: String,
}

impl SummaryRow {
    fn json(&self) -> Value {
        json!({
            "id": self.id, "number": self.number, "key": format!("INC-{}", self.number),
            "title": self.title, "status": self.status, "severity": self.severity,
            "service": self.service, "team": self.team, "route": self.route,
            "group_labels": self.group_labels, "opened_at": self.opened_at,
            "acknowledged_at": self.acknowledged_at, "acknowledged_by": self.acknowledged_by,
            "snoozed_until": self.snoozed_until, "resolved_at": self.resolved_at,
            "resolved_by": self.resolved_by,
            "flapping": self.flapping_since.is_some(), "flapping_since": self.flapping_since,
        })
    }
}

/// A page of incidents, newest first, and the cursor of the next page.
pub async fn list_incidents(
    pool: &PgPool,
    f: &IncidentFilter,
) -> Result<(Vec<Value>, Option<i64>), sqlx::Error> {
    let sql = format!(
        "select * from ({SUMMARY}) s
         where ($1::text is null or status = $1) and ($2::text is null or severity = $2)
           and ($3::text is null or service = $3) and ($4::text is null or team = $4)
           and ($5::timestamptz is null or opened_at >= $5)
           and ($6::timestamptz is null or opened_at < $6)
           and ($7::text[] is null or service = any($7))
           and ($8::bigint is null or number < $8)
         order by number desc limit $9"
    );
    let rows: Vec<SummaryRow> = sqlx::query_as(&sql)
        .bind(&f.status)
        .bind(&f.severity)
        .bind(&f.service)
        .bind(&f.team)
        .bind(f.since)
        .bind(f.until)
        .bind(&f.services)
        .bind(f.before)
        .bind(f.limit + 1)
        .fetch_all(pool)
        .await?;
    let more = rows.len() as i64 > f.limit;
    let page: Vec<&SummaryRow> = rows.iter().take(f.limit as usize).collect();
    let next = more.then(|| page.last().map(|r| r.number)).flatten();
    Ok((page.iter().map(|r| r.json()).collect(), next))
}

/// One incident with its alerts, timeline and every notification; `None` if there is none.
/// The summary's `service` comes back separately so the caller can check ownership.
pub async fn incident_detail(
    pool: &PgPool,
    incident: IncidentRef,
) -> Result<Option<(Value, Option<String>)>, sqlx::Error> {
    let (id, number) = match incident {
        IncidentRef::Id(id) => (Some(id), None),
        IncidentRef::Number(n) => (None, Some(n)),
    };
    let sql = format!("select * from ({SUMMARY} where i.id = $1 or i.number = $2) s");
    let Some(row): Option<SummaryRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(number)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    // The lists are built as JSON by Postgres.
    let lists: (Value, Value, Value) = sqlx::query_as(
        "select
            (select coalesce(jsonb_agg(jsonb_build_object('fingerprint', a.fingerprint,
                    'alertname', a.alertname, 'status', a.status, 'labels', a.labels,
                    'annotations', a.annotations, 'starts_at', a.starts_at, 'ends_at', a.ends_at,
                    'generator_url', a.generator_url) order by a.starts_at), '[]')
             from alerts a join incidents i on i.group_id = a.group_id
             where i.id = $1 and a.incident_id = $1),
            (select coalesce(jsonb_agg(jsonb_build_object('id', e.id, 'kind', e.kind,
                    'at', e.occurred_at, 'fingerprint', e.fingerprint, 'detail', e.detail)
                    order by e.id), '[]')
             from incident_events e where e.incident_id = $1),
            (select coalesce(jsonb_agg(jsonb_build_object('id', o.id, 'channel', o.channel,
                    'recipient', o.recipient, 'status', o.status, 'kind', o.payload->>'kind',
                    'attempts', o.attempts, 'due_at', o.due_at, 'sent_at', o.sent_at,
                    'provider_ref', o.provider_ref, 'provider_status', o.provider_status,
                    'last_error', o.last_error) order by o.id), '[]')
             from outbox o where o.incident_id = $1)",
    )
    .bind(row.id)
    .fetch_one(pool)
    .await?;
    let mut out = row.json();
    out["alerts"] = lists.0;
    out["timeline"] = lists.1;
    out["notifications"] = lists.2;
    Ok(Some((out, row.service)))
}

/// A page of the audit log, newest first.
pub async fn audit_page(
    pool: &PgPool,
    before: Option<i64>,
    limit: i64,
) -> Result<(Vec<Value>, Option<i64>), sqlx::Error> {
    let rows: Vec<(i64, Value)> = sqlx::query_as(
        "select id, jsonb_build_object('id', id, 'at', at, 'actor', actor, 'source', source,
                'action', action, 'incident_id', incident_id, 'before', before, 'after', after,
                'client_addr', client_addr, 'result', result, 'reason', reason, 'detail', detail)
         from audit_log where ($1::bigint is null or id < $1) order by id desc limit $2",
    )
    .bind(before)
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > limit;
    let page: Vec<(i64, Value)> = rows.into_iter().take(limit as usize).collect();
    let next = if more { page.last().map(|r| r.0) } else { None };
    Ok((page.into_iter().map(|r| r.1).collect(), next))
}

/// Dead letters, newest first.
pub async fn dead_letters(pool: &PgPool, limit: i64) -> Result<Vec<Value>, sqlx::Error> {
    sqlx::query_scalar(
        "select jsonb_build_object('id', id, 'incident_id', incident_id, 'channel', channel,
                'recipient', recipient, 'attempts', attempts, 'last_error', last_error,
                'created_at', created_at)
         from outbox where status = 'dead' order by id desc limit $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Sends a dead letter again from now; false if it is not dead.
pub async fn retry_dead_letter(
    db: &mut sqlx::PgConnection,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "with retried as (
            update outbox set status = 'pending', attempts = 0, due_at = $2, created_at = $2,
                lease_owner = null, lease_until = null
            where id = $1 and status = 'dead' returning 1
        )
        select pg_notify($3, '') from retried",
    )
    .bind(id)
    .bind(now)
    .bind(super::outbox::OUTBOX_CHANNEL)
    .fetch_all(db)
    .await?;
    Ok(!done.is_empty())
}

/// Counts for viewers: open incidents by severity, and mean times to acknowledge and resolve
/// over the last 30 days.
pub async fn stats(pool: &PgPool, now: DateTime<Utc>) -> Result<Value, sqlx::Error> {
    let open: Vec<(String, i64)> = sqlx::query_as(
        "select severity, count(*) from incidents where status = 'open' group by severity",
    )
    .fetch_all(pool)
    .await?;
    let (mtta, mttr): (Option<f64>, Option<f64>) = sqlx::query_as(
        "select avg(extract(epoch from acknowledged_at - opened_at))::float8,
                avg(extract(epoch from resolved_at - opened_at))::float8
         from incidents where opened_at >= $1 - interval '30 days'",
    )
    .bind(now)
    .fetch_one(pool)
    .await?;
    Ok(json!({
        "open": open.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
        "mtta_seconds_30d": mtta, "mttr_seconds_30d": mttr,
    }))
}
