//! Group commit: the plans of concurrent webhooks are written in one statement, so that one
//! statement's fixed cost and one WAL flush make many webhooks durable.
//!
//! A webhook hands its plan to a queue and waits for the commit that holds it; a few committers
//! take whatever is queued, up to `MAX_BATCH`, write it in one statement and answer each webhook
//! with its own outcome. A plan writes nothing unless its group is still at the version it was
//! decided on, so a plan that lost a race conflicts alone (its webhook decides again and joins the
//! next commit) and the others commit. Groups are written in the order of their keys, so two
//! commits never wait on each other's groups in a cycle. Should the statement fail (a connection
//! lost, a deadlock with some other writer, one plan's bad value), each plan is written again on
//! its own and answered with its own result: one webhook's failure never fails another's. A 2xx
//! still means committed: the answer is sent after the commit returns.

use std::sync::Arc;

use sqlx::PgPool;

use crate::batcher::Batcher;
use crate::metrics::Metrics;
use crate::store::{self, PlanRow, WriteOutcome};

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
    // In the order of their groups' keys: the order their rows are locked in.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&rows[a], &rows[b]);
        (&a.integration, &a.route, &a.group_key).cmp(&(&b.integration, &b.route, &b.group_key))
    });
    let sorted: Vec<&PlanRow> = order.iter().map(|&i| &rows[i]).collect();
    match store::write_plans(&pool, &sorted).await {
        Ok(written) => {
            let mut outcomes = vec![WriteOutcome::Conflict; rows.len()];
            for (&i, outcome) in order.iter().zip(written) {
                outcomes[i] = outcome;
            }
            outcomes.into_iter().map(Ok).collect()
        }
        Err(e) if rows.len() > 1 => {
            tracing::warn!(error = %e, plans = rows.len(),
                "a group commit failed; its plans are written one by one");
            let mut outcomes = Vec::with_capacity(rows.len());
            for row in &rows {
                outcomes.push(row.execute(&pool).await);
            }
            outcomes
        }
        Err(e) => vec![Err(e)],
    }
}
