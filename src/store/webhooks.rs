//! Outgoing webhook endpoints disabled by a 410 Gone.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// When the endpoint `name` at `url` was disabled, if it is (a new URL enables it again).
pub async fn webhook_disabled_at(
    pool: &PgPool,
    name: &str,
    url: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("select disabled_at from disabled_webhooks where name = $1 and url = $2")
        .bind(name)
        .bind(url)
        .fetch_optional(pool)
        .await
}

/// Disables the endpoint `name` at `url`.
pub async fn disable_webhook(
    pool: &PgPool,
    name: &str,
    url: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into disabled_webhooks (name, url, disabled_at, reason) values ($1, $2, $3, $4)
         on conflict (name) do update
             set url = excluded.url, disabled_at = excluded.disabled_at, reason = excluded.reason",
    )
    .bind(name)
    .bind(url)
    .bind(now)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}
