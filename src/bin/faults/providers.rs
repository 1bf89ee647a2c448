//! Fake Slack, Twilio and PagerDuty for scenario 5: each checks the request's credential and
//! shape, records what it was sent (every incident number a message names, the first being its
//! own) and when; Slack can be told to answer 429, 5xx, or not at all for a while.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::json;

pub const SLACK_TOKEN: &str = "xoxb-faults-0000";
pub const TWILIO_SID: &str = "AC00000000000000000000000000faults";
pub const TWILIO_TOKEN: &str = "twilio-faults-token";

/// What Slack answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Slack {
    Ok = 0,
    /// 429 with `Retry-After: 1`.
    RateLimited = 1,
    /// 503.
    Down = 2,
    /// Never answers (the sender's timeout ends it).
    Hangs = 3,
}

/// One message as it arrived.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub channel: &'static str,
    /// The Slack channel or user id, the phone number, the routing key.
    pub to: String,
    /// Every incident number the message names; the first is its own.
    pub numbers: Vec<i64>,
    pub at: DateTime<Utc>,
}

#[derive(Default)]
pub struct Providers {
    slack: AtomicU8,
    pub arrivals: Mutex<Vec<Arrival>>,
    /// Requests with a wrong credential or shape.
    pub refused: Mutex<Vec<String>>,
}

impl Providers {
    pub async fn start() -> anyhow::Result<(Arc<Providers>, u16)> {
        let fake = Arc::new(Providers::default());
        let app = axum::Router::new()
            .route("/api/chat.postMessage", post(slack))
            .route("/api/chat.update", post(slack))
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(twilio))
            .route("/v2/enqueue", post(pagerduty))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((fake, port))
    }

    pub fn set_slack(&self, mode: Slack) {
        self.slack.store(mode as u8, Ordering::Relaxed);
    }

    pub fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals.lock().unwrap().clone()
    }

    fn record(&self, channel: &'static str, to: &str, text: &str) {
        self.arrivals.lock().unwrap().push(Arrival {
            channel,
            to: to.into(),
            numbers: numbers_in(text),
            at: Utc::now(),
        });
    }

    fn refuse(&self, why: String) -> Response {
        self.refused.lock().unwrap().push(why);
        StatusCode::BAD_REQUEST.into_response()
    }
}

/// The incident numbers `INC-n` in `text`, in order, once each.
pub fn numbers_in(text: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for part in text.split("INC-").skip(1) {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse()
            && !out.contains(&n)
        {
            out.push(n);
        }
    }
    out
}

async fn slack(State(fake): State<Arc<Providers>>, headers: HeaderMap, body: String) -> Response {
    match fake.slack.load(Ordering::Relaxed) {
        1 => return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response(),
        2 => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        3 => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        _ => {}
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {SLACK_TOKEN}")) {
        return fake.refuse(format!("slack: authorization {auth:?}"));
    }
    let Ok(message) = serde_json::from_str::<serde_json::Value>(&body) else {
        return fake.refuse("slack: not JSON".into());
    };
    let Some(channel) = message["channel"].as_str() else {
        return fake.refuse("slack: no channel".into());
    };
    // serde_json orders keys: `blocks` (the header names the message's own incident) first.
    fake.record("slack", channel, &body);
    axum::Json(json!({"ok": true, "channel": channel, "ts": "1700000000.000100"})).into_response()
}

async fn twilio(
    State(fake): State<Arc<Providers>>,
    axum::extract::Path(sid): axum::extract::Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    use base64::Engine;
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}"));
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if sid != TWILIO_SID || auth != Some(&format!("Basic {expected}")) {
        return fake.refuse(format!("twilio: account {sid}, authorization {auth:?}"));
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (Some(to), Some(text)) = (field("To"), field("Body")) else {
        return fake.refuse("twilio: no To or Body".into());
    };
    fake.record("sms", to, text);
    (
        StatusCode::CREATED,
        axum::Json(json!({"sid": "SM00000000000000000000000000000000", "status": "queued"})),
    )
        .into_response()
}

async fn pagerduty(State(fake): State<Arc<Providers>>, body: String) -> Response {
    let Ok(event) = serde_json::from_str::<serde_json::Value>(&body) else {
        return fake.refuse("pagerduty: not JSON".into());
    };
    let (Some(key), Some(action)) = (
        event["routing_key"].as_str(),
        event["event_action"].as_str(),
    ) else {
        return fake.refuse("pagerduty: no routing_key or event_action".into());
    };
    if action == "trigger" {
        fake.record("pagerduty", key, &body);
    }
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]})),
    )
        .into_response()
}
