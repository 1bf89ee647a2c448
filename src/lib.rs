//! alertrouter: turns Prometheus Alertmanager webhooks into incidents, durably, exactly once.
//!
//! [`run`] starts the whole service on a listener; `main` and the integration tests both call it.

pub mod alertmanager;
pub mod app;
pub mod backup;
pub mod batcher;
pub mod build_info;
pub mod channels;
pub mod clock;
pub mod config;
pub mod core;
pub mod heartbeat;
pub mod http;
pub mod ingest;
pub mod links;
pub mod live;
pub mod metrics;
pub mod reload;
pub mod reports;
pub mod routing;
pub mod service;
pub mod simulate;
pub mod store;
pub mod telemetry;
pub mod templates;
pub mod workers;

#[cfg(test)]
mod parser_props;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

pub use crate::app::App;
use crate::clock::Clock;
use crate::config::Settings;
use crate::workers::dispatcher::{DispatchSettings, Dispatcher};
use crate::workers::escalation::{EscalationSettings, EscalationWorker};

/// Starts alertrouter on `listener` and runs until `shutdown` completes, then stops accepting
/// and finishes the requests in flight.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = App::new(settings, clock)?;
    serve(app, listener, shutdown).await
}

/// Serves an already built [`App`] (tests keep a handle on it).
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let migrations = tokio::spawn(migrate_until_done(app.pool.clone()));
    let (draining, delay) = (app.clone(), app.settings.server.shutdown_delay);
    let shutdown = async move {
        shutdown.await;
        // Not ready from now on, while everything is still served for `shutdown_delay`.
        draining
            .draining
            .store(true, std::sync::atomic::Ordering::Release);
        if !delay.is_zero() {
            tracing::info!(delay = ?delay, "not ready; closing the listeners after the shutdown delay");
            tokio::time::sleep(delay).await;
        }
    };
    let (stop_workers, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(
        app.jwks
            .clone()
            .run(app.settings.api.jwt.jwks_refresh, stopping.clone()),
    );
    let channels = match app.settings.role.runs_workers() {
        true => Some(app.senders(&app.settings).map_err(anyhow::Error::msg)?),
        false => None,
    };
    let worker = channels.map(|channels| {
        let worker = EscalationWorker::new(
            app.pool.clone(),
            app.clock.clone(),
            app.live.clone(),
            app.metrics.clone(),
            EscalationSettings::default(),
        );
        let dispatcher = Dispatcher::new(
            app.pool.clone(),
            app.clock.clone(),
            app.live.clone(),
            app.metrics.clone(),
            channels,
            DispatchSettings::default(),
        );
        app.reload_senders_of(dispatcher.channels());
        let stopping_too = stopping.clone();
        tokio::spawn(workers::retention::run(
            app.pool.clone(),
            app.clock.clone(),
            app.settings.api.retention,
            workers::retention::interval(app.settings.api.retention),
            stopping.clone(),
        ));
        tokio::spawn(workers::heartbeat::run(app.clone(), stopping.clone()));
        let timers = tokio::spawn(worker.run(stopping));
        let deliveries = tokio::spawn(dispatcher.run(stopping_too));
        (timers, deliveries)
    });
    tracing::info!(addr = %listener.local_addr()?, role = ?app.settings.role, config = %app.settings.summary(), "alertrouter listening");
    let result = listen(app.clone(), listener, shutdown).await;
    let _ = stop_workers.send(true);
    if let Some((timers, deliveries)) = worker {
        for (name, task) in [
            ("escalation worker", timers),
            ("outbox dispatcher", deliveries),
        ] {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "{name} ended abnormally");
            }
        }
    }
    migrations.abort();
    app.pool.close().await;
    tracing::info!("alertrouter stopped");
    result
}

/// Serves the routes of this role on `listener` (and the webhook on its own listener when one
/// is configured) until `shutdown` resolves.
async fn listen(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let limits = &app.settings.server;
    let cap = http::listener::connection_cap(limits.max_connections);
    // The webhook listener stops when the main one is told to.
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let webhook = match (app.settings.role, limits.webhook_listen) {
        (config::Role::Worker, _) | (_, None) => None,
        (_, Some(addr)) => {
            let webhook_listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on server.webhook_listen {addr}"))?;
            tracing::info!(%addr, "Alertmanager webhook listening on its own address");
            Some(tokio::spawn(http::listener::serve(
                "webhook",
                webhook_listener,
                http::webhook_router(app.clone()),
                limits.header_read_timeout,
                cap,
                app.metrics.clone(),
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            )))
        }
    };
    let router = match app.settings.role {
        // No API: health and metrics only.
        config::Role::Worker => http::ops_router(app.clone()),
        _ => http::router(app.clone()),
    };
    let main = http::listener::serve(
        "main",
        listener,
        router,
        limits.header_read_timeout,
        cap,
        app.metrics.clone(),
        async move {
            shutdown.await;
            let _ = stop.send(true);
        },
    );
    main.await?;
    if let Some(task) = webhook {
        task.await.context("the webhook listener")??;
    }
    Ok(())
}

/// Applies migrations, retrying while the database is unreachable; until then `/readyz` says
/// not ready and webhooks are answered 503.
async fn migrate_until_done(pool: sqlx::PgPool) {
    let mut delay = Duration::from_millis(250);
    loop {
        match store::migrate(&pool).await {
            Ok(()) => {
                tracing::info!("database migrations applied");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?delay, "cannot apply migrations yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}
