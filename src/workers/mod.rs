//! Background workers: they claim work from Postgres, call the core, and commit the result.

mod ahead;
mod delivery;
pub mod dispatcher;
pub mod escalation;
pub mod heartbeat;
mod held;
mod lease;
pub mod limits;
pub mod reports;
pub mod retention;
mod retry;
mod sending;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;

/// Wake-ups by NOTIFY on one channel, reconnecting by itself: a listener that cannot connect
/// (at start, or after its connection was lost) is retried with backoff from 1 s to 30 s, and the
/// worker's poll finds the work meanwhile, only later.
pub(crate) struct Wakeups {
    pool: PgPool,
    channel: &'static str,
    listener: Option<PgListener>,
    retry_at: tokio::time::Instant,
    backoff: Duration,
}

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Wakeups {
    /// Listens on `channel` (or schedules the first retry if it cannot now).
    pub(crate) async fn new(pool: &PgPool, channel: &'static str) -> Self {
        let mut w = Wakeups {
            pool: pool.clone(),
            channel,
            listener: None,
            retry_at: tokio::time::Instant::now(),
            backoff: FIRST_BACKOFF,
        };
        w.connect().await;
        w
    }

    async fn connect(&mut self) {
        let listening = async {
            let mut listener = PgListener::connect_with(&self.pool).await?;
            listener.listen(self.channel).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listening.await {
            Ok(listener) => {
                if self.backoff > FIRST_BACKOFF {
                    tracing::info!(channel = self.channel, "LISTEN connected again");
                }
                self.listener = Some(listener);
                self.backoff = FIRST_BACKOFF;
            }
            Err(e) => self.lost(&e),
        }
    }

    fn lost(&mut self, e: &sqlx::Error) {
        tracing::warn!(channel = self.channel, error = %e, retry_in = ?self.backoff,
            "cannot LISTEN; polling until it is back");
        self.listener = None;
        self.retry_at = tokio::time::Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// Waits for a notification, `wait`, or shutdown, whichever comes first; reconnects first
    /// when the listener is down and its retry is due.
    pub(crate) async fn idle(
        &mut self,
        wait: Duration,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) {
        if self.listener.is_none() && tokio::time::Instant::now() >= self.retry_at {
            self.connect().await;
        }
        // While down, wake for the retry too.
        let wait = match self.listener {
            Some(_) => wait,
            None => wait.min(
                self.retry_at
                    .saturating_duration_since(tokio::time::Instant::now()),
            ),
        };
        let notified = async {
            match self.listener.as_mut() {
                Some(l) => {
                    let got = l.recv().await.map(|_| ());
                    // A burst of notifications wakes the worker once.
                    while l.next_buffered().is_some() {}
                    got
                }
                None => std::future::pending().await,
            }
        };
        let failed = tokio::select! {
            got = notified => got.err(),
            () = tokio::time::sleep(wait) => None,
            _ = shutdown.changed() => None,
        };
        if let Some(e) = failed {
            self.lost(&e);
        }
    }
}
