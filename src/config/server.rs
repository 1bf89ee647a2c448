//! `server:` of alertrouter.yaml: how the HTTP listeners guard themselves against clients that
//! connect and never finish (half-open connections, slow bodies, idle keep-alives).

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, Validator};

/// `server:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServerFile {
    /// A second listener for the Alertmanager webhook alone; when set, the main listener no
    /// longer serves it, so it can stay off the public network. Env `ALERTROUTER_WEBHOOK_LISTEN`.
    pub webhook_listen: Option<String>,
    /// Open connections per listener (lowered to fit the open-file limit); past it, new ones
    /// wait in the kernel's queue. Default `4096`.
    pub max_connections: Option<usize>,
    /// How long a client may take to send a request's headers, and how long a keep-alive
    /// connection may sit idle between requests. Default `10s`.
    pub header_read_timeout: Option<String>,
    /// The deadline of every request but the webhook (which has `ingest.request_timeout`),
    /// reading the body included: 408 past it. Default `15s`.
    pub request_timeout: Option<String>,
    /// After SIGTERM, how long `/readyz` answers 503 while everything is still served, so a
    /// load balancer stops sending before the listeners close. Default `0s`, at most `5m`;
    /// env `ALERTROUTER_SHUTDOWN_DELAY`.
    pub shutdown_delay: Option<String>,
}

/// The validated `server:`.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub webhook_listen: Option<SocketAddr>,
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub shutdown_delay: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            webhook_listen: None,
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            shutdown_delay: Duration::ZERO,
        }
    }
}

impl Validator<'_> {
    pub(super) fn server(&self, file: &ServerFile) -> Result<ServerSettings, ConfigError> {
        let defaults = ServerSettings::default();
        let (key, listen) = self.layered(
            "ALERTROUTER_WEBHOOK_LISTEN",
            "server.webhook_listen",
            file.webhook_listen.clone(),
        );
        let webhook_listen = listen
            .map(|text| {
                text.parse().map_err(|_| {
                    self.error(
                        key,
                        format!("{text:?} is not an address like 10.0.0.5:9096"),
                    )
                })
            })
            .transpose()?;
        let max_connections = file.max_connections.unwrap_or(defaults.max_connections);
        if !(16..=1_000_000).contains(&max_connections) {
            return Err(self.error(
                "server.max_connections",
                format!("{max_connections} is not a number from 16 to 1000000"),
            ));
        }
        let header_read_timeout = self.duration(
            "server.header_read_timeout",
            file.header_read_timeout.clone(),
            "10s",
        )?;
        let request_timeout = self.duration(
            "server.request_timeout",
            file.request_timeout.clone(),
            "15s",
        )?;
        let (delay_key, delay) = self.layered(
            "ALERTROUTER_SHUTDOWN_DELAY",
            "server.shutdown_delay",
            file.shutdown_delay.clone(),
        );
        // Zero (the default) is allowed: no delay.
        let shutdown_delay = match delay {
            None => Duration::ZERO,
            Some(text) => {
                super::units::parse_duration(&text).map_err(|e| self.error(&delay_key, e))?
            }
        };
        for (key, d) in [
            ("server.header_read_timeout", header_read_timeout),
            ("server.request_timeout", request_timeout),
            (delay_key.as_str(), shutdown_delay),
        ] {
            if d > Duration::from_secs(300) {
                return Err(self.error(key, "must be at most 5m"));
            }
        }
        Ok(ServerSettings {
            webhook_listen,
            max_connections,
            header_read_timeout,
            request_timeout,
            shutdown_delay,
        })
    }
}
