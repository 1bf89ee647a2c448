//! Read-only figures for metrics.

use sqlx::PgPool;

use crate::core::Severity;

/// How many incidents are open, per severity.
pub async fn open_incidents_by_severity(
    pool: &PgPool,
) -> Result<Vec<(Severity, i64)>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select severity, count(*) from incidents where status = 'open' group by severity",
    )
    .fetch_all(pool)
    .await?;
    Ok(Severity::ALL
        .into_iter()
        .map(|sev| {
            let n = rows
                .iter()
                .find(|(s, _)| s == sev.as_str())
                .map_or(0, |(_, n)| *n);
            (sev, n)
        })
        .collect())
}
