//! Pruning: audit rows, finished notifications and remembered callbacks past their retention are
//! deleted in small batches (`store::retention`), letting the hot paths in between.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use crate::store::retention::{Expired, delete_expired};

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
    for what in [Expired::Audit, Expired::Notifications] {
        loop {
            let n = delete_expired(pool, what, cutoff, batch).await?;
            match what {
                Expired::Audit => totals.0 += n,
                Expired::Notifications => totals.1 += n,
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

/// How often to prune for a given retention: a tenth of it, between 10 s and an hour, so a short
/// retention keeps the tables near their bound and a long one does not scan for nothing.
pub fn interval(retention: Duration) -> Duration {
    (retention / 10).clamp(Duration::from_secs(10), Duration::from_secs(3600))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_a_tenth_of_the_retention_within_bounds() {
        assert_eq!(interval(Duration::from_secs(300)), Duration::from_secs(30));
        assert_eq!(interval(Duration::from_secs(30)), Duration::from_secs(10));
        assert_eq!(
            interval(Duration::from_secs(30 * 86_400)),
            Duration::from_secs(3600)
        );
    }
}
