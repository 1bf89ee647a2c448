//! `alertrouter.yaml`: defaults, then the file, then `ALERTROUTER_*` variables; validated once.
//!
//! Errors name the file, the key and the reason. Secrets are `SecretString`s: `Debug` on a
//! [`Settings`] never prints them.

pub mod api;
mod build;
mod channels;
mod file;
mod policies;
mod policies_file;
mod providers;
mod rates;
pub mod reference;
mod reports;
mod routes;
mod server;
mod source;
pub mod units;
mod validator;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

pub use self::channels::ChannelSettings;
use self::file::FileConfig;
pub use self::providers::{SmsProvider, SmtpSettings, SmtpTls, TwilioSettings};
pub use self::rates::{ChannelRates, Rate, default_rates};
pub use self::reports::{BusinessHours, ReportSettings};
pub use self::server::ServerSettings;
pub use self::units::{parse_duration, parse_size};
use self::validator::Validator;
use crate::core::Severity;
use crate::core::policy::Policies;
use crate::routing::suppress::Suppressions;
use crate::routing::tree::Route;

/// The validated configuration of a running alertrouter.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the config was read from, if anywhere.
    pub source: Option<PathBuf>,
    pub listen: SocketAddr,
    /// Connection limits and timeouts of the listeners, and the optional webhook listener.
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub ingest: IngestSettings,
    pub integrations: Vec<Integration>,
    pub log: LogSettings,
    /// The routing tree from `routes/` (a catch-all root when there is none).
    pub routes: Route,
    /// Time intervals, inhibit rules and maintenance windows from `routes/`.
    pub suppressions: Suppressions,
    /// Escalation policies, people, teams and schedules from `policies/`.
    pub policies: Policies,
    /// What this process runs (`serve --role`).
    pub role: Role,
    /// The incident API and acknowledge links.
    pub api: api::ApiSettings,
    pub channels: ChannelSettings,
    /// Incident reports and the business hours of statistics.
    pub reports: ReportSettings,
}

/// What one process runs: the HTTP API, the background workers, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    All,
    Api,
    Worker,
}

impl Role {
    /// Whether this role runs the background workers.
    pub fn runs_workers(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
}

/// How to reach Postgres.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
    /// How long a request waits for a connection before it is answered 503.
    pub acquire_timeout: Duration,
    /// Postgres `statement_timeout` for every connection.
    pub statement_timeout: Duration,
}

/// The default `ingest.max_body_size`: room for a 10,000-alert group.
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 << 20;

/// The default `ingest.large_bodies_in_flight`.
pub const DEFAULT_LARGE_BODIES_IN_FLIGHT: usize = 64 << 20;

/// Webhook ingest limits and policy.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    pub reopen_window: Duration,
    /// This many reopens within `flapping_window` mark an incident flapping (0: never).
    pub flapping_reopens: u32,
    pub flapping_window: Duration,
    pub default_severity: Severity,
    pub max_body_bytes: usize,
    /// Bytes of large bodies read and held at once (`crate::http::budget`).
    pub large_bodies_in_flight: usize,
    /// A webhook that cannot be committed within this time is answered 503 (Alertmanager cuts
    /// receivers off after 10 s, so keep it below that).
    pub request_timeout: Duration,
    /// How many recently committed messages are remembered to answer exact re-sends without a
    /// database round trip.
    pub dedup_cache_entries: usize,
}

/// A sender allowed to post webhooks, by name, with its own credential.
#[derive(Debug, Clone)]
pub struct Integration {
    pub name: String,
    pub credential: Credential,
    pub heartbeat: Option<Heartbeat>,
}

/// An integration's dead man's switch: alerts matching `matchers` are its heartbeat (recorded,
/// never an incident); none for `missing_after` opens a critical incident of its own.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    pub matchers: Vec<crate::routing::matcher::Matcher>,
    pub missing_after: std::time::Duration,
}

/// How an integration authenticates.
#[derive(Debug, Clone)]
pub enum Credential {
    Bearer(SecretString),
    Basic {
        username: String,
        password: SecretString,
    },
}

/// Log output.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `alertrouter=debug,info`.
    pub level: String,
}

/// Log line format; `Auto` is JSON unless stdout is a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Auto,
    Json,
    Text,
}

/// A configuration error: where, which key, and why.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {key}: {reason}")]
pub struct ConfigError {
    pub origin: String,
    pub key: String,
    pub reason: String,
}

/// Reads one environment variable; injected so tests need not touch the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, for [`Settings::load`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    /// Loads defaults, then `path` (if given), then the environment, and validates the result.
    pub fn load(path: Option<&Path>, env: EnvLookup<'_>) -> Result<Settings, ConfigError> {
        Self::load_checked(path, env, false).map(|(settings, _)| settings)
    }

    /// As [`Settings::load`], but a secret file that does not exist is a warning (returned)
    /// instead of an error, and its secret a placeholder: for commands that need no secrets
    /// (`simulate`, `oncall`) and for `check-config` without `--strict`.
    pub fn load_without_secrets(
        path: Option<&Path>,
        env: EnvLookup<'_>,
    ) -> Result<(Settings, Vec<String>), ConfigError> {
        Self::load_checked(path, env, true)
    }

    fn load_checked(
        path: Option<&Path>,
        env: EnvLookup<'_>,
        lenient: bool,
    ) -> Result<(Settings, Vec<String>), ConfigError> {
        let (file, origin, base) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError {
                    origin: p.display().to_string(),
                    key: "(file)".into(),
                    reason: format!("cannot read: {e}"),
                })?;
                let file = parse_yaml(&text, &p.display().to_string())?;
                let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
                (file, p.display().to_string(), base)
            }
            None => (
                FileConfig::default(),
                "defaults".to_string(),
                PathBuf::new(),
            ),
        };
        let v = Validator {
            has_file: path.is_some(),
            origin,
            base,
            env,
            missing_secrets: lenient.then(Default::default),
        };
        let settings = v.settings(file)?;
        let warnings = v
            .missing_secrets
            .map(|m| m.into_inner())
            .unwrap_or_default();
        Ok((
            Settings {
                source: path.map(Path::to_path_buf),
                ..settings
            },
            warnings,
        ))
    }

    /// Serving needs at least one integration: webhooks without a credential are refused.
    pub fn require_integrations(&self) -> Result<(), ConfigError> {
        if self.integrations.is_empty() {
            return Err(ConfigError {
                origin: self
                    .source
                    .as_ref()
                    .map_or("defaults".into(), |p| p.display().to_string()),
                key: "integrations".into(),
                reason: "at least one is required: webhooks are only accepted with a credential"
                    .into(),
            });
        }
        Ok(())
    }

    /// A one-line description with no secret in it, for `check-config` and the start-up log.
    pub fn summary(&self) -> String {
        let names: Vec<&str> = self.integrations.iter().map(|i| i.name.as_str()).collect();
        let p = &self.policies;
        format!(
            "listen {}, database {}, {} integration(s) [{}], reopen window {}s, default severity {}, \
             {} route(s), {} escalation policies, {} schedule(s), {} user(s), {} team(s)",
            self.listen,
            redact_url(self.database.url.expose_secret()),
            names.len(),
            names.join(", "),
            self.ingest.reopen_window.as_secs(),
            self.ingest.default_severity,
            self.routes.walk().len(),
            p.policies.len(),
            p.schedules.len(),
            p.users.len(),
            p.teams.len(),
        )
    }
}

/// Parses the YAML text, naming the key path and line of the first error.
fn parse_yaml(text: &str, origin: &str) -> Result<FileConfig, ConfigError> {
    let de = serde_norway::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        ConfigError {
            origin: origin.to_string(),
            key: if key == "." { "(document)".into() } else { key },
            reason: e.into_inner().to_string(),
        }
    })
}

/// Hides the password of a `postgres://user:password@host/db` URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tree_tests;
