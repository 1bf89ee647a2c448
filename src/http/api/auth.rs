//! Who calls the API: a JWT (HS256 with the shared secret, or RS256/ES256 with the public key its
//! `kid` names) checked against the injected clock, and the role it grants.

use std::collections::HashSet;

use axum::http::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::api::{JwtKey, JwtSettings};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY: i64 = 30;

/// What a role may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Developer,
    Sre,
    Admin,
}

impl Role {
    fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "sre" => Some(Role::Sre),
            "developer" => Some(Role::Developer),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// The role's name in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Sre => "sre",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
        }
    }
}

/// A token's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub sub: String,
    pub role: Role,
    /// What a developer owns.
    pub services: Vec<String>,
}

/// Reads `Authorization: Bearer <jwt>` and checks it at `now` (Unix seconds).
pub fn authenticate(
    jwt: &JwtSettings,
    fetched: &[JwtKey],
    headers: &HeaderMap,
    now: i64,
) -> Result<Caller, String> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or("a Bearer token is required")?;
    verify(jwt, fetched, token, now)
}

/// Checks a token: its algorithm must be the one its key is for (no `none`, no HS/RS confusion),
/// its signature, `exp` (required), `nbf`, its lifetime, `iss`/`aud` when configured, and a
/// known role.
/// `fetched` are keys from the JWKS URL, besides config's.
pub fn verify(
    jwt: &JwtSettings,
    fetched: &[JwtKey],
    token: &str,
    now: i64,
) -> Result<Caller, String> {
    let header = decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
    let (alg, key) = match header.alg {
        Algorithm::HS256 => {
            let secret = jwt
                .hs256_secret
                .as_ref()
                .ok_or("HS256 tokens are not accepted here")?;
            (
                Algorithm::HS256,
                DecodingKey::from_secret(secret.expose_secret().as_bytes()),
            )
        }
        alg @ (Algorithm::RS256 | Algorithm::ES256) => {
            let kid = header
                .kid
                .as_deref()
                .ok_or("the token names no key (kid)")?;
            let key = jwt
                .keys
                .iter()
                .chain(fetched)
                .find(|k| k.kid == kid)
                .ok_or_else(|| format!("unknown key {kid:?}"))?;
            if key.alg != alg {
                return Err(format!("key {kid:?} is for {:?}, not {alg:?}", key.alg));
            }
            (alg, key.key.clone())
        }
        other => return Err(format!("algorithm {other:?} is not accepted")),
    };
    let mut validation = Validation::new(alg);
    // Times are checked below against the injected clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims = HashSet::new();
    match &jwt.audience {
        Some(aud) => validation.set_audience(&[aud]),
        None => validation.validate_aud = false,
    }
    if let Some(iss) = &jwt.issuer {
        validation.set_issuer(&[iss]);
    }
    let claims = decode::<Claims>(token, &key, &validation)
        .map_err(|e| format!("invalid token: {e}"))?
        .claims;
    if jwt.issuer.is_some() && claims.iss.is_none() {
        return Err("invalid token: iss is required".into());
    }
    if jwt.audience.is_some() && claims.aud.is_none() {
        return Err("invalid token: aud is required".into());
    }
    // Checked arithmetic throughout: every number here comes from the token.
    if claims.exp.saturating_add(LEEWAY) < now {
        return Err("the token has expired".into());
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now.saturating_add(LEEWAY))
    {
        return Err("the token is not valid yet".into());
    }
    let max = i64::try_from(jwt.max_lifetime.as_secs()).unwrap_or(i64::MAX);
    if let Some(iat) = claims.iat {
        if iat > now.saturating_add(LEEWAY) {
            return Err("the token is issued in the future".into());
        }
        if iat < now.saturating_sub(max).saturating_sub(LEEWAY) {
            return Err(format!(
                "the token was issued more than the {max} s allowed ago"
            ));
        }
    }
    let lifetime = claims
        .exp
        .checked_sub(claims.iat.unwrap_or(now).min(now))
        .ok_or("invalid token: exp and iat are out of range")?;
    if lifetime > max {
        return Err(format!(
            "the token lives {lifetime} s, longer than the {max} s allowed"
        ));
    }
    let role =
        Role::parse(&claims.role).ok_or_else(|| format!("unknown role {:?}", claims.role))?;
    if claims.sub.trim().is_empty() {
        return Err("the token has no subject".into());
    }
    Ok(Caller {
        sub: claims.sub,
        role,
        services: claims.services,
    })
}

/// Mints an HS256 token (for `alertrouter token issue` and tests).
pub fn issue(secret: &str, claims: &Claims) -> Result<String, String> {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| e.to_string())
}
