//! One incident per group, per route: the routing tree splits a webhook across incidents.

use alertrouter::routing::matcher::parse_matchers;
use alertrouter::routing::tree::{GroupBy, Route};
use serde_json::json;

use crate::support::{TestDb, TestServer, settings, webhook};

fn route(id: &str, matchers: &str, cont: bool, group_by: GroupBy, policy: Option<&str>) -> Route {
    Route {
        id: id.into(),
        matchers: parse_matchers(matchers).unwrap(),
        continue_matching: cont,
        group_by,
        policy: policy.map(String::from),
        report_locale: None,
        mute_time_intervals: Vec::new(),
        active_time_intervals: Vec::new(),
        routes: Vec::new(),
    }
}

fn labeled(instance: &str, team: &str, severity: &str) -> serde_json::Value {
    json!({
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "service": "web", "instance": instance, "team": team, "severity": severity},
        "startsAt": "2026-11-25T18:50:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
    })
}

#[tokio::test]
async fn a_webhook_splits_across_routes_with_continue_and_group_by_in_one_commit() {
    let db = TestDb::new().await;
    let mut config = settings(&db.url);
    let mut root = Route::default_root();
    root.routes = vec![
        route(
            "db",
            r#"team="db""#,
            true,
            GroupBy::Labels(vec!["instance".into()]),
            Some("db-oncall"),
        ),
        route(
            "sre",
            r#"severity="critical""#,
            false,
            GroupBy::GroupKey,
            Some("critical"),
        ),
        route("each", r#"team="web""#, false, GroupBy::Each, None),
    ];
    config.routes = root;
    let server = TestServer::start(config).await;

    let body = webhook(vec![
        labeled("db-1", "db", "critical"),   // db (continue), then sre
        labeled("db-2", "db", "warning"),    // db only
        labeled("web-1", "web", "critical"), // sre (first match wins over "each")
        labeled("web-2", "web", "info"),     // each
        labeled("web-3", "web", "info"),     // each: its own incident
    ]);
    assert_eq!(server.post(body.clone()).await.1["status"], "accepted");
    let incidents: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
        "select i.route, i.group_key, i.policy, (select count(*) from alerts a where a.incident_id = i.id)
         from incidents i order by i.route, i.group_key",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let got: Vec<(&str, &str, Option<&str>, i64)> = incidents
        .iter()
        .map(|(r, k, p, n)| (r.as_str(), k.as_str(), p.as_deref(), *n))
        .collect();
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(got[0], ("db", r#"{instance="db-1"}"#, Some("db-oncall"), 1));
    assert_eq!(got[1], ("db", r#"{instance="db-2"}"#, Some("db-oncall"), 1));
    assert_eq!((got[2].0, got[2].2, got[2].3), ("each", None, 1));
    assert_eq!((got[3].0, got[3].2, got[3].3), ("each", None, 1));
    assert_ne!(got[2].1, got[3].1);
    assert_eq!(
        got[4],
        (
            "sre",
            r#"{}:{alertname="HighErrorRate", service="web"}"#,
            Some("critical"),
            2
        )
    );

    // The same webhook again changes nothing, from this replica or a fresh one (no cache).
    let before = db.dump().await;
    assert_eq!(server.post(body.clone()).await.1["status"], "unchanged");
    let mut config = settings(&db.url);
    config.routes = server.app.settings.routes.clone();
    let other = TestServer::start(config).await;
    assert_eq!(other.post(body).await.1["status"], "unchanged");
    assert_eq!(db.dump().await, before);
}
