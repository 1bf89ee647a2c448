//! The demo pages through the built-in `log` channel: each message is one log line, recorded as
//! sent, so a newcomer sees pages arrive without any provider configured.

use std::sync::Arc;

use alertrouter::config::ChannelSettings;
use alertrouter::metrics::Metrics;
use alertrouter::workers::dispatcher::Dispatcher;

use crate::escalation::{dispatcher_for, open_and_fire, start_with};
use crate::support::server::sample;
use crate::support::{TestDb, TestServer};

/// A dispatcher whose `channels` go to the log channel.
fn logging(server: &TestServer, metrics: &Arc<Metrics>, channels: &[&str]) -> Dispatcher {
    dispatcher_for(
        server,
        metrics.clone(),
        ChannelSettings {
            log: channels.iter().map(|s| s.to_string()).collect(),
            ..ChannelSettings::default()
        },
    )
}

#[tokio::test]
async fn channels_named_in_channels_log_are_logged_and_recorded_as_sent() {
    let db = TestDb::new().await;
    let server = start_with(&db, |_| {}).await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = logging(&server, &metrics, &["slack", "sms"]);
    open_and_fire(&server, &metrics).await;
    dispatcher.run_once().await.unwrap();
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("select channel, status, provider_ref from outbox order by channel")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            // Not named in channels.log and not configured: a dead letter that says so.
            ("pagerduty".into(), "dead".into(), None),
            ("slack".into(), "sent".into(), Some("log".into())),
            ("sms".into(), "sent".into(), Some("log".into())),
        ]
    );
}

#[tokio::test]
async fn delivery_latency_counts_from_enqueueing_to_the_provider_accepting() {
    let db = TestDb::new().await;
    let server = start_with(&db, |_| {}).await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = logging(&server, &metrics, &["slack"]);
    open_and_fire(&server, &metrics).await;
    // The dispatcher comes to the rows 3 s after they were written.
    server.clock.advance(chrono::TimeDelta::seconds(3));
    dispatcher.run_once().await.unwrap();
    let text = metrics.encode();
    let series = |name: &str| sample(&text, name);
    let slack = "{channel=\"slack\"}";
    assert_eq!(
        series(&format!(
            "alertrouter_delivery_latency_seconds_count{slack}"
        )),
        1.0
    );
    assert_eq!(
        series(&format!("alertrouter_delivery_latency_seconds_sum{slack}")),
        3.0
    );
    // A dead letter is not a delivery.
    assert!(!text.contains("alertrouter_delivery_latency_seconds_count{channel=\"pagerduty\"}"));
}
