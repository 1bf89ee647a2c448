//! Configuration that a reload (SIGHUP or `POST /api/v1/admin/reload`) swaps while the service runs: readers take a snapshot
//! (`get`) and keep using it for the request or step at hand.

use std::sync::{Arc, RwLock};

use crate::config::Settings;
use crate::core::policy::Policies;
use crate::http::Authenticator;
use crate::routing::suppress::Suppressions;
use crate::routing::tree::Route;

/// A value replaced whole on reload.
#[derive(Debug)]
pub struct Live<T>(RwLock<Arc<T>>);

impl<T> Live<T> {
    /// A live value starting at `value`.
    pub fn new(value: T) -> Self {
        Live(RwLock::new(Arc::new(value)))
    }

    /// The current value.
    pub fn get(&self) -> Arc<T> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the value; readers holding the old one finish with it.
    pub fn set(&self, value: T) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(value);
    }
}

/// What a reload changes: the routing tree, the policies, and the integrations' credentials.
pub struct Reloadable {
    pub routes: Route,
    pub suppressions: Suppressions,
    pub policies: Policies,
    pub auth: Authenticator,
    pub reports: crate::config::ReportSettings,
    /// Each integration's heartbeat, where one is configured.
    pub heartbeats: Vec<(String, crate::config::Heartbeat)>,
    /// Channel credentials and texts read by the request handlers (Slack and PagerDuty signing
    /// secrets, Twilio's token, the acknowledge links' key); the senders are rebuilt from them.
    pub channels: crate::config::ChannelSettings,
    /// JWT keys, issuer and audience, public URL and trusted proxies.
    pub api: crate::config::api::ApiSettings,
}

impl Reloadable {
    /// `integration`'s heartbeat, if it has one.
    pub fn heartbeat(&self, integration: &str) -> Option<&crate::config::Heartbeat> {
        self.heartbeats
            .iter()
            .find(|(name, _)| name == integration)
            .map(|(_, h)| h)
    }
}

impl Reloadable {
    /// The reloadable part of validated settings.
    pub fn from_settings(settings: &Settings) -> Self {
        Reloadable {
            routes: settings.routes.clone(),
            suppressions: settings.suppressions.clone(),
            policies: settings.policies.clone(),
            auth: Authenticator::new(&settings.integrations),
            reports: settings.reports.clone(),
            heartbeats: settings
                .integrations
                .iter()
                .filter_map(|i| Some((i.name.clone(), i.heartbeat.clone()?)))
                .collect(),
            channels: settings.channels.clone(),
            api: settings.api.clone(),
        }
    }
}
