//! `POST /hooks/slack/interactions`: the buttons on Slack messages. Each request is checked
//! against `X-Slack-Signature` (v0, HMAC-SHA256 of `v0:timestamp:body` with the signing secret,
//! compared in constant time) and refused when its timestamp is more than 5 minutes off.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::api::run_action;
use super::error::ApiError;
use crate::app::App;
use crate::core::actions::Action;
use crate::store::actions::{Actor, IncidentRef};

/// Slack's route.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/hooks/slack/interactions", post(interaction))
        .layer(DefaultBodyLimit::max(64 * 1024))
}

/// How far a request's timestamp may be from now.
const MAX_SKEW_SECS: i64 = 300;

/// The `v0=` signature of a request body at `timestamp`.
pub fn slack_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("v0={hex}")
}

/// Checks the signature and the timestamp of a request.
fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(ts), Some(given)) = (
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
    ) else {
        return Err(ApiError::Unauthorized(
            "Slack signature headers missing".into(),
        ));
    };
    let at: i64 = ts
        .parse()
        .map_err(|_| ApiError::Unauthorized("X-Slack-Request-Timestamp is not a time".into()))?;
    if (now - at).abs() > MAX_SKEW_SECS {
        return Err(ApiError::Unauthorized(
            "X-Slack-Request-Timestamp is more than 5 minutes off (a replay?)".into(),
        ));
    }
    let expected = slack_signature(secret, ts, body);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_bytes(),
        given.as_bytes(),
    )) {
        return Err(ApiError::Unauthorized(
            "X-Slack-Signature does not match".into(),
        ));
    }
    Ok(())
}

/// A message only the clicking user sees.
fn ephemeral(text: impl Into<String>) -> Json<Value> {
    Json(json!({"response_type": "ephemeral", "replace_original": false, "text": text.into()}))
}

async fn interaction(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Some(secret) = &app.settings.channels.slack_signing_secret else {
        return Err(ApiError::NotFound(
            "Slack interactions are not configured (channels.slack.signing_secret)".into(),
        ));
    };
    verify(
        secret.expose_secret(),
        &headers,
        &body,
        app.clock.now().timestamp(),
    )?;
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::BadRequest(format!("not a form: {e}")))?;
    let payload: Value = form
        .iter()
        .find(|(k, _)| k == "payload")
        .and_then(|(_, v)| serde_json::from_str(v).ok())
        .ok_or_else(|| ApiError::BadRequest("no JSON payload field".into()))?;
    let slack_user = payload["user"]["id"].as_str().unwrap_or("").to_string();
    let Some(clicked) = payload["actions"].get(0) else {
        return Ok(ephemeral("Nothing to do."));
    };
    let action = match clicked["action_id"].as_str().unwrap_or("") {
        "incident_ack" => Action::Ack,
        "incident_unack" => Action::Unack,
        "incident_resolve" => Action::Resolve,
        "incident_escalate" => Action::Escalate,
        "incident_snooze" => Action::Snooze {
            until: app.clock.now() + chrono::TimeDelta::hours(1),
        },
        other => return Ok(ephemeral(format!("Unknown action {other:?}."))),
    };
    let incident: IncidentRef = clicked["value"]
        .as_str()
        .unwrap_or("")
        .parse()
        .map_err(ApiError::BadRequest)?;
    let person = app
        .live
        .get()
        .policies
        .person_by(|u| u.slack_id.as_deref(), &slack_user);
    let name = match person {
        Some(name) => name,
        None if app.settings.channels.slack_allow_unlinked && !slack_user.is_empty() => {
            format!("slack:{slack_user}")
        }
        None => {
            app.metrics.action("slack", action.name(), "refused");
            return Ok(ephemeral(
                "Your Slack account is not linked to a person in alertrouter (slack_id), so it cannot act on incidents.",
            ));
        }
    };
    let actor = Actor {
        name,
        source: "slack",
        client_addr: Some(addr.ip().to_string()),
    };
    match run_action(&app, &actor, incident, &action).await {
        Ok(done) => Ok(ephemeral(format!(
            "{} {}.",
            done["incident"].as_str().unwrap_or(""),
            match action {
                Action::Ack => "acknowledged",
                Action::Unack => "unacknowledged",
                Action::Resolve => "resolved",
                Action::Escalate => "escalated",
                _ => "snoozed for 1 hour",
            }
        ))),
        Err(ApiError::Conflict(why) | ApiError::NotFound(why)) => Ok(ephemeral(why)),
        Err(other) => Err(other),
    }
}
