//! Signed, expiring acknowledge links for e-mails: `…/hooks/email/ack?t=TOKEN`, where the token
//! carries the incident, the person and the expiry, signed with HMAC-SHA256. Each link works once
//! (its nonce is recorded when used).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// What a link says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// One per mail: a link is used once.
    #[serde(rename = "n")]
    pub nonce: String,
    #[serde(rename = "i")]
    pub incident: uuid::Uuid,
    /// Who it was sent to (`user:alice`): who acts.
    #[serde(rename = "r")]
    pub recipient: String,
    #[serde(rename = "e")]
    pub expires: i64,
}

/// Makes and checks links.
pub struct LinkSigner {
    base: String,
    secret: SecretString,
    ttl: std::time::Duration,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LinkSigner({})", self.base)
    }
}

impl LinkSigner {
    /// Links under `base` (the service's public URL), valid for `ttl`.
    pub fn new(base: &str, secret: SecretString, ttl: std::time::Duration) -> Self {
        LinkSigner {
            base: base.trim_end_matches('/').to_string(),
            secret,
            ttl,
        }
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("any key");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// The token of `link`.
    pub fn token(&self, link: &Link) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(link).unwrap_or_default());
        let sig = URL_SAFE_NO_PAD.encode(self.mac(body.as_bytes()));
        format!("{body}.{sig}")
    }

    /// The acknowledge link of a mail (`nonce`) about `incident` to `recipient`, sent at `now`.
    pub fn url(
        &self,
        nonce: &str,
        incident: uuid::Uuid,
        recipient: &str,
        now: DateTime<Utc>,
    ) -> String {
        let link = Link {
            nonce: nonce.to_string(),
            incident,
            recipient: recipient.to_string(),
            expires: now.timestamp() + self.ttl.as_secs() as i64,
        };
        format!("{}/hooks/email/ack?t={}", self.base, self.token(&link))
    }

    /// The link a token carries, if its signature holds (constant time) and it has not expired.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Link, &'static str> {
        let (body, sig) = token.split_once('.').ok_or("not a link of this service")?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| "not a link of this service")?;
        let expected = self.mac(body.as_bytes());
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_slice(),
            sig.as_slice(),
        )) {
            return Err("this link's signature does not hold");
        }
        let link: Link = URL_SAFE_NO_PAD
            .decode(body)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("not a link of this service")?;
        if link.expires < now.timestamp() {
            return Err("this link has expired");
        }
        Ok(link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_verify_until_they_expire_and_tampering_shows() {
        let signer = LinkSigner::new(
            "https://ar.example/",
            SecretString::from("s3cret".to_string()),
            std::time::Duration::from_secs(3600),
        );
        let now: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
        let url = signer.url("outbox-7", uuid::Uuid::nil(), "user:alice", now);
        let token = url
            .strip_prefix("https://ar.example/hooks/email/ack?t=")
            .unwrap();
        let link = signer.verify(token, now).unwrap();
        assert_eq!(link.recipient, "user:alice");
        let later = now + chrono::TimeDelta::hours(2);
        assert_eq!(signer.verify(token, later), Err("this link has expired"));
        let (body, sig) = token.split_once('.').unwrap();
        let forged = format!("{}x.{sig}", &body[..body.len() - 1]);
        assert!(signer.verify(&forged, now).is_err());
        let other = LinkSigner::new(
            "https://ar.example",
            SecretString::from("x".to_string()),
            std::time::Duration::from_secs(3600),
        );
        assert!(other.verify(token, now).is_err(), "another secret");
    }
}
