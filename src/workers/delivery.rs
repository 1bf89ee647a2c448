//! Delivering one claimed row: the rate limit, the bundle that goes with it, the send under a
//! renewed lease, and the result recorded; and claiming the rows to deliver.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::dispatcher::DispatchSettings;
use super::limits::Limits;
use super::retry::{decide, delta};
use crate::batcher::Batcher;
use crate::channels::{Channels, Delivery, SendResult, mask_contacts};
use crate::clock::Clock;
use crate::live::{Live, Reloadable};
use crate::metrics::Metrics;
use crate::store::outbox::{self as store, Outcome, Recorded};

/// Reads one environment variable.
pub(super) type EnvFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// What a dispatcher delivers with; shared by its sends in flight.
pub(super) struct Engine {
    pub(super) id: Uuid,
    pub(super) pool: PgPool,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) live: Arc<Live<Reloadable>>,
    pub(super) metrics: Arc<Metrics>,
    /// The senders; a reload replaces them whole, sends in flight finish with the old ones.
    pub(super) channels: Arc<Live<Channels>>,
    pub(super) settings: DispatchSettings,
    pub(super) limits: Limits,
    /// Where `${ENV}` references of routing keys are read (tests inject their own).
    pub(super) env: Arc<EnvFn>,
    /// How many destinations each channel had pending rows for at its last claim.
    pub(super) destinations: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    /// Stores the results of concurrent sends together (started on first use, in the runtime).
    pub(super) results: std::sync::OnceLock<Batcher<Outcome, Result<bool, sqlx::Error>>>,
    /// The rows held for sends in flight, and the leases a lost claim answer left.
    pub(super) held: super::held::Held,
}

/// The most send results one statement stores.
const MAX_RESULTS: usize = 128;

/// How long a send's result is kept while Postgres cannot be reached.
const RECORD_PATIENCE: Duration = Duration::from_secs(300);

impl Engine {
    /// Delivers a claimed row (held since its claim) and what bundles with it, then lets go of
    /// them.
    pub(super) async fn deliver(
        &self,
        mut delivery: Delivery,
        created_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let result = self.deliver_held(&mut delivery, created_at).await;
        let ids = std::iter::once(delivery.id).chain(delivery.bundled.iter().map(|b| b.id));
        self.held.release(ids);
        result
    }

    async fn deliver_held(
        &self,
        delivery: &mut Delivery,
        created_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        if delivery.redelivery {
            self.metrics.redelivery(&delivery.channel);
            tracing::warn!(
                outbox_id = delivery.id,
                channel = %delivery.channel,
                "redelivering a notification whose lease ran out: its last send may have gone out"
            );
        }
        let now = self.clock.now();
        if let Err(wait) = self.limits.check(&delivery.channel, &delivery.recipient) {
            self.metrics.delivery(&delivery.channel, "rate_limited");
            let at = now + delta(wait);
            self.record(delivery.id, Recorded::Deferred { at }, now)
                .await?;
            return Ok(());
        }
        if bundles(delivery) {
            let lease_until = now + delta(self.settings.lease);
            let claim =
                store::claim_bundle(&self.pool, self.id, delivery, now, lease_until, MAX_BUNDLE);
            delivery.bundled = self.held.claiming(claim).await?;
        }
        // Held for as long as the send takes, however slow the provider.
        let held: Vec<i64> = std::iter::once(delivery.id)
            .chain(delivery.bundled.iter().map(|b| b.id))
            .collect();
        let result = super::lease::keeping(
            &self.pool,
            &self.clock,
            self.id,
            &held,
            self.settings.lease,
            self.send(delivery, now),
        )
        .await;
        if !delivery.bundled.is_empty() {
            let ids: Vec<i64> = delivery.bundled.iter().map(|b| b.id).collect();
            let sent = matches!(result, SendResult::Sent { .. });
            if sent {
                self.metrics
                    .delivery_n(&delivery.channel, "bundled", ids.len() as u64);
            }
            let now = self.clock.now();
            patiently(delivery.id, || {
                store::settle_bundle(&self.pool, self.id, delivery.id, &ids, sent, now)
            })
            .await?;
        }
        let recorded = decide(
            delivery,
            created_at,
            result,
            &self.settings,
            self.clock.now(),
        );
        match &recorded {
            Recorded::Sent { .. } => {
                self.metrics.delivery(&delivery.channel, "sent");
                let waited = self.clock.now().signed_duration_since(created_at);
                let seconds = waited.num_milliseconds().max(0) as f64 / 1000.0;
                self.metrics.paging.delivered(&delivery.channel, seconds);
            }
            Recorded::RetryAt { error, .. } => {
                self.metrics.delivery(&delivery.channel, "retry");
                let error = mask_contacts(error);
                tracing::info!(id = delivery.id, channel = %delivery.channel, %error, "delivery failed; will retry");
            }
            Recorded::Deferred { at } => {
                // The provider asked for a later turn (429 or Retry-After): not a failed attempt.
                self.metrics.delivery(&delivery.channel, "retry");
                tracing::info!(id = delivery.id, channel = %delivery.channel, %at, "the provider asked to wait; will send then");
            }
            Recorded::Dead { error } => {
                self.metrics.delivery(&delivery.channel, "dead");
                let error = mask_contacts(error);
                tracing::error!(id = delivery.id, channel = %delivery.channel, %error, "delivery dead");
            }
        }
        self.record(delivery.id, recorded, self.clock.now()).await?;
        Ok(())
    }

    /// Stores a send's result (if this dispatcher still holds the row), in one statement with
    /// the results of the other sends finishing meanwhile; a statement that fails is retried row
    /// by row, so one row's error is its own.
    async fn record(
        &self,
        id: i64,
        result: Recorded,
        at: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let results = self.results.get_or_init(|| {
            let (pool, worker, metrics) = (self.pool.clone(), self.id, self.metrics.clone());
            Batcher::start(2, MAX_RESULTS, move |outcomes: Vec<Outcome>| {
                metrics.batches.delivery(outcomes.len());
                let pool = pool.clone();
                async move {
                    match store::record_deliveries(&pool, worker, &outcomes).await {
                        Ok(stored) => stored.into_iter().map(Ok).collect(),
                        Err(e) => {
                            tracing::warn!(error = %e, results = outcomes.len(),
                                "storing send results failed; storing them one by one");
                            let mut each = Vec::with_capacity(outcomes.len());
                            for o in &outcomes {
                                let one = store::record_deliveries(
                                    &pool,
                                    worker,
                                    std::slice::from_ref(o),
                                );
                                each.push(one.await.map(|s| s.first().copied().unwrap_or(false)));
                            }
                            each
                        }
                    }
                }
            })
        });
        patiently(id, || async {
            let outcome = Outcome {
                id,
                result: result.clone(),
                at,
            };
            let stored = results.submit(outcome).await;
            stored.unwrap_or(Err(sqlx::Error::PoolClosed))
        })
        .await
    }

    /// Claims up to `limit` rows, at most `cap` per `(channel, cap)`, choosing per channel how
    /// its queue heads are found from how many destinations it had last time (a skip scan until
    /// a claim shows many: it never costs more than one probe per destination).
    pub(super) async fn claim(
        &self,
        caps: &[(&str, i64)],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<(Delivery, DateTime<Utc>)>, sqlx::Error> {
        let plan: Vec<store::ChannelClaim<'_>> = {
            let seen = self.destinations.lock().unwrap_or_else(|p| p.into_inner());
            caps.iter()
                .map(|(channel, cap)| store::ChannelClaim {
                    channel,
                    cap: *cap,
                    few_destinations: seen
                        .get(*channel)
                        .is_none_or(|n| *n < store::FEW_DESTINATIONS),
                })
                .collect()
        };
        let (rows, destinations) =
            store::claim_deliveries(&self.pool, self.id, &plan, now, lease_until, limit).await?;
        let mut seen = self.destinations.lock().unwrap_or_else(|p| p.into_inner());
        for (channel, n) in destinations {
            seen.insert(channel, n);
        }
        Ok(rows)
    }
}

/// Stores what a send came to: a send that went out must not be sent again because Postgres
/// was away when its result was stored, so while it cannot be reached the write is tried again,
/// for up to [`RECORD_PATIENCE`] (the row stays this dispatcher's, so nobody else sends it
/// meanwhile unless its lease runs out first, which the redelivery then counts).
async fn patiently<T, F, Fut>(id: i64, mut write: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut pause = Duration::from_millis(100);
    let give_up = std::time::Instant::now() + RECORD_PATIENCE;
    loop {
        match write().await {
            Err(e) if crate::store::unreachable(&e) && std::time::Instant::now() < give_up => {
                tracing::warn!(id, error = %e, "cannot store a send's result; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

/// The most pages one message carries besides its own.
const MAX_BUNDLE: i64 = 50;

/// Whether the pages waiting behind this one go out with it: only a page that already had to
/// wait (for a rate limit or a failing provider) takes others along, and only to a person or a
/// channel that reads them (Slack, SMS, e-mail); PagerDuty and webhooks get one event per
/// incident.
fn bundles(delivery: &Delivery) -> bool {
    matches!(delivery.channel.as_str(), "slack" | "sms" | "email")
        && delivery.payload["kind"] == "page"
        && (delivery.deferrals > 0 || delivery.attempts > 0)
}
