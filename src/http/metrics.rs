//! `GET /metrics` in the Prometheus text format.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::app::App;
use crate::store;

/// The metrics route.
pub fn router() -> Router<Arc<App>> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    let pool = &app.pool;
    let now = app.clock.now();
    app.metrics.set_pool(
        pool.size(),
        pool.num_idle(),
        app.settings.database.max_connections,
    );
    // A scrape must not hang on a sick database: the gauges keep their last values.
    let counts = tokio::time::timeout(
        Duration::from_secs(2),
        store::open_incidents_by_severity(pool),
    )
    .await;
    if let Ok(Ok(next)) = tokio::time::timeout(
        Duration::from_secs(2),
        store::escalation::next_escalation_due(pool),
    )
    .await
    {
        let overdue = next.map_or(0.0, |due| seconds_since(now, due));
        app.metrics.set_oldest_overdue(overdue);
    }
    if let Ok(Ok(depth)) =
        tokio::time::timeout(Duration::from_secs(2), store::outbox_depth(pool, now)).await
    {
        for channel in crate::core::policy::DELIVERED_CHANNELS {
            let (pending, oldest) = depth
                .iter()
                .find(|(c, _, _)| c == channel)
                .map_or((0, None), |(_, n, due)| (*n, *due));
            let waited = oldest.map_or(0.0, |due| seconds_since(now, due));
            app.metrics.paging.set_outbox(channel, pending, waited);
        }
    }
    match counts {
        Ok(Ok(counts)) => {
            for (severity, flapping, n) in counts {
                app.metrics
                    .set_open_incidents(severity.as_str(), flapping, n);
            }
        }
        Ok(Err(e)) => tracing::debug!(error = %e, "open incident counts unavailable"),
        Err(_) => tracing::debug!("open incident counts timed out"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.encode(),
    )
}

/// Seconds from `then` to `now`, never negative.
fn seconds_since(now: chrono::DateTime<chrono::Utc>, then: chrono::DateTime<chrono::Utc>) -> f64 {
    now.signed_duration_since(then).num_milliseconds().max(0) as f64 / 1000.0
}
