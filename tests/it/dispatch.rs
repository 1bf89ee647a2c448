//! The outbox dispatcher against a fake webhook receiver that checks the Standard Webhooks
//! signature and answers what it is told.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alertrouter::channels::webhook::message_id;
use alertrouter::clock::Clock;
use alertrouter::config::ChannelSettings;
use alertrouter::core::policy::{EscalationPolicy, Step, Target};
use alertrouter::metrics::Metrics;
use alertrouter::workers::dispatcher::Dispatcher;
use axum::http::{HeaderMap, StatusCode};
use chrono::TimeDelta;
use secrecy::SecretString;
use serde_json::json;

use crate::escalation::{dispatcher_for, outbox, start_with, worker};
use crate::support::{TestDb, TestServer, alert, grouped};

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const S1: &str = "2026-11-25T18:50:00Z";

/// Verifies a message as the Standard Webhooks specification says a receiver must, written
/// from the spec rather than from alertrouter's signer: the key is the base64 after `whsec_`, the
/// signed content `{id}.{timestamp}.{body}`, HMAC-SHA256 in base64, any of the space-separated
/// `v1,<signature>` entries may match, and the timestamp must be within five minutes; an id must
/// not contain the `.` that separates the parts.
fn spec_verify(secret: &str, id: &str, ts: &str, body: &str, header: &str, now: i64) -> bool {
    use base64::Engine;
    use hmac::Mac;
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| b64.decode(k).ok())
    else {
        return false;
    };
    let Ok(sent) = ts.parse::<i64>() else {
        return false;
    };
    if id.is_empty() || id.contains('.') || (now - sent).abs() > 300 {
        return false;
    }
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    let expected = b64.encode(mac.finalize().into_bytes());
    header
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .any(|(version, sig)| version == "v1" && sig == expected)
}

/// A status and an optional Retry-After.
type Answer = (u16, Option<&'static str>);

/// A webhook receiver on 127.0.0.1:0.
#[derive(Clone, Default)]
pub struct Fake {
    pub received: Arc<Mutex<Vec<serde_json::Value>>>,
    /// The status answered to each received request.
    answered: Arc<Mutex<Vec<u16>>>,
    answers: Arc<Mutex<VecDeque<Answer>>>,
    /// The time the receiver checks timestamps against (the server's test clock).
    pub clock: Arc<Mutex<Option<Arc<dyn Clock>>>>,
}

impl Fake {
    fn now(&self) -> i64 {
        self.clock
            .lock()
            .unwrap()
            .as_ref()
            .map_or_else(|| chrono::Utc::now().timestamp(), |c| c.now().timestamp())
    }

    pub async fn start(&self) -> String {
        let fake = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let fake = fake.clone();
                async move {
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    let signed = spec_verify(
                        SECRET,
                        &h("webhook-id"),
                        &h("webhook-timestamp"),
                        &body,
                        &h("webhook-signature"),
                        fake.now(),
                    );
                    if !signed || h("content-type") != "application/json" {
                        return (StatusCode::UNAUTHORIZED, HeaderMap::new());
                    }
                    fake.received
                        .lock()
                        .unwrap()
                        .push(serde_json::from_str(&body).unwrap());
                    let (status, retry_after) = fake
                        .answers
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or((200, None));
                    fake.answered.lock().unwrap().push(status);
                    let mut out = HeaderMap::new();
                    if let Some(r) = retry_after {
                        out.insert("retry-after", r.parse().unwrap());
                    }
                    (StatusCode::from_u16(status).unwrap(), out)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    pub fn answer(&self, status: u16, retry_after: Option<&'static str>) {
        self.answers
            .lock()
            .unwrap()
            .push_back((status, retry_after));
    }

    fn ids(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect()
    }
}

/// A critical policy of one immediate step to these outgoing webhooks.
pub fn webhooks_at_once(hooks: &[&str]) -> EscalationPolicy {
    EscalationPolicy {
        name: "critical".into(),
        steps: vec![Step {
            delay: Duration::ZERO,
            targets: hooks
                .iter()
                .map(|h| Target::Webhook(h.to_string()))
                .collect(),
            via: vec![],
        }],
        repeat: 0,
        ack_timeout: None,
        response_target: None,
    }
}

pub async fn setup(db: &TestDb, fake: &Fake) -> (TestServer, Dispatcher, Arc<Metrics>) {
    let url = fake.start().await;
    let server = start_with(db, |c| {
        c.policies.webhooks.insert("remediation".into(), url);
        c.policies
            .policies
            .insert("critical".into(), webhooks_at_once(&["remediation"]));
    })
    .await;
    *fake.clock.lock().unwrap() = Some(server.clock.clone() as Arc<dyn Clock>);
    let metrics = Arc::new(Metrics::new());
    let dispatcher = dispatcher_for(
        &server,
        metrics.clone(),
        ChannelSettings {
            webhook_secret: Some(SecretString::from(SECRET.to_string())),
            ..ChannelSettings::default()
        },
    );
    (server, dispatcher, metrics)
}

fn group(key: &str) -> String {
    grouped(key, vec![alert(key, "critical", "firing", S1, None)])
}

#[tokio::test]
async fn a_signed_event_is_retried_after_retry_after_and_sent_once() {
    let db = TestDb::new().await;
    let fake = Fake::default();
    let (server, dispatcher, metrics) = setup(&db, &fake).await;
    server.post(group("a")).await;
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    assert_eq!(
        outbox(&db).await,
        [(
            "webhook:remediation".into(),
            "webhook".into(),
            "pending".into()
        )]
    );

    fake.answer(503, Some("7"));
    assert_eq!(dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(
        dispatcher.run_once().await.unwrap(),
        0,
        "waits for Retry-After"
    );
    server.clock.advance(TimeDelta::seconds(6));
    assert_eq!(dispatcher.run_once().await.unwrap(), 0);
    server.clock.advance(TimeDelta::seconds(1));
    assert_eq!(dispatcher.run_once().await.unwrap(), 1);
    let ids = fake.ids();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1], "a redelivery carries the same webhook-id");
    assert_eq!(outbox(&db).await[0].2, "sent");
    let body = fake.received.lock().unwrap()[1].clone();
    assert_eq!(body["type"], "incident.opened");
    assert_eq!(body["data"]["change"]["recipient"], "webhook:remediation");
    assert_eq!(body["data"]["incident"]["key"], "INC-1");
    assert!(!body["id"].as_str().unwrap().contains('.'));
    let text = metrics.encode();
    assert!(
        text.contains(r#"alertrouter_deliveries_total{channel="webhook",result="retry"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"alertrouter_deliveries_total{channel="webhook",result="sent"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn one_destination_keeps_its_order_and_a_refusal_is_a_dead_letter() {
    let db = TestDb::new().await;
    let fake = Fake::default();
    let (server, dispatcher, metrics) = setup(&db, &fake).await;
    server.post(group("first")).await;
    server.post(group("second")).await;
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    let keys: Vec<String> = sqlx::query_scalar("select dedup_key from outbox order by id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let keys: Vec<String> = keys.iter().map(|k| message_id(k)).collect();
    assert_eq!(keys.len(), 2);

    // The first fails: the second must not overtake it.
    fake.answer(500, None);
    assert_eq!(dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(fake.ids(), [keys[0].clone()]);
    server.clock.advance(TimeDelta::seconds(2));
    dispatcher.run_once().await.unwrap();
    dispatcher.run_once().await.unwrap();
    assert_eq!(
        fake.ids(),
        [keys[0].clone(), keys[0].clone(), keys[1].clone()]
    );

    // Any other answer is retried too (Standard Webhooks: every non-2xx), a redirect included.
    server.post(group("third")).await;
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    fake.answer(400, None);
    dispatcher.run_once().await.unwrap();
    let last = || async {
        sqlx::query_as::<_, (String, Option<String>)>(
            "select status, last_error from outbox order by id desc limit 1",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    let (status, error) = last().await;
    assert_eq!(status, "pending", "retried");
    assert!(error.unwrap().starts_with("HTTP 400"));
    server.clock.advance(TimeDelta::seconds(5));
    fake.answer(308, None);
    dispatcher.run_once().await.unwrap();
    assert_eq!(last().await.0, "pending", "a redirect is not followed");

    // 410 Gone: dead, and the endpoint is disabled until its URL changes.
    server.clock.advance(TimeDelta::seconds(10));
    fake.answer(410, None);
    dispatcher.run_once().await.unwrap();
    assert_eq!(last().await.0, "dead");
    server.post(group("fourth")).await;
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    let before = fake.ids().len();
    dispatcher.run_once().await.unwrap();
    assert_eq!(fake.ids().len(), before, "nothing more is sent to it");
    let (status, error) = last().await;
    assert_eq!(status, "dead");
    assert!(error.unwrap().contains("410 Gone"));
    assert!(
        metrics
            .encode()
            .contains(r#"alertrouter_webhook_endpoints_disabled_total{webhook="remediation"} 1"#)
    );
}

/// A PagerDuty Events API v2 endpoint that checks what PagerDuty checks.
#[derive(Clone, Default)]
pub struct FakePagerDuty {
    pub events: Arc<Mutex<Vec<serde_json::Value>>>,
    answers: Arc<Mutex<VecDeque<Answer>>>,
}

impl FakePagerDuty {
    pub async fn start(&self) -> String {
        let fake = self.clone();
        let app = axum::Router::new().route(
            "/v2/enqueue",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let fake = fake.clone();
                async move {
                    let reply = |status: u16, body: serde_json::Value| {
                        (StatusCode::from_u16(status).unwrap(), HeaderMap::new(), body.to_string())
                    };
                    let Ok(event) = serde_json::from_str::<serde_json::Value>(&body) else {
                        return reply(400, json!({"status": "invalid event", "message": "not JSON"}));
                    };
                    let severity_ok = ["critical", "error", "warning", "info"]
                        .contains(&event["payload"]["severity"].as_str().unwrap_or(""));
                    let summary = event["payload"]["summary"].as_str().unwrap_or("");
                    // acknowledge and resolve need only the key and the dedup_key.
                    let resolve = (event["event_action"] == "resolve" || event["event_action"] == "acknowledge")
                        && event["routing_key"].as_str().is_some_and(|k| k.len() == 32)
                        && event["dedup_key"].is_string();
                    let valid = resolve || headers.get("content-type").is_some_and(|v| v == "application/json")
                        && event["routing_key"].as_str().is_some_and(|k| k.len() == 32)
                        && event["event_action"] == "trigger"
                        && event["dedup_key"].is_string()
                        && !summary.is_empty()
                        && summary.len() <= 1024
                        && event["payload"]["source"].is_string()
                        && severity_ok;
                    if !valid {
                        return reply(400, json!({"status": "invalid event", "message": "Event object is invalid", "errors": ["bad field"]}));
                    }
                    fake.events.lock().unwrap().push(event.clone());
                    let (status, retry_after) = fake.answers.lock().unwrap().pop_front().unwrap_or((202, None));
                    let mut out = reply(status, json!({"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}));
                    if let Some(r) = retry_after {
                        out.1.insert("retry-after", r.parse().unwrap());
                    }
                    out
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v2/enqueue", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }
}

#[tokio::test]
async fn a_critical_page_triggers_pagerduty_once_per_incident_key_and_a_missing_key_is_a_dead_letter()
 {
    let db = TestDb::new().await;
    let pd = FakePagerDuty::default();
    let url = pd.start().await;
    // The shipped-style critical policy: the on-call SRE by Slack + SMS + PagerDuty.
    let server = start_with(&db, |c| {
        c.policies
            .pagerduty_services
            .insert("sre".into(), "${PD_SRE_KEY}".into());
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = |key: Option<&'static str>| {
        dispatcher_for(
            &server,
            metrics.clone(),
            ChannelSettings {
                pagerduty_url: url.clone(),
                ..ChannelSettings::default()
            },
        )
        .with_env(move |name| {
            (name == "PD_SRE_KEY")
                .then(|| key.map(String::from))
                .flatten()
        })
    };
    server.post(group("db-down")).await;
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();

    // PagerDuty rate-limits once, then accepts.
    pd.answers.lock().unwrap().push_back((429, Some("3")));
    let d = dispatcher(Some("0123456789abcdef0123456789abcdef"));
    // All three channels' rows are claimed; Slack and SMS are not configured here: dead letters.
    assert_eq!(d.run_once().await.unwrap(), 3);
    server.clock.advance(TimeDelta::seconds(3));
    assert_eq!(d.run_once().await.unwrap(), 1);
    let events = pd.events.lock().unwrap().clone();
    assert_eq!(events.len(), 2);
    let incident_id: uuid::Uuid = sqlx::query_scalar("select id from incidents")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .all(|e| e["dedup_key"] == incident_id.to_string())
    );
    assert_eq!(events[1]["payload"]["severity"], "critical");
    assert!(
        events[1]["payload"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("[CRITICAL] errors on db-down (INC-1)")
    );
    let (status, reference): (String, String) =
        sqlx::query_as("select status, provider_ref from outbox where channel = 'pagerduty'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), reference),
        ("sent", incident_id.to_string())
    );

    // The next step, with the routing key gone from the environment: a dead letter that says why.
    server.clock.advance(TimeDelta::minutes(5));
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    dispatcher(None).run_once().await.unwrap();
    let error: String = sqlx::query_scalar(
        "select last_error from outbox where channel = 'pagerduty' and status = 'dead'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(error.contains("PD_SRE_KEY is not set"), "{error}");
    assert!(!error.contains("0123456789abcdef"), "a secret in an error");

    // It resolves: PagerDuty hears it under the same dedup_key.
    let resolved = alert(
        "db-down",
        "critical",
        "resolved",
        S1,
        Some("2026-11-25T19:06:00Z"),
    );
    server.post(grouped("db-down", vec![resolved])).await;
    dispatcher(Some("0123456789abcdef0123456789abcdef"))
        .run_once()
        .await
        .unwrap();
    let last = pd.events.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last["event_action"], "resolve");
    assert_eq!(last["dedup_key"], incident_id.to_string());
}

/// A decoded form body.
type Form = Vec<(String, String)>;

/// A Twilio Messages API that checks its wire format: basic auth, a form with To, From and Body.
#[derive(Clone, Default)]
pub struct FakeTwilio {
    pub messages: Arc<Mutex<Vec<Form>>>,
}

impl FakeTwilio {
    pub async fn start(&self) -> String {
        let fake = self.clone();
        let app = axum::Router::new().route(
            "/2010-04-01/Accounts/AC123/Messages.json",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let fake = fake.clone();
                async move {
                    use base64::Engine;
                    let expected = format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode("AC123:twilio-token")
                    );
                    if headers
                        .get("authorization")
                        .is_none_or(|v| v != expected.as_str())
                    {
                        return (
                            StatusCode::UNAUTHORIZED,
                            json!({"code": 20003, "message": "Authenticate"}).to_string(),
                        );
                    }
                    let form: Form = serde_urlencoded::from_str(&body).unwrap_or_default();
                    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                    let to_ok = get("To").is_some_and(|t| t.starts_with('+'));
                    if !to_ok || get("From").is_none() || get("Body").is_none_or(|b| b.is_empty()) {
                        return (
                            StatusCode::BAD_REQUEST,
                            json!({"code": 21211, "message": "Invalid 'To' Phone Number"})
                                .to_string(),
                        );
                    }
                    fake.messages.lock().unwrap().push(form);
                    (
                        StatusCode::CREATED,
                        json!({"sid": "SM0123456789abcdef", "status": "queued"}).to_string(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }
}

/// Twilio settings for the fake at `base_url` (account AC123, token `twilio-token`).
pub fn twilio_at(
    base_url: &str,
    status_callback: Option<&str>,
) -> alertrouter::config::SmsProvider {
    alertrouter::config::SmsProvider::Twilio(alertrouter::config::TwilioSettings {
        base_url: base_url.to_string(),
        account_sid: "AC123".into(),
        auth_token: SecretString::from("twilio-token".to_string()),
        from: "+15005550006".into(),
        status_callback: status_callback.map(str::to_string),
    })
}

#[tokio::test]
async fn the_on_call_sre_gets_one_segment_sms_with_how_to_reply() {
    let db = TestDb::new().await;
    let twilio = FakeTwilio::default();
    let base = twilio.start().await;
    let server = start_with(&db, |c| {
        c.policies.users.get_mut("alice").unwrap().phone = Some("+4915112345678".into());
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = dispatcher_for(
        &server,
        metrics.clone(),
        ChannelSettings {
            sms: Some(twilio_at(&base, None)),
            ..ChannelSettings::default()
        },
    );
    server.post(group("web-1")).await;
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    dispatcher.run_once().await.unwrap();
    let messages = twilio.messages.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    let get = |k: &str| {
        messages[0]
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get("To"), "+4915112345678");
    assert_eq!(get("From"), "+15005550006");
    assert_eq!(get("Body"), "CRIT INC-1: errors on web-1. Reply ACK 1");
    let (status, sid): (String, String) =
        sqlx::query_as("select status, provider_ref from outbox where channel = 'sms'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), sid.as_str()),
        ("sent", "SM0123456789abcdef")
    );
}

#[tokio::test]
async fn a_crash_between_send_and_record_causes_one_counted_redelivery() {
    let db = TestDb::new().await;
    let fake = Fake::default();
    let (server, dispatcher, metrics) = setup(&db, &fake).await;
    server.post(group("a")).await;
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();

    // Another dispatcher claims the row, sends it, and dies before recording the result.
    let now = server.clock.now();
    let crashed = uuid::Uuid::now_v7();
    let (claimed, _) = alertrouter::store::outbox::claim_deliveries(
        &server.app.pool,
        crashed,
        &[alertrouter::store::outbox::ChannelClaim {
            channel: "webhook",
            cap: 10,
            few_destinations: true,
        }],
        now,
        now + TimeDelta::seconds(60),
        10,
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    let url = server.app.live.get().policies.webhooks["remediation"].clone();
    let channel = alertrouter::channels::webhook::WebhookChannel::new(
        Duration::from_secs(5),
        Some(SecretString::from(SECRET.to_string())),
    )
    .unwrap();
    channel.send(&url, &claimed[0].0, now).await;
    assert_eq!(
        dispatcher.run_once().await.unwrap(),
        0,
        "the lease still holds"
    );

    server.clock.advance(TimeDelta::seconds(61));
    assert_eq!(dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(dispatcher.run_once().await.unwrap(), 0);
    let ids = fake.ids();
    assert_eq!(ids.len(), 2, "one duplicate, no more");
    assert_eq!(
        ids[0], ids[1],
        "with the same webhook-id, so the receiver can drop it"
    );
    let text = metrics.encode();
    assert!(
        text.contains(r#"alertrouter_delivery_redeliveries_total{channel="webhook"} 1"#),
        "{text}"
    );
    assert_eq!(outbox(&db).await[0].2, "sent");
}

#[tokio::test]
async fn a_receiver_down_for_ten_minutes_gets_everything_once_and_in_order_when_it_is_back() {
    let db = TestDb::new().await;
    let fake = Fake::default();
    let (server, dispatcher, metrics) = setup(&db, &fake).await;
    let timers = worker(&server, metrics.clone(), 100);
    for key in ["a", "b", "c", "d", "e"] {
        server.post(group(key)).await;
    }
    timers.run_once().await.unwrap();
    let written: Vec<String> = sqlx::query_scalar("select dedup_key from outbox order by id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let written: Vec<String> = written.iter().map(|k| message_id(k)).collect();
    assert_eq!(written.len(), 5);

    // Down: every request fails for ten minutes; the dispatcher keeps trying, one row at a time.
    let down_until = server.clock.now() + TimeDelta::minutes(10);
    while server.clock.now() < down_until {
        fake.answer(503, None);
        dispatcher.run_once().await.unwrap();
        server.clock.advance(TimeDelta::seconds(15));
    }
    fake.answers.lock().unwrap().clear();
    // Back: drain, moving the clock past any backoff.
    for _ in 0..20 {
        dispatcher.run_once().await.unwrap();
        server.clock.advance(TimeDelta::minutes(1));
    }
    let statuses: Vec<String> = sqlx::query_scalar("select status from outbox order by id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(statuses, ["sent"; 5]);
    // Delivered once each, in the order written; every failed attempt was the first row's.
    let ids = fake.ids();
    let answered = fake.answered.lock().unwrap().clone();
    let delivered: Vec<&String> = ids
        .iter()
        .zip(&answered)
        .filter(|(_, s)| **s == 200)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        delivered,
        written.iter().collect::<Vec<_>>(),
        "in order, each once"
    );
    let failed: Vec<&String> = ids
        .iter()
        .zip(&answered)
        .filter(|(_, s)| **s != 200)
        .map(|(id, _)| id)
        .collect();
    assert!(
        failed.len() >= 5 && failed.iter().all(|id| **id == written[0]),
        "{failed:?}"
    );
}
