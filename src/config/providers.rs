//! The providers' settings (`channels.email`, `channels.sms`): SMTP and Twilio as plain
//! settings the channels consume, and an HTTP SMS gateway.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::Validator;
use super::{ConfigError, file};
use crate::templates::HttpSmsSettings;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    StartTls,
    Tls,
    /// Plain text, for a relay on the same host or network.
    None,
}

/// SMTP settings.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub from: String,
    pub timeout: Duration,
}

/// Twilio account settings.
#[derive(Debug, Clone)]
pub struct TwilioSettings {
    /// `https://api.twilio.com` (tests point it at a fake).
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: SecretString,
    /// The sending number (E.164).
    pub from: String,
    /// Where Twilio reports delivery status, if anywhere.
    pub status_callback: Option<String>,
}

/// Where SMS go: Twilio, or any gateway described by an HTTP template.
#[derive(Debug, Clone)]
pub enum SmsProvider {
    Twilio(TwilioSettings),
    Http(Arc<HttpSmsSettings>),
}

impl Validator<'_> {
    /// SMTP settings, when `channels.email.host` is given.
    pub(super) fn smtp(&self, raw: &file::EmailFile) -> Result<Option<SmtpSettings>, ConfigError> {
        let Some(host) = &raw.host else {
            return Ok(None);
        };
        let tls = match raw.tls.as_deref().unwrap_or("starttls") {
            "starttls" => SmtpTls::StartTls,
            "tls" => SmtpTls::Tls,
            "none" => SmtpTls::None,
            other => {
                return Err(self.error(
                    "channels.email.tls",
                    format!("{other:?} is not starttls, tls or none"),
                ));
            }
        };
        let from = raw
            .from
            .clone()
            .filter(|f| f.contains('@'))
            .ok_or_else(|| self.error("channels.email.from", "missing, or not an address"))?;
        let password = match (&raw.password, &raw.password_file) {
            (None, None) => None,
            (inline, path) => Some(self.secret(
                "channels.email.password",
                inline.as_deref(),
                path.as_deref(),
            )?),
        };
        Ok(Some(SmtpSettings {
            host: host.clone(),
            port: raw.port.unwrap_or(match tls {
                SmtpTls::Tls => 465,
                SmtpTls::StartTls => 587,
                SmtpTls::None => 25,
            }),
            tls,
            username: raw.username.clone(),
            password,
            from,
            timeout: self.duration("channels.email.timeout", raw.timeout.clone(), "10s")?,
        }))
    }

    /// The SMS provider: an HTTP gateway when `http` is given, else Twilio when its settings
    /// are.
    pub(super) fn sms(&self, raw: &file::SmsFile) -> Result<Option<SmsProvider>, ConfigError> {
        let Some(http) = &raw.http else {
            return Ok(self.twilio(raw)?.map(SmsProvider::Twilio));
        };
        if raw.account_sid.is_some() || raw.auth_token.is_some() || raw.auth_token_file.is_some() {
            return Err(self.error(
                "channels.sms.http",
                "give either Twilio's account_sid/auth_token or an http gateway, not both",
            ));
        }
        let headers = http
            .headers
            .iter()
            .map(|(name, value)| {
                let key = format!("channels.sms.http.headers.{name}");
                Ok((name.clone(), self.expand(&key, value)?))
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let from = http
            .from
            .clone()
            .or_else(|| raw.from.clone())
            .unwrap_or_default();
        HttpSmsSettings::new(
            &http.url,
            http.method.as_deref().unwrap_or("POST"),
            headers,
            http.body.as_deref(),
            from,
        )
        .map(|gateway| Some(SmsProvider::Http(Arc::new(gateway))))
        .map_err(|e| self.error("channels.sms.http", e))
    }

    /// Twilio settings: all of account_sid, auth_token(_file) and from, or none.
    fn twilio(&self, raw: &file::SmsFile) -> Result<Option<TwilioSettings>, ConfigError> {
        let any = raw.account_sid.is_some()
            || raw.auth_token.is_some()
            || raw.auth_token_file.is_some()
            || raw.from.is_some();
        if !any {
            return Ok(None);
        }
        let account_sid = self.expand(
            "channels.sms.account_sid",
            raw.account_sid
                .as_deref()
                .ok_or_else(|| self.error("channels.sms.account_sid", "missing"))?,
        )?;
        let from = raw
            .from
            .clone()
            .ok_or_else(|| self.error("channels.sms.from", "missing"))?;
        let e164 = from
            .strip_prefix('+')
            .is_some_and(|d| (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
        if !e164 {
            return Err(self.error(
                "channels.sms.from",
                format!("{from:?} is not an E.164 number"),
            ));
        }
        Ok(Some(TwilioSettings {
            base_url: raw
                .url
                .clone()
                .unwrap_or_else(|| "https://api.twilio.com".into()),
            account_sid,
            auth_token: self.secret(
                "channels.sms.auth_token",
                raw.auth_token.as_deref(),
                raw.auth_token_file.as_deref(),
            )?,
            from,
            status_callback: raw.status_callback.clone(),
        }))
    }
}
