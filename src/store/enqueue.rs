//! Writing the outbox: the one writer of its rows (the SQL function `enqueue_outbox`, migration
//! 0012, so a statement that writes other tables too can call it and stay one round trip), and
//! where an incident is shown, for the core's rule of who hears about a change.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::outbox::OUTBOX_CHANNEL;
use crate::core::notification::{Destination, Notice, OutboxRows};

/// Writes `rows` for `incident`, due at `at`, in their order; rows already written (by dedup
/// key) are skipped. Returns how many were new.
pub async fn enqueue(
    tx: &mut sqlx::PgConnection,
    incident: Uuid,
    at: DateTime<Utc>,
    rows: &OutboxRows,
) -> Result<u64, sqlx::Error> {
    if rows.is_empty() {
        return Ok(0);
    }
    let written: i64 = sqlx::query_scalar("select enqueue_outbox($1, $2, $3, $4, $5, $6, $7)")
        .bind(incident)
        .bind(at)
        .bind(&rows.keys)
        .bind(&rows.channels)
        .bind(&rows.recipients)
        .bind(&rows.payloads)
        .bind(OUTBOX_CHANNEL)
        .fetch_one(&mut *tx)
        .await?;
    Ok(written as u64)
}

/// Every destination that was sent one of `incident`'s pages.
pub async fn shown(
    tx: &mut sqlx::PgConnection,
    incident: Uuid,
) -> Result<Vec<Destination>, sqlx::Error> {
    Ok(shown_each(tx, &[incident])
        .await?
        .remove(&incident)
        .unwrap_or_default())
}

/// Every destination that was sent one of each of `incidents`' pages.
pub async fn shown_each(
    tx: &mut sqlx::PgConnection,
    incidents: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<Destination>>, sqlx::Error> {
    let mut out: std::collections::HashMap<Uuid, Vec<Destination>> = Default::default();
    if incidents.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
        "select distinct incident_id, channel, recipient from outbox
         where incident_id = any($1) and status = 'sent' and payload->>'kind' = 'page'",
    )
    .bind(incidents)
    .fetch_all(&mut *tx)
    .await?;
    for (id, channel, recipient) in rows {
        if let (Ok(channel), Ok(recipient)) = (channel.parse(), recipient.parse()) {
            out.entry(id)
                .or_default()
                .push(Destination { channel, recipient });
        }
    }
    Ok(out)
}

/// Writes `pages` and `notices` to every destination that hears of them under the core's rule
/// (not those `pages` reach already); the notices of one change share its incident.
pub async fn notify(
    tx: &mut sqlx::PgConnection,
    incident: Uuid,
    at: DateTime<Utc>,
    notices: &[Notice<'_>],
    pages: OutboxRows,
) -> Result<u64, sqlx::Error> {
    let mut rows = pages;
    if !notices.is_empty() {
        let shown = shown(tx, incident).await?;
        for notice in notices {
            rows.notice(notice, &shown);
        }
    }
    enqueue(tx, incident, at, &rows).await
}
