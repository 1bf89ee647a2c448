//! Maintenance windows and schedule overrides made through the API change who is paged.

use alertrouter::metrics::Metrics;
use chrono::TimeDelta;
use serde_json::json;
use std::sync::Arc;

use crate::escalation::{outbox, start_with, worker};
use crate::support::{TestDb, alert, grouped, token};

#[tokio::test]
async fn an_api_maintenance_window_holds_paging_until_it_is_ended() {
    let db = TestDb::new().await;
    let server = start_with(&db, |_| {}).await;
    let sre = token(&server, "bob", "sre", &[]);
    let end = (server.clock_now() + TimeDelta::hours(1)).to_rfc3339();
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/maintenance",
            &sre,
            Some(json!({"name": "db upgrade", "matchers": "{service=\"web\"}", "for": "1h"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["end"]
            .as_str()
            .map(|e| e.parse::<chrono::DateTime<chrono::Utc>>().unwrap()),
        Some(end.parse().unwrap()),
        "for: 1h ends an hour from now"
    );
    let id = body["id"].as_i64().unwrap();
    // Bad windows are refused.
    for bad in [
        json!({"name": "x", "matchers": "{service=~\"(\"}", "end": end}),
        json!({"name": "x", "matchers": "{service=\"web\"}", "end": "2020-01-01T00:00:00Z"}),
        json!({"name": "x", "matchers": "{service=\"web\"}", "for": "soon"}),
        json!({"name": "x", "matchers": "{service=\"web\"}", "for": "1h", "end": end}),
        json!({"name": "x", "matchers": "{service=\"web\"}"}),
        json!({"name": "x", "matchers": "{service=\"web\"}", "end": (server.clock_now() + TimeDelta::days(60)).to_rfc3339()}),
    ] {
        assert_eq!(
            server
                .api("POST", "/api/v1/maintenance", &sre, Some(bad))
                .await
                .0,
            422
        );
    }
    let metrics = Arc::new(Metrics::new());
    let a = alert("web-1", "critical", "firing", "2026-11-25T18:50:00Z", None);
    server.post(grouped("web-1", vec![a])).await;
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    assert!(outbox(&db).await.is_empty(), "held by the window");
    let held: i64 = db.count("incident_events where kind = 'suppressed'").await;
    assert_eq!(held, 1);

    server.clock.advance(TimeDelta::minutes(10));
    let (status, _) = server
        .api("POST", &format!("/api/v1/maintenance/{id}/end"), &sre, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        server
            .api("POST", &format!("/api/v1/maintenance/{id}/end"), &sre, None)
            .await
            .0,
        404
    );
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    assert!(
        !outbox(&db).await.is_empty(),
        "paging starts as soon as the window ends"
    );
    let audit: Vec<String> = sqlx::query_scalar("select action from audit_log order by id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(audit, ["open_maintenance", "end_maintenance"]);
}

#[tokio::test]
async fn an_api_schedule_override_pages_the_stand_in() {
    let db = TestDb::new().await;
    let server = start_with(&db, |_| {}).await;
    let sre = token(&server, "bob", "sre", &[]);
    let end = (server.clock_now() + TimeDelta::hours(8)).to_rfc3339();
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/schedule-overrides",
            &sre,
            Some(json!({"schedule": "primary", "user": "carol", "end": end})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        server
            .api(
                "POST",
                "/api/v1/schedule-overrides",
                &sre,
                Some(json!({"schedule": "primary", "user": "nobody", "end": end}))
            )
            .await
            .0,
        422
    );
    let viewer = token(&server, "vic", "viewer", &[]);
    assert_eq!(
        server
            .api(
                "POST",
                "/api/v1/schedule-overrides",
                &viewer,
                Some(json!({"schedule": "primary", "user": "carol", "end": end}))
            )
            .await
            .0,
        403
    );
    assert_eq!(
        server
            .api("GET", "/api/v1/schedule-overrides", &viewer, None)
            .await
            .0,
        403
    );
    let (_, listed) = server
        .api("GET", "/api/v1/schedule-overrides", &sre, None)
        .await;
    assert_eq!(listed["overrides"][0]["user"], "carol");
    let a = alert("web-1", "critical", "firing", "2026-11-25T18:50:00Z", None);
    server.post(grouped("web-1", vec![a])).await;
    worker(&server, Arc::new(Metrics::new()), 100)
        .run_once()
        .await
        .unwrap();
    let paged: Vec<String> = outbox(&db).await.into_iter().map(|r| r.0).collect();
    assert!(
        !paged.is_empty() && paged.iter().all(|r| r == "user:carol"),
        "{paged:?}"
    );
    // The API sees the same on-call as the timer worker: the override, not the rotation.
    let (status, oncall) = server.api("GET", "/api/v1/oncall", &sre, None).await;
    assert_eq!(status, 200, "{oncall}");
    let primary = oncall["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["schedule"] == "primary")
        .unwrap()
        .clone();
    assert_eq!(primary["on_call"], "carol", "{oncall}");
    // And so does a reassignment to the schedule.
    let (status, body) = server
        .act(
            &sre,
            "INC-1",
            json!({"action": "reassign", "to": "schedule:primary"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let paged: Vec<String> = outbox(&db).await.into_iter().map(|r| r.0).collect();
    assert!(
        paged.iter().all(|r| r == "user:carol"),
        "reassigned to the stand-in, not the rotation's alice: {paged:?}"
    );
}

#[tokio::test]
async fn a_change_whose_audit_row_fails_is_not_made() {
    let db = TestDb::new().await;
    let server = start_with(&db, |_| {}).await;
    let sre = token(&server, "bob", "sre", &[]);
    sqlx::raw_sql(
        "create function fail_audit() returns trigger language plpgsql as
           $$ begin raise exception 'disk full (test)'; end $$;
         create trigger fail_audit before insert on audit_log
           for each row execute function fail_audit();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let window = json!({"name": "db upgrade", "matchers": "{service=\"web\"}", "for": "1h"});
    let stand_in = json!({"schedule": "primary", "user": "carol", "for": "8h"});
    for (path, body) in [
        ("/api/v1/maintenance", window.clone()),
        ("/api/v1/schedule-overrides", stand_in.clone()),
    ] {
        let (status, answer) = server.api("POST", path, &sre, Some(body)).await;
        assert_eq!(status, 503, "{path}: {answer}");
    }
    assert_eq!(
        db.count("maintenance_windows").await,
        0,
        "no unaudited window"
    );
    assert_eq!(
        db.count("schedule_overrides").await,
        0,
        "no unaudited override"
    );
    sqlx::raw_sql("drop trigger fail_audit on audit_log; drop function fail_audit();")
        .execute(&db.pool)
        .await
        .unwrap();
    let (status, _) = server
        .api("POST", "/api/v1/maintenance", &sre, Some(window))
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        db.count("audit_log where action = 'open_maintenance'")
            .await,
        1
    );
}
