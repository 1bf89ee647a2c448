//! Rows claimed ahead of a free slot. A claim costs about the same for one row as for a hundred
//! (most of it is finding each destination's queue head), so the dispatcher claims up to
//! `prefetch` rows per channel beyond its free slots and a send that ends takes the next of them
//! at once, without waiting for the next claim. A row waits here at most half its lease: one
//! older than that (its channel's sends are slow) is given back to the outbox, for whichever
//! dispatcher claims next, long before its lease could run out and let another send it too.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::delivery::Engine;
use super::retry::delta;
use crate::channels::Delivery;

/// A claimed row waiting for a slot.
pub(super) struct Waiting {
    pub(super) delivery: Delivery,
    pub(super) created_at: DateTime<Utc>,
    pub(super) claimed_at: DateTime<Utc>,
}

/// One channel's rows claimed ahead.
#[derive(Default)]
pub(super) struct Ahead {
    rows: Mutex<VecDeque<Waiting>>,
}

impl Ahead {
    fn rows(&self) -> std::sync::MutexGuard<'_, VecDeque<Waiting>> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn len(&self) -> usize {
        self.rows().len()
    }

    pub(super) fn push(&self, row: Waiting) {
        self.rows().push_back(row);
    }

    /// The oldest waiting row that is still fresh; older ones are given back.
    pub(super) async fn next(&self, engine: &Engine) -> Option<Waiting> {
        let oldest = engine.clock.now() - delta(engine.settings.lease / 2);
        let (next, stale) = {
            let mut rows = self.rows();
            let mut stale = Vec::new();
            let next = loop {
                match rows.pop_front() {
                    Some(w) if w.claimed_at < oldest => stale.push(w.delivery.id),
                    other => break other,
                }
            };
            (next, stale)
        };
        give_back(engine, stale).await;
        next
    }

    /// Gives back every waiting row (the dispatcher is stopping).
    pub(super) async fn give_back_all(&self, engine: &Engine) {
        let ids: Vec<i64> = self.rows().drain(..).map(|w| w.delivery.id).collect();
        give_back(engine, ids).await;
    }
}

/// Frees the leases of rows this dispatcher will not send; should that fail, their leases run
/// out as after a crash.
async fn give_back(engine: &Engine, ids: Vec<i64>) {
    if ids.is_empty() {
        return;
    }
    let freed = crate::store::leases::give_back(&engine.pool, engine.id, &ids);
    match tokio::time::timeout(Duration::from_secs(5), freed).await {
        Ok(Ok(n)) => tracing::info!(rows = n, "gave back outbox rows that waited for a slot"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot give back waiting outbox rows; their leases will run out")
        }
        Err(_) => {
            tracing::warn!("giving back waiting outbox rows timed out; their leases will run out")
        }
    }
    engine.held.release(ids);
}
