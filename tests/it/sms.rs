//! SMS beyond Twilio's send: a generic HTTP gateway described by templates, and Twilio's
//! signed delivery receipts.

use std::sync::{Arc, Mutex};

use alertrouter::channels::sms_http::HttpSmsSettings;
use alertrouter::config::ChannelSettings;
use alertrouter::config::SmsProvider;
use alertrouter::metrics::Metrics;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::dispatch::FakeTwilio;
use crate::escalation::{dispatcher_for, start_with, worker};
use crate::support::{TestDb, alert, grouped};

fn page(key: &str) -> String {
    grouped(
        key,
        vec![alert(
            key,
            "critical",
            "firing",
            "2026-11-25T18:50:00Z",
            None,
        )],
    )
}

#[tokio::test]
async fn a_generic_gateway_gets_the_page_in_its_own_shape() {
    let db = TestDb::new().await;
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/v1/messages",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                if headers.get("x-api-key").is_none_or(|k| k != "gw-secret") {
                    return (StatusCode::UNAUTHORIZED, "bad key".to_string());
                }
                let Ok(body) = serde_json::from_str::<Value>(&body) else {
                    return (StatusCode::BAD_REQUEST, "not json".to_string());
                };
                seen.lock().unwrap().push(body);
                (StatusCode::ACCEPTED, json!({"id": 7781}).to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/messages", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let gateway = HttpSmsSettings::new(
        &url,
        "POST",
        vec![
            ("X-Api-Key".into(), "gw-secret".into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        Some(r#"{"sender": {{ from|tojson }}, "msisdn": {{ to|tojson }}, "text": {{ body|tojson }}}"#),
        "OPS".into(),
    )
    .unwrap();

    let server = start_with(&db, |c| {
        c.policies.users.get_mut("alice").unwrap().phone = Some("+4915112345678".into());
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = dispatcher_for(
        &server,
        metrics.clone(),
        ChannelSettings {
            sms: Some(SmsProvider::Http(Arc::new(gateway))),
            ..ChannelSettings::default()
        },
    );
    server.post(page("web-1")).await;
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    dispatcher.run_once().await.unwrap();
    assert_eq!(
        received.lock().unwrap().clone(),
        [
            json!({"sender": "OPS", "msisdn": "+4915112345678", "text": "CRIT INC-1: errors on web-1. Reply ACK 1"})
        ]
    );
    let (status, reference): (String, String) =
        sqlx::query_as("select status, provider_ref from outbox where channel = 'sms'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), reference.as_str()), ("sent", "7781"));
}

const CALLBACK: &str = "https://alertrouter.example/hooks/twilio/status";

#[tokio::test]
async fn signed_delivery_receipts_are_recorded_and_forged_ones_change_nothing() {
    let db = TestDb::new().await;
    let twilio = FakeTwilio::default();
    let base = twilio.start().await;
    let sms = crate::dispatch::twilio_at(&base, Some(CALLBACK));
    let channels = ChannelSettings {
        sms: Some(sms),
        ..ChannelSettings::default()
    };
    let server = start_with(&db, |c| {
        c.policies.users.get_mut("alice").unwrap().phone = Some("+4915112345678".into());
        c.channels = channels.clone();
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = dispatcher_for(&server, metrics.clone(), channels);
    server.post(page("web-1")).await;
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    dispatcher.run_once().await.unwrap();
    let form = twilio.messages.lock().unwrap()[0].clone();
    assert!(form.contains(&("StatusCallback".to_string(), CALLBACK.to_string())));

    let receipt = |sid: &str, status: &str| -> Vec<(String, String)> {
        [
            ("MessageSid", sid),
            ("MessageStatus", status),
            ("To", "+4915112345678"),
            ("AccountSid", "AC123"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let send = |params: Vec<(String, String)>, signature: String| {
        let http = server.http.clone();
        let url = format!("{}/hooks/twilio/status", server.base);
        async move {
            http.post(url)
                .header("x-twilio-signature", signature)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(&params).unwrap())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let sign = |params: &[(String, String)], token: &str, url: &str| {
        alertrouter::http::twilio_signature(token, url, params)
    };
    let stored = || async {
        sqlx::query_scalar::<_, Option<String>>(
            "select provider_status from outbox where channel = 'sms'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };

    // Forged: another token, another URL, no signature at all, a tampered status.
    let good = receipt("SM0123456789abcdef", "delivered");
    let forged = [
        sign(&good, "not-the-token", CALLBACK),
        sign(
            &good,
            "twilio-token",
            "https://evil.example/hooks/twilio/status",
        ),
        String::new(),
        sign(
            &receipt("SM0123456789abcdef", "queued"),
            "twilio-token",
            CALLBACK,
        ),
    ];
    for signature in forged {
        assert_eq!(send(good.clone(), signature).await, 403);
    }
    assert_eq!(stored().await, None, "nothing changed");

    let unknown = receipt("SMnothing", "delivered");
    let signature = sign(&unknown, "twilio-token", CALLBACK);
    assert_eq!(send(unknown, signature).await, 404);

    let signature = sign(&good, "twilio-token", CALLBACK);
    assert_eq!(send(good, signature).await, 204);
    assert_eq!(stored().await.as_deref(), Some("delivered"));
    let text = server.app.metrics.encode();
    assert!(
        text.contains(r#"alertrouter_sms_receipts_total{status="delivered"} 1"#),
        "{text}"
    );
}
