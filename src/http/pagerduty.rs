//! `POST /hooks/pagerduty`: PagerDuty's v3 webhooks. An acknowledgement or resolution made in
//! PagerDuty is mirrored here (and so in Slack). Each request must carry an
//! `X-PagerDuty-Signature` (`v1=` HMAC-SHA256 of the body with the subscription's secret), and is
//! applied only when fresh, once per event id, and when newer than the incident's last opening.

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

use super::error::ApiError;
use crate::app::App;
use crate::core::actions::Action;
use crate::core::{Actor, IncidentRef};
use crate::service::actions::{ActionError, act};

/// What a webhook body asks of alertrouter.
#[derive(Debug)]
pub enum Parsed {
    /// Nothing: the answer says why.
    Ignored(Value),
    Event(Event),
}

/// An acknowledgement or resolution of one of alertrouter's incidents, made in PagerDuty.
#[derive(Debug)]
pub struct Event {
    pub action: Action,
    pub incident: uuid::Uuid,
    pub occurred: chrono::DateTime<chrono::Utc>,
    /// PagerDuty's event id ("" when the body has none: refused after the freshness check).
    pub id: String,
    /// Who did it, as PagerDuty summarises them.
    pub agent: String,
}

/// Reads a v3 webhook body: JSON, an `event_type`, our incident's id as `incident_key` and an
/// `occurred_at` time.
pub fn parse_event(body: &[u8]) -> Result<Parsed, ApiError> {
    let payload: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("not JSON: {e}")))?;
    let event = &payload["event"];
    let action = match event["event_type"].as_str().unwrap_or("") {
        "incident.acknowledged" => Action::Ack,
        "incident.resolved" => Action::Resolve,
        other => {
            return Ok(Parsed::Ignored(
                json!({"status": "ignored", "event_type": other}),
            ));
        }
    };
    // Our trigger's dedup_key is the incident's id; PagerDuty reports it as incident_key.
    let Some(incident) = event["data"]["incident_key"]
        .as_str()
        .and_then(|k| uuid::Uuid::parse_str(k).ok())
    else {
        return Ok(Parsed::Ignored(
            json!({"status": "ignored", "reason": "not an alertrouter incident"}),
        ));
    };
    let Some(occurred) = event["occurred_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
    else {
        return Err(ApiError::BadRequest(
            "event.occurred_at: missing or not a time".into(),
        ));
    };
    Ok(Parsed::Event(Event {
        action,
        incident,
        occurred,
        id: event["id"].as_str().unwrap_or("").to_string(),
        agent: event["agent"]["summary"]
            .as_str()
            .unwrap_or("someone")
            .to_string(),
    }))
}

/// PagerDuty's route.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/hooks/pagerduty", post(webhook))
        .layer(DefaultBodyLimit::max(256 * 1024))
}

/// The `v1=` signature of a body.
pub fn pagerduty_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v1={hex}")
}

/// Whether any of the header's comma-separated signatures (several during secret rotation)
/// matches, compared in constant time.
fn signed(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let expected = pagerduty_signature(secret, body);
    headers
        .get("x-pagerduty-signature")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|s| {
                bool::from(subtle::ConstantTimeEq::ct_eq(
                    s.trim().as_bytes(),
                    expected.as_bytes(),
                ))
            })
        })
}

async fn webhook(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let live = app.live.get();
    let Some(secret) = &live.channels.pagerduty_webhook_secret else {
        return Err(ApiError::NotFound(
            "PagerDuty webhooks are not configured (channels.pagerduty.webhook_secret)".into(),
        ));
    };
    if !signed(secret.expose_secret(), &headers, &body) {
        return Err(ApiError::Unauthorized(
            "X-PagerDuty-Signature missing or wrong".into(),
        ));
    }
    let event = match parse_event(&body)? {
        Parsed::Ignored(answer) => return Ok(Json(answer)),
        Parsed::Event(event) => event,
    };
    let Event {
        action,
        incident,
        occurred,
        id,
        agent,
    } = event;
    // A signature never expires, so a recorded event could be sent again years later: only
    // fresh events, each once, and none older than the incident's latest opening.
    let now = app.clock.now();
    let age = now.signed_duration_since(occurred);
    if age > chrono::TimeDelta::seconds(MAX_AGE_SECS)
        || age < -chrono::TimeDelta::seconds(MAX_SKEW_SECS)
    {
        super::replay::refused(
            &app,
            "pagerduty",
            &format!("an event dated {occurred}, too old or ahead"),
        );
        return Ok(Json(json!({"status": "ignored", "reason": "stale event"})));
    }
    if id.is_empty() {
        return Err(ApiError::BadRequest("event.id: missing".into()));
    }
    // Recorded in the action's transaction: a failure leaves it for PagerDuty's retry.
    let once = crate::store::replays::Once::Callback {
        source: "pagerduty",
        key: id,
        expires_at: now + chrono::TimeDelta::seconds(2 * MAX_AGE_SECS),
    };
    let opened = crate::store::replays::last_opened(&app.pool, incident).await?;
    if opened.is_some_and(|opened| occurred < opened) {
        tracing::info!(%incident, %occurred, "a PagerDuty event older than the incident's last opening was ignored");
        return Ok(Json(
            json!({"status": "ignored", "reason": "older than the incident's last reopen"}),
        ));
    }
    let actor = Actor {
        name: format!("pagerduty:{agent}"),
        source: "pagerduty",
        client_addr: Some(
            super::client::client_ip(addr, &headers, &live.api.trusted_proxies).to_string(),
        ),
    };
    let done = act(
        &app,
        &actor,
        IncidentRef::Id(incident),
        &action,
        Some(&once),
    )
    .await;
    match done {
        Ok(done) => Ok(Json(
            json!({"status": "mirrored", "incident": done.incident()}),
        )),
        // Already so here (often because we told PagerDuty first): nothing to mirror.
        Err(why @ ActionError::Refused { .. }) => Ok(Json(
            json!({"status": "unchanged", "reason": why.to_string()}),
        )),
        Err(ActionError::NotFound) => Ok(Json(
            json!({"status": "ignored", "reason": "no such incident"}),
        )),
        Err(ActionError::AlreadyHandled) => {
            super::replay::refused(&app, "pagerduty", "an event arrived a second time");
            Ok(Json(
                json!({"status": "ignored", "reason": "event already handled"}),
            ))
        }
        Err(other) => Err(other.into()),
    }
}

/// Events older than this are not applied: PagerDuty delivers within seconds and retries for
/// a few minutes.
const MAX_AGE_SECS: i64 = 600;
/// How far in the future an event's time may be (clock skew).
const MAX_SKEW_SECS: i64 = 60;
