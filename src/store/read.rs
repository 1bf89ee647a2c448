//! What the API reads: incidents (filtered, a page at a time), one incident whole, the audit log
//! and dead letters.

use chrono::{DateTime, Utc};
use serde_json::Value;
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

/// An incident as the lists show it.
#[derive(Debug, sqlx::FromRow)]
pub struct IncidentRow {
    pub id: Uuid,
    pub number: i64,
    pub status: String,
    pub severity: String,
    pub route: String,
    pub group_labels: Value,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub snoozed_until: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub flapping_since: Option<DateTime<Utc>>,
    pub service: Option<String>,
    pub team: Option<String>,
    pub title: String,
}

/// One alert occurrence of an incident.
#[derive(Debug, sqlx::FromRow)]
pub struct AlertRow {
    pub fingerprint: String,
    pub alertname: String,
    pub status: String,
    pub labels: Value,
    pub annotations: Value,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub generator_url: String,
}

/// One entry of an incident's timeline.
#[derive(Debug, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub kind: String,
    pub at: DateTime<Utc>,
    pub fingerprint: Option<String>,
    /// The incident's severity after a `severity_changed` (and an alert's, on alert events).
    pub severity: Option<String>,
    pub detail: Option<Value>,
}

/// One notification of an incident and how its delivery went.
#[derive(Debug, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: i64,
    pub channel: String,
    pub recipient: String,
    pub status: String,
    pub kind: Option<String>,
    pub attempts: i32,
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub provider_ref: Option<String>,
    pub provider_status: Option<String>,
    pub last_error: Option<String>,
}

/// An incident whole.
#[derive(Debug)]
pub struct IncidentDetail {
    pub incident: IncidentRow,
    pub alerts: Vec<AlertRow>,
    pub timeline: Vec<EventRow>,
    pub notifications: Vec<NotificationRow>,
}

/// One row of the audit log.
#[derive(Debug, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub source: String,
    pub action: String,
    pub incident_id: Option<Uuid>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub client_addr: Option<String>,
    pub result: String,
    pub reason: Option<String>,
    pub detail: Option<Value>,
}

/// A notification that could not be delivered.
#[derive(Debug, sqlx::FromRow)]
pub struct DeadLetterRow {
    pub id: i64,
    pub incident_id: Uuid,
    pub channel: String,
    pub recipient: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Counts for viewers.
#[derive(Debug)]
pub struct Stats {
    /// Open incidents by severity.
    pub open: Vec<(String, i64)>,
    /// Mean seconds to acknowledge and to resolve, over the last 30 days.
    pub mtta_30d: Option<f64>,
    pub mttr_30d: Option<f64>,
}

/// A page of incidents, newest first, and the cursor of the next page.
pub async fn list_incidents(
    pool: &PgPool,
    f: &IncidentFilter,
) -> Result<(Vec<IncidentRow>, Option<i64>), sqlx::Error> {
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
    let mut rows: Vec<IncidentRow> = sqlx::query_as(&sql)
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
    rows.truncate(f.limit as usize);
    let next = more.then(|| rows.last().map(|r| r.number)).flatten();
    Ok((rows, next))
}

/// One incident with its alerts, timeline and every notification; `None` if there is none.
pub async fn incident_detail(
    pool: &PgPool,
    incident: IncidentRef,
) -> Result<Option<IncidentDetail>, sqlx::Error> {
    let (id, number, report) = incident.columns();
    let sql = format!(
        "select * from ({SUMMARY} where i.id = $1 or i.number = $2
            or i.id = (select incident_id from incident_reports where report_id = $3)) s"
    );
    let Some(incident): Option<IncidentRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(number)
        .bind(report)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let alerts = sqlx::query_as(
        "select a.fingerprint, a.alertname, a.status, a.labels, a.annotations, a.starts_at,
                a.ends_at, a.generator_url
         from alerts a join incidents i on i.group_id = a.group_id
         where i.id = $1 and a.incident_id = $1 order by a.starts_at",
    )
    .bind(incident.id)
    .fetch_all(pool)
    .await?;
    let timeline = sqlx::query_as(
        "select id, kind, occurred_at as at, fingerprint, severity, detail
         from incident_events where incident_id = $1 order by id",
    )
    .bind(incident.id)
    .fetch_all(pool)
    .await?;
    let notifications = sqlx::query_as(
        "select id, channel, recipient, status, payload->>'kind' as kind, attempts, due_at,
                sent_at, provider_ref, provider_status, last_error
         from outbox where incident_id = $1 order by id",
    )
    .bind(incident.id)
    .fetch_all(pool)
    .await?;
    Ok(Some(IncidentDetail {
        incident,
        alerts,
        timeline,
        notifications,
    }))
}

/// A page of the audit log, newest first.
pub async fn audit_page(
    pool: &PgPool,
    before: Option<i64>,
    limit: i64,
) -> Result<(Vec<AuditRow>, Option<i64>), sqlx::Error> {
    let mut rows: Vec<AuditRow> = sqlx::query_as(
        "select id, at, actor, source, action, incident_id, before, after, client_addr, result,
                reason, detail
         from audit_log where ($1::bigint is null or id < $1) order by id desc limit $2",
    )
    .bind(before)
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = more.then(|| rows.last().map(|r| r.id)).flatten();
    Ok((rows, next))
}

/// Dead letters, newest first.
pub async fn dead_letters(pool: &PgPool, limit: i64) -> Result<Vec<DeadLetterRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, incident_id, channel, recipient, attempts, last_error, created_at
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
pub async fn stats(pool: &PgPool, now: DateTime<Utc>) -> Result<Stats, sqlx::Error> {
    let open: Vec<(String, i64)> = sqlx::query_as(
        "select severity, count(*) from incidents where status = 'open' group by severity",
    )
    .fetch_all(pool)
    .await?;
    let (mtta_30d, mttr_30d): (Option<f64>, Option<f64>) = sqlx::query_as(
        "select avg(extract(epoch from acknowledged_at - opened_at))::float8,
                avg(extract(epoch from resolved_at - opened_at))::float8
         from incidents where opened_at >= $1 - interval '30 days'",
    )
    .bind(now)
    .fetch_one(pool)
    .await?;
    Ok(Stats {
        open,
        mtta_30d,
        mttr_30d,
    })
}
