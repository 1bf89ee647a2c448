//! Public keys from a JWKS URL (`api.jwt.jwks_url`): fetched at start, refreshed periodically and
//! when a token names a key not seen yet (at most every 30 s), and used beside config's keys.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::config::api::JwtKey;

/// The least time between two fetches caused by unknown keys.
const MIN_REFETCH: Duration = Duration::from_secs(30);

/// The keys of a JWKS URL, as last fetched.
pub struct Jwks {
    url: Option<String>,
    client: reqwest::Client,
    keys: RwLock<Arc<Vec<JwtKey>>>,
    last_fetch: Mutex<Option<Instant>>,
}

impl Jwks {
    /// Keys from `url`, none until the first fetch.
    pub fn new(url: Option<String>) -> Result<Self, reqwest::Error> {
        Ok(Jwks {
            url,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()?,
            keys: RwLock::new(Arc::new(Vec::new())),
            last_fetch: Mutex::new(None),
        })
    }

    /// Whether a URL is configured.
    pub fn configured(&self) -> bool {
        self.url.is_some()
    }

    /// The keys now.
    pub fn keys(&self) -> Arc<Vec<JwtKey>> {
        self.keys.read().map(|k| k.clone()).unwrap_or_default()
    }

    /// Fetches the set again; returns how many usable keys (RS256, ES256 with a `kid`) it has.
    pub async fn refresh(&self) -> Result<usize, String> {
        let Some(url) = &self.url else {
            return Ok(0);
        };
        if let Ok(mut last) = self.last_fetch.lock() {
            *last = Some(Instant::now());
        }
        let set: JwkSet = self
            .client
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("JWKS {url}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("JWKS {url}: {e}"))?;
        let keys: Vec<JwtKey> = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
                    (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => {
                        Algorithm::RS256
                    }
                    (AlgorithmParameters::EllipticCurve(_), None | Some(KeyAlgorithm::ES256)) => {
                        Algorithm::ES256
                    }
                    _ => return None,
                };
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some(JwtKey { kid, alg, key })
            })
            .collect();
        let n = keys.len();
        if let Ok(mut k) = self.keys.write() {
            *k = Arc::new(keys);
        }
        Ok(n)
    }

    /// Refreshes for an unknown `kid` unless a fetch happened in the last 30 s; true if it did.
    pub async fn refresh_for_unknown(&self) -> bool {
        let recent = self
            .last_fetch
            .lock()
            .ok()
            .and_then(|l| *l)
            .is_some_and(|t| t.elapsed() < MIN_REFETCH);
        if !self.configured() || recent {
            return false;
        }
        match self.refresh().await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "JWKS refresh failed");
                false
            }
        }
    }

    /// Refreshes every `every` until `shutdown`.
    pub async fn run(
        self: Arc<Self>,
        every: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        while self.configured() && !*shutdown.borrow() {
            match self.refresh().await {
                Ok(n) => tracing::debug!(keys = n, "JWKS refreshed"),
                Err(e) => {
                    tracing::warn!(error = %e, "JWKS refresh failed; keeping the keys we had")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
