//! Rate limits per channel and destination, and a global cap per provider (governor, on the
//! injected clock): a message over a limit waits for its turn; it is never dropped.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::clock::Clock;
pub use crate::config::{ChannelRates, Rate, default_rates};

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

type Keyed = RateLimiter<String, HashMapStateStore<String>, Injected, NoOpMiddleware<Duration>>;
type Direct = RateLimiter<NotKeyed, InMemoryState, Injected, NoOpMiddleware<Duration>>;

/// A rate as governor's quota: all of `count` at once, then one per `per / count`.
fn quota(rate: &Rate) -> Option<Quota> {
    let burst = NonZeroU32::new(rate.count)?;
    Some(Quota::with_period(rate.per / rate.count)?.allow_burst(burst))
}

/// The limiters of one dispatcher.
pub struct Limits {
    per_destination: BTreeMap<String, Keyed>,
    global: BTreeMap<String, Direct>,
    clock: Injected,
    /// Checks since keys whose limit has fully recovered were last dropped.
    checks: std::sync::atomic::AtomicUsize,
}

/// Every this many checks, keys that remember nothing a fresh key would not are dropped, so a
/// flood of distinct addresses cannot grow memory without end.
const PRUNE_EVERY: usize = 4096;

impl Limits {
    /// Limiters for `rates`, timed by `clock`.
    pub fn new(clock: Arc<dyn Clock>, rates: &BTreeMap<String, ChannelRates>) -> Self {
        let clock = Injected(clock);
        let mut per_destination = BTreeMap::new();
        let mut global = BTreeMap::new();
        for (channel, r) in rates {
            if let Some(q) = r.per_destination.as_ref().and_then(quota) {
                let limiter = RateLimiter::new(q, HashMapStateStore::default(), clock.clone());
                per_destination.insert(channel.clone(), limiter);
            }
            if let Some(q) = r.global.as_ref().and_then(quota) {
                let limiter = RateLimiter::new(q, InMemoryState::default(), clock.clone());
                global.insert(channel.clone(), limiter);
            }
        }
        Limits {
            per_destination,
            global,
            clock,
            checks: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// `Ok` if a message to `destination` on `channel` may leave now, else how long to wait.
    /// The destination's own limit is asked first, so a busy destination does not use up the
    /// provider's global allowance while it waits.
    pub fn check(&self, channel: &str, destination: &str) -> Result<(), Duration> {
        let n = self
            .checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune();
        }
        let now = self.clock.now();
        if let Some(limiter) = self.per_destination.get(channel) {
            limiter
                .check_key(&destination.to_string())
                .map_err(|not_until| not_until.wait_time_from(now))?;
        }
        if let Some(limiter) = self.global.get(channel) {
            limiter
                .check()
                .map_err(|not_until| not_until.wait_time_from(now))?;
        }
        Ok(())
    }
}

impl Limits {
    /// Drops the keys whose limit has fully recovered (they behave as new keys would).
    pub fn prune(&self) {
        for limiter in self.per_destination.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// How many destinations are remembered, over all channels.
    pub fn tracked(&self) -> usize {
        self.per_destination.values().map(|l| l.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn rates_parse() {
        let r = |c, s| Rate {
            count: c,
            per: Duration::from_secs(s),
        };
        assert_eq!(Rate::parse("1/s"), Ok(r(1, 1)));
        assert_eq!(Rate::parse("5/15m"), Ok(r(5, 900)));
        assert_eq!(Rate::parse(" 120 / 1m "), Ok(r(120, 60)));
        for bad in ["", "5", "0/s", "5/0s", "x/s", "5/fortnight", "-1/s"] {
            assert!(Rate::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_destination_waits_its_turn_and_the_global_cap_holds_all() {
        let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
        let rates = BTreeMap::from([(
            "sms".to_string(),
            ChannelRates {
                per_destination: Rate::parse("2/1m").ok(),
                global: Rate::parse("3/1m").ok(),
            },
        )]);
        let limits = Limits::new(clock.clone(), &rates);
        assert!(limits.check("sms", "+1").is_ok());
        assert!(limits.check("sms", "+1").is_ok());
        let wait = limits.check("sms", "+1").unwrap_err();
        assert_eq!(wait, Duration::from_secs(30));
        assert!(limits.check("sms", "+2").is_ok());
        // The global cap of 3 is reached though +3 has sent nothing.
        assert!(limits.check("sms", "+3").is_err());
        assert!(limits.check("email", "a@b").is_ok(), "unlimited channel");
        clock.advance(chrono::TimeDelta::seconds(30));
        assert!(limits.check("sms", "+1").is_ok());
    }

    #[test]
    fn the_memory_of_a_hundred_thousand_addresses_is_dropped_once_they_recover() {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let rates = BTreeMap::from([(
            "client".to_string(),
            ChannelRates {
                per_destination: Rate::parse("100/1m").ok(),
                global: None,
            },
        )]);
        let limits = Limits::new(clock.clone(), &rates);
        for i in 0..100_000u32 {
            let addr = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
            assert!(limits.check("client", &addr).is_ok());
        }
        // Pruned along the way, but every address is still within its minute.
        assert!(limits.tracked() > 90_000, "{}", limits.tracked());
        clock.advance(chrono::TimeDelta::minutes(2));
        for _ in 0..PRUNE_EVERY {
            let _ = limits.check("client", "192.0.2.1");
        }
        assert!(limits.tracked() <= 1, "{} keys kept", limits.tracked());
    }

    #[test]
    fn a_flood_of_distinct_addresses_is_forgotten_once_their_limits_recover() {
        let clock = Arc::new(ManualClock::new("2026-11-25T19:00:00Z".parse().unwrap()));
        let rates = BTreeMap::from([(
            "client".to_string(),
            ChannelRates {
                per_destination: Some(Rate::parse("100/1m").unwrap()),
                global: None,
            },
        )]);
        let limits = Limits::new(clock.clone(), &rates);
        for i in 0..100_000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
            assert!(limits.check("client", &ip).is_ok());
        }
        let peak = limits.tracked();
        assert!(peak > 90_000, "{peak}");
        // A minute later every one of them has recovered: the next checks drop them all.
        clock.advance(chrono::TimeDelta::seconds(61));
        for _ in 0..PRUNE_EVERY {
            let _ = limits.check("client", "192.0.2.1");
        }
        assert!(limits.tracked() <= 1, "{} keys left", limits.tracked());
    }
}
