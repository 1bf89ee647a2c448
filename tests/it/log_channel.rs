//! The demo pages through the built-in `log` channel: each message is one log line, recorded as
//! sent, so a newcomer sees pages arrive without any provider configured.

use std::sync::Arc;

use alertrouter::config::ChannelSettings;
use alertrouter::metrics::Metrics;

use crate::escalation::{dispatcher_for, open_and_fire, start_with};
use crate::support::TestDb;

#[tokio::test]
async fn channels_named_in_channels_log_are_logged_and_recorded_as_sent() {
    let db = TestDb::new().await;
    let server = start_with(&db, |_| {}).await;
    let metrics = Arc::new(Metrics::new());
    let dispatcher = dispatcher_for(
        &server,
        metrics.clone(),
        ChannelSettings {
            log: ["slack", "sms"].iter().map(|s| s.to_string()).collect(),
            ..ChannelSettings::default()
        },
    );
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
