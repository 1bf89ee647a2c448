//! What the API reads: incidents (filtered, a page at a time), one incident whole, the audit log
//! and dead letters.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::actions::IncidentRef;

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
    let alerts: Vec<(String, String, String, Value, Value, DateTime<Utc>, Option<DateTime<Utc>>, String)> =
        sqlx::query_as(
            "select a.fingerprint, a.alertname, a.status, a.labels, a.annotations, a.starts_at,
                a.ends_at, a.generator_url
             from alerts a join incidents i on i.group_id = a.group_id
             where i.id = $1 and a.incident_id = $1 order by a.starts_at",
        )
        .bind(row.id)
        .fetch_all(pool)
        .await?;
    let timeline: Vec<(i64, String, DateTime<Utc>, Option<String>, Option<Value>)> = sqlx::query_as(
        "select id, kind, occurred_at, fingerprint, detail from incident_events
         where incident_id = $1 order by id",
    )
    .bind(row.id)
    .fetch_all(pool)
    .await?;
    let notifications: Vec<(i64, String, String, String, Option<String>, i32, DateTime<Utc>, Option<DateTime<Utc>>, Option<String>, Option<String>, Option<String>)> =
        sqlx::query_as(
            "select id, channel, recipient, status, payload->>'kind', attempts, due_at, sent_at,
                provider_ref, provider_status, last_error
             from outbox where incident_id = $1 order by id",
        )
        .bind(row.id)
        .fetch_all(pool)
        .await?;
    let mut out = row.json();
    out["alerts"] = alerts
        .into_iter()
        .map(|a| json!({"fingerprint": a.0, "alertname": a.1, "status": a.2, "labels": a.3,
                        "annotations": a.4, "starts_at": a.5, "ends_at": a.6, "generator_url": a.7}))
        .collect();
    out["timeline"] = timeline
        .into_iter()
        .map(|e| json!({"id": e.0, "kind": e.1, "at": e.2, "fingerprint": e.3, "detail": e.4}))
        .collect();
    out["notifications"] = notifications
        .into_iter()
        .map(|n| json!({"id": n.0, "channel": n.1, "recipient": n.2, "status": n.3, "kind": n.4,
                        "attempts": n.5, "due_at": n.6, "sent_at": n.7, "provider_ref": n.8,
                        "provider_status": n.9, "last_error": n.10}))
        .collect();
    Ok(Some((out, row.service)))
}

/// A page of the audit log, newest first.
pub async fn audit_page(
    pool: &PgPool,
    before: Option<i64>,
    limit: i64,
) -> Result<(Vec<Value>, Option<i64>), sqlx::Error> {
    let rows: Vec<(i64, DateTime<Utc>, String, String, String, Option<Uuid>, Option<Value>, Option<Value>, Option<String>, String, Option<String>, Option<Value>)> =
        sqlx::query_as(
            "select id, at, actor, source, action, incident_id, before, after, client_addr, result,
                reason, detail
             from audit_log where ($1::bigint is null or id < $1) order by id desc limit $2",
        )
        .bind(before)
        .bind(limit + 1)
        .fetch_all(pool)
        .await?;
    let more = rows.len() as i64 > limit;
    let page: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next = if more { page.last().map(|r| r.0) } else { None };
    Ok((
        page.into_iter()
            .map(|r| json!({"id": r.0, "at": r.1, "actor": r.2, "source": r.3, "action": r.4,
                            "incident_id": r.5, "before": r.6, "after": r.7, "client_addr": r.8,
                            "result": r.9, "reason": r.10, "detail": r.11}))
            .collect(),
        next,
    ))
}

/// Dead letters, newest first.
pub async fn dead_letters(pool: &PgPool, limit: i64) -> Result<Vec<Value>, sqlx::Error> {
    let rows: Vec<(i64, Uuid, String, String, i32, Option<String>, DateTime<Utc>)> = sqlx::query_as(
        "select id, incident_id, channel, recipient, attempts, last_error, created_at
         from outbox where status = 'dead' order by id desc limit $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| json!({"id": r.0, "incident_id": r.1, "channel": r.2, "recipient": r.3,
                        "attempts": r.4, "last_error": r.5, "created_at": r.6}))
        .collect())
}

/// Sends a dead letter again from now; false if it is not dead.
pub async fn retry_dead_letter(
    pool: &PgPool,
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
    .fetch_all(pool)
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
