//! Signed callbacks handled once: Slack's (timestamp, signature) pairs are remembered (in
//! Postgres, so on every replica) for as long as a replay could still pass the signature check.
//! PagerDuty's event ids and Twilio's MessageSids are recorded inside their action instead.

use std::time::Duration;

use super::error::ApiError;
use crate::app::App;
use crate::store::replays;

/// Remembers `key` of `source` for `keep`; `false` when it was seen before (a replay). For
/// callbacks that act on an incident, record a [`replays::Once`] in the action instead.
pub(super) async fn first(
    app: &App,
    source: &'static str,
    key: String,
    keep: Duration,
) -> Result<bool, ApiError> {
    let now = app.clock.now();
    let until = chrono::TimeDelta::from_std(keep)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
    if replays::first_time(&app.pool, source, &key, now, until).await? {
        Ok(true)
    } else {
        refused(app, source, "a signed callback arrived a second time");
        Ok(false)
    }
}

/// Counts and logs a callback refused as replayed or stale (`why` says which).
pub(super) fn refused(app: &App, source: &'static str, why: &str) {
    app.metrics.risks.replay_refused(source);
    tracing::warn!(source, "{why}: refused as a replay");
}
