//! The running dispatcher keeps each channel's sends apart: a Slack that hangs does not hold
//! back the SMS and PagerDuty pages of the next escalation step.

use std::sync::Arc;
use std::time::Duration;

use alertrouter::config::ChannelSettings;
use alertrouter::metrics::Metrics;
use chrono::TimeDelta;
use secrecy::SecretString;

use crate::dispatch::{FakePagerDuty, FakeTwilio};
use crate::escalation::{dispatcher_for, start_with, worker};
use crate::support::{TestDb, alert, grouped, until};

#[tokio::test]
async fn a_hanging_slack_does_not_hold_back_the_next_steps_sms_and_pagerduty() {
    let db = TestDb::new().await;
    // A Slack that takes every request and never answers.
    let app = axum::Router::new().route(
        "/api/{method}",
        axum::routing::post(std::future::pending::<&'static str>),
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
            slack_timeout: Duration::from_secs(600),
            pagerduty_url: pd_url,
            sms: Some(crate::dispatch::twilio_at(&twilio_url, None)),
            ..ChannelSettings::default()
        },
    )
    .with_env(|name| (name == "PD_KEY").then(|| "0123456789abcdef0123456789abcdef".to_string()));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(dispatcher.run(stopping));

    let a = alert("web-1", "critical", "firing", "2026-11-25T18:50:00Z", None);
    server.post(grouped("web-1", vec![a])).await;
    let timers = worker(&server, metrics.clone(), 100);
    timers.run_once().await.unwrap();
    until("step 1's SMS and PagerDuty", || async {
        twilio.messages.lock().unwrap().len() == 1 && pd.events.lock().unwrap().len() == 1
    })
    .await;
    // Their results stored too: a row still pending when the clock jumps 5 minutes would look
    // like one whose lease ran out, and be sent again.
    until("step 1's results stored", || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from outbox where channel in ('sms', 'pagerduty') and status = 'sent'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
            == 2
    })
    .await;
    // Step 1's Slack page is still hanging when step 2 fires.
    server.clock.advance(TimeDelta::minutes(5));
    timers.run_once().await.unwrap();
    until("step 2's SMS and PagerDuty", || async {
        twilio.messages.lock().unwrap().len() >= 2 && pd.events.lock().unwrap().len() >= 2
    })
    .await;
    assert_eq!(twilio.messages.lock().unwrap().len(), 2, "each SMS once");
    assert_eq!(pd.events.lock().unwrap().len(), 2, "each event once");
    let slack: Vec<String> =
        sqlx::query_scalar("select status from outbox where channel = 'slack' order by id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        slack,
        ["pending", "pending"],
        "Slack is still hanging on the first"
    );
    let _ = stop.send(true);
    running.abort();
}
