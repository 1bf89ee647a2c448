//! The shape of `alertrouter.yaml` as written, before validation. Every field is optional so that
//! defaults and `ALERTROUTER_*` variables can fill what the file leaves out.

use std::path::PathBuf;

use serde::Deserialize;

/// `alertrouter.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub server: super::server::ServerFile,
    pub database: DatabaseFile,
    pub ingest: IngestFile,
    pub integrations: Vec<IntegrationFile>,
    pub log: LogFile,
    /// Default: `routes/` beside the config file, when it exists.
    pub routes_dir: Option<PathBuf>,
    /// Default: `policies/` beside the config file, when it exists.
    pub policies_dir: Option<PathBuf>,
    pub channels: ChannelsFile,
    pub templates: TemplatesFile,
    pub api: super::api::ApiFile,
    pub reports: super::reports::ReportsFile,
}

/// `templates:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemplatesFile {
    /// `en` (default) or `zh-CN`.
    pub locale: Option<String>,
    /// Files here (`sms.txt`, `email_subject.txt`, …) replace the built-in ones.
    pub dir: Option<PathBuf>,
}

/// `channels:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelsFile {
    pub webhook: WebhookFile,
    pub pagerduty: PagerDutyFile,
    pub sms: SmsFile,
    pub slack: SlackFile,
    pub email: EmailFile,
    /// Per channel: `per_destination` and `global` rates (`5/15m`) or `off`.
    pub rate_limits: std::collections::BTreeMap<String, RateLimitFile>,
    /// Channels whose messages are logged instead of sent.
    pub log: Vec<String>,
}

/// `channels.rate_limits.<channel>:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitFile {
    pub per_destination: Option<String>,
    pub global: Option<String>,
}

/// `channels.email:` (SMTP).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailFile {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub from: Option<String>,
    pub timeout: Option<String>,
}

/// `channels.slack:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackFile {
    pub url: Option<String>,
    pub bot_token: Option<String>,
    pub bot_token_file: Option<PathBuf>,
    /// Verifies the requests of Slack's buttons.
    pub signing_secret: Option<String>,
    pub signing_secret_file: Option<PathBuf>,
    /// Slack users not linked to a person (`slack_id`): `allow` (audited as slack:<id>) or
    /// `refuse` (the default).
    pub unlinked_users: Option<String>,
    pub timeout: Option<String>,
    /// How long a button click waits for its action before Slack is answered (below 3 s).
    pub answer_within: Option<String>,
}

/// `channels.sms:` (Twilio).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsFile {
    pub url: Option<String>,
    pub account_sid: Option<String>,
    pub auth_token: Option<String>,
    pub auth_token_file: Option<PathBuf>,
    pub from: Option<String>,
    pub status_callback: Option<String>,
    pub timeout: Option<String>,
    /// Any other gateway, described by templates.
    pub http: Option<HttpSmsFile>,
}

/// `channels.sms.http:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSmsFile {
    pub url: String,
    pub method: Option<String>,
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: Option<String>,
    pub from: Option<String>,
}

/// `channels.pagerduty:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PagerDutyFile {
    pub url: Option<String>,
    /// Verifies PagerDuty's v3 webhooks (`X-PagerDuty-Signature`).
    pub webhook_secret: Option<String>,
    pub webhook_secret_file: Option<PathBuf>,
    pub default_service: Option<String>,
    pub timeout: Option<String>,
}

/// `channels.webhook:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookFile {
    pub signing_secret: Option<String>,
    pub signing_secret_file: Option<PathBuf>,
    pub timeout: Option<String>,
}

/// `database:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseFile {
    pub url: Option<String>,
    pub url_file: Option<PathBuf>,
    pub max_connections: Option<u32>,
    pub acquire_timeout: Option<String>,
    pub statement_timeout: Option<String>,
}

/// `ingest:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestFile {
    pub reopen_window: Option<String>,
    pub flapping_reopens: Option<u32>,
    pub flapping_window: Option<String>,
    pub default_severity: Option<String>,
    pub max_body_size: Option<SizeValue>,
    pub request_timeout: Option<String>,
    pub dedup_cache_entries: Option<usize>,
}

/// A size given as a number of bytes or a string such as `2MiB`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SizeValue {
    Bytes(usize),
    Text(String),
}

/// One entry of `integrations:`: a sender (an Alertmanager cluster) and its credential.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntegrationFile {
    pub name: String,
    pub bearer_token: Option<String>,
    pub bearer_token_file: Option<PathBuf>,
    pub basic_auth: Option<BasicAuthFile>,
    /// The dead man's switch: an always-firing alert that must keep arriving.
    pub heartbeat: Option<HeartbeatFile>,
}

/// `heartbeat:` of an integration.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeartbeatFile {
    /// Which alerts are the heartbeat (default `alertname="Watchdog"`).
    pub matchers: Option<Vec<String>>,
    /// How long without one before alertrouter pages (default 10m).
    pub missing_after: Option<String>,
}

/// `basic_auth:` of an integration.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BasicAuthFile {
    pub username: String,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
}

/// `log:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogFile {
    pub format: Option<String>,
    pub level: Option<String>,
}
