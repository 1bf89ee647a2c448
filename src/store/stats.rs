//! Read-only figures for metrics.

use sqlx::PgPool;

use crate::core::Severity;

/// How many incidents are open, per severity and flapping or not (every pair, zeros included).
pub async fn open_incidents_by_severity(
    pool: &PgPool,
) -> Result<Vec<(Severity, bool, i64)>, sqlx::Error> {
    let rows: Vec<(String, bool, i64)> = sqlx::query_as(
        "select severity, flapping_since is not null, count(*) from incidents
         where status = 'open' group by 1, 2",
    )
    .fetch_all(pool)
    .await?;
    Ok(Severity::ALL
        .into_iter()
        .flat_map(|sev| [(sev, false), (sev, true)])
        .map(|(sev, flapping)| {
            let n = rows
                .iter()
                .find(|(s, f, _)| s == sev.as_str() && *f == flapping)
                .map_or(0, |(_, _, n)| *n);
            (sev, flapping, n)
        })
        .collect())
}

/// Per channel with pending rows: how many, and the due time of the oldest due one (if any is
/// due by `now`).
pub async fn outbox_depth(
    pool: &PgPool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(String, i64, Option<chrono::DateTime<chrono::Utc>>)>, sqlx::Error> {
    sqlx::query_as(
        "select channel, count(*), min(due_at) filter (where due_at <= $1) from outbox
         where status = 'pending' group by channel",
    )
    .bind(now)
    .fetch_all(pool)
    .await
}
