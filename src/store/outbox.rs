//! Delivering the outbox: claiming rows in order per destination, and recording what a send
//! came to.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::channels::{Delivery, IncidentSummary};

/// The channel woken when outbox rows are written.
pub const OUTBOX_CHANNEL: &str = "alertrouter_outbox";

type Row = (
    i64,
    String,
    String,
    String,
    serde_json::Value,
    i32,
    DateTime<Utc>,
    Uuid,
    i64,
    String,
    String,
    serde_json::Value,
    Option<String>,
    Option<serde_json::Value>,
    Option<String>,
    bool,
);

/// Leases up to `limit` due rows of `channels`, at most the oldest pending row per destination,
/// so a destination's messages leave in the order they were written.
pub async fn claim_deliveries(
    pool: &PgPool,
    worker: Uuid,
    channels: &[&str],
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Delivery, DateTime<Utc>)>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "with due as (
            select o.id, o.lease_owner is not null as was_leased from outbox o
            where o.status = 'pending' and o.due_at <= $2 and o.channel = any($5)
              and (o.lease_until is null or o.lease_until < $2)
              and not exists (
                  select 1 from outbox e
                  where e.channel = o.channel and e.recipient = o.recipient
                    and e.status = 'pending' and e.id < o.id)
            order by o.due_at, o.id
            limit $4
            for update skip locked
        )
        update outbox o set lease_owner = $1, lease_until = $3
        from due, incidents i
        left join lateral (
            select coalesce(a.annotations->>'summary', a.alertname) as title, a.annotations,
                   a.generator_url
            from alerts a where a.incident_id = i.id order by a.starts_at limit 1
        ) first on true
        where o.id = due.id and i.id = o.incident_id
        returning o.id, o.dedup_key, o.channel, o.recipient, o.payload, o.attempts, o.created_at,
            i.id, i.number, i.status, i.severity, i.group_labels,
            first.title, first.annotations, first.generator_url, due.was_leased",
    )
    .bind(worker)
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .bind(channels)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let incident = IncidentSummary {
                id: row.7,
                number: row.8,
                status: row.9,
                severity: row.10,
                group_labels: row.11,
                title: row.12.unwrap_or_else(|| "alert".into()),
                annotations: row.13.unwrap_or_default(),
                generator_url: row.14.filter(|u| !u.is_empty()),
            };
            let redelivery = row.15;
            let delivery = Delivery {
                id: row.0,
                dedup_key: row.1,
                channel: row.2,
                recipient: row.3,
                payload: row.4,
                attempts: row.5,
                incident,
                redelivery,
            };
            (delivery, row.6)
        })
        .collect())
}

/// How a send ended, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Sent {
        reference: String,
    },
    RetryAt {
        at: DateTime<Utc>,
        error: String,
    },
    Dead {
        error: String,
    },
    /// Held back by a rate limit: not an attempt, just a later turn.
    Deferred {
        at: DateTime<Utc>,
    },
}

/// Stores the result of a send if this worker still holds the row's lease.
pub async fn record_delivery(
    pool: &PgPool,
    id: i64,
    worker: Uuid,
    result: &Recorded,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let (status, due_at, reference, error) = match result {
        Recorded::Sent { reference } => ("sent", None, Some(reference.as_str()), None),
        Recorded::RetryAt { at, error } => ("pending", Some(*at), None, Some(error.as_str())),
        Recorded::Dead { error } => ("dead", None, None, Some(error.as_str())),
        Recorded::Deferred { at } => ("pending", Some(*at), None, None),
    };
    let attempt = i32::from(!matches!(result, Recorded::Deferred { .. }));
    let done = sqlx::query(
        "update outbox set status = $3, attempts = attempts + $8,
            due_at = coalesce($4, due_at), provider_ref = coalesce($5, provider_ref),
            last_error = coalesce($6, last_error),
            sent_at = case when $3 = 'sent' then $7 else sent_at end,
            lease_owner = null, lease_until = null
         where id = $1 and lease_owner = $2",
    )
    .bind(id)
    .bind(worker)
    .bind(status)
    .bind(due_at)
    .bind(reference)
    .bind(error)
    .bind(now)
    .bind(attempt)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The Slack message already showing an incident at `target`, as (channel, ts).
pub async fn slack_message(
    pool: &PgPool,
    incident_id: Uuid,
    target: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("select channel, ts from slack_messages where incident_id = $1 and target = $2")
        .bind(incident_id)
        .bind(target)
        .fetch_optional(pool)
        .await
}

/// Remembers where the incident's Slack message is, so later changes edit it.
pub async fn remember_slack_message(
    pool: &PgPool,
    incident_id: Uuid,
    target: &str,
    channel: &str,
    ts: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into slack_messages (incident_id, target, channel, ts) values ($1, $2, $3, $4)
         on conflict (incident_id, target) do nothing",
    )
    .bind(incident_id)
    .bind(target)
    .bind(channel)
    .bind(ts)
    .execute(pool)
    .await?;
    Ok(())
}
