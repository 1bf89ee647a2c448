//! The outbox dispatcher: claims due notifications in order per destination, sends them outside
//! any transaction, and records sent / retry (exponential backoff with jitter, `Retry-After`
//! honoured) / dead. The loop is a sequence of [`Rounds`]; tests step the same rounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::delivery::Engine;
use super::retry::delta;
use crate::channels::Channels;
use crate::clock::Clock;
use crate::core::policy::DELIVERED_CHANNELS;
use crate::live::{Live, Reloadable};
use crate::metrics::Metrics;
use crate::store::outbox::OUTBOX_CHANNEL;
use crate::workers::limits::Limits;

/// Tuning of the dispatcher.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// How long a claim holds without news; a send in flight renews it every third of this, so
    /// a live send is never taken over however slow its provider.
    pub lease: Duration,
    pub batch: i64,
    /// Sends in flight per channel.
    pub concurrency: usize,
    /// First retry delay; doubles per attempt up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// A notification failing this many times, or this old, is dead.
    pub max_attempts: i32,
    pub max_age: Duration,
    pub poll: Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            lease: Duration::from_secs(15),
            batch: 100,
            concurrency: 32,
            backoff: Duration::from_secs(1),
            // A page is due now: once its provider is back it must not sit out a long backoff
            // (scripts/faults.sh slack_outage measured 4 min with a 300 s cap). Fifty failures
            // at this cap is about 24 minutes of a provider failing before a page is dead.
            max_backoff: Duration::from_secs(30),
            max_attempts: 50,
            max_age: Duration::from_secs(24 * 3600),
            poll: Duration::from_secs(1),
        }
    }
}

/// One dispatcher (any number may run on one database).
pub struct Dispatcher {
    pub id: Uuid,
    engine: Arc<Engine>,
}

impl Dispatcher {
    /// A dispatcher with a fresh id.
    pub fn new(
        pool: PgPool,
        clock: Arc<dyn Clock>,
        live: Arc<Live<Reloadable>>,
        metrics: Arc<Metrics>,
        channels: Channels,
        settings: DispatchSettings,
    ) -> Self {
        let mut channels = channels;
        channels.slack.count_fallbacks_in(metrics.clone());
        let id = Uuid::now_v7();
        let engine = Engine {
            limits: Limits::new(clock.clone(), &channels.rate_limits),
            id,
            pool,
            clock,
            live,
            metrics,
            channels: Arc::new(Live::new(channels)),
            settings,
            env: Arc::new(crate::config::process_env),
            destinations: Default::default(),
            results: Default::default(),
            held: Default::default(),
        };
        Dispatcher {
            id,
            engine: Arc::new(engine),
        }
    }

    /// The senders this dispatcher uses, for a reload to replace.
    pub fn channels(&self) -> Arc<Live<Channels>> {
        self.engine.channels.clone()
    }

    /// Reads `${ENV}` references from `env` instead of the process environment.
    pub fn with_env(
        mut self,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        match Arc::get_mut(&mut self.engine) {
            Some(engine) => engine.env = Arc::new(env),
            None => unreachable!("a dispatcher is configured before it runs"),
        }
        self
    }

    /// One round of the production loop, then waits for its sends to record their results.
    /// Returns how many rows were claimed.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let mut rounds = Rounds::new(self.engine.clone());
        let (claimed, _) = rounds.round().await?;
        rounds.settle().await;
        Ok(claimed)
    }

    /// Runs until `shutdown`, woken by NOTIFY when rows are written and whenever a send ends
    /// (it frees its destination's next row); a short poll is the net.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let poll = self.engine.settings.poll;
        let mut wakeups = super::Wakeups::new(&self.engine.pool, OUTBOX_CHANNEL).await;
        let mut rounds = Rounds::new(self.engine);
        while !*shutdown.borrow() {
            let filled = match rounds.round().await {
                Ok((claimed, room)) => claimed > 0 && claimed == room,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox claim failed; retrying");
                    false
                }
            };
            // Every free slot took a row: there may be more. Otherwise what was due and free is
            // taken, and only an ended send, a new row or the poll brings another.
            if filled {
                continue;
            }
            let done = rounds.done.clone();
            tokio::select! {
                () = wakeups.idle(poll, &mut shutdown) => {}
                () = rounds.enough_done(&done) => {}
            }
        }
        // Let sends in flight record their results (each is bounded by its channel's timeout).
        rounds.settle().await;
    }
}

/// The dispatcher's sends in flight. Each channel has its own `concurrency` slots and is
/// claimed separately, so a slow or hanging provider never holds back another channel.
struct Rounds {
    engine: Arc<Engine>,
    slots: Vec<(&'static str, Arc<Semaphore>)>,
    sends: JoinSet<()>,
    /// Notified when a send ends.
    done: Arc<Notify>,
    /// Sends in flight (counted down before `done` is notified).
    in_flight: Arc<AtomicUsize>,
    /// Sends in flight after the last claim that took any.
    after_claim: usize,
}

impl Rounds {
    fn new(engine: Arc<Engine>) -> Self {
        let per_channel = engine.settings.concurrency.max(1);
        let slots = DELIVERED_CHANNELS
            .iter()
            .map(|c| (*c, Arc::new(Semaphore::new(per_channel))))
            .collect();
        Rounds {
            engine,
            slots,
            sends: JoinSet::new(),
            done: Arc::new(Notify::new()),
            in_flight: Arc::new(AtomicUsize::new(0)),
            after_claim: 0,
        }
    }

    /// Returns once a quarter of the sends in flight after the last claim have ended (or all
    /// of them, when there were few): each ended send frees its destination's next row, and one
    /// claim for many of them costs about what a claim for one does.
    async fn enough_done(&mut self, done: &Notify) {
        loop {
            done.notified().await;
            let in_flight = self.in_flight.load(Ordering::Acquire);
            let ended = self.after_claim.saturating_sub(in_flight);
            if in_flight == 0 || ended * 4 >= self.after_claim {
                return;
            }
        }
    }

    /// One claim for every channel with a free slot, each up to its free slots (and `batch`);
    /// every claimed row's send starts at once. Returns how many were claimed, of how many free
    /// slots.
    async fn round(&mut self) -> Result<(usize, usize), sqlx::Error> {
        while self.sends.try_join_next().is_some() {}
        let batch = self.engine.settings.batch;
        let free: Vec<(&str, i64)> = self
            .slots
            .iter()
            .map(|(c, slot)| (*c, (slot.available_permits() as i64).min(batch)))
            .filter(|(_, n)| *n > 0)
            .collect();
        if free.is_empty() {
            return Ok((0, 0));
        }
        let room: i64 = free.iter().map(|(_, n)| n).sum();
        let now = self.engine.clock.now();
        let lease_until = now + delta(self.engine.settings.lease);
        // Rows a claim whose answer was lost leased to this dispatcher go back first.
        self.engine
            .held
            .free_lost(&self.engine.pool, self.engine.id)
            .await?;
        let rows = match self.engine.claim(&free, now, lease_until, room).await {
            Ok(rows) => rows,
            Err(e) => {
                self.engine.held.claim_failed(&e);
                return Err(e);
            }
        };
        self.engine.held.hold(rows.iter().map(|(d, _)| d.id));
        let claimed = rows.len();
        for (delivery, created_at) in rows {
            // Neither can happen (the claim took at most the free slots of these channels);
            // such a row would wait out its lease.
            let slot = self.slots.iter().find(|(c, _)| *c == delivery.channel);
            let Some(permit) = slot.and_then(|(_, s)| s.clone().try_acquire_owned().ok()) else {
                self.engine.held.release([delivery.id]);
                continue;
            };
            let (engine, done) = (self.engine.clone(), self.done.clone());
            let in_flight = self.in_flight.clone();
            in_flight.fetch_add(1, Ordering::AcqRel);
            self.sends.spawn(async move {
                if let Err(e) = engine.deliver(delivery, created_at).await {
                    tracing::warn!(error = %e, "delivery result not recorded; the lease will expire and it is sent again");
                }
                drop(permit);
                in_flight.fetch_sub(1, Ordering::AcqRel);
                done.notify_one();
            });
        }
        if claimed > 0 {
            self.after_claim = self.in_flight.load(Ordering::Acquire);
        }
        Ok((claimed, room as usize))
    }

    /// Waits until every send in flight has recorded its result.
    async fn settle(&mut self) {
        while self.sends.join_next().await.is_some() {}
    }
}
