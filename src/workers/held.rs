//! The outbox rows a dispatcher holds for its sends in flight, and freeing the ones it holds
//! without knowing. A claim can commit while its answer is lost (Postgres killed or failed over
//! between the commit and the reply): its rows are then leased to this dispatcher, which never
//! sends them, and they would wait out the lease. After any claim that failed because Postgres
//! could not be reached, the next round first frees this dispatcher's leases on every row it
//! does not hold for a send in flight; nothing sent is freed, so nothing is sent twice for it.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::PgPool;
use uuid::Uuid;

use crate::channels::Bundled;

#[derive(Default)]
pub(super) struct Held {
    /// Rows claimed for a send that has not ended (its result may still be being stored).
    ids: Mutex<HashSet<i64>>,
    /// Shared by a bundle's claim until its rows are in `ids`; exclusive while freeing, so a
    /// bundle claimed meanwhile is never taken for a lost one.
    gate: tokio::sync::RwLock<()>,
    /// A claim failed because Postgres could not be reached: it may have committed.
    lost: AtomicBool,
}

impl Held {
    fn ids(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rows just claimed, held until [`Held::release`].
    pub(super) fn hold(&self, ids: impl IntoIterator<Item = i64>) {
        self.ids().extend(ids);
    }

    /// Rows whose send has ended (its result stored, or given up on).
    pub(super) fn release(&self, ids: impl IntoIterator<Item = i64>) {
        let mut held = self.ids();
        for id in ids {
            held.remove(&id);
        }
    }

    /// Notes a failed claim: when Postgres could not be reached, it may have committed.
    pub(super) fn claim_failed(&self, e: &sqlx::Error) {
        if crate::store::unreachable(e) {
            self.lost.store(true, Ordering::Release);
        }
    }

    /// Runs a claim of more rows for a send in flight (a bundle), holding what it took.
    pub(super) async fn claiming(
        &self,
        claim: impl std::future::Future<Output = Result<Vec<Bundled>, sqlx::Error>>,
    ) -> Result<Vec<Bundled>, sqlx::Error> {
        let _shared = self.gate.read().await;
        match claim.await {
            Ok(rows) => {
                self.hold(rows.iter().map(|b| b.id));
                Ok(rows)
            }
            Err(e) => {
                self.claim_failed(&e);
                Err(e)
            }
        }
    }

    /// After a claim that may have committed unseen, frees `owner`'s leases on pending rows it
    /// does not hold. Returns how many were freed.
    pub(super) async fn free_lost(&self, pool: &PgPool, owner: Uuid) -> Result<u64, sqlx::Error> {
        if !self.lost.load(Ordering::Acquire) {
            return Ok(0);
        }
        let _exclusive = self.gate.write().await;
        self.lost.store(false, Ordering::Release);
        let held: Vec<i64> = self.ids().iter().copied().collect();
        match crate::store::leases::free_leases(pool, owner, &held).await {
            Ok(0) => Ok(0),
            Ok(n) => {
                tracing::info!(
                    rows = n,
                    "freed outbox rows a claim leased while its answer was lost"
                );
                Ok(n)
            }
            Err(e) => {
                self.lost.store(true, Ordering::Release);
                Err(e)
            }
        }
    }
}
