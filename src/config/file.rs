//! The shape of `alertrouter.yaml` as written, before validation. Every field is optional so that
//! defaults and `ALERTROUTER_*` variables can fill what the file leaves out.

use std::path::PathBuf;

use serde::Deserialize;

/// `alertrouter.yaml`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// The address to serve on (`0.0.0.0:9095` in containers). Default `127.0.0.1:9095`; env
    /// `ALERTROUTER_LISTEN`.
    pub listen: Option<String>,
    /// Listeners, connection limits and timeouts.
    pub server: super::server::ServerFile,
    /// The Postgres database (required).
    pub database: DatabaseFile,
    /// How Alertmanager's webhooks become incidents.
    pub ingest: IngestFile,
    /// The senders allowed to post webhooks (at least one to serve), each with its credential.
    pub integrations: Vec<IntegrationFile>,
    /// Logging.
    pub log: LogFile,
    /// Default: `routes/` beside the config file, when it exists.
    pub routes_dir: Option<PathBuf>,
    /// Default: `policies/` beside the config file, when it exists.
    pub policies_dir: Option<PathBuf>,
    /// The providers pages go through.
    pub channels: ChannelsFile,
    /// Message templates.
    pub templates: TemplatesFile,
    /// The HTTP API: tokens, rate limits, links.
    pub api: super::api::ApiFile,
    /// Incident reports and the statistics' business hours.
    pub reports: super::reports::ReportsFile,
}

/// `templates:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TemplatesFile {
    /// `en` (default) or `zh-CN`.
    pub locale: Option<String>,
    /// Files here (`sms.txt`, `email_subject.txt`, …) replace the built-in ones.
    pub dir: Option<PathBuf>,
}

/// `channels:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelsFile {
    /// Outgoing webhooks (`webhook:` targets).
    pub webhook: WebhookFile,
    /// PagerDuty Events API v2.
    pub pagerduty: PagerDutyFile,
    /// SMS by Twilio, or by any HTTP gateway (`http`).
    pub sms: SmsFile,
    /// Slack (a bot token of a Slack app).
    pub slack: SlackFile,
    /// E-mail over SMTP.
    pub email: EmailFile,
    /// Per channel: `per_destination` and `global` rates (`5/15m`) or `off`.
    pub rate_limits: std::collections::BTreeMap<String, RateLimitFile>,
    /// Channels whose messages are logged instead of sent.
    pub log: Vec<String>,
}

/// `channels.rate_limits.<channel>:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitFile {
    /// At most this many messages to one destination (`N/duration`, or `off`); more are deferred,
    /// then bundled.
    pub per_destination: Option<String>,
    /// At most this many messages of the channel in all (`N/duration`, or `off`).
    pub global: Option<String>,
}

/// `channels.email:` (SMTP).
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EmailFile {
    /// SMTP server.
    pub host: Option<String>,
    /// Default: 587 for `starttls`, 465 for `tls`, 25 for `none`.
    pub port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    pub tls: Option<String>,
    /// SMTP login.
    pub username: Option<String>,
    /// SMTP password (or `password_file`).
    pub password: Option<String>,
    /// A file holding the SMTP password.
    pub password_file: Option<PathBuf>,
    /// The sender address.
    pub from: Option<String>,
    /// Per message. Default `10s`.
    pub timeout: Option<String>,
}

/// `channels.slack:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SlackFile {
    /// Slack's Web API. Default `https://slack.com/api`.
    pub url: Option<String>,
    /// The bot token (`xoxb-…`), or `bot_token_file`.
    pub bot_token: Option<String>,
    /// A file holding the bot token.
    pub bot_token_file: Option<PathBuf>,
    /// Verifies the requests of Slack's buttons.
    pub signing_secret: Option<String>,
    /// A file holding the signing secret.
    pub signing_secret_file: Option<PathBuf>,
    /// Slack users not linked to a person (`slack_id`): `allow` (audited as `slack:ID`) or
    /// `refuse` (the default).
    pub unlinked_users: Option<String>,
    /// Per request. Default `10s`.
    pub timeout: Option<String>,
    /// How long a button click waits for its action before Slack is answered (below 3 s). Default `2s`.
    pub answer_within: Option<String>,
}

/// `channels.sms:` (Twilio).
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SmsFile {
    /// Twilio's API. Default `https://api.twilio.com`.
    pub url: Option<String>,
    /// Twilio account SID (all of `account_sid`, `auth_token` and `from`, or none).
    pub account_sid: Option<String>,
    /// Twilio auth token (or `auth_token_file`).
    pub auth_token: Option<String>,
    /// A file holding the Twilio auth token.
    pub auth_token_file: Option<PathBuf>,
    /// The sending number (E.164).
    pub from: Option<String>,
    /// Where Twilio sends delivery receipts: the public URL of `…/hooks/twilio/status`.
    pub status_callback: Option<String>,
    /// Per request. Default `10s`.
    pub timeout: Option<String>,
    /// Any other gateway, described by templates.
    pub http: Option<HttpSmsFile>,
}

/// `channels.sms.http:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSmsFile {
    /// The gateway's URL (a template).
    pub url: String,
    /// Default `POST`.
    pub method: Option<String>,
    /// Request headers (templates).
    pub headers: std::collections::BTreeMap<String, String>,
    /// The request body (a template).
    pub body: Option<String>,
    /// The sender, given to the templates.
    pub from: Option<String>,
}

/// `channels.pagerduty:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PagerDutyFile {
    /// The Events API. Default `https://events.pagerduty.com/v2/enqueue`.
    pub url: Option<String>,
    /// Verifies PagerDuty's v3 webhooks (`X-PagerDuty-Signature`).
    pub webhook_secret: Option<String>,
    /// A file holding the webhook secret.
    pub webhook_secret_file: Option<PathBuf>,
    /// The service paged for `via: pagerduty` on a person. Default: the only one in
    /// `destinations.pagerduty_services`, if there is one.
    pub default_service: Option<String>,
    /// Per request. Default `10s`.
    pub timeout: Option<String>,
}

/// `channels.webhook:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookFile {
    /// Signs outgoing webhooks (Standard Webhooks): `whsec_` and base64 of 24–64 bytes.
    pub signing_secret: Option<String>,
    /// A file holding the signing secret.
    pub signing_secret_file: Option<PathBuf>,
    /// Per request. Default `5s`.
    pub timeout: Option<String>,
}

/// `database:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseFile {
    /// The Postgres URL (required; or `url_file`). Env `ALERTROUTER_DATABASE_URL`, then
    /// `DATABASE_URL`. Several hosts as libpq writes them (`postgres://u@db1:5432,db2:5432/x`)
    /// with `target_session_attrs=read-write` (or `primary`): the first host that suits is used,
    /// and after a failover the promoted one, without a restart.
    pub url: Option<String>,
    /// A file holding the Postgres URL.
    pub url_file: Option<PathBuf>,
    /// Pool size; a few per core serves best. Default `8`; env
    /// `ALERTROUTER_DATABASE_MAX_CONNECTIONS`.
    pub max_connections: Option<u32>,
    /// How long to wait for a free connection before answering 503. Default `2s`.
    pub acquire_timeout: Option<String>,
    /// Postgres' `statement_timeout` on every connection. Default `5s`.
    pub statement_timeout: Option<String>,
}

/// `ingest:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct IngestFile {
    /// A group firing again within this of resolving reopens its incident (its chain resumes).
    /// Default `5m`; env `ALERTROUTER_REOPEN_WINDOW`.
    pub reopen_window: Option<String>,
    /// This many reopens within `flapping_window` mark an incident flapping (`0`: never). Default
    /// `3`.
    pub flapping_reopens: Option<u32>,
    /// See `flapping_reopens`. Default `10m`.
    pub flapping_window: Option<String>,
    /// The severity of alerts without a known `severity` label. Default `warning`; env
    /// `ALERTROUTER_DEFAULT_SEVERITY`.
    pub default_severity: Option<String>,
    /// Larger bodies get 413, which Alertmanager does not retry: logged at error and counted in
    /// `alertrouter_webhook_bodies_refused_total`. Set `max_alerts` on the webhook config so a
    /// group never grows past it. Default `32MiB` (a 10,000-alert group).
    pub max_body_size: Option<SizeValue>,
    /// Room in memory shared by the large bodies (over 256KiB) read at once: each reserves its
    /// size until its webhook is answered; past the room one waits up to 2 s, then gets 503 and
    /// Alertmanager retries it. Ordinary webhooks never wait for it. Default `64MiB` (a hundred
    /// 2MiB groups sent at once peaked at 693MiB resident with it, 1165MiB without).
    pub large_bodies_in_flight: Option<SizeValue>,
    /// Not committed by then: 503, and Alertmanager retries (below 10 s, Alertmanager's own
    /// timeout). Default `8s`.
    pub request_timeout: Option<String>,
    /// Exact re-sends remembered in memory (`0` disables). Default `65536`.
    pub dedup_cache_entries: Option<usize>,
}

/// A size given as a number of bytes or a string such as `2MiB`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum SizeValue {
    Bytes(usize),
    Text(String),
}

/// One entry of `integrations:`: a sender (an Alertmanager cluster) and its credential.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct IntegrationFile {
    /// Who sent it; recorded on incidents and events.
    pub name: String,
    /// The Bearer credential (or `bearer_token_file`).
    pub bearer_token: Option<String>,
    /// A file holding the Bearer credential (Alertmanager's `credentials_file`).
    pub bearer_token_file: Option<PathBuf>,
    /// A Basic credential instead.
    pub basic_auth: Option<BasicAuthFile>,
    /// The dead man's switch: an always-firing alert that must keep arriving.
    pub heartbeat: Option<HeartbeatFile>,
}

/// `heartbeat:` of an integration.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HeartbeatFile {
    /// Which alerts are the heartbeat (default `alertname="Watchdog"`).
    pub matchers: Option<Vec<String>>,
    /// How long without one before alertrouter pages (default 10m).
    pub missing_after: Option<String>,
}

/// `basic_auth:` of an integration.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BasicAuthFile {
    /// The user name.
    pub username: String,
    /// The password (or `password_file`).
    pub password: Option<String>,
    /// A file holding the password.
    pub password_file: Option<PathBuf>,
}

/// `log:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LogFile {
    /// `auto` (JSON unless stdout is a terminal), `json` or `text`. Env `ALERTROUTER_LOG_FORMAT`.
    pub format: Option<String>,
    /// A `tracing` filter. Default `info`; env `ALERTROUTER_LOG_LEVEL`, or `RUST_LOG`.
    pub level: Option<String>,
}
