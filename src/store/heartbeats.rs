//! When each integration's heartbeat was last seen, and since when it has been missing.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Records a heartbeat at `at` (never moving the time back).
pub async fn record(
    pool: &PgPool,
    integration: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into heartbeats (integration, last_seen_at) values ($1, $2)
         on conflict (integration) do update
         set last_seen_at = greatest(heartbeats.last_seen_at, excluded.last_seen_at)",
    )
    .bind(integration)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(())
}

/// A heartbeat as the checker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    pub last_seen_at: DateTime<Utc>,
    /// Set (to the last heartbeat + `missing_after`) once it is missing; kept until the
    /// resolution is sent.
    pub missing_since: Option<DateTime<Utc>>,
}

/// Looks at `integration`'s heartbeat at `now`: marks it missing when none came for
/// `missing_after` seconds. The first look starts watching (`None`), so a heartbeat that never
/// comes is missed too.
pub async fn watch(
    pool: &PgPool,
    integration: &str,
    now: DateTime<Utc>,
    missing_after_secs: f64,
) -> Result<Option<Watch>, sqlx::Error> {
    let row: Option<(DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "with armed as (
            insert into heartbeats (integration, last_seen_at) values ($1, $2)
            on conflict (integration) do nothing
        ), missing as (
            update heartbeats
            set missing_since = coalesce(missing_since, last_seen_at + make_interval(secs => $3))
            where integration = $1 and last_seen_at + make_interval(secs => $3) < $2
            returning last_seen_at, missing_since
        )
        select last_seen_at, missing_since from missing
        union all
        select last_seen_at, missing_since from heartbeats
        where integration = $1 and not exists (select 1 from missing)",
    )
    .bind(integration)
    .bind(now)
    .bind(missing_after_secs)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(last_seen_at, missing_since)| Watch {
        last_seen_at,
        missing_since,
    }))
}

/// Forgets that the heartbeat was missing since `since` (its resolution was sent).
pub async fn clear_missing(
    pool: &PgPool,
    integration: &str,
    since: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update heartbeats set missing_since = null where integration = $1 and missing_since = $2",
    )
    .bind(integration)
    .bind(since)
    .execute(pool)
    .await?;
    Ok(())
}
