//! Pruning: audit rows and finished notifications older than the retention are deleted in small
//! batches, each its own short transaction that skips rows other workers hold.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

/// Rows deleted per statement.
pub const BATCH: i64 = 1000;

/// Deletes what is older than `retention` at `now`; returns (audit rows, notifications).
pub async fn prune_once(
    pool: &PgPool,
    now: DateTime<Utc>,
    retention: Duration,
    batch: i64,
) -> Result<(u64, u64), sqlx::Error> {
    let cutoff = now - TimeDelta::from_std(retention).unwrap_or(TimeDelta::MAX);
    let mut totals = (0, 0);
    for (i, sql) in [
        "delete from audit_log where id in (
            select id from audit_log where at < $1 order by id limit $2 for update skip locked)",
        "delete from outbox where id in (
            select id from outbox where status <> 'pending' and created_at < $1
            limit $2 for update skip locked)",
    ]
    .iter()
    .enumerate()
    {
        loop {
            let n = sqlx::query(sql)
                .bind(cutoff)
                .bind(batch)
                .execute(pool)
                .await?
                .rows_affected();
            if i == 0 {
                totals.0 += n;
            } else {
                totals.1 += n;
            }
            if n < batch as u64 {
                break;
            }
            // Let the hot paths in between batches.
            tokio::task::yield_now().await;
        }
    }
    Ok(totals)
}

/// Prunes every `every` until `shutdown`.
pub async fn run(
    pool: PgPool,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    retention: Duration,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        match prune_once(&pool, clock.now(), retention, BATCH).await {
            Ok((audit, outbox)) if audit + outbox > 0 => {
                tracing::info!(audit, outbox, "pruned rows past their retention");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning failed; will try again"),
        }
        if let Err(e) = crate::store::replays::prune(&pool, clock.now()).await {
            tracing::warn!(error = %e, "pruning remembered callbacks failed; will try again");
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => {}
        }
    }
}
