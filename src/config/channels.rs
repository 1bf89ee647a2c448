//! `channels:` and `templates:` of alertrouter.yaml: how notifications are sent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};

use super::file::{self, ChannelsFile, TemplatesFile};
use super::{ChannelRates, Rate, default_rates};
use super::{ConfigError, Validator};
use super::{SmsProvider, SmtpSettings, TwilioSettings};
use crate::core::policy::DELIVERED_CHANNELS;
use crate::core::policy::Policies;
use crate::templates::Templates;

/// How notifications are sent.
#[derive(Debug, Clone)]
pub struct ChannelSettings {
    /// Outgoing webhooks are signed (Standard Webhooks) when set.
    pub webhook_secret: Option<SecretString>,
    pub webhook_timeout: Duration,
    /// The Events API v2 endpoint (tests point it at a fake).
    pub pagerduty_url: String,
    pub pagerduty_timeout: Duration,
    /// The `destinations.pagerduty_services` entry paged for `via: pagerduty` on a person.
    pub pagerduty_default_service: Option<String>,
    /// Twilio or an HTTP gateway, when SMS is configured.
    pub sms: Option<SmsProvider>,
    pub sms_timeout: Duration,
    /// `https://slack.com/api` (tests point it at a fake).
    pub slack_url: String,
    pub slack_token: Option<SecretString>,
    pub slack_timeout: Duration,
    pub slack_signing_secret: Option<SecretString>,
    /// Whether Slack users not linked to a person may act (audited by their Slack id).
    pub slack_allow_unlinked: bool,
    /// A click whose action is not committed within this is answered at once and finished
    /// through its `response_url` (Slack wants an answer within 3 s).
    pub slack_answer_within: Duration,
    pub pagerduty_webhook_secret: Option<SecretString>,
    /// SMTP, when e-mail is configured.
    pub email: Option<SmtpSettings>,
    /// Message texts.
    pub templates: Arc<Templates>,
    /// Signs the acknowledge links in e-mails (from `api.public_url` and `api.link_secret`).
    pub ack_links: Option<Arc<crate::links::LinkSigner>>,
    /// Rate limits per channel (defaults for those not configured).
    pub rate_limits: BTreeMap<String, ChannelRates>,
    /// Channels whose messages are written to the log instead of sent (trying it out).
    pub log: std::collections::BTreeSet<String>,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        ChannelSettings {
            webhook_secret: None,
            webhook_timeout: Duration::from_secs(5),
            pagerduty_url: "https://events.pagerduty.com/v2/enqueue".into(),
            pagerduty_timeout: Duration::from_secs(10),
            pagerduty_default_service: None,
            sms: None,
            sms_timeout: Duration::from_secs(10),
            slack_url: "https://slack.com/api".into(),
            slack_token: None,
            slack_timeout: Duration::from_secs(10),
            slack_signing_secret: None,
            slack_allow_unlinked: false,
            slack_answer_within: Duration::from_secs(2),
            pagerduty_webhook_secret: None,
            email: None,
            templates: Arc::new(Templates::default()),
            ack_links: None,
            rate_limits: default_rates(),
            log: Default::default(),
        }
    }
}

impl ChannelSettings {
    /// The Twilio account, when SMS go through Twilio.
    pub fn twilio(&self) -> Option<&TwilioSettings> {
        match &self.sms {
            Some(SmsProvider::Twilio(t)) => Some(t),
            _ => None,
        }
    }
}

/// Checks a signing secret as the spec writes them: `whsec_` and the base64 of 24 to 64 bytes.
pub fn check_webhook_secret(secret: &str) -> Result<(), String> {
    let encoded = secret
        .strip_prefix("whsec_")
        .ok_or("must start with whsec_ (Standard Webhooks secret format)")?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("not base64 after whsec_: {e}"))?;
    if !(24..=64).contains(&key.len()) {
        return Err(format!(
            "the key is {} bytes; it must be 24 to 64",
            key.len()
        ));
    }
    Ok(())
}

impl Validator<'_> {
    /// `channels.log`: known channel names only.
    fn log_channels(
        &self,
        names: &[String],
    ) -> Result<std::collections::BTreeSet<String>, ConfigError> {
        const KNOWN: [&str; 5] = ["slack", "sms", "email", "pagerduty", "webhook"];
        names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if KNOWN.contains(&n.as_str()) {
                    Ok(n.clone())
                } else {
                    Err(self.error(
                        format!("channels.log[{i}]"),
                        format!("{n:?} is not one of {}", KNOWN.join(", ")),
                    ))
                }
            })
            .collect()
    }

    /// The channel settings, checked against the policies they name.
    pub(super) fn channels(
        &self,
        file: &ChannelsFile,
        templates: &TemplatesFile,
        policies: &Policies,
    ) -> Result<ChannelSettings, ConfigError> {
        let wh = &file.webhook;
        let pd = &file.pagerduty;
        let sl = &file.slack;
        let channels = ChannelSettings {
            webhook_secret: match (&wh.signing_secret, &wh.signing_secret_file) {
                (None, None) => None,
                (inline, path) => {
                    let secret = self.secret(
                        "channels.webhook.signing_secret",
                        inline.as_deref(),
                        path.as_deref(),
                    )?;
                    check_webhook_secret(secret.expose_secret())
                        .map_err(|e| self.error("channels.webhook.signing_secret", e))?;
                    Some(secret)
                }
            },
            webhook_timeout: self.duration("channels.webhook.timeout", wh.timeout.clone(), "5s")?,
            pagerduty_url: pd
                .url
                .clone()
                .unwrap_or_else(|| ChannelSettings::default().pagerduty_url),
            pagerduty_timeout: self.duration(
                "channels.pagerduty.timeout",
                pd.timeout.clone(),
                "10s",
            )?,
            pagerduty_default_service: pd.default_service.clone(),
            sms: self.sms(&file.sms)?,
            slack_url: sl
                .url
                .clone()
                .unwrap_or_else(|| ChannelSettings::default().slack_url),
            slack_token: match (&sl.bot_token, &sl.bot_token_file) {
                (None, None) => None,
                (inline, path) => Some(self.secret(
                    "channels.slack.bot_token",
                    inline.as_deref(),
                    path.as_deref(),
                )?),
            },
            slack_timeout: self.duration("channels.slack.timeout", sl.timeout.clone(), "10s")?,
            slack_signing_secret: match (&sl.signing_secret, &sl.signing_secret_file) {
                (None, None) => None,
                (inline, path) => Some(self.secret(
                    "channels.slack.signing_secret",
                    inline.as_deref(),
                    path.as_deref(),
                )?),
            },
            slack_answer_within: {
                let d = self.duration(
                    "channels.slack.answer_within",
                    sl.answer_within.clone(),
                    "2s",
                )?;
                if d >= Duration::from_secs(3) {
                    return Err(self.error(
                        "channels.slack.answer_within",
                        "must be below 3s: Slack shows the clicker an error after 3 s",
                    ));
                }
                d
            },
            slack_allow_unlinked: match sl.unlinked_users.as_deref().unwrap_or("refuse") {
                "allow" => true,
                "refuse" => false,
                other => {
                    return Err(self.error(
                        "channels.slack.unlinked_users",
                        format!("{other:?} is not allow or refuse"),
                    ));
                }
            },
            pagerduty_webhook_secret: match (&pd.webhook_secret, &pd.webhook_secret_file) {
                (None, None) => None,
                (inline, path) => Some(self.secret(
                    "channels.pagerduty.webhook_secret",
                    inline.as_deref(),
                    path.as_deref(),
                )?),
            },
            email: self.smtp(&file.email)?,
            templates: Arc::new(self.templates(templates)?),
            ack_links: None,
            sms_timeout: self.duration("channels.sms.timeout", file.sms.timeout.clone(), "10s")?,
            rate_limits: self.rate_limits(&file.rate_limits)?,
            log: self.log_channels(&file.log)?,
        };
        if let Some(name) = channels
            .pagerduty_default_service
            .as_ref()
            .filter(|n| !policies.pagerduty_services.contains_key(*n))
        {
            return Err(self.error(
                "channels.pagerduty.default_service",
                format!("{name:?} is not in destinations.pagerduty_services of policies/"),
            ));
        }
        Ok(channels)
    }

    /// The rate limits: the defaults, with each configured channel's `per_destination` and
    /// `global` replaced (`off` removes a limit).
    fn rate_limits(
        &self,
        raw: &BTreeMap<String, file::RateLimitFile>,
    ) -> Result<BTreeMap<String, ChannelRates>, ConfigError> {
        let mut rates = default_rates();
        for (channel, limits) in raw {
            let key = format!("channels.rate_limits.{channel}");
            if !DELIVERED_CHANNELS.contains(&channel.as_str()) {
                return Err(self.error(
                    key,
                    format!(
                        "{channel:?} is not a channel ({})",
                        DELIVERED_CHANNELS.join(", ")
                    ),
                ));
            }
            let entry = rates.entry(channel.clone()).or_default();
            let parse = |which: &str, text: &Option<String>, slot: &mut Option<Rate>| {
                match text.as_deref() {
                    None => {}
                    Some("off") => *slot = None,
                    Some(text) => {
                        *slot = Some(
                            Rate::parse(text)
                                .map_err(|e| self.error(format!("{key}.{which}"), e))?,
                        )
                    }
                }
                Ok::<(), ConfigError>(())
            };
            parse(
                "per_destination",
                &limits.per_destination,
                &mut entry.per_destination,
            )?;
            parse("global", &limits.global, &mut entry.global)?;
        }
        Ok(rates)
    }

    /// The message templates: a built-in locale, with files of `dir` replacing built-in ones.
    fn templates(&self, raw: &file::TemplatesFile) -> Result<Templates, ConfigError> {
        let dir = raw.dir.as_ref().map(|d| self.base.join(d));
        if let Some(d) = dir.as_ref().filter(|d| !d.is_dir()) {
            return Err(self.error(
                "templates.dir",
                format!("{} is not a directory", d.display()),
            ));
        }
        Templates::new(raw.locale.as_deref().unwrap_or("en"), dir.as_deref())
            .map_err(|e| self.error("templates", e))
    }
}

#[cfg(test)]
mod tests {
    use super::check_webhook_secret;

    #[test]
    fn webhook_secrets_are_checked_as_the_spec_writes_them() {
        assert!(check_webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert!(check_webhook_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(check_webhook_secret("whsec_not base64!").is_err());
        assert!(
            check_webhook_secret("whsec_c2hvcnQ=")
                .unwrap_err()
                .contains("5 bytes")
        );
    }
}
