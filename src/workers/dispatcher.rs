//! The outbox dispatcher: claims due notifications in order per destination, sends them outside
//! any transaction, and records sent / retry (exponential backoff with jitter, `Retry-After`
//! honoured) / dead. The loop is a sequence of [`Rounds`]; tests step the same rounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::ahead::{Ahead, Waiting};
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
    /// Rows claimed per channel beyond its free slots, taken by the sends that end while the
    /// next claim runs (each waits at most half a lease, then is given back).
    pub prefetch: usize,
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
            prefetch: 32,
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
        let claimed = rounds.round().await?;
        rounds.settle().await;
        Ok(claimed)
    }

    /// Runs until `shutdown`, woken by NOTIFY when rows are written, whenever enough sends
    /// have ended (each frees its destination's next row) and when the next retry or deferred
    /// row falls due; a short poll is the net.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut wakeups = super::Wakeups::new(&self.engine.pool, OUTBOX_CHANNEL).await;
        let mut rounds = Rounds::new(self.engine);
        while !*shutdown.borrow() {
            if let Err(e) = rounds.round().await {
                tracing::warn!(error = %e, "outbox claim failed; retrying");
            }
            // What was due and free is taken, or as much of it as the slots and the rows
            // claimed ahead hold: only ended sends, a new row, a due time or the poll bring more.
            let wait = rounds.until_next_due().await;
            let done = rounds.done.clone();
            tokio::select! {
                () = wakeups.idle(wait, &mut shutdown) => {}
                () = rounds.enough_done(&done) => {}
            }
        }
        // Rows claimed ahead go back for another dispatcher; sends in flight record their
        // results (each is bounded by its channel's timeout).
        rounds.close().await;
    }
}

/// One channel's slots and the rows claimed ahead of them.
struct Lane {
    channel: &'static str,
    slots: Arc<Semaphore>,
    ahead: Arc<Ahead>,
}

impl Lane {
    /// Slots taken by sends in flight.
    fn busy(&self, per_channel: usize) -> usize {
        per_channel - self.slots.available_permits().min(per_channel)
    }
}

/// How far the sends have got, shared with them.
#[derive(Default)]
struct Progress {
    /// Sends ended since the start.
    ended: AtomicUsize,
    /// A send ended with no row claimed ahead to take: its slot is idle.
    idle_slot: AtomicBool,
}

/// The dispatcher's sends in flight. Each channel has its own `concurrency` slots and is
/// claimed separately, so a slow or hanging provider never holds back another channel.
struct Rounds {
    engine: Arc<Engine>,
    lanes: Vec<Lane>,
    sends: JoinSet<()>,
    /// Notified when a send ends.
    done: Arc<Notify>,
    progress: Arc<Progress>,
    /// Sends ended, and rows outstanding, after the last claim that took any.
    at_claim: (usize, usize),
    /// The time the last round's claim was made as of; `None` when it made none.
    claimed_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Rounds {
    fn new(engine: Arc<Engine>) -> Self {
        let per_channel = engine.settings.concurrency.max(1);
        let lanes = DELIVERED_CHANNELS
            .iter()
            .map(|c| Lane {
                channel: c,
                slots: Arc::new(Semaphore::new(per_channel)),
                ahead: Arc::default(),
            })
            .collect();
        Rounds {
            engine,
            lanes,
            sends: JoinSet::new(),
            done: Arc::new(Notify::new()),
            progress: Arc::default(),
            at_claim: (0, 0),
            claimed_at: None,
        }
    }

    /// How long to sleep after a round: until the first row falling due after its claim's time
    /// (a retry's backoff ends, a deferral passes; at once if that is past), at most the poll.
    /// After a round that could not claim (every slot and the rows ahead full), the poll: only
    /// an ended send makes room then.
    async fn until_next_due(&self) -> Duration {
        let poll = self.engine.settings.poll;
        let Some(claimed_at) = self.claimed_at else {
            return poll;
        };
        match crate::store::leases::next_due_after(&self.engine.pool, claimed_at).await {
            Ok(Some(next)) => (next - self.engine.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_millis(1))
                .min(poll),
            _ => poll,
        }
    }

    /// Returns, after a send has ended, once a slot has nothing left to send, or nothing is
    /// outstanding, or a quarter of the rows outstanding after the last claim have been sent:
    /// one claim for many rows costs about what a claim for one does. With nothing sent since
    /// the last round it never returns (only new rows or the poll bring work then).
    async fn enough_done(&mut self, done: &Notify) {
        loop {
            // A send that ended since the last look left a permit: no ending is missed.
            done.notified().await;
            let p = &self.progress;
            let ended = p.ended.load(Ordering::Acquire) - self.at_claim.0;
            if p.idle_slot.swap(false, Ordering::AcqRel)
                || self.outstanding() == 0
                || ended * 4 >= self.at_claim.1.max(1)
            {
                return;
            }
        }
    }

    /// Starts rows claimed ahead on free slots (a send that ended just as they were queued
    /// left its slot to them), then claims for every channel with room: free slots plus
    /// `prefetch`, less what waits already, at most `batch`. Returns how many were claimed.
    async fn round(&mut self) -> Result<usize, sqlx::Error> {
        while self.sends.try_join_next().is_some() {}
        for i in 0..self.lanes.len() {
            while self.lanes[i].ahead.len() > 0 {
                let Ok(permit) = self.lanes[i].slots.clone().try_acquire_owned() else {
                    break;
                };
                if let Some(row) = self.lanes[i].ahead.next(&self.engine).await {
                    self.start(i, permit, row);
                }
            }
        }
        let settings = &self.engine.settings;
        let (per_channel, batch) = (settings.concurrency.max(1), settings.batch);
        let room: Vec<(&str, i64)> = self
            .lanes
            .iter()
            .map(|l| {
                let room = (per_channel + settings.prefetch)
                    .saturating_sub(l.busy(per_channel) + l.ahead.len());
                (l.channel, (room as i64).min(batch))
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        self.claimed_at = None;
        if room.is_empty() {
            return Ok(0);
        }
        let limit: i64 = room.iter().map(|(_, n)| n).sum();
        let now = self.engine.clock.now();
        let lease_until = now + delta(settings.lease);
        // Rows a claim whose answer was lost leased to this dispatcher go back first.
        self.engine
            .held
            .free_lost(&self.engine.pool, self.engine.id)
            .await?;
        self.claimed_at = Some(now);
        let rows = match self.engine.claim(&room, now, lease_until, limit).await {
            Ok(rows) => rows,
            Err(e) => {
                self.engine.held.claim_failed(&e);
                return Err(e);
            }
        };
        self.engine.held.hold(rows.iter().map(|(d, _)| d.id));
        let claimed = rows.len();
        for (delivery, created_at) in rows {
            let Some(i) = self
                .lanes
                .iter()
                .position(|l| l.channel == delivery.channel)
            else {
                // Cannot happen (the claim took only these channels); such a row would wait
                // out its lease.
                self.engine.held.release([delivery.id]);
                continue;
            };
            let row = Waiting {
                delivery,
                created_at,
                claimed_at: now,
            };
            match self.lanes[i].slots.clone().try_acquire_owned() {
                Ok(permit) => self.start(i, permit, row),
                Err(_) => self.lanes[i].ahead.push(row),
            }
        }
        self.engine.metrics.batches.claim(claimed);
        if claimed > 0 {
            self.at_claim = (
                self.progress.ended.load(Ordering::Acquire),
                self.outstanding(),
            );
        }
        Ok(claimed)
    }

    /// Rows in flight (slots taken) or claimed ahead, over every channel.
    fn outstanding(&self) -> usize {
        let per_channel = self.engine.settings.concurrency.max(1);
        self.lanes
            .iter()
            .map(|l| l.busy(per_channel) + l.ahead.len())
            .sum()
    }

    /// Sends `row` on lane `i`'s slot, then the rows claimed ahead on that lane while any wait.
    fn start(&mut self, i: usize, permit: OwnedSemaphorePermit, row: Waiting) {
        let (engine, done) = (self.engine.clone(), self.done.clone());
        let (progress, ahead) = (self.progress.clone(), self.lanes[i].ahead.clone());
        self.sends.spawn(async move {
            let mut row = Some(row);
            while let Some(w) = row.take() {
                if let Err(e) = engine.deliver(w.delivery, w.created_at).await {
                    tracing::warn!(error = %e, "delivery result not recorded; the lease will expire and it is sent again");
                }
                progress.ended.fetch_add(1, Ordering::AcqRel);
                row = ahead.next(&engine).await;
                if row.is_none() {
                    drop(permit);
                    progress.idle_slot.store(true, Ordering::Release);
                    done.notify_one();
                    return;
                }
                done.notify_one();
            }
        });
    }

    /// Waits until every send in flight, and every row claimed ahead, has been sent and its
    /// result recorded.
    async fn settle(&mut self) {
        while self.sends.join_next().await.is_some() {}
    }

    /// Gives back the rows claimed ahead, then waits for the sends in flight.
    async fn close(&mut self) {
        for lane in &self.lanes {
            lane.ahead.give_back_all(&self.engine).await;
        }
        self.settle().await;
    }
}
