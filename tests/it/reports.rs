//! Incident reports: drafted from the timeline when an incident resolves (a reopened one updates
//! its draft), served as Markdown or JSON, delivered as a Slack thread reply and by e-mail.

use std::sync::Arc;
use std::time::Duration;

use alertrouter::config::ChannelSettings;
use alertrouter::metrics::Metrics;
use alertrouter::workers::dispatcher::Dispatcher;
use alertrouter::workers::escalation::EscalationWorker;
use chrono::TimeDelta;
use serde_json::Value;

use crate::escalation::{dispatcher_for, start_with, worker};
use crate::support::{TestDb, TestServer, alert, token, webhook};

/// GET `path` as `token`, with `accept`: status and body text.
pub async fn fetch(server: &TestServer, token: &str, path: &str, accept: &str) -> (u16, String) {
    let response = server
        .http
        .get(format!("{}{path}", server.base))
        .bearer_auth(token)
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Compares with `tests/golden/<name>` (UPDATE_GOLDEN=1 rewrites it).
pub fn golden(name: &str, text: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        text, want,
        "{name} differs: run with UPDATE_GOLDEN=1 and review the diff"
    );
}

/// A server paging by the test policy (5-minute target) whose deliveries are all logged.
pub async fn logged(db: &TestDb) -> (TestServer, EscalationWorker, Dispatcher) {
    let server = start_with(db, |c| {
        let critical = c.policies.policies.get_mut("critical").unwrap();
        critical.response_target = Some(Duration::from_secs(300));
        c.policies.users.get_mut("alice").unwrap().email = Some("alice@example.com".into());
        c.reports.time_zone = chrono_tz::Europe::Berlin;
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let log = ["slack", "sms", "pagerduty", "email", "webhook"]
        .map(String::from)
        .into_iter()
        .collect();
    let channels = ChannelSettings {
        log,
        ..ChannelSettings::default()
    };
    let timers = worker(&server, metrics.clone(), 100);
    let dispatcher = dispatcher_for(&server, metrics, channels);
    (server, timers, dispatcher)
}

fn at(minutes: i64, seconds: i64) -> String {
    let t = crate::support::t0() + TimeDelta::minutes(minutes) + TimeDelta::seconds(seconds);
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `web-1` firing from `starts` minutes (after t0), or resolved at `ends`.
async fn send(server: &TestServer, starts: i64, ends: Option<i64>) {
    let (status_text, end) = match ends {
        Some(e) => ("resolved", Some(at(e, 0))),
        None => ("firing", None),
    };
    let body = webhook(vec![alert(
        "web-1",
        "critical",
        status_text,
        &at(starts, 0),
        end.as_deref(),
    )]);
    let (status, answer) = server.post(body).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn a_flapping_incident_gets_one_draft_in_both_languages_with_its_whole_timeline() {
    let db = TestDb::new().await;
    let (server, timers, dispatcher) = logged(&db).await;
    let sre = token(&server, "bob", "sre", &[]);
    let tick = |minutes: i64| server.clock.advance(TimeDelta::minutes(minutes));

    // Fired two minutes before Alertmanager sent it; paged at once.
    send(&server, -2, None).await;
    timers.run_once().await.unwrap();
    dispatcher.run_once().await.unwrap();
    tick(3);
    for body in [
        serde_json::json!({"action": "ack"}),
        serde_json::json!({"action": "note", "text": "root cause: a deploy turned on a *bad* flag"}),
        serde_json::json!({"action": "note", "text": "预防措施：发布前检查开关 <b>"}),
    ] {
        let (status, answer) = server.act(&sre, "INC-1", body).await;
        assert_eq!(status, 200, "{answer}");
    }
    dispatcher.run_once().await.unwrap();
    // Resolved, then firing again three times within the reopen window: flapping.
    tick(3);
    send(&server, -2, Some(5)).await;
    dispatcher.run_once().await.unwrap();
    for reopen in 0..3 {
        tick(1);
        let starts = 7 + 2 * reopen;
        send(&server, starts, None).await;
        timers.run_once().await.unwrap();
        dispatcher.run_once().await.unwrap();
        tick(1);
        send(&server, starts, Some(starts + 1)).await;
        dispatcher.run_once().await.unwrap();
    }
    // Not before `reports.delay` (30 s) after the last resolution.
    timers.run_once().await.unwrap();
    assert_eq!(
        db.count("incident_reports where markdown is not null")
            .await,
        0
    );
    server.clock.advance(TimeDelta::seconds(30));
    timers.run_once().await.unwrap();
    // Slack's per-destination pace spreads the burst of notices over a few minutes.
    for _ in 0..10 {
        dispatcher.run_once().await.unwrap();
        server.clock.advance(TimeDelta::minutes(1));
    }

    let (id, resolutions): (String, i32) =
        sqlx::query_as("select report_id, resolutions from incident_reports")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((id.as_str(), resolutions), ("INC-202611251858", 4));
    let reports: Vec<(String, String, String)> = sqlx::query_as(
        "select channel, recipient, status from outbox where payload->>'kind' = 'report' order by id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        reports,
        [
            ("slack".into(), "user:alice".into(), "sent".into()),
            ("email".into(), "user:alice".into(), "sent".into()),
        ],
        "a thread reply where Slack showed it, a mail to each person paged or acting who has an address"
    );

    let viewer = token(&server, "vic", "sre", &[]);
    let (status, en) = fetch(
        &server,
        &viewer,
        "/api/v1/incidents/INC-202611251858/report",
        "text/markdown",
    )
    .await;
    assert_eq!(status, 200, "{en}");
    golden("report_en.md", &en);
    let path = "/api/v1/incidents/INC-1/report?locale=zh-CN";
    let (status, zh) = fetch(&server, &viewer, path, "*/*").await;
    assert_eq!(status, 200, "{zh}");
    golden("report_zh-CN.md", &zh);

    let (status, json) = fetch(
        &server,
        &viewer,
        "/api/v1/incidents/INC-1/report",
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(&json).unwrap();
    let r = &json["report"];
    assert_eq!(json["report_id"], "INC-202611251858");
    assert_eq!(
        (r["reopened"].as_u64(), r["flapping"].as_bool()),
        (Some(3), Some(true))
    );
    assert_eq!(r["response_target"]["outcome"], "met");
    assert_eq!(r["time_to_acknowledge"], "3m");
    assert_eq!(
        r["section"]["root_cause"],
        "a deploy turned on a *bad* flag"
    );
    assert_eq!(json["markdown"].as_str(), Some(en.as_str()));

    // What was stored and sent is what the draft said then.
    let stored: String = sqlx::query_scalar("select markdown from incident_reports")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        stored.contains("## Root cause\na deploy turned on a *bad* flag"),
        "{stored}"
    );
    assert!(
        stored.contains("发布前检查开关 \\<b\\>"),
        "a note cannot plant HTML: {stored}"
    );
}
