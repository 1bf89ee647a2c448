//! Channels send one notification and say what happened; they never touch the database (the
//! dispatcher records the result).

pub mod webhook;

use std::time::Duration;

/// One outbox row on its way out.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    /// Stable across redeliveries: receivers deduplicate on it.
    pub dedup_key: String,
    pub channel: String,
    pub recipient: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
}

/// What a send attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    /// Delivered; the provider's reference (message id, status code).
    Sent { reference: String },
    /// Failed for now: try again, after `after` if the provider said (`Retry-After`).
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// Will never succeed as it is (bad request, unknown destination).
    Dead { error: String },
}

/// Reads a `Retry-After` header: delay-seconds or an HTTP date.
pub fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    at.with_timezone(&chrono::Utc)
        .signed_duration_since(now)
        .to_std()
        .ok()
}
