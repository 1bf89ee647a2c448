//! The state every request handler and worker shares.

use std::sync::Arc;

use sqlx::PgPool;

use crate::clock::Clock;
use crate::config::Settings;
use crate::ingest::Ingestor;
use crate::live::{Live, Reloadable};
use crate::metrics::Metrics;
use crate::store;
use crate::workers::limits::{ChannelRates, Limits};

/// One alertrouter process: config, database pool, clock, metrics and ingest.
pub struct App {
    pub settings: Settings,
    pub pool: PgPool,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// Routes, policies and credentials: swapped by `reload`.
    pub live: Arc<Live<Reloadable>>,
    pub ingestor: Ingestor,
    /// The room large webhook bodies share.
    pub bodies: crate::http::budget::BodyBudget,
    /// Request limits of the API, per client address and per token subject.
    pub api_limits: Limits,
    /// API keys from `api.jwt.jwks_url`.
    pub jwks: Arc<crate::http::api::jwks::Jwks>,
    /// Replies to Slack button clicks.
    pub slack_replies: crate::channels::slack_reply::SlackReplies,
    /// Set when shutdown begins: `/readyz` answers 503 from then on.
    pub draining: std::sync::atomic::AtomicBool,
    /// Held while a reload runs: one at a time.
    pub(crate) reloading: std::sync::Mutex<()>,
    /// How a reload reads the config, when not from `settings.source`.
    pub(crate) config_loader: std::sync::OnceLock<Box<crate::reload::ConfigLoader>>,
    /// The dispatcher's senders, rebuilt by a reload (set when this process runs workers).
    pub(crate) delivery_channels: std::sync::OnceLock<Arc<Live<crate::channels::Channels>>>,
}

impl App {
    /// Builds the app; the pool connects lazily, so this succeeds while Postgres is down.
    pub fn new(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<App>> {
        let pool = store::pool(&settings.database)?;
        let metrics = Arc::new(Metrics::new());
        let live = Arc::new(Live::new(Reloadable::from_settings(&settings)));
        let ingestor = Ingestor::new(
            pool.clone(),
            clock.clone(),
            &settings.ingest,
            live.clone(),
            metrics.clone(),
        );
        let rates = std::collections::BTreeMap::from([
            (
                "client".to_string(),
                ChannelRates {
                    per_destination: Some(settings.api.per_client),
                    global: None,
                },
            ),
            (
                "subject".to_string(),
                ChannelRates {
                    per_destination: Some(settings.api.per_subject),
                    global: None,
                },
            ),
        ]);
        metrics
            .paging
            .config_loaded(true, clock.now().timestamp_millis() as f64 / 1000.0);
        Ok(Arc::new(App {
            draining: Default::default(),
            reloading: Default::default(),
            config_loader: Default::default(),
            delivery_channels: Default::default(),
            slack_replies: crate::channels::slack_reply::SlackReplies::new(
                std::time::Duration::from_secs(5),
            )?,
            jwks: Arc::new(crate::http::api::jwks::Jwks::new(
                settings.api.jwt.jwks_url.clone(),
            )?),
            api_limits: Limits::new(clock.clone(), &rates),
            live,
            bodies: crate::http::budget::BodyBudget::new(settings.ingest.large_bodies_in_flight),
            settings,
            pool,
            clock,
            metrics,
            ingestor,
        }))
    }

    /// Records a config load (or a reload, taken or refused) for `alertrouter_config_last_reload_*`.
    pub fn config_loaded(&self, ok: bool) {
        let at = self.clock.now().timestamp_millis() as f64 / 1000.0;
        self.metrics.paging.config_loaded(ok, at);
    }
}
