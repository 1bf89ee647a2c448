//! Slack against a fake Web API that checks the token and the request shape: the first page
//! posts a Block Kit message, later pages of the incident edit it and reply in its thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use alertrouter::channels::IncidentSummary;
use alertrouter::channels::slack::blocks;
use alertrouter::config::ChannelSettings;
use alertrouter::metrics::Metrics;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use chrono::TimeDelta;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::escalation::{dispatcher_for, start_with, worker};
use crate::support::{TestDb, alert, grouped, webhook};

/// Every call: (method, body).
pub type Calls = Arc<Mutex<Vec<(String, Value)>>>;

pub async fn fake_slack(calls: Calls) -> String {
    fake_slack_throttled(calls, Arc::default()).await
}

/// A fake Slack that answers the next `throttle` calls with 429 and `Retry-After: 5`, as Slack
/// does when a method's rate limit is hit.
async fn fake_slack_throttled(calls: Calls, throttle: Arc<AtomicUsize>) -> String {
    let app = axum::Router::new().route(
        "/api/{method}",
        axum::routing::post(move |Path(method): Path<String>, headers: HeaderMap, body: String| {
            let calls = calls.clone();
            let throttle = throttle.clone();
            async move {
                let storm = throttle
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if storm {
                    return (axum::http::StatusCode::TOO_MANY_REQUESTS, [("retry-after", "5")])
                        .into_response();
                }
                let ok_auth = headers.get("authorization").is_some_and(|v| v == "Bearer xoxb-test");
                let ok_type = headers
                    .get("content-type")
                    .is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/json"));
                if !ok_auth || !ok_type {
                    return axum::Json(json!({"ok": false, "error": "invalid_auth"})).into_response();
                }
                let body: Value = serde_json::from_str(&body).unwrap_or_default();
                let mut calls = calls.lock().unwrap();
                let answer = match method.as_str() {
                    "chat.postMessage" if body["channel"].is_string() && body["text"].is_string() => {
                        // A user id opens the bot's DM with that user.
                        let channel = body["channel"].as_str().unwrap().replacen('U', "D", 1);
                        json!({"ok": true, "channel": channel, "ts": format!("1700000000.{:06}", calls.len() + 1)})
                    }
                    "chat.update" => {
                        let posted = calls.iter().any(|(m, b)| {
                            m == "chat.postMessage" && b["thread_ts"].is_null()
                                && b["channel"].as_str().map(|c| c.replacen('U', "D", 1)) == body["channel"].as_str().map(String::from)
                        });
                        if posted && body["ts"].is_string() {
                            json!({"ok": true, "channel": body["channel"], "ts": body["ts"]})
                        } else {
                            json!({"ok": false, "error": "message_not_found"})
                        }
                    }
                    _ => json!({"ok": false, "error": "invalid_arguments"}),
                };
                calls.push((method, body));
                axum::Json(answer).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn the_first_page_posts_and_the_next_edits_in_place_with_a_thread_reply() {
    let db = TestDb::new().await;
    let calls: Calls = Arc::default();
    let url = fake_slack(calls.clone()).await;
    let server = start_with(&db, |c| {
        c.policies.users.get_mut("alice").unwrap().slack_id = Some("U0ALICE".into());
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = dispatcher_for(&server, metrics.clone(), crate::escalation::slack_at(url));
    server
        .post(webhook(vec![alert(
            "web-1",
            "critical",
            "firing",
            "2026-11-25T18:50:00Z",
            None,
        )]))
        .await;
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    dispatcher.run_once().await.unwrap();
    {
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        let (method, body) = &calls[0];
        assert_eq!(method, "chat.postMessage");
        assert_eq!(body["channel"], "U0ALICE");
        assert!(
            body["blocks"].to_string().contains(
                "<http://alertmanager:9093/#/silences/new?filter=%7Balertname%3D%22HighErrorRate%22"
            ),
            "a silence link from the webhook's externalURL: {body}"
        );
        let actions: Vec<&str> = body["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| {
                b["elements"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["action_id"].as_str().unwrap())
            })
            .collect();
        assert_eq!(
            actions,
            [
                "incident_ack",
                "incident_resolve",
                "incident_escalate",
                "incident_snooze"
            ]
        );
    }
    let stored: (String, String) = sqlx::query_as("select channel, ts from slack_messages")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        stored,
        ("D0ALICE".to_string(), "1700000000.000001".to_string())
    );

    // Unacknowledged at 5 minutes: the same message is edited, and the thread says why.
    server.clock.advance(TimeDelta::minutes(5));
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    dispatcher.run_once().await.unwrap();
    let calls_handle = calls.clone();
    let calls = calls.lock().unwrap().clone();
    let methods: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        methods,
        ["chat.postMessage", "chat.update", "chat.postMessage"]
    );
    assert_eq!(
        (calls[1].1["channel"].as_str(), calls[1].1["ts"].as_str()),
        (Some("D0ALICE"), Some("1700000000.000001"))
    );
    assert_eq!(calls[2].1["thread_ts"], "1700000000.000001");
    assert!(calls[2].1["text"].as_str().unwrap().contains("<@U0ALICE>"));
    let sent: i64 = db
        .count("outbox where channel = 'slack' and status = 'sent'")
        .await;
    assert_eq!(sent, 2);

    // It resolves: the message is edited to say so (no buttons) and the thread hears it.
    server.clock.advance(TimeDelta::minutes(1));
    server
        .post(webhook(vec![alert(
            "web-1",
            "critical",
            "resolved",
            "2026-11-25T18:50:00Z",
            Some("2026-11-25T19:06:00Z"),
        )]))
        .await;
    dispatcher.run_once().await.unwrap();
    let calls = calls_handle.lock().unwrap().clone();
    let methods: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        methods,
        [
            "chat.postMessage",
            "chat.update",
            "chat.postMessage",
            "chat.update",
            "chat.postMessage"
        ]
    );
    let update = &calls[3].1;
    assert_eq!(update["ts"], "1700000000.000001");
    assert!(
        update["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["type"] != "actions"),
        "{update}"
    );
    assert_eq!(calls[4].1["text"], "INC-1 resolved.");
}

#[test]
fn the_critical_message_matches_its_golden_file() {
    let incident = IncidentSummary {
        id: uuid::Uuid::nil(),
        number: 42,
        status: "open".into(),
        severity: "critical".into(),
        title: "HighErrorRate on web-1".into(),
        group_labels: json!({"alertname": "HighErrorRate", "service": "web"}),
        alert_labels: serde_json::Value::Null,
        annotations: json!({
            "description": "5xx above 5% for 10 minutes.",
            "runbook_url": "https://runbooks.example/higherrorrate",
        }),
        generator_url: Some("http://prometheus:9090/graph?g0.expr=errors".into()),
        external_url: Some("http://alertmanager:9093".into()),
        acknowledged_by: None,
        flapping: false,
    };
    let rendered =
        serde_json::to_string_pretty(&blocks(&incident, Some("U0ALICE"))).unwrap() + "\n";
    let path = format!(
        "{}/tests/golden/slack_critical.json",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let golden = std::fs::read_to_string(&path).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(rendered, golden);
}

#[tokio::test]
async fn while_slack_fails_the_next_steps_sms_and_pagerduty_leave_on_time() {
    use crate::dispatch::{FakePagerDuty, FakeTwilio};

    let db = TestDb::new().await;
    // A Slack that is down.
    let app = axum::Router::new().route(
        "/api/{method}",
        axum::routing::post(|| async { axum::http::StatusCode::SERVICE_UNAVAILABLE }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slack_url = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let pd = FakePagerDuty::default();
    let pd_url = pd.start().await;
    let twilio = FakeTwilio::default();
    let twilio_url = twilio.start().await;

    let server = start_with(&db, |c| {
        let alice = c.policies.users.get_mut("alice").unwrap();
        alice.slack_id = Some("U0ALICE".into());
        alice.phone = Some("+4915112345678".into());
        c.policies
            .pagerduty_services
            .insert("sre".into(), "${PD_KEY}".into());
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = dispatcher_for(
        &server,
        metrics.clone(),
        ChannelSettings {
            slack_url,
            slack_token: Some(SecretString::from("xoxb-test".to_string())),
            pagerduty_url: pd_url,
            sms: Some(crate::dispatch::twilio_at(&twilio_url, None)),
            ..ChannelSettings::default()
        },
    )
    .with_env(|name| (name == "PD_KEY").then(|| "0123456789abcdef0123456789abcdef".to_string()));

    server
        .post(webhook(vec![alert(
            "web-1",
            "critical",
            "firing",
            "2026-11-25T18:50:00Z",
            None,
        )]))
        .await;
    let timers = worker(&server, metrics.clone(), 100);
    timers.run_once().await.unwrap();
    dispatcher.run_once().await.unwrap();
    // Slack keeps failing and backing off; the next step comes due.
    for _ in 0..5 {
        server.clock.advance(TimeDelta::minutes(1));
        timers.run_once().await.unwrap();
        dispatcher.run_once().await.unwrap();
    }
    let step_two_due = crate::support::t0() + TimeDelta::minutes(5);
    let rows: Vec<(String, String, Option<chrono::DateTime<chrono::Utc>>)> = sqlx::query_as(
        "select channel, status, sent_at from outbox where payload->>'step' = '1' order by channel",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let by = |c: &str| rows.iter().find(|r| r.0 == c).unwrap().clone();
    assert_eq!(by("pagerduty").1, "sent");
    assert_eq!(
        by("pagerduty").2,
        Some(step_two_due),
        "PagerDuty left when the step fired"
    );
    assert_eq!(
        by("sms").2,
        Some(step_two_due),
        "SMS left when the step fired"
    );
    assert_eq!(by("slack").1, "pending", "Slack is still being retried");
    assert_eq!(twilio.messages.lock().unwrap().len(), 2);
    assert_eq!(pd.events.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_busy_destination_is_paced_to_its_rate_and_nothing_is_dropped() {
    let db = TestDb::new().await;
    let calls: Calls = Arc::default();
    let url = fake_slack(calls.clone()).await;
    let server = start_with(&db, |c| {
        c.policies.users.get_mut("alice").unwrap().slack_id = Some("U0ALICE".into());
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = dispatcher_for(&server, metrics.clone(), crate::escalation::slack_at(url));
    // Three incidents page the same person's DM at the same moment.
    for key in ["a", "b", "c"] {
        server
            .post(grouped(
                key,
                vec![alert(
                    key,
                    "critical",
                    "firing",
                    "2026-11-25T18:50:00Z",
                    None,
                )],
            ))
            .await;
    }
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    let posts = || {
        calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m == "chat.postMessage")
            .count()
    };
    for _ in 0..3 {
        dispatcher.run_once().await.unwrap();
    }
    assert_eq!(
        posts(),
        1,
        "Slack allows about one message a second per destination"
    );
    // A second later the second page, which had to wait, takes the third along: one message
    // that names both, rather than two sent late one by one.
    server.clock.advance(TimeDelta::seconds(1));
    for _ in 0..3 {
        dispatcher.run_once().await.unwrap();
    }
    assert_eq!(posts(), 2);
    server.clock.advance(TimeDelta::seconds(5));
    dispatcher.run_once().await.unwrap();
    assert_eq!(posts(), 2, "nothing is left to send");
    let (first, second) = {
        let calls = calls.lock().unwrap();
        (calls[0].1.clone(), calls[1].1.clone())
    };
    assert!(
        second["text"].as_str().unwrap().ends_with(") (+1 more)"),
        "{second}"
    );
    let mut named = [incidents_named(&first), incidents_named(&second)].concat();
    named.sort();
    assert_eq!(named, [1, 2, 3], "each incident named once");
    assert_eq!(incidents_named(&second).len(), 2);
    let text = metrics.encode();
    for result in ["rate_limited", "bundled"] {
        assert!(
            text.contains(&format!(
                r#"alertrouter_deliveries_total{{channel="slack",result="{result}"}}"#
            )),
            "{text}"
        );
    }
    let rows: Vec<(i64, String, i32, Option<i64>)> = sqlx::query_as(
        "select id, status, attempts, bundled_into from outbox where channel = 'slack' order by id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let second_id = rows[1].0;
    let rows: Vec<_> = rows.into_iter().map(|(_, s, a, b)| (s, a, b)).collect();
    assert_eq!(
        rows,
        [
            ("sent".to_string(), 1, None),
            ("sent".to_string(), 1, None),
            ("bundled".to_string(), 0, Some(second_id)),
        ],
        "waiting for a turn is not a failed attempt; the third rode with the second"
    );
}

/// The incident numbers a Slack message names: its own (header) and those bundled with it.
fn incidents_named(body: &Value) -> Vec<i64> {
    let re = regex::Regex::new(r"INC-(\d+)").unwrap();
    let mut numbers: Vec<i64> = body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "header" || b["type"] == "section")
        .filter_map(|b| b["text"]["text"].as_str())
        .flat_map(|t| {
            re.captures_iter(t)
                .map(|c| c[1].parse().unwrap())
                .collect::<Vec<i64>>()
        })
        .collect();
    numbers.sort();
    numbers
}

#[tokio::test]
async fn a_429_storm_is_paced_to_the_limit_bundled_and_loses_nothing() {
    let db = TestDb::new().await;
    let calls: Calls = Arc::default();
    let throttle = Arc::new(AtomicUsize::new(3));
    let url = fake_slack_throttled(calls.clone(), throttle.clone()).await;
    let server = start_with(&db, |c| {
        c.policies.users.get_mut("alice").unwrap().slack_id = Some("U0ALICE".into());
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = dispatcher_for(&server, metrics.clone(), crate::escalation::slack_at(url));
    let timers = worker(&server, metrics.clone(), 100);
    // Three new incidents a second for 20 seconds, all paging one DM; Slack answers the first
    // three calls with 429 and Retry-After: 5.
    let mut calls_per_second = Vec::new();
    let mut n = 0;
    for second in 0..60 {
        if second < 20 {
            for _ in 0..3 {
                let key = format!("k{n}");
                n += 1;
                let a = alert(&key, "critical", "firing", "2026-11-25T18:50:00Z", None);
                server.post(grouped(&key, vec![a])).await;
            }
        }
        let before = calls.lock().unwrap().len() + 3 - throttle.load(Ordering::SeqCst);
        timers.run_once().await.unwrap();
        for _ in 0..3 {
            dispatcher.run_once().await.unwrap();
        }
        let after = calls.lock().unwrap().len() + 3 - throttle.load(Ordering::SeqCst);
        calls_per_second.push(after - before);
        server.clock.advance(TimeDelta::seconds(1));
    }
    assert!(
        calls_per_second.iter().all(|&c| c <= 1),
        "at most one call a second to one DM: {calls_per_second:?}"
    );
    assert_eq!(throttle.load(Ordering::SeqCst), 0, "the storm happened");
    let posts: Vec<Value> = calls
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, _)| m == "chat.postMessage")
        .map(|(_, b)| b.clone())
        .collect();
    let mut named: Vec<i64> = posts.iter().flat_map(incidents_named).collect();
    named.sort();
    assert_eq!(
        named,
        (1..=60).collect::<Vec<i64>>(),
        "every incident named exactly once"
    );
    assert!(
        posts.len() < 30,
        "bundled: {} messages for 60 pages",
        posts.len()
    );
    let statuses: Vec<(String, i64)> =
        sqlx::query_as("select status, count(*) from outbox where channel = 'slack' group by status order by status")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        statuses,
        [
            ("bundled".to_string(), 60 - posts.len() as i64),
            ("sent".to_string(), posts.len() as i64)
        ]
    );
}
