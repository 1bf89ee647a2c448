//! Group commit: the plans of concurrent webhooks are written in one transaction, so that one
//! WAL flush (the cost that bounds ingest on any disk) makes many webhooks durable.
//!
//! A webhook hands its plan's statement to a queue and waits for the commit that holds it; a few
//! committers take whatever is queued, up to `MAX_BATCH`, write it in one transaction and answer
//! each webhook with its own outcome. Each plan is one statement that writes nothing unless its
//! group is still at the version it was decided on, so a plan that lost a race conflicts alone
//! (its webhook decides again and joins the next commit) and the others commit. Plans are written
//! in the order of their groups' keys, so two commits never wait on each other's groups in a
//! cycle. Should the transaction fail (a connection lost, a deadlock with some other writer), each
//! plan is written again on its own and answered with its own result: one webhook's failure never
//! fails another's. A 2xx still means committed: the answer is sent after the commit returns.

use std::sync::Arc;

use sqlx::PgPool;

use crate::batcher::Batcher;
use crate::metrics::Metrics;
use crate::store::{PlanRow, WriteOutcome};

/// The most plans one commit writes.
const MAX_BATCH: usize = 64;

type Outcome = Result<WriteOutcome, sqlx::Error>;

/// The queue in front of the committers.
pub struct GroupCommit {
    batcher: Batcher<PlanRow, Outcome>,
}

impl GroupCommit {
    /// Starts `committers` tasks writing to `pool` (each holds one connection while it commits).
    pub fn start(pool: PgPool, committers: usize, metrics: Arc<Metrics>) -> GroupCommit {
        let batcher = Batcher::start(committers, MAX_BATCH, move |rows: Vec<PlanRow>| {
            metrics.batches.ingest(rows.len());
            commit(pool.clone(), rows)
        });
        GroupCommit { batcher }
    }

    /// Writes `row` in the next commit and returns once that commit has returned.
    pub async fn write(&self, row: PlanRow) -> Outcome {
        self.batcher
            .submit(row)
            .await
            .unwrap_or(Err(sqlx::Error::PoolClosed))
    }
}

/// Commits `rows`; each row's outcome, in order.
async fn commit(pool: PgPool, rows: Vec<PlanRow>) -> Vec<Outcome> {
    if let [row] = rows.as_slice() {
        // Alone: the statement commits itself, one round trip.
        return vec![row.execute(&pool).await];
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&rows[a], &rows[b]);
        (&a.integration, &a.route, &a.group_key).cmp(&(&b.integration, &b.route, &b.group_key))
    });
    match together(&pool, &rows, &order).await {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        Err(e) => {
            tracing::warn!(error = %e, plans = rows.len(),
                "a group commit failed; its plans are written one by one");
            let mut outcomes = Vec::with_capacity(rows.len());
            for row in &rows {
                outcomes.push(row.execute(&pool).await);
            }
            outcomes
        }
    }
}

/// Every row in one transaction, in `order`; each row's outcome in the rows' own order.
async fn together(
    pool: &PgPool,
    rows: &[PlanRow],
    order: &[usize],
) -> Result<Vec<WriteOutcome>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut outcomes = vec![WriteOutcome::Conflict; rows.len()];
    for &i in order {
        outcomes[i] = rows[i].execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}
