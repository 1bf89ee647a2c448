//! Rate limits per channel and destination (governor, on the injected clock): a message over the
//! limit waits for its turn; it is never dropped.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::Clock;

/// Our clock as governor's: time since the Unix epoch.
#[derive(Clone)]
struct Injected(Arc<dyn Clock>);

impl GovernorClock for Injected {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.0
            .now()
            .signed_duration_since(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH)
            .to_std()
            .unwrap_or_default()
    }
}

type Limiter = RateLimiter<String, HashMapStateStore<String>, Injected, NoOpMiddleware<Duration>>;

/// One quota: `burst` messages at once, then one per `every`.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub every: Duration,
    pub burst: u32,
}

/// The default limits per destination: Slack about one message a second per channel; SMS five
/// per fifteen minutes per number; PagerDuty well under its per-key limit. E-mail and webhooks
/// are not limited.
pub fn default_rates() -> Vec<(&'static str, Rate)> {
    vec![
        (
            "slack",
            Rate {
                every: Duration::from_secs(1),
                burst: 1,
            },
        ),
        (
            "sms",
            Rate {
                every: Duration::from_secs(180),
                burst: 5,
            },
        ),
        (
            "pagerduty",
            Rate {
                every: Duration::from_millis(500),
                burst: 10,
            },
        ),
    ]
}

/// The limiters of one dispatcher.
pub struct Limits {
    limiters: HashMap<String, Limiter>,
}

impl Limits {
    /// Limiters for `rates`, timed by `clock`.
    pub fn new(clock: Arc<dyn Clock>, rates: &[(&str, Rate)]) -> Self {
        let limiters = rates
            .iter()
            .filter_map(|(channel, rate)| {
                let burst = NonZeroU32::new(rate.burst.max(1))?;
                let quota = Quota::with_period(rate.every)?.allow_burst(burst);
                let limiter =
                    RateLimiter::new(quota, HashMapStateStore::default(), Injected(clock.clone()));
                Some((channel.to_string(), limiter))
            })
            .collect();
        Limits { limiters }
    }

    /// `Ok` if a message to `destination` on `channel` may leave now, else how long to wait.
    pub fn check(&self, channel: &str, destination: &str) -> Result<(), Duration> {
        let Some(limiter) = self.limiters.get(channel) else {
            return Ok(());
        };
        limiter
            .check_key(&destination.to_string())
            .map_err(|not_until| not_until.wait_time_from(limiter_now(limiter)))
    }
}

fn limiter_now(limiter: &Limiter) -> Duration {
    limiter.clock().now()
}
