//! The timer worker: claims incidents whose next step is due, fires the step through the core,
//! and commits its outbox rows and the next due time in one transaction.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use futures_util::StreamExt;
use sqlx::PgPool;
use uuid::Uuid;

use crate::clock::Clock;
use crate::core::escalation::{Tick, resolve, tick};
use crate::core::policy::EscalationPolicy;
use crate::live::{Live, Reloadable};
use crate::metrics::Metrics;
use crate::store::escalation::{self as store, ESCALATION_CHANNEL};
use crate::store::fired::{Moved, record_fired_steps};

/// How often a suppressed incident whose end is not known (a muted route, an inhibition) is
/// checked again.
pub const RECHECK: Duration = Duration::from_secs(30);

/// Tuning of the timer worker.
#[derive(Debug, Clone)]
pub struct EscalationSettings {
    /// A claim not finished within this is taken over by another worker.
    pub lease: Duration,
    /// Incidents claimed per round trip.
    pub batch: i64,
    /// The safety-net poll when no notification arrives.
    pub poll: Duration,
    /// Transactions a claim is fired in, at once (each a chunk of the claim).
    pub concurrency: usize,
}

impl Default for EscalationSettings {
    fn default() -> Self {
        EscalationSettings {
            lease: Duration::from_secs(15),
            batch: 512,
            poll: Duration::from_secs(1),
            concurrency: 4,
        }
    }
}

/// One timer worker (one per replica; any number may run on one database).
pub struct EscalationWorker {
    pub id: Uuid,
    pool: PgPool,
    clock: Arc<dyn Clock>,
    live: Arc<Live<Reloadable>>,
    metrics: Arc<Metrics>,
    settings: EscalationSettings,
    /// Set when Postgres could not be reached while this worker claimed or fired: a firing that
    /// failed, or a claim that committed but whose answer was lost, leaves incidents leased to
    /// this worker that it does not know of. Its next claim takes its own leases again at once
    /// (it holds none in flight between batches). Any other failure waits out the lease, so an
    /// incident that fails the same way every time is tried every 15 s, not in a loop.
    retake: std::sync::atomic::AtomicBool,
}

/// What the API adds to config for one batch: maintenance windows in force, and the policies
/// with schedule overrides applied (`None` when there are none).
struct Extra {
    windows: Vec<crate::routing::suppress::MaintenanceWindow>,
    policies: Option<crate::core::policy::Policies>,
}

impl EscalationWorker {
    /// A worker with a fresh id.
    pub fn new(
        pool: PgPool,
        clock: Arc<dyn Clock>,
        live: Arc<Live<Reloadable>>,
        metrics: Arc<Metrics>,
        settings: EscalationSettings,
    ) -> Self {
        EscalationWorker {
            id: Uuid::now_v7(),
            pool,
            clock,
            live,
            metrics,
            settings,
            retake: Default::default(),
        }
    }

    fn retake_later(&self, e: &sqlx::Error) {
        if crate::store::unreachable(e) {
            self.retake
                .store(true, std::sync::atomic::Ordering::Release);
        }
    }

    /// Records the response targets missed by now, drafts the reports due, then claims one
    /// batch of due incidents and fires them. Returns how many incidents were claimed.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let missed = store::record_missed_response_targets(
            &self.pool,
            self.clock.now(),
            self.settings.batch,
        )
        .await?;
        for severity in &missed {
            self.metrics.response.missed(severity);
        }
        {
            let live = self.live.get();
            let now = self.clock.now();
            super::reports::draft_due(&self.pool, &live, now, 10).await?;
        }
        let claimed = self.claim().await?;
        self.metrics.escalation_claims(
            claimed.len(),
            claimed.iter().filter(|c| c.taken_over).count(),
        );
        if claimed.is_empty() {
            return Ok(0);
        }
        // Maintenance windows and schedule overrides made through the API, read once a batch.
        let ids: Vec<Uuid> = claimed.iter().map(|c| c.id).collect();
        let extra = match self.extra().await {
            Ok(extra) => extra,
            Err(e) => {
                self.retake_later(&e);
                return Err(e);
            }
        };
        // Each chunk of the claim commits in one transaction, several chunks at a time; a
        // chunk that fails is fired again one incident at a time, so that one incident's error
        // (its lease runs out, and it is tried again) never holds back the others.
        let chunk = ids.len().div_ceil(self.settings.concurrency.max(1)).max(1);
        let chunks: Vec<Vec<Uuid>> = ids.chunks(chunk).map(<[Uuid]>::to_vec).collect();
        let mut firing = futures_util::stream::iter(chunks)
            .map(|ids| self.fire_chunk(ids, &extra))
            .buffer_unordered(self.settings.concurrency.max(1));
        while firing.next().await.is_some() {}
        Ok(claimed.len())
    }

    async fn extra(&self) -> Result<Extra, sqlx::Error> {
        let now = self.clock.now();
        let mut conn = self.pool.acquire().await?;
        let windows = crate::store::windows::active_windows(&mut conn, now).await?;
        let policies =
            crate::store::windows::with_overrides(&mut conn, &self.live.get().policies, now)
                .await?;
        Ok(Extra { windows, policies })
    }

    /// Claims without firing: what a worker that dies right after claiming leaves behind.
    pub async fn claim_only(&self) -> Result<usize, sqlx::Error> {
        Ok(self.claim().await?.len())
    }

    async fn claim(&self) -> Result<Vec<store::Claimed>, sqlx::Error> {
        let now = self.clock.now();
        let lease_until = now + TimeDelta::from_std(self.settings.lease).unwrap_or(TimeDelta::MAX);
        let retake = self.retake.swap(false, std::sync::atomic::Ordering::AcqRel);
        let claimed = store::claim_due_escalations(
            &self.pool,
            self.id,
            now,
            lease_until,
            self.settings.batch,
            retake,
        )
        .await;
        if let Err(e) = &claimed {
            if retake {
                self.retake
                    .store(true, std::sync::atomic::Ordering::Release);
            }
            self.retake_later(e);
        }
        claimed
    }

    async fn fire_chunk(&self, ids: Vec<Uuid>, extra: &Extra) {
        match self.fire(&ids, extra).await {
            Ok(()) => self.metrics.batches.escalation(ids.len()),
            // The lease runs out and this or another worker tries again.
            Err(e) if ids.len() == 1 => {
                tracing::warn!(incident = %ids[0], error = %e, "escalation step not committed");
                self.retake_later(&e);
            }
            Err(e) => {
                tracing::warn!(incidents = ids.len(), error = %e,
                    "a batch of escalation steps was not committed; firing them one by one");
                for id in &ids {
                    if let Err(e) = self.fire(std::slice::from_ref(id), extra).await {
                        tracing::warn!(incident = %id, error = %e, "escalation step not committed");
                        self.retake_later(&e);
                    }
                }
            }
        }
    }

    /// Fires the due steps of `ids` (those whose lease this worker still holds) in one
    /// transaction.
    async fn fire(&self, ids: &[Uuid], extra: &Extra) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let rows = store::lock_claimed(&mut tx, ids, self.id).await?;
        let now = self.clock.now();
        let live = self.live.get();
        // Only an open incident with a step pending can be suppressed.
        let checked = |row: &store::ChainRow| row.status == "open" && row.chain.due_at.is_some();
        let checked_ids: Vec<Uuid> = rows
            .iter()
            .filter(|(_, row)| checked(row))
            .map(|(id, _)| *id)
            .collect();
        let mut firing = if checked_ids.is_empty() {
            Default::default()
        } else {
            store::firing_alert_labels(&mut tx, &checked_ids).await?
        };
        // Schedule overrides made through the API, on top of config's.
        let policies = extra.policies.as_ref().unwrap_or(&live.policies);
        let recheck = TimeDelta::from_std(RECHECK).unwrap_or(TimeDelta::MAX);
        let mut moved = Vec::with_capacity(rows.len());
        for (id, row) in rows {
            let Some(policy) = self.policy_of(id, &row, &live) else {
                tracing::error!(incident = %id,
                    "no policy to fall back to: the chain stops and nobody is paged");
                let chain = resolve(&row.chain);
                moved.push(Moved {
                    id,
                    chain,
                    fired: Vec::new(),
                    unheld: false,
                });
                continue;
            };
            let mut quiet = None;
            if checked(&row) {
                let firing = firing.remove(&id).unwrap_or_default();
                let rules = &live.suppressions.inhibit_rules;
                let sources = store::inhibit_sources(&mut tx, rules, &firing).await?;
                let route = live.routes.find(&row.route);
                quiet = live
                    .suppressions
                    .check_with(now, route, &firing, &sources, &extra.windows);
            }
            let held = row.held_since.is_some();
            let until = quiet.as_ref().map(|q| q.until);
            match tick(&row.chain, held, until, &policy, policies, now, recheck) {
                Tick::Held { until, first } => {
                    let reason = quiet.map(|q| q.reason).unwrap_or_default();
                    store::hold(&mut tx, id, until, &reason, first, now).await?;
                }
                Tick::Moved {
                    chain,
                    fired,
                    unheld,
                } => moved.push(Moved {
                    id,
                    chain,
                    fired,
                    unheld,
                }),
            }
        }
        record_fired_steps(&mut tx, &moved, now).await?;
        tx.commit().await?;
        for f in moved.iter().flat_map(|m| &m.fired) {
            let late = now
                .signed_duration_since(f.due_at)
                .num_milliseconds()
                .max(0) as f64
                / 1000.0;
            self.metrics.escalation_fired(late);
        }
        Ok(())
    }

    /// The policy the incident's chain runs: its stored snapshot or, when that is unusable,
    /// its route's current policy (never a silent end); `None` when there is neither.
    fn policy_of(
        &self,
        id: Uuid,
        row: &store::ChainRow,
        live: &Reloadable,
    ) -> Option<EscalationPolicy> {
        match row.policy() {
            Ok(policy) => Some(policy),
            Err(why) => {
                let route = live.routes.find(&row.route);
                let name = route
                    .and_then(|r| r.policy.clone())
                    .or_else(|| live.routes.policy.clone());
                let fallback = name.as_ref().and_then(|n| live.policies.policies.get(n));
                tracing::error!(incident = %id, reason = %why, fallback = ?name,
                    "the incident's stored policy is unusable; its route's current policy takes over");
                self.metrics.risks.chain_fallback("unreadable_snapshot");
                fallback.cloned()
            }
        }
    }

    /// Runs until `shutdown`: drains due work, then sleeps until the next due time, a
    /// notification, or the poll interval, whichever comes first.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut wakeups = super::Wakeups::new(&self.pool, ESCALATION_CHANNEL).await;
        while !*shutdown.borrow() {
            match self.run_once().await {
                Ok(n) if n as i64 >= self.settings.batch => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "escalation claim failed; retrying"),
            }
            let mut wait = self.settings.poll;
            if let Ok(Some(next)) = store::next_escalation_due(&self.pool).await {
                let until = next.signed_duration_since(self.clock.now());
                // Not below 50 ms: a due incident leased by a dead worker must not make this spin.
                wait = wait
                    .min(until.to_std().unwrap_or(Duration::ZERO))
                    .max(Duration::from_millis(50));
            }
            wakeups.idle(wait, &mut shutdown).await;
        }
    }
}
