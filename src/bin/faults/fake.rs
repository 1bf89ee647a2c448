//! The fake receiver of outgoing webhooks: checks each message's Standard Webhooks signature and
//! records every page it is told of, with when it arrived, so a scenario can count what was
//! lost and what came twice. It can be told to fail for a while (`failing`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// One page as it arrived.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub msg_id: String,
    pub number: i64,
    pub step: i64,
    pub round: i64,
    pub at: DateTime<Utc>,
}

#[derive(Default)]
pub struct Fake {
    pub receipts: Mutex<Vec<Receipt>>,
    /// Messages whose signature or shape was wrong (a scenario fails on any).
    pub refused: AtomicU64,
    /// Non-zero: answer every message with this status instead of 204.
    pub failing: AtomicU16,
    secret: String,
}

impl Fake {
    /// Serves on 127.0.0.1 at an OS-chosen port; returns the fake and its port.
    pub async fn start(secret: &str) -> anyhow::Result<(Arc<Fake>, u16)> {
        let fake = Arc::new(Fake {
            secret: secret.into(),
            ..Fake::default()
        });
        let app = axum::Router::new()
            .route("/hook/{name}", post(receive))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((fake, port))
    }

    pub fn receipts(&self) -> Vec<Receipt> {
        self.receipts.lock().unwrap().clone()
    }

    /// How many times each (incident number, round, step) page arrived.
    pub fn counts(&self) -> HashMap<(i64, i64, i64), usize> {
        let mut counts = HashMap::new();
        for r in self.receipts.lock().unwrap().iter() {
            *counts.entry((r.number, r.round, r.step)).or_default() += 1;
        }
        counts
    }
}

async fn receive(
    State(fake): State<Arc<Fake>>,
    Path(_destination): Path<String>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let failing = fake.failing.load(Ordering::Relaxed);
    if failing != 0 {
        return StatusCode::from_u16(failing).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    }
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (id, ts) = (header("webhook-id"), header("webhook-timestamp"));
    let expected = format!(
        "v1,{}",
        alertrouter::channels::webhook::sign(&fake.secret, id, ts, &body)
    );
    let signed = header("webhook-signature")
        .split(' ')
        .any(|s| s == expected);
    let event: Value = serde_json::from_str(&body).unwrap_or_default();
    let change = &event["data"]["change"];
    if !signed || id.is_empty() || event["id"] != id {
        fake.refused.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST;
    }
    if change["kind"] != "page" {
        return StatusCode::NO_CONTENT;
    }
    let number = event["data"]["incident"]["number"].as_i64();
    let (Some(number), Some(step)) = (number, change["step"].as_i64()) else {
        fake.refused.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST;
    };
    fake.receipts.lock().unwrap().push(Receipt {
        msg_id: id.into(),
        number,
        step,
        round: change["loop"].as_i64().unwrap_or(0),
        at: Utc::now(),
    });
    StatusCode::NO_CONTENT
}
