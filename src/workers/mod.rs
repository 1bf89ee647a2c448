//! Background workers: they claim work from Postgres, call the core, and commit the result.

pub mod dispatcher;
pub mod escalation;
pub mod limits;
pub mod retention;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;

/// A listener on a NOTIFY channel; `None` (polling only) if it cannot connect now.
pub(crate) async fn listen(pool: &PgPool, channel: &str) -> Option<PgListener> {
    let listening = async {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(channel).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    match listening.await {
        Ok(listener) => Some(listener),
        Err(e) => {
            // Work is still found by the poll, only later.
            tracing::warn!(channel, error = %e, "cannot LISTEN; polling only");
            None
        }
    }
}

/// Waits for a notification, `wait`, or shutdown, whichever comes first.
pub(crate) async fn idle(
    listener: &mut Option<PgListener>,
    wait: Duration,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) {
    let notified = async {
        match listener.as_mut() {
            Some(l) => {
                let _ = l.recv().await;
                // A burst of notifications wakes the worker once.
                while l.next_buffered().is_some() {}
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = notified => {}
        () = tokio::time::sleep(wait) => {}
        _ = shutdown.changed() => {}
    }
}
