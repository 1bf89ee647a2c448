//! Which integration sent a webhook: its `Authorization` header (Bearer or Basic), compared in
//! constant time against every configured credential.

use axum::http::{HeaderMap, header};
use base64::Engine;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{Credential, Integration};

/// The configured credentials, pre-hashed so each comparison is a fixed-length constant-time
/// compare that leaks neither content nor length.
pub struct Authenticator {
    keys: Vec<(String, [u8; 32])>,
}

fn key(scheme: &str, secret: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(scheme.as_bytes());
    h.update([0]);
    h.update(secret);
    h.finalize().into()
}

impl Authenticator {
    /// An authenticator for these integrations.
    pub fn new(integrations: &[Integration]) -> Self {
        let keys = integrations
            .iter()
            .map(|i| {
                let k = match &i.credential {
                    Credential::Bearer(token) => key("bearer", token.expose_secret().as_bytes()),
                    Credential::Basic { username, password } => key(
                        "basic",
                        format!("{username}:{}", password.expose_secret()).as_bytes(),
                    ),
                };
                (i.name.clone(), k)
            })
            .collect();
        Authenticator { keys }
    }

    /// The name of the integration whose credential the request carries, or why not.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<&str, &'static str> {
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or("missing Authorization header (Bearer or Basic)")?
            .to_str()
            .map_err(|_| "malformed Authorization header")?;
        let (scheme, credentials) = value
            .split_once(' ')
            .ok_or("malformed Authorization header")?;
        let presented = if scheme.eq_ignore_ascii_case("bearer") {
            key("bearer", credentials.trim().as_bytes())
        } else if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(credentials.trim())
                .map_err(|_| "malformed Basic credentials")?;
            key("basic", &decoded)
        } else {
            return Err("unsupported Authorization scheme (use Bearer or Basic)");
        };
        // Compare against every key, without an early exit, so timing says nothing about which.
        let mut found = None;
        for (name, expected) in &self.keys {
            if bool::from(expected.ct_eq(&presented)) {
                found = Some(name.as_str());
            }
        }
        found.ok_or("invalid credentials")
    }
}
