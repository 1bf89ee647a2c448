//! What to record for a send's result: sent, retried after a backoff, or dead. Pure.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::dispatcher::DispatchSettings;
use crate::channels::{Delivery, SendResult};
use crate::store::outbox::Recorded;

pub(super) fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// What to record for a send: retries back off exponentially with a deterministic jitter
/// (±20 %, from the row id); too many attempts or too old is dead. When the provider said when
/// to come back (`Retry-After`, a 429), the page waits for that turn without it counting as a
/// failed attempt — a minute of 429s used to spend every attempt and kill the page.
pub fn decide(
    delivery: &Delivery,
    created_at: DateTime<Utc>,
    result: SendResult,
    settings: &DispatchSettings,
    now: DateTime<Utc>,
) -> Recorded {
    // What is stored and shown never carries a destination's URL (its credential).
    let redact = crate::channels::redact::text;
    match result {
        SendResult::Sent { reference } => Recorded::Sent { reference },
        SendResult::Dead { error } | SendResult::Gone { error } => Recorded::Dead {
            error: redact(&error),
        },
        SendResult::Retry {
            after: Some(after),
            error: _,
        } if now - created_at < delta(settings.max_age) => Recorded::Deferred {
            at: now + delta(after),
        },
        SendResult::Retry { after, error } => {
            let error = redact(&error);
            let attempts = delivery.attempts + 1;
            if attempts >= settings.max_attempts || now - created_at >= delta(settings.max_age) {
                return Recorded::Dead {
                    error: format!("gave up after {attempts} attempts: {error}"),
                };
            }
            let backoff = after.unwrap_or_else(|| {
                let exp = settings
                    .backoff
                    .saturating_mul(1u32 << attempts.clamp(0, 20) as u32 >> 1)
                    .min(settings.max_backoff);
                let jitter = 0.8
                    + 0.4
                        * ((delivery.id.wrapping_mul(2_654_435_761) as u64 % 1000) as f64 / 1000.0);
                exp.mul_f64(jitter)
            });
            Recorded::RetryAt {
                at: now + delta(backoff),
                error,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(attempts: i32) -> Delivery {
        Delivery {
            id: 7,
            dedup_key: "k".into(),
            channel: "slack".into(),
            recipient: "user:alice".into(),
            payload: serde_json::json!({}),
            attempts,
            incident: Default::default(),
            redelivery: false,
            deferrals: 0,
            bundled: Vec::new(),
            created_at: Utc::now(),
        }
    }

    fn retry(after: Option<Duration>) -> SendResult {
        SendResult::Retry {
            after,
            error: "HTTP 503".into(),
        }
    }

    #[test]
    fn a_provider_asking_to_wait_defers_the_page_without_spending_an_attempt() {
        let (s, now) = (DispatchSettings::default(), Utc::now());
        let d = delivery(s.max_attempts + 5);
        let got = decide(&d, now, retry(Some(Duration::from_secs(3))), &s, now);
        assert!(
            matches!(got, Recorded::Deferred { at } if at == now + TimeDelta::seconds(3)),
            "{got:?}"
        );
        // Past its age it is dead all the same.
        let old = now - delta(s.max_age);
        let got = decide(&d, old, retry(Some(Duration::from_secs(3))), &s, now);
        assert!(matches!(got, Recorded::Dead { .. }), "{got:?}");
    }

    #[test]
    fn failures_back_off_to_at_most_the_cap_then_die() {
        let (s, now) = (DispatchSettings::default(), Utc::now());
        let wait = |attempts| match decide(&delivery(attempts), now, retry(None), &s, now) {
            Recorded::RetryAt { at, .. } => (at - now).to_std().unwrap(),
            other => panic!("{other:?}"),
        };
        assert!(wait(0) <= Duration::from_millis(1200), "{:?}", wait(0));
        assert!(wait(20) <= s.max_backoff.mul_f64(1.2));
        assert!(wait(20) >= s.max_backoff.mul_f64(0.8));
        let last = decide(&delivery(s.max_attempts - 1), now, retry(None), &s, now);
        assert!(matches!(last, Recorded::Dead { .. }), "{last:?}");
    }
}
