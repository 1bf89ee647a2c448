//! Keeping a claim while its work runs: a send slower than the lease would otherwise be taken
//! over by another dispatcher and sent twice.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::clock::Clock;
use crate::store;

/// Runs `work` while extending the lease of outbox rows `ids` held by `owner` every third of
/// `lease`, to `lease` past the clock's now.
pub async fn keeping<F: Future>(
    pool: &PgPool,
    clock: &Arc<dyn Clock>,
    owner: Uuid,
    ids: &[i64],
    lease: Duration,
    work: F,
) -> F::Output {
    tokio::pin!(work);
    let every = (lease / 3).max(Duration::from_millis(10));
    let length = chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::MAX);
    loop {
        tokio::select! {
            done = &mut work => return done,
            () = tokio::time::sleep(every) => {
                let until = crate::core::escalation::later(clock.now(), length);
                match store::leases::extend_lease(pool, owner, ids, until).await {
                    Ok(0) => tracing::warn!(?ids, "lease lost while sending: another dispatcher may send it too"),
                    Ok(_) => tracing::debug!(?ids, "lease extended while the send is in flight"),
                    Err(e) => tracing::warn!(error = %e, "cannot extend the lease of a send in flight"),
                }
            }
        }
    }
}
