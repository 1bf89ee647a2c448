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
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::{PlanRow, WriteOutcome};

/// The most plans one commit writes.
const MAX_BATCH: usize = 64;

/// How many webhooks may wait for a commit before the next waits for room (each holds its
/// decided plan: bounded memory).
const QUEUE: usize = 1024;

type Reply = oneshot::Sender<Result<WriteOutcome, sqlx::Error>>;

/// The queue in front of the committers.
pub struct GroupCommit {
    queue: mpsc::Sender<(PlanRow, Reply)>,
}

impl GroupCommit {
    /// Starts `committers` tasks writing to `pool` (each holds one connection while it commits).
    pub fn start(pool: PgPool, committers: usize, metrics: Arc<Metrics>) -> GroupCommit {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..committers.max(1) {
            let (pool, receiver, metrics) = (pool.clone(), receiver.clone(), metrics.clone());
            tokio::spawn(async move {
                while let Some(batch) = next_batch(&receiver).await {
                    metrics.batches.ingest(batch.len());
                    commit(&pool, batch).await;
                }
            });
        }
        GroupCommit { queue }
    }

    /// Writes `row` in the next commit and returns once that commit has returned.
    pub async fn write(&self, row: PlanRow) -> Result<WriteOutcome, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        let stopped = || sqlx::Error::PoolClosed;
        self.queue.send((row, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Waits for one queued plan, then takes every other already queued, up to `MAX_BATCH`. `None`
/// once every sender is gone.
async fn next_batch(
    receiver: &Mutex<mpsc::Receiver<(PlanRow, Reply)>>,
) -> Option<Vec<(PlanRow, Reply)>> {
    let mut receiver = receiver.lock().await;
    let mut batch = Vec::new();
    if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
        return None;
    }
    Some(batch)
}

async fn commit(pool: &PgPool, mut batch: Vec<(PlanRow, Reply)>) {
    if let [(row, _)] = batch.as_slice() {
        // Alone: the statement commits itself, one round trip.
        let outcome = row.execute(pool).await;
        if let Some((_, reply)) = batch.pop() {
            let _ = reply.send(outcome);
        }
        return;
    }
    batch.sort_by(|(a, _), (b, _)| {
        (&a.integration, &a.route, &a.group_key).cmp(&(&b.integration, &b.route, &b.group_key))
    });
    match together(pool, &batch).await {
        Ok(outcomes) => {
            for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, plans = batch.len(),
                "a group commit failed; its plans are written one by one");
            for (row, reply) in batch {
                let _ = reply.send(row.execute(pool).await);
            }
        }
    }
}

/// Every plan of `batch` in one transaction; each plan's outcome in order.
async fn together(
    pool: &PgPool,
    batch: &[(PlanRow, Reply)],
) -> Result<Vec<WriteOutcome>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for (row, _) in batch {
        outcomes.push(row.execute(&mut *tx).await?);
    }
    tx.commit().await?;
    Ok(outcomes)
}
