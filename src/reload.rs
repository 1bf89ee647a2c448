//! Reloading the config while the service runs (SIGHUP and `POST /api/v1/admin/reload`): the
//! files are read and validated again; routes, policies, integration tokens, channel and API
//! credentials swap at once; what only a restart can change is named in the answer. A config
//! that does not validate changes nothing: the running one stays, and the log, the answer and
//! `alertrouter_config_last_reload_successful` say why.

use std::fmt::Debug;
use std::sync::Arc;

use secrecy::ExposeSecret;
use serde::Serialize;

use crate::app::App;
use crate::channels::Channels;
use crate::config::{Settings, process_env};
use crate::live::{Live, Reloadable};

/// Reads the config again; the default reads `Settings::source` with the process environment.
pub type ConfigLoader = dyn Fn() -> Result<Settings, String> + Send + Sync;

/// A reload that took.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reloaded {
    /// What now runs, without secrets (as `check-config` prints it).
    pub config: String,
    /// Settings that changed in the files but keep their running value until a restart.
    pub needs_restart: Vec<String>,
}

impl App {
    /// Reads, validates and applies the config; one reload at a time. `Err` names why the
    /// config was refused; nothing changed then.
    pub fn reload_config(&self) -> Result<Reloaded, String> {
        let _one = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let loaded = match self.config_loader.get() {
            Some(load) => load(),
            None => Settings::load(self.settings.source.as_deref(), &process_env)
                .map_err(|e| format!("config error: {e}")),
        };
        let outcome = loaded.and_then(|mut settings| {
            settings.role = self.settings.role;
            settings
                .require_integrations()
                .map_err(|e| format!("config error: {e}"))?;
            self.reload(&settings)
        });
        match &outcome {
            Ok(done) => {
                tracing::info!(config = %done.config, needs_restart = ?done.needs_restart, "config reloaded (settings in needs_restart keep their running value until a restart)");
            }
            Err(why) => {
                self.config_loaded(false);
                tracing::error!(error = %why, "config reload refused; the running config stays");
            }
        }
        outcome
    }

    /// Applies validated settings: routes, policies and credentials change at once (open
    /// incidents keep the policy they opened with); the senders are rebuilt with the new
    /// credentials. What needs a restart is reported, not applied.
    pub fn reload(&self, settings: &Settings) -> Result<Reloaded, String> {
        let senders = match self.delivery_channels.get() {
            Some(live) => Some((live, self.senders(settings)?)),
            None => None,
        };
        self.live.set(Reloadable::from_settings(settings));
        if let Some((live, channels)) = senders {
            live.set(channels);
        }
        self.config_loaded(true);
        Ok(Reloaded {
            config: settings.summary(),
            needs_restart: needs_restart(&self.settings, settings),
        })
    }

    /// The channel senders `settings` describe, counting Slack's plain-text fallbacks.
    pub fn senders(&self, settings: &Settings) -> Result<Channels, String> {
        let mut channels = Channels::new(&settings.channels)
            .map_err(|e| format!("cannot build the channels' HTTP clients: {e}"))?;
        channels.slack.count_fallbacks_in(self.metrics.clone());
        Ok(channels)
    }

    /// Reads the config with `load` on reload instead of from `Settings::source` (tests).
    pub fn set_config_loader(&self, load: Box<ConfigLoader>) {
        let _ = self.config_loader.set(load);
    }

    /// Registers the running dispatcher's senders, so that a reload replaces them.
    pub fn reload_senders_of(&self, channels: Arc<Live<Channels>>) {
        let _ = self.delivery_channels.set(channels);
    }
}

/// The settings that differ between what runs (`old`) and what was read (`new`) and that only
/// take effect at a restart: listeners, the database, ingest tuning, logging, the API's rate
/// limits, retention and JWKS endpoint, and the channels' rate limits.
pub fn needs_restart(old: &Settings, new: &Settings) -> Vec<String> {
    fn differs<T: Debug>(a: &T, b: &T) -> bool {
        format!("{a:?}") != format!("{b:?}")
    }
    let (oa, na) = (&old.api, &new.api);
    let checks: [(&str, bool); 10] = [
        ("listen", old.listen != new.listen),
        ("server", differs(&old.server, &new.server)),
        (
            "database.url",
            old.database.url.expose_secret() != new.database.url.expose_secret(),
        ),
        ("database", differs(&old.database, &new.database)),
        ("ingest", differs(&old.ingest, &new.ingest)),
        ("log", differs(&old.log, &new.log)),
        (
            "api.per_client, api.per_subject",
            differs(
                &(oa.per_client, oa.per_subject),
                &(na.per_client, na.per_subject),
            ),
        ),
        ("api.retention", oa.retention != na.retention),
        (
            "api.jwt.jwks_url, api.jwt.jwks_refresh",
            differs(
                &(&oa.jwt.jwks_url, oa.jwt.jwks_refresh),
                &(&na.jwt.jwks_url, na.jwt.jwks_refresh),
            ),
        ),
        (
            "channels.*.rate_limit",
            differs(&old.channels.rate_limits, &new.channels.rate_limits),
        ),
    ];
    checks
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| name.to_string())
        .collect()
}
