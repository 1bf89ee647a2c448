//! The HTTP API: each module owns its routes; this one merges them and adds the layers.

pub mod api;
mod auth;
mod email;
mod error;
mod health;
mod metrics;
mod pagerduty;
mod slack;
mod twilio;
mod webhook;

use std::sync::Arc;

use axum::Router;
use axum::http::Request;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use self::auth::Authenticator;
pub use self::error::ApiError;
pub use self::pagerduty::pagerduty_signature;
pub use self::slack::slack_signature;
pub use self::twilio::twilio_signature;
use crate::app::App;

/// Every route, with request ids and request tracing. Headers are never logged.
pub fn router(app: Arc<App>) -> Router {
    layered(
        Router::new()
            .merge(webhook::router())
            .merge(twilio::router())
            .merge(api::router())
            .merge(slack::router())
            .merge(email::router())
            .merge(pagerduty::router()),
        app,
    )
}

/// Health and metrics only, for `--role worker`.
pub fn ops_router(app: Arc<App>) -> Router {
    layered(Router::new(), app)
}

fn layered(routes: Router<Arc<App>>, app: Arc<App>) -> Router {
    routes
        .merge(health::router())
        .merge(metrics::router())
        .with_state(app)
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}
