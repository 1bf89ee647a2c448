//! `POST /hooks/alertmanager`: authenticate, bound, parse, ingest, and answer only after commit.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::routing::post;
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use super::error::ApiError;
use crate::alertmanager::parse_webhook;
use crate::app::App;
use crate::ingest::Ingested;
use crate::metrics::Outcome;

/// The webhook routes.
pub fn router() -> Router<Arc<App>> {
    Router::new().route("/hooks/alertmanager", post(receive))
}

async fn receive(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let live = app.live.get();
    let integration = match live.auth.authenticate(&headers) {
        Ok(name) => name,
        Err(why) => {
            tracing::info!(reason = why, "webhook refused: unauthorized");
            app.metrics.webhook("", Outcome::Unauthorized);
            return Err(ApiError::Unauthorized(why.into()));
        }
    };
    let mut refused_group_key = None;
    let result = accept(&app, integration, &headers, body, &mut refused_group_key).await;
    let outcome = match &result {
        Ok(Ingested::Changed) => Outcome::Accepted,
        Ok(Ingested::Unchanged) => Outcome::NoChange,
        Err(ApiError::Unavailable { .. }) => {
            // The cause is logged where the 503 is answered (`ApiError::into_response`).
            tracing::warn!(
                integration,
                "webhook not committed; Alertmanager will retry"
            );
            Outcome::Unavailable
        }
        Err(e) => {
            // Alertmanager never retries a 4xx: this group's page is lost unless someone acts.
            let group_key = match &e {
                ApiError::PayloadTooLarge(_) => refused_group_key.as_deref(),
                _ => None,
            };
            tracing::error!(integration, error = %e, group_key,
                "webhook refused for good (Alertmanager will not retry it)");
            app.metrics
                .risks
                .body_refused(integration, refusal_reason(e));
            Outcome::Invalid
        }
    };
    app.metrics.webhook(integration, outcome);
    let changed = result? == Ingested::Changed;
    Ok(Json(json!({
        "status": if changed { "accepted" } else { "unchanged" },
        "integration": integration,
    })))
}

async fn accept(
    app: &App,
    integration: &str,
    headers: &HeaderMap,
    body: Body,
    refused_group_key: &mut Option<String>,
) -> Result<Ingested, ApiError> {
    let started = Instant::now();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type must be application/json, got {content_type:?}"
        )));
    }
    // One deadline for reading the body and committing: a slow sender or a slow database both
    // end in 503 before Alertmanager's 10 s cut-off, so the message is retried, not lost.
    let timeout = app.settings.ingest.request_timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    let too_slow = |what: &str| ApiError::Unavailable {
        what: format!("{what} not done within {timeout:?}"),
        cause: None,
    };
    let limit = app.settings.ingest.max_body_bytes;
    // A declared length over the limit is answered at once, not after reading it.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    // Held until the webhook is answered: the parsed body lives that long.
    let _room = app
        .bodies
        .reserve(declared, limit, super::budget::WAIT)
        .await
        .map_err(|()| {
            tracing::warn!(integration, declared, "large webhook bodies fill ingest.large_bodies_in_flight; answered 503 (Alertmanager retries)");
            ApiError::Unavailable {
                what: format!(
                    "no room for a large body within {:?} (ingest.large_bodies_in_flight)",
                    super::budget::WAIT
                ),
                cause: None,
            }
        })?;
    let bytes = match tokio::time::timeout_at(deadline, read_body(body, limit))
        .await
        .map_err(|_| too_slow("reading the body"))?
    {
        BodyRead::Whole(bytes) => bytes,
        BodyRead::TooLarge { tail } => {
            *refused_group_key = group_key_in(&tail);
            return Err(ApiError::PayloadTooLarge(limit));
        }
        BodyRead::Failed(e) => return Err(ApiError::BadRequest(format!("body: {e}"))),
    };
    let webhook = parse_webhook(&bytes).map_err(|e| ApiError::BadRequest(e.detail))?;
    if !webhook.repairs.is_empty() {
        tracing::warn!(integration, group_key = %webhook.group_key, repairs = %webhook.repairs,
            "webhook accepted with parts repaired or cut (NUL characters, over-limit text)");
        for (kind, n) in webhook.repairs.kinds() {
            app.metrics.risks.repaired(integration, kind, n);
        }
    }

    // The heartbeat alerts are recorded, never incidents (see `crate::heartbeat`).
    let live = app.live.get();
    let webhook = match live.heartbeat(integration) {
        None => webhook,
        Some(heartbeat) => {
            let (seen, rest) = crate::heartbeat::take(heartbeat, webhook);
            if seen {
                let now = app.clock.now();
                let record = crate::store::heartbeats::record(&app.pool, integration, now);
                tokio::time::timeout_at(deadline, record)
                    .await
                    .map_err(|_| too_slow("recording the heartbeat"))?
                    .map_err(ApiError::from)?;
            }
            match rest {
                Some(rest) => rest,
                None => return Ok(Ingested::Unchanged),
            }
        }
    };
    let result = tokio::time::timeout_at(deadline, app.ingestor.ingest(integration, &webhook))
        .await
        .map_err(|_| too_slow("commit"))?
        .map_err(ApiError::from)?;
    app.metrics.ingested(
        integration,
        webhook.alerts.len(),
        started.elapsed().as_secs_f64(),
    );
    Ok(result)
}

/// A webhook body as read.
enum BodyRead {
    Whole(bytes::Bytes),
    /// Over the limit: the last bytes of it (Alertmanager writes `groupKey` near the end).
    TooLarge {
        tail: Vec<u8>,
    },
    Failed(axum::Error),
}

/// How much of an oversized body is read (and dropped) to find its group key for the log.
const OVERSIZE_READ_FACTOR: usize = 4;
const TAIL_BYTES: usize = 8 << 10;

/// Reads up to `limit` bytes; past it, keeps reading (up to a few times the limit) only to keep
/// the body's tail, so the refusal can name the group whose page is lost.
async fn read_body(body: Body, limit: usize) -> BodyRead {
    let mut body = body;
    let mut whole = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) if seen > limit => {
                tracing::debug!(error = %e, "oversized body ended early");
                break;
            }
            Err(e) => return BodyRead::Failed(e),
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen <= limit {
            whole.extend_from_slice(&data);
            continue;
        }
        if tail.is_empty() {
            tail = std::mem::take(&mut whole);
        }
        tail.extend_from_slice(&data);
        if tail.len() > TAIL_BYTES {
            tail.drain(..tail.len() - TAIL_BYTES);
        }
        if seen > limit.saturating_mul(OVERSIZE_READ_FACTOR) {
            break;
        }
    }
    if seen > limit {
        BodyRead::TooLarge { tail }
    } else {
        BodyRead::Whole(whole.into())
    }
}

/// The `groupKey` string in (the end of) a webhook body, if it is there whole.
fn group_key_in(tail: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(tail);
    let at = text.rfind("\"groupKey\"")?;
    let rest = text[at + "\"groupKey\"".len()..]
        .trim_start()
        .strip_prefix(':')?;
    let mut stream = serde_json::Deserializer::from_str(rest.trim_start()).into_iter::<String>();
    stream.next()?.ok()
}

/// The metric label of a 4xx refusal.
fn refusal_reason(e: &ApiError) -> &'static str {
    match e {
        ApiError::PayloadTooLarge(_) => "too_large",
        ApiError::UnsupportedMediaType(_) => "media_type",
        ApiError::Unprocessable(_) => "database_refused",
        _ => "malformed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_key_is_found_at_the_end_of_a_body() {
        let tail = br#"..."externalURL":"http://am","version":"4","groupKey":"{}:{alertname=\"X\"}","truncatedAlerts":0}"#;
        assert_eq!(group_key_in(tail).as_deref(), Some(r#"{}:{alertname="X"}"#));
        assert_eq!(group_key_in(br#""groupKey":"{}:{alertn"#), None);
        assert_eq!(group_key_in(b"no key here"), None);
    }
}
