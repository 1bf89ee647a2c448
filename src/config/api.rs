//! `api:` of alertrouter.yaml: how the incident API authenticates (JWT) and limits callers, and
//! how acknowledge links in e-mails are signed; plus the secrets that verify Slack's and
//! PagerDuty's callbacks.

use std::path::PathBuf;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::Rate;
use super::{ConfigError, Validator};

/// `api:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ApiFile {
    /// How API tokens are verified.
    pub jwt: JwtFile,
    /// Requests per client address and per token subject.
    pub rate_limits: ApiRatesFile,
    /// The address people and providers reach this service at (for links in e-mails).
    pub public_url: Option<String>,
    /// Signs e-mail acknowledge links (with `public_url`); at least 32 bytes.
    pub link_secret: Option<String>,
    /// A file holding the link secret.
    pub link_secret_file: Option<PathBuf>,
    /// How long an acknowledge link works. Default `24h`.
    pub link_ttl: Option<String>,
    /// Audit rows and finished notifications older than this are pruned. Default `90d`.
    pub retention: Option<String>,
    /// Load balancers (addresses or CIDR ranges) whose `X-Forwarded-For` is believed. Default `[]`.
    pub trusted_proxies: Vec<String>,
}

/// `api.jwt:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct JwtFile {
    /// The HS256 key of API tokens (and of `alertrouter token issue`); at least 32 bytes.
    pub hs256_secret: Option<String>,
    /// A file holding the HS256 key.
    pub hs256_secret_file: Option<PathBuf>,
    /// Public keys chosen by the token's `kid`.
    pub keys: Vec<JwtKeyFile>,
    /// When set, tokens must carry this `iss`.
    pub issuer: Option<String>,
    /// When set, tokens must carry this `aud`.
    pub audience: Option<String>,
    /// Tokens living longer than this (`exp - iat`) are refused. Default `1h`.
    pub max_lifetime: Option<String>,
    /// A JWKS document of public keys, fetched and refreshed.
    pub jwks_url: Option<String>,
    /// How often the JWKS document is fetched again. Default `10m` (and at most every 30 s when a
    /// token names an unknown `kid`).
    pub jwks_refresh: Option<String>,
}

/// One public key.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct JwtKeyFile {
    /// The key id tokens name in their header.
    pub kid: String,
    /// RS256 or ES256.
    pub alg: String,
    /// The PEM public key.
    pub public_key_file: PathBuf,
}

/// `api.rate_limits:`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ApiRatesFile {
    /// Requests per client address. Default `100/1m`.
    pub per_client: Option<String>,
    /// Requests per token subject. Default `1000/1h`.
    pub per_subject: Option<String>,
}

/// A verification key of the API.
#[derive(Clone)]
pub struct JwtKey {
    pub kid: String,
    pub alg: Algorithm,
    pub key: DecodingKey,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwtKey({}, {:?})", self.kid, self.alg)
    }
}

/// How API tokens are checked.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub hs256_secret: Option<SecretString>,
    pub keys: Vec<JwtKey>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub max_lifetime: Duration,
    pub jwks_url: Option<String>,
    pub jwks_refresh: Duration,
}

/// The API's settings.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub jwt: JwtSettings,
    pub per_client: Rate,
    pub per_subject: Rate,
    pub public_url: Option<String>,
    pub link_secret: Option<SecretString>,
    pub link_ttl: Duration,
    pub retention: Duration,
    /// Peers whose `X-Forwarded-For` names the client; anyone else is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            jwt: JwtSettings {
                hs256_secret: None,
                keys: Vec::new(),
                issuer: None,
                audience: None,
                max_lifetime: Duration::from_secs(3600),
                jwks_url: None,
                jwks_refresh: Duration::from_secs(600),
            },
            per_client: Rate {
                count: 100,
                per: Duration::from_secs(60),
            },
            per_subject: Rate {
                count: 1000,
                per: Duration::from_secs(3600),
            },
            public_url: None,
            link_secret: None,
            link_ttl: Duration::from_secs(24 * 3600),
            retention: Duration::from_secs(90 * 86400),
            trusted_proxies: Vec::new(),
        }
    }
}

impl ApiSettings {
    /// The signer of e-mail acknowledge links, when both the public URL and the secret are set.
    pub fn links(&self) -> Option<std::sync::Arc<crate::links::LinkSigner>> {
        let (base, secret) = (self.public_url.as_ref()?, self.link_secret.clone()?);
        Some(std::sync::Arc::new(crate::links::LinkSigner::new(
            base,
            secret,
            self.link_ttl,
        )))
    }
}

impl Validator<'_> {
    /// The API settings, keys read and parsed.
    pub(super) fn api(&self, raw: &ApiFile) -> Result<ApiSettings, ConfigError> {
        let defaults = ApiSettings::default();
        let j = &raw.jwt;
        let hs256_secret = match (&j.hs256_secret, &j.hs256_secret_file) {
            (None, None) => None,
            (inline, path) => Some(self.hmac_key(
                "api.jwt.hs256_secret",
                self.secret("api.jwt.hs256_secret", inline.as_deref(), path.as_deref())?,
            )?),
        };
        let mut keys = Vec::new();
        for (i, k) in j.keys.iter().enumerate() {
            let key = format!("api.jwt.keys[{i}]");
            let path = self.base.join(&k.public_key_file);
            let pem = std::fs::read(&path).map_err(|e| {
                self.error(
                    format!("{key}.public_key_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let (alg, parsed) = match k.alg.as_str() {
                "RS256" => (Algorithm::RS256, DecodingKey::from_rsa_pem(&pem)),
                "ES256" => (Algorithm::ES256, DecodingKey::from_ec_pem(&pem)),
                other => {
                    return Err(self.error(
                        format!("{key}.alg"),
                        format!("{other:?} is not RS256 or ES256"),
                    ));
                }
            };
            let parsed = parsed.map_err(|e| {
                self.error(
                    format!("{key}.public_key_file"),
                    format!("not a {} public key: {e}", k.alg),
                )
            })?;
            if k.kid.is_empty() || keys.iter().any(|x: &JwtKey| x.kid == k.kid) {
                return Err(self.error(format!("{key}.kid"), "missing or used twice"));
            }
            keys.push(JwtKey {
                kid: k.kid.clone(),
                alg,
                key: parsed,
            });
        }
        let rate = |key: &str, text: &Option<String>, default: Rate| match text {
            None => Ok(default),
            Some(t) => Rate::parse(t).map_err(|e| self.error(key, e)),
        };
        let link_secret = match (&raw.link_secret, &raw.link_secret_file) {
            (None, None) => None,
            (inline, path) => Some(self.hmac_key(
                "api.link_secret",
                self.secret("api.link_secret", inline.as_deref(), path.as_deref())?,
            )?),
        };
        let mut trusted_proxies = Vec::new();
        for (i, text) in raw.trusted_proxies.iter().enumerate() {
            let net = text
                .parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    self.error(
                        format!("api.trusted_proxies[{i}]"),
                        format!("{text:?} is not an address or CIDR range like 10.0.0.0/8"),
                    )
                })?;
            trusted_proxies.push(net);
        }
        if let Some(url) = &raw.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(self.error("api.public_url", format!("{url:?} is not an http(s) URL")));
        }
        Ok(ApiSettings {
            jwt: JwtSettings {
                hs256_secret,
                keys,
                issuer: j.issuer.clone(),
                audience: j.audience.clone(),
                max_lifetime: self.duration(
                    "api.jwt.max_lifetime",
                    j.max_lifetime.clone(),
                    "1h",
                )?,
                jwks_url: j.jwks_url.clone(),
                jwks_refresh: self.duration(
                    "api.jwt.jwks_refresh",
                    j.jwks_refresh.clone(),
                    "10m",
                )?,
            },
            per_client: rate(
                "api.rate_limits.per_client",
                &raw.rate_limits.per_client,
                defaults.per_client,
            )?,
            per_subject: rate(
                "api.rate_limits.per_subject",
                &raw.rate_limits.per_subject,
                defaults.per_subject,
            )?,
            public_url: raw
                .public_url
                .clone()
                .map(|u| u.trim_end_matches('/').to_string()),
            link_secret,
            link_ttl: self.duration("api.link_ttl", raw.link_ttl.clone(), "24h")?,
            retention: self.duration("api.retention", raw.retention.clone(), "90d")?,
            trusted_proxies,
        })
    }

    /// An HMAC key must be at least [`MIN_HMAC_KEY_BYTES`] long: a short one can be guessed
    /// offline from a single signed token or link.
    fn hmac_key(&self, key: &str, secret: SecretString) -> Result<SecretString, ConfigError> {
        let n = secret.expose_secret().len();
        if n > 0 && n < MIN_HMAC_KEY_BYTES {
            return Err(self.error(
                key,
                format!(
                    "is {n} bytes; an HMAC key needs at least {MIN_HMAC_KEY_BYTES} (e.g. `openssl rand -hex 32`)"
                ),
            ));
        }
        Ok(secret)
    }
}

/// The shortest HMAC key accepted (256 bits, the size of the hash).
pub const MIN_HMAC_KEY_BYTES: usize = 32;
