//! Callbacks already handled: a signed request seen once is refused the second time, on every
//! replica. A request whose handling failed is forgotten again, so the provider's own retry
//! (the same event id) still gets through.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Records `key` of `source` until `expires_at`; `false` when it was already recorded and has
/// not expired at `now` (a replay).
pub async fn first_time(
    pool: &PgPool,
    source: &str,
    key: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "insert into seen_callbacks (source, key, expires_at) values ($1, $2, $3)
         on conflict (source, key) do update set expires_at = excluded.expires_at
             where seen_callbacks.expires_at < $4
         returning 1",
    )
    .bind(source)
    .bind(key)
    .bind(expires_at)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(inserted.is_some())
}

/// Forgets `key` after its handling failed, so a retry is not taken for a replay.
pub async fn forget(pool: &PgPool, source: &str, key: &str) {
    let result = sqlx::query("delete from seen_callbacks where source = $1 and key = $2")
        .bind(source)
        .bind(key)
        .execute(pool)
        .await;
    if let Err(e) = result {
        tracing::warn!(source, error = %e, "cannot forget a failed callback; its retry will be refused as a replay");
    }
}

/// When the last opening or reopening of an incident happened (by the server's clock).
pub async fn last_opened(
    pool: &PgPool,
    incident: uuid::Uuid,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "select max(received_at) from incident_events
         where incident_id = $1 and kind in ('opened', 'reopened')",
    )
    .bind(incident)
    .fetch_one(pool)
    .await
}

/// Deletes what has expired at `now`.
pub async fn prune(pool: &PgPool, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("delete from seen_callbacks where expires_at < $1")
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
