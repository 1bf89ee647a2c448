//! The webhook bodies captured from a real Alertmanager 0.25.

use alertrouter::alertmanager::{Fingerprint, parse_webhook};
use serde_json::Value;

use crate::support::payload::fixture_names;
use crate::support::{TestDb, TestServer, fixture};

#[test]
fn every_fixture_parses_and_every_computed_fingerprint_matches_alertmanagers() {
    let names = fixture_names();
    assert_eq!(names.len(), 10, "{names:?}");
    let mut checked = 0;
    for name in &names {
        let body = fixture(name);
        let hook = parse_webhook(body.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let raw: Value = serde_json::from_str(&body).unwrap();
        for (i, alert) in hook.alerts.iter().enumerate() {
            let sent = raw["alerts"][i]["fingerprint"].as_str().unwrap();
            assert_eq!(
                Fingerprint::of_labels(&alert.labels).to_string(),
                sent,
                "{name} alert {i}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 136, "every alert of every fixture");
}

#[test]
fn a_fixture_without_fingerprints_gets_the_same_ones() {
    let body = fixture("08_firing_50alerts_BigGroup_api.json");
    let mut raw: Value = serde_json::from_str(&body).unwrap();
    let sent: Vec<String> = raw["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["fingerprint"].as_str().unwrap().to_string())
        .collect();
    for a in raw["alerts"].as_array_mut().unwrap() {
        a.as_object_mut().unwrap().remove("fingerprint");
    }
    let hook = parse_webhook(raw.to_string().as_bytes()).unwrap();
    let computed: Vec<String> = hook
        .alerts
        .iter()
        .map(|a| a.fingerprint.to_string())
        .collect();
    assert_eq!(computed, sent);
}

#[test]
fn fixture_10_is_a_partial_first_flush() {
    let hook =
        parse_webhook(fixture("10_firing_partial_23of50_immediate_flush.json").as_bytes()).unwrap();
    // Alertmanager flushed the 23 alerts it had, untruncated; the other 27 came later.
    assert_eq!((hook.alerts.len(), hook.truncated_alerts), (23, 0));
}

#[tokio::test]
async fn fixtures_in_order_make_the_expected_incidents() {
    let db = TestDb::new().await;
    let server = TestServer::start(crate::support::settings(&db.url)).await;
    for name in fixture_names() {
        let (status, body) = server.post(fixture(&name)).await;
        assert_eq!(status, 200, "{name}: {body}");
    }
    // HighLatency/api resolved (04); HighErrorRate/web still has web-2 firing (05, 06);
    // DiskFull/db and DiskFull/api open; BigGroup/api: 08 opened, 09 resolved other occurrences
    // (different startsAt: nothing we know), 10 added 23 more occurrences.
    let incidents: Vec<(String, String, String)> =
        sqlx::query_as("select group_key, status, severity from incidents order by group_key")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let want = [
        (
            r#"{}:{alertname="BigGroup", service="api"}"#,
            "open",
            "warning",
        ),
        (
            r#"{}:{alertname="DiskFull", service="api"}"#,
            "open",
            "warning",
        ),
        (
            r#"{}:{alertname="DiskFull", service="db"}"#,
            "open",
            "critical",
        ),
        (
            r#"{}:{alertname="HighErrorRate", service="web"}"#,
            "open",
            "critical",
        ),
        (
            r#"{}:{alertname="HighLatency", service="api"}"#,
            "resolved",
            "warning",
        ),
    ];
    let got: Vec<(&str, &str, &str)> = incidents
        .iter()
        .map(|(k, s, v)| (k.as_str(), s.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, want);
    let big_group_alerts: i64 = sqlx::query_scalar(
        "select count(*) from alerts a join incidents i on i.id = a.incident_id
         where i.group_key like '%BigGroup%' and a.status = 'firing'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(big_group_alerts, 50 + 23);
}
