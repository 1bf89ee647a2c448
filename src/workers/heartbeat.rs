//! Watches every integration's heartbeat (see [`crate::heartbeat`]): every [`CHECK_EVERY`], a
//! missing one is raised as a critical alert through ingest, and resolved once it returns. Any
//! number of replicas may run this; they raise the same alert, so one incident opens.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::heartbeat::missing_webhook;
use crate::ingest::Ingested;
use crate::store::heartbeats;

/// How often heartbeats are looked at (a missing one is noticed at most this late).
pub const CHECK_EVERY: Duration = Duration::from_secs(15);

/// Looks at every configured heartbeat once.
pub async fn check_once(app: &App) -> Result<(), sqlx::Error> {
    let live = app.live.get();
    for (integration, heartbeat) in &live.heartbeats {
        let now = app.clock.now();
        let after = heartbeat.missing_after;
        let Some(watch) =
            heartbeats::watch(&app.pool, integration, now, after.as_secs_f64()).await?
        else {
            continue; // just started watching
        };
        let missing = now
            .signed_duration_since(watch.last_seen_at)
            .to_std()
            .unwrap_or_default()
            > after;
        let seen = watch.last_seen_at.timestamp_millis() as f64 / 1000.0;
        app.metrics.paging.heartbeat(integration, seen, missing);
        let Some(since) = watch.missing_since else {
            continue;
        };
        if missing {
            let webhook = missing_webhook(integration, heartbeat, since, None);
            if app.ingestor.ingest(integration, &webhook).await? == Ingested::Changed {
                tracing::error!(integration = %integration, %since,
                    "heartbeat missing: Alertmanager's heartbeat alert stopped arriving; paging");
            }
        } else {
            let webhook = missing_webhook(integration, heartbeat, since, Some(watch.last_seen_at));
            app.ingestor.ingest(integration, &webhook).await?;
            heartbeats::clear_missing(&app.pool, integration, since).await?;
            tracing::info!(integration = %integration, back = %watch.last_seen_at, "heartbeat back; resolved");
        }
    }
    Ok(())
}

/// Checks every [`CHECK_EVERY`] until `shutdown`.
pub async fn run(app: Arc<App>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        if let Err(e) = check_once(&app).await {
            tracing::warn!(error = %e, "heartbeat check failed; retrying");
        }
        tokio::select! {
            () = tokio::time::sleep(CHECK_EVERY) => {}
            _ = shutdown.changed() => {}
        }
    }
}
