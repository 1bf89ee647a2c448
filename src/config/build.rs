//! alertrouter.yaml's top-level sections, parsed into [`Settings`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::file::{FileConfig, HeartbeatFile, IntegrationFile, SizeValue};
use super::validator::Validator;
use super::{
    ConfigError, Credential, DEFAULT_LARGE_BODIES_IN_FLIGHT, DEFAULT_MAX_BODY_BYTES,
    DatabaseSettings, Heartbeat, IngestSettings, Integration, LogFormat, LogSettings, Role,
    Settings, parse_size,
};
use super::{policies, routes};
use crate::core::policy::Policies;
use crate::routing::suppress::Suppressions;
use crate::routing::tree::Route;

impl Validator<'_> {
    pub(super) fn settings(&self, file: FileConfig) -> Result<Settings, ConfigError> {
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
        if let Err(e) = crate::store::hosts::parse(url.expose_secret()) {
            return Err(self.error("database.url", e));
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
        let large_bodies_in_flight = match ing.large_bodies_in_flight {
            None => DEFAULT_LARGE_BODIES_IN_FLIGHT,
            Some(SizeValue::Bytes(n)) => n,
            Some(SizeValue::Text(t)) => {
                parse_size(&t).map_err(|e| self.error("ingest.large_bodies_in_flight", e))?
            }
        };
        if large_bodies_in_flight < 1 << 20 {
            return Err(self.error("ingest.large_bodies_in_flight", "must be at least 1MiB"));
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
            large_bodies_in_flight,
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
        let reports = self.reports(&file.reports, file.templates.locale.as_deref())?;
        channels.ack_links = api.links();
        Ok(Settings {
            api,
            channels,
            reports,
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
        let heartbeat = raw
            .heartbeat
            .as_ref()
            .map(|h| self.heartbeat(&format!("{key}.heartbeat"), h))
            .transpose()?;
        Ok(Integration {
            name: raw.name.clone(),
            credential,
            heartbeat,
        })
    }

    fn heartbeat(&self, key: &str, raw: &HeartbeatFile) -> Result<Heartbeat, ConfigError> {
        let texts = raw
            .matchers
            .clone()
            .unwrap_or_else(|| vec![r#"alertname="Watchdog""#.to_string()]);
        let mut matchers = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let parsed = crate::routing::matcher::parse_matchers(text)
                .map_err(|e| self.error(format!("{key}.matchers[{i}]"), e))?;
            matchers.extend(parsed);
        }
        if matchers.is_empty() {
            return Err(self.error(format!("{key}.matchers"), "needs at least one matcher"));
        }
        let missing_after = self.duration(
            &format!("{key}.missing_after"),
            raw.missing_after.clone(),
            "10m",
        )?;
        if missing_after < std::time::Duration::from_secs(60) {
            return Err(self.error(
                format!("{key}.missing_after"),
                "must be at least 1m (Alertmanager re-sends the heartbeat every repeat_interval)",
            ));
        }
        Ok(Heartbeat {
            matchers,
            missing_after,
        })
    }
}
