//! The state every request handler and worker shares.

use std::sync::Arc;

use sqlx::PgPool;

use crate::clock::Clock;
use crate::config::Settings;
use crate::http::Authenticator;
use crate::ingest::Ingestor;
use crate::metrics::Metrics;
use crate::store;

/// One alertrouter process: config, database pool, clock, metrics and ingest.
pub struct App {
    pub settings: Settings,
    pub pool: PgPool,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub auth: Authenticator,
    pub ingestor: Ingestor,
}

impl App {
    /// Builds the app; the pool connects lazily, so this succeeds while Postgres is down.
    pub fn new(settings: Settings, clock: Arc<dyn Clock>) -> Result<Arc<App>, sqlx::Error> {
        let pool = store::pool(&settings.database)?;
        let metrics = Arc::new(Metrics::new());
        let ingestor = Ingestor::new(
            pool.clone(),
            clock.clone(),
            &settings.ingest,
            Arc::new(settings.routes.clone()),
            Arc::new(settings.policies.clone()),
            metrics.clone(),
        );
        Ok(Arc::new(App {
            auth: Authenticator::new(&settings.integrations),
            settings,
            pool,
            clock,
            metrics,
            ingestor,
        }))
    }
}
