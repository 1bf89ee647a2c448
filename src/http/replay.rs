//! Signed callbacks handled once: Slack's (timestamp, signature) pairs, PagerDuty's event ids and
//! Twilio's MessageSids are remembered (in Postgres, so on every replica) for as long as a
//! replay could still pass the signature check.

use std::time::Duration;

use super::error::ApiError;
use crate::app::App;
use crate::store::replays;

/// A callback seen for the first time; [`First::failed`] forgets it again when handling it
/// failed for a reason a retry can fix.
pub(super) struct First {
    pool: sqlx::PgPool,
    source: &'static str,
    key: String,
}

/// Remembers `key` of `source` for `keep`; `None` when it was seen before (a replay).
pub(super) async fn first(
    app: &App,
    source: &'static str,
    key: String,
    keep: Duration,
) -> Result<Option<First>, ApiError> {
    let now = app.clock.now();
    let until = chrono::TimeDelta::from_std(keep)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
    if replays::first_time(&app.pool, source, &key, now, until).await? {
        Ok(Some(First {
            pool: app.pool.clone(),
            source,
            key,
        }))
    } else {
        app.metrics.risks.replay_refused(source);
        tracing::warn!(
            source,
            "a signed callback arrived a second time: refused as a replay"
        );
        Ok(None)
    }
}

impl First {
    /// Handling failed with `error`: when a retry could succeed (the database), the callback
    /// is forgotten so the provider's retry is not refused.
    pub(super) async fn failed(self, error: &ApiError) {
        if matches!(error, ApiError::Unavailable(_)) {
            replays::forget(&self.pool, self.source, &self.key).await;
        }
    }
}
