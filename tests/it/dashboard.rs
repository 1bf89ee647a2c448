//! deploy/grafana/alertrouter.json: every panel's expression names metrics the binary exports,
//! the paging path's metrics all have a panel, and the dashboard is one Grafana can import
//! (unique panel ids, a grid position each, the Prometheus data source as a variable).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::exposition::exported_metrics;

#[tokio::test]
async fn every_dashboard_expression_names_an_exported_metric_and_the_paging_path_is_covered() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/grafana/alertrouter.json"
    );
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exported = exported_metrics().await;
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variables, ["datasource", "job"]);

    let mut ids = BTreeSet::new();
    let mut named = BTreeSet::new();
    let panels = dashboard["panels"].as_array().unwrap();
    for panel in panels {
        let title = panel["title"].as_str().unwrap();
        assert!(
            ids.insert(panel["id"].as_i64().unwrap()),
            "{title}: id reused"
        );
        let grid = &panel["gridPos"];
        let (x, w) = (grid["x"].as_i64().unwrap(), grid["w"].as_i64().unwrap());
        assert!(
            x + w <= 24 && grid["h"].as_i64().unwrap() > 0,
            "{title}: {grid}"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title} has no query");
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            let words: Vec<&str> = expr
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("alertrouter_") || w.starts_with("process_"))
                .collect();
            assert!(
                !words.is_empty() || expr.contains("up{"),
                "{title}: {expr} names no metric"
            );
            for word in words {
                assert!(exported(word), "{title}: {word} is not exported");
                named.insert(word.to_string());
            }
            assert!(
                expr.contains("job=~\"$job\""),
                "{title}: {expr} ignores $job"
            );
        }
    }
    for wanted in [
        "alertrouter_escalation_oldest_overdue_seconds",
        "alertrouter_outbox_pending",
        "alertrouter_outbox_oldest_due_seconds",
        "alertrouter_deliveries_total",
        "alertrouter_delivery_redeliveries_total",
        "alertrouter_escalation_lease_takeovers_total",
        "alertrouter_webhook_bodies_refused_total",
        "alertrouter_config_last_reload_successful",
        "alertrouter_build_info",
        "alertrouter_delivery_latency_seconds_bucket",
        "alertrouter_heartbeat_last_seen_timestamp_seconds",
        "alertrouter_heartbeat_missing",
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        assert!(named.contains(wanted), "no panel shows {wanted}");
    }
}
