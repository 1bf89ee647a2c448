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

/// Why a token was not accepted (401). The text is the answer's `detail`.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("a Bearer token is required")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(#[source] jsonwebtoken::errors::Error),
    #[error("HS256 tokens are not accepted here")]
    Hs256NotAccepted,
    #[error("the token names no key (kid)")]
    NoKeyId,
    /// Not in config nor in the JWKS fetched last: the JWKS may have rotated since.
    #[error("unknown key {0:?}")]
    UnknownKey(String),
    #[error("key {kid:?} is for {key:?}, not {token:?}")]
    WrongAlgorithm {
        kid: String,
        key: Algorithm,
        token: Algorithm,
    },
    #[error("algorithm {0:?} is not accepted")]
    AlgorithmNotAccepted(Algorithm),
    #[error("invalid token: {0}")]
    Invalid(#[source] jsonwebtoken::errors::Error),
    #[error("invalid token: {0} is required")]
    MissingClaim(&'static str),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is issued in the future")]
    IssuedInFuture,
    #[error("the token was issued more than the {0} s allowed ago")]
    IssuedTooLongAgo(i64),
    #[error("invalid token: exp and iat are out of range")]
    OutOfRange,
    #[error("the token lives {lifetime} s, longer than the {max} s allowed")]
    LivesTooLong { lifetime: i64, max: i64 },
    #[error("unknown role {0:?}")]
    UnknownRole(String),
    #[error("the token has no subject")]
    NoSubject,
}

/// Reads `Authorization: Bearer <jwt>` and checks it at `now` (Unix seconds).
pub fn authenticate(
    jwt: &JwtSettings,
    fetched: &[JwtKey],
    headers: &HeaderMap,
    now: i64,
) -> Result<Caller, AuthError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::Missing)?;
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
) -> Result<Caller, AuthError> {
    let header = decode_header(token).map_err(AuthError::Malformed)?;
    let (alg, key) = match header.alg {
        Algorithm::HS256 => {
            let secret = jwt
                .hs256_secret
                .as_ref()
                .ok_or(AuthError::Hs256NotAccepted)?;
            (
                Algorithm::HS256,
                DecodingKey::from_secret(secret.expose_secret().as_bytes()),
            )
        }
        alg @ (Algorithm::RS256 | Algorithm::ES256) => {
            let kid = header.kid.as_deref().ok_or(AuthError::NoKeyId)?;
            let key = jwt
                .keys
                .iter()
                .chain(fetched)
                .find(|k| k.kid == kid)
                .ok_or_else(|| AuthError::UnknownKey(kid.to_string()))?;
            if key.alg != alg {
                return Err(AuthError::WrongAlgorithm {
                    kid: kid.to_string(),
                    key: key.alg,
                    token: alg,
                });
            }
            (alg, key.key.clone())
        }
        other => return Err(AuthError::AlgorithmNotAccepted(other)),
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
        .map_err(AuthError::Invalid)?
        .claims;
    if jwt.issuer.is_some() && claims.iss.is_none() {
        return Err(AuthError::MissingClaim("iss"));
    }
    if jwt.audience.is_some() && claims.aud.is_none() {
        return Err(AuthError::MissingClaim("aud"));
    }
    // Checked arithmetic throughout: every number here comes from the token.
    if claims.exp.saturating_add(LEEWAY) < now {
        return Err(AuthError::Expired);
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now.saturating_add(LEEWAY))
    {
        return Err(AuthError::NotYetValid);
    }
    let max = i64::try_from(jwt.max_lifetime.as_secs()).unwrap_or(i64::MAX);
    if let Some(iat) = claims.iat {
        if iat > now.saturating_add(LEEWAY) {
            return Err(AuthError::IssuedInFuture);
        }
        if iat < now.saturating_sub(max).saturating_sub(LEEWAY) {
            return Err(AuthError::IssuedTooLongAgo(max));
        }
    }
    let lifetime = claims
        .exp
        .checked_sub(claims.iat.unwrap_or(now).min(now))
        .ok_or(AuthError::OutOfRange)?;
    if lifetime > max {
        return Err(AuthError::LivesTooLong { lifetime, max });
    }
    let role =
        Role::parse(&claims.role).ok_or_else(|| AuthError::UnknownRole(claims.role.clone()))?;
    if claims.sub.trim().is_empty() {
        return Err(AuthError::NoSubject);
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
