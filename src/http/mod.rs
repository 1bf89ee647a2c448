//! The HTTP API: each module owns its routes; this one merges them and adds the layers.

pub mod api;
mod auth;
pub mod budget;
pub mod client;
mod email;
pub mod error;
mod health;
pub mod listener;
mod metrics;
pub mod pagerduty;
mod replay;
pub mod slack;
pub mod twilio;
mod webhook;

use std::sync::Arc;

use axum::Router;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use self::auth::Authenticator;
pub use self::error::ApiError;
pub use self::pagerduty::pagerduty_signature;
pub use self::slack::slack_signature;
pub use self::twilio::twilio_signature;
use crate::app::App;

/// Every route, with request ids and request tracing. Headers are never logged. With a
/// separate webhook listener (`server.webhook_listen`), the webhook is served only there.
pub fn router(app: Arc<App>) -> Router {
    let others = Router::new()
        .merge(twilio::router())
        .merge(api::router())
        .merge(slack::router())
        .merge(email::router())
        .merge(pagerduty::router());
    let with_webhook = app.settings.server.webhook_listen.is_none();
    layered(others, with_webhook, app)
}

/// The Alertmanager webhook with health and metrics, for `server.webhook_listen`.
pub fn webhook_router(app: Arc<App>) -> Router {
    layered(Router::new(), true, app)
}

/// Health and metrics only, for `--role worker`.
pub fn ops_router(app: Arc<App>) -> Router {
    layered(Router::new(), false, app)
}

fn layered(routes: Router<Arc<App>>, with_webhook: bool, app: Arc<App>) -> Router {
    // Every request, the body read included, ends by this deadline. The webhook has its own,
    // shorter one (`ingest.request_timeout`, answered 503), so it is spared this timer.
    let deadline = TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        app.settings.server.request_timeout,
    );
    let routes = routes
        .merge(health::router())
        .merge(metrics::router())
        .layer(deadline);
    let routes = match with_webhook {
        true => routes.merge(webhook::router()),
        false => routes,
    };
    routes
        .with_state(app)
        .layer(CatchPanicLayer::custom(panicked))
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

/// A handler that panicked: logged with its message, answered as a JSON 500, and the process
/// keeps serving.
fn panicked(cause: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = cause
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| cause.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    tracing::error!(panic = %message, "a request handler panicked; answered 500");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(serde_json::json!({"error": "internal error", "detail": "the request could not be completed; it is logged"})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("boom")
    }

    #[tokio::test]
    async fn a_panicking_handler_is_answered_500_as_json_and_the_service_keeps_serving() {
        let app = Router::new()
            .route("/boom", get(boom))
            .route("/ok", get(|| async { "fine" }))
            .layer(CatchPanicLayer::custom(panicked));
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let r = app.clone().oneshot(get("/boom")).await.unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "internal error");
        let r = app.oneshot(get("/ok")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}
