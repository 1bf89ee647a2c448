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
/// (±20 %, from the row id) unless the provider said when; too many attempts or too old is dead.
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
