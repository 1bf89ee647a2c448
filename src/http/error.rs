//! The one error type of the HTTP boundary: a status and a JSON body `{"error", "detail"}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::api::auth::AuthError;
use crate::service::actions::ActionError;

/// Seconds Alertmanager (or anyone) is told to wait after a 503.
const RETRY_AFTER_SECS: &str = "5";

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("body larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The action does not fit the incident's state (ack a resolved incident).
    #[error("{0}")]
    Conflict(String),
    /// Done before and not again: a spent link, a replayed callback.
    #[error("{0}")]
    Gone(String),
    /// Well-formed, but the values are wrong.
    #[error("{0}")]
    Unprocessable(String),
    /// Over a rate limit: try again in this many seconds.
    #[error("too many requests; retry in {0} s")]
    TooManyRequests(u64),
    /// The database (or a deadline) could not take the request now: 503, retry. The cause is
    /// logged, not shown.
    #[error("unavailable: {what}")]
    Unavailable {
        what: String,
        #[source]
        cause: Option<sqlx::Error>,
    },
}

/// Postgres refused the data itself (SQLSTATE class 22, e.g. 22P05 untranslatable character,
/// 22021 bad encoding; class 54, e.g. an index row too large): a retry fails the same way, so
/// the request is answered 422, never 503. Anything else is the database being unavailable.
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        let code = e
            .as_database_error()
            .and_then(|d| d.code())
            .map(|c| c.into_owned());
        match code {
            Some(code) if code.starts_with("22") || code.starts_with("54") => {
                tracing::error!(sqlstate = %code, error = %e, "the database refused the request's data");
                ApiError::Unprocessable(format!(
                    "the database cannot store this request's data (SQLSTATE {code})"
                ))
            }
            _ => ApiError::Unavailable {
                what: "the database failed".into(),
                cause: Some(e),
            },
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Unauthorized(e.to_string())
    }
}

/// How an action that was not done is answered: 404, 409 with why, 410, or 503.
impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::NotFound => ApiError::NotFound(e.to_string()),
            ActionError::Refused { .. } => ApiError::Conflict(e.to_string()),
            ActionError::AlreadyHandled => ApiError::Gone(e.to_string()),
            ActionError::Database(db) => ApiError::from(db),
        }
    }
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::UnsupportedMediaType(_) => "unsupported media type",
            ApiError::PayloadTooLarge(_) => "payload too large",
            ApiError::BadRequest(_) => "invalid payload",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Gone(_) => "gone",
            ApiError::Unprocessable(_) => "invalid input",
            ApiError::TooManyRequests(_) => "too many requests",
            ApiError::Unavailable { .. } => "unavailable",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The one place a 503's cause is logged, whichever handler answered it.
        if let ApiError::Unavailable { what, cause } = &self {
            match cause {
                Some(e) => {
                    tracing::warn!(%what, error = %crate::telemetry::chain(e), "answered 503")
                }
                None => tracing::warn!(%what, "answered 503"),
            }
        }
        let detail = match &self {
            // A deadline or a full room is said as it is; a database error's text stays in the log.
            ApiError::Unavailable { what, cause: None } => format!("{what}; retry"),
            ApiError::Unavailable { .. } => {
                "the database cannot take this request now; retry".into()
            }
            other => other.to_string(),
        };
        let mut response = (
            self.status(),
            Json(json!({"error": self.kind(), "detail": detail})),
        )
            .into_response();
        let headers = response.headers_mut();
        match self {
            ApiError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"alertrouter\""),
                );
            }
            ApiError::Unavailable { .. } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECS),
                );
            }
            ApiError::TooManyRequests(secs) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            }
            _ => {}
        }
        response
    }
}
