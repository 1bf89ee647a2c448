//! `GET /healthz` (the process answers) and `GET /readyz` (the database answers and is migrated,
//! and shutdown has not begun).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::App;
use crate::build_info;
use crate::store;

/// The health routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready, or why not; with what the binary is (version, commit, schema), so a rolling upgrade
/// shows which replica runs which.
async fn readyz(State(app): State<Arc<App>>) -> (StatusCode, Json<Value>) {
    let (status, mut body) = if app.draining.load(Ordering::Acquire) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "draining", "detail": "shutting down"}),
        )
    } else {
        match store::ready(&app.pool).await {
            Ok(()) => (StatusCode::OK, json!({"status": "ready"})),
            Err(why) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"status": "not ready", "detail": why}),
            ),
        }
    };
    if let (Some(body), Value::Object(build)) = (body.as_object_mut(), build_info::json()) {
        body.extend(build);
    }
    (status, Json(body))
}
