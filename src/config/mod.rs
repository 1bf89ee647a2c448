//! `alertrouter.yaml`: defaults, then the file, then `ALERTROUTER_*` variables; validated once.
//!
//! Errors name the file, the key and the reason. Secrets are `SecretString`s: `Debug` on a
//! [`Settings`] never prints them.

pub mod api;
mod channels;
mod file;
mod policies;
mod routes;
mod server;
mod source;
pub mod units;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

pub use self::channels::ChannelSettings;
use self::file::{FileConfig, IntegrationFile, SizeValue};
pub use self::server::ServerSettings;
pub use self::units::{parse_duration, parse_size};
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

/// Webhook ingest limits and policy.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    pub reopen_window: Duration,
    /// This many reopens within `flapping_window` mark an incident flapping (0: never).
    pub flapping_reopens: u32,
    pub flapping_window: Duration,
    pub default_severity: Severity,
    pub max_body_bytes: usize,
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

struct Validator<'a> {
    has_file: bool,
    origin: String,
    base: PathBuf,
    env: EnvLookup<'a>,
    /// Set when missing secret files are warnings, collected here.
    missing_secrets: Option<std::cell::RefCell<Vec<String>>>,
}

impl Validator<'_> {
    fn error(&self, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            origin: self.origin.clone(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// `ALERTROUTER_<NAME>` if set (reported under that name), else the file's value.
    fn layered(&self, var: &str, key: &str, file: Option<String>) -> (String, Option<String>) {
        match (self.env)(var) {
            Some(v) => (var.to_string(), Some(v)),
            None => (key.to_string(), file),
        }
    }

    /// Replaces `${NAME}` references with the variable's value.
    fn expand(&self, key: &str, value: &str) -> Result<String, ConfigError> {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| self.error(key, "unterminated ${ reference"))?;
            let name = &rest[start + 2..start + end];
            let val = (self.env)(name).ok_or_else(|| {
                self.error(key, format!("environment variable {name} is not set"))
            })?;
            out.push_str(&val);
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn read_secret_file(&self, key: &str, path: &Path) -> Result<SecretString, ConfigError> {
        let full = self.base.join(path);
        let text = match std::fs::read_to_string(&full) {
            Ok(text) => text,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound && self.missing_secrets.is_some() =>
            {
                if let Some(m) = &self.missing_secrets {
                    m.borrow_mut().push(format!(
                        "{}: {key}: {} does not exist (the service needs it to start)",
                        self.origin,
                        full.display()
                    ));
                }
                // Long enough for every length check: the file's absence is the warning.
                return Ok(SecretString::from(
                    "(missing secret file, stood in for by this placeholder)".to_string(),
                ));
            }
            Err(e) => {
                return Err(self.error(key, format!("cannot read {}: {e}", full.display())));
            }
        };
        let value = text.trim();
        if value.is_empty() {
            return Err(self.error(key, format!("{} is empty", full.display())));
        }
        Ok(SecretString::from(value.to_string()))
    }

    /// Exactly one of an inline value (with `${ENV}` references) and a file.
    fn secret(
        &self,
        key: &str,
        inline: Option<&str>,
        file: Option<&Path>,
    ) -> Result<SecretString, ConfigError> {
        match (inline, file) {
            (Some(_), Some(_)) => {
                Err(self.error(key, format!("give {key} or {key}_file, not both")))
            }
            (Some(v), None) => {
                let v = self.expand(key, v)?;
                if v.is_empty() {
                    return Err(self.error(key, "empty"));
                }
                Ok(SecretString::from(v))
            }
            (None, Some(p)) => self.read_secret_file(&format!("{key}_file"), p),
            (None, None) => Err(self.error(key, format!("missing (set {key} or {key}_file)"))),
        }
    }

    fn duration(
        &self,
        key: &str,
        value: Option<String>,
        default: &str,
    ) -> Result<Duration, ConfigError> {
        let text = value.unwrap_or_else(|| default.to_string());
        let d = parse_duration(&text).map_err(|e| self.error(key, e))?;
        if d.is_zero() {
            return Err(self.error(key, "must be greater than zero"));
        }
        Ok(d)
    }

    fn settings(&self, file: FileConfig) -> Result<Settings, ConfigError> {
        let (key, listen) = self.layered("ALERTROUTER_LISTEN", "listen", file.listen);
        let listen = listen.unwrap_or_else(|| "127.0.0.1:9095".into());
        let listen: SocketAddr = listen.parse().map_err(|_| {
            self.error(
                key,
                format!("{listen:?} is not an address like 0.0.0.0:9095"),
            )
        })?;

        let db = file.database;
        let url = match (self.env)("ALERTROUTER_DATABASE_URL") {
            Some(url) => SecretString::from(url),
            None if db.url.is_some() || db.url_file.is_some() => {
                self.secret("database.url", db.url.as_deref(), db.url_file.as_deref())?
            }
            None => SecretString::from((self.env)("DATABASE_URL").ok_or_else(|| {
                self.error(
                    "database.url",
                    "missing (set database.url, ALERTROUTER_DATABASE_URL or DATABASE_URL)",
                )
            })?),
        };
        if !url.expose_secret().starts_with("postgres://")
            && !url.expose_secret().starts_with("postgresql://")
        {
            return Err(self.error(
                "database.url",
                "must start with postgres:// or postgresql://",
            ));
        }
        let (key, max) = self.layered(
            "ALERTROUTER_DATABASE_MAX_CONNECTIONS",
            "database.max_connections",
            db.max_connections.map(|n| n.to_string()),
        );
        let max_connections = match max {
            None => 8,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => {
                    return Err(self.error(key, format!("{text:?} is not a number from 1 to 1000")));
                }
            },
        };
        let database = DatabaseSettings {
            url,
            max_connections,
            acquire_timeout: self.duration("database.acquire_timeout", db.acquire_timeout, "2s")?,
            statement_timeout: self.duration(
                "database.statement_timeout",
                db.statement_timeout,
                "5s",
            )?,
        };

        let ing = file.ingest;
        let (key, window) = self.layered(
            "ALERTROUTER_REOPEN_WINDOW",
            "ingest.reopen_window",
            ing.reopen_window,
        );
        let reopen_window = self.duration(&key, window, "5m")?;
        let flapping_window =
            self.duration("ingest.flapping_window", ing.flapping_window, "10m")?;
        let flapping_reopens = ing.flapping_reopens.unwrap_or(3);
        let (key, sev) = self.layered(
            "ALERTROUTER_DEFAULT_SEVERITY",
            "ingest.default_severity",
            ing.default_severity,
        );
        let default_severity = sev
            .as_deref()
            .unwrap_or("warning")
            .parse()
            .map_err(|e: String| self.error(key, e))?;
        let max_body_bytes = match ing.max_body_size {
            // A 10,000-alert group of real alerts is about 10–20 MiB: a body refused here is a
            // page lost for good (Alertmanager never retries a 4xx).
            None => DEFAULT_MAX_BODY_BYTES,
            Some(SizeValue::Bytes(n)) => n,
            Some(SizeValue::Text(t)) => {
                parse_size(&t).map_err(|e| self.error("ingest.max_body_size", e))?
            }
        };
        if max_body_bytes < 1024 {
            return Err(self.error("ingest.max_body_size", "must be at least 1KiB"));
        }
        let request_timeout = self.duration("ingest.request_timeout", ing.request_timeout, "8s")?;
        if request_timeout >= Duration::from_secs(10) {
            return Err(self.error(
                "ingest.request_timeout",
                "must be below 10s, Alertmanager's cut-off, or a slow commit would be retried as lost",
            ));
        }
        let ingest = IngestSettings {
            reopen_window,
            flapping_reopens,
            flapping_window,
            default_severity,
            max_body_bytes,
            request_timeout,
            dedup_cache_entries: ing.dedup_cache_entries.unwrap_or(65_536),
        };

        let mut integrations = Vec::new();
        for (i, raw) in file.integrations.iter().enumerate() {
            let integration = self.integration(&format!("integrations[{i}]"), raw)?;
            if integrations
                .iter()
                .any(|x: &Integration| x.name == integration.name)
            {
                return Err(self.error(
                    format!("integrations[{i}].name"),
                    format!("duplicate name {:?}", integration.name),
                ));
            }
            integrations.push(integration);
        }

        let (key, format) = self.layered("ALERTROUTER_LOG_FORMAT", "log.format", file.log.format);
        let format = match format.as_deref().unwrap_or("auto") {
            "auto" => LogFormat::Auto,
            "json" => LogFormat::Json,
            "text" => LogFormat::Text,
            other => return Err(self.error(key, format!("{other:?} is not auto, json or text"))),
        };
        let (_, level) = self.layered("ALERTROUTER_LOG_LEVEL", "log.level", file.log.level);
        let policies = match self.config_dir("policies_dir", file.policies_dir, "policies")? {
            Some(dir) => policies::load_policies(&dir)?,
            None => Policies::default(),
        };
        let (routes, suppressions) =
            match self.config_dir("routes_dir", file.routes_dir, "routes")? {
                Some(dir) => routes::load_routes(&dir, &policies)?,
                None => (Route::default_root(), Suppressions::default()),
            };
        let mut channels = self.channels(&file.channels, &file.templates, &policies)?;
        let api = self.api(&file.api)?;
        let server = self.server(&file.server)?;
        channels.ack_links = api.links();
        Ok(Settings {
            api,
            channels,
            role: Role::All,
            routes,
            suppressions,
            policies,
            source: None,
            listen,
            server,
            database,
            ingest,
            integrations,
            log: LogSettings {
                format,
                level: level.unwrap_or_else(|| "info".into()),
            },
        })
    }

    /// A directory named in the file (it must exist), else `default` beside the file if it exists.
    fn config_dir(
        &self,
        key: &str,
        given: Option<PathBuf>,
        default: &str,
    ) -> Result<Option<PathBuf>, ConfigError> {
        match given {
            Some(dir) => {
                let full = self.base.join(dir);
                if full.is_dir() {
                    Ok(Some(full))
                } else {
                    Err(self.error(key, format!("{} is not a directory", full.display())))
                }
            }
            None if self.has_file => {
                let full = self.base.join(default);
                Ok(full.is_dir().then_some(full))
            }
            None => Ok(None),
        }
    }

    fn integration(&self, key: &str, raw: &IntegrationFile) -> Result<Integration, ConfigError> {
        let name_ok = !raw.name.is_empty()
            && raw
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !name_ok {
            return Err(self.error(
                format!("{key}.name"),
                "missing or invalid: use letters, digits, '-', '_' and '.'",
            ));
        }
        let has_bearer = raw.bearer_token.is_some() || raw.bearer_token_file.is_some();
        let credential = match (&raw.basic_auth, has_bearer) {
            (Some(_), true) => {
                return Err(self.error(key, "give bearer_token(_file) or basic_auth, not both"));
            }
            (None, true) => Credential::Bearer(self.secret(
                &format!("{key}.bearer_token"),
                raw.bearer_token.as_deref(),
                raw.bearer_token_file.as_deref(),
            )?),
            (Some(basic), false) => {
                let username =
                    self.expand(&format!("{key}.basic_auth.username"), &basic.username)?;
                if username.is_empty() || username.contains(':') {
                    return Err(self.error(
                        format!("{key}.basic_auth.username"),
                        "missing or contains ':'",
                    ));
                }
                Credential::Basic {
                    username,
                    password: self.secret(
                        &format!("{key}.basic_auth.password"),
                        basic.password.as_deref(),
                        basic.password_file.as_deref(),
                    )?,
                }
            }
            (None, false) => {
                return Err(self.error(
                    key,
                    "no credential: set bearer_token, bearer_token_file or basic_auth",
                ));
            }
        };
        Ok(Integration {
            name: raw.name.clone(),
            credential,
        })
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tree_tests;
