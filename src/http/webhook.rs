//! `POST /hooks/alertmanager`: authenticate, bound, parse, ingest, and answer only after commit.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::routing::post;
use axum::{Json, Router};
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
    let result = accept(&app, integration, &headers, body).await;
    let outcome = match &result {
        Ok(Ingested::Changed) => Outcome::Accepted,
        Ok(Ingested::Unchanged) => Outcome::NoChange,
        Err(ApiError::Unavailable(cause)) => {
            tracing::warn!(integration, %cause, "webhook not committed, answered 503");
            Outcome::Unavailable
        }
        Err(e) => {
            tracing::info!(integration, error = %e, "webhook refused");
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
    let too_slow =
        |what: &str| ApiError::Unavailable(format!("{what} not done within {timeout:?}"));
    let limit = app.settings.ingest.max_body_bytes;
    let bytes = tokio::time::timeout_at(deadline, to_bytes(body, limit))
        .await
        .map_err(|_| too_slow("reading the body"))?
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::BadRequest(format!("body: {e}"))
            }
        })?;
    let webhook = parse_webhook(&bytes).map_err(|e| ApiError::BadRequest(e.detail))?;

    let result = tokio::time::timeout_at(deadline, app.ingestor.ingest(integration, &webhook))
        .await
        .map_err(|_| too_slow("commit"))?
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    app.metrics.ingested(
        integration,
        webhook.alerts.len(),
        started.elapsed().as_secs_f64(),
    );
    Ok(result)
}
