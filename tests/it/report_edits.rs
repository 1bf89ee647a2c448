//! Report drafts as people handle them: editing the free sections (kept through later
//! regenerations, audited, refused when malformed), report ids of one minute, delivery to
//! Slack's thread and by mail, and `alertrouter report incident`.

use std::sync::Arc;

use alertrouter::config::ChannelSettings;
use alertrouter::metrics::Metrics;
use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::email::{Inbox, fake_smtp};
use crate::escalation::{dispatcher_for, start_with, worker};
use crate::reports::{fetch, logged};
use crate::slack::{Calls, fake_slack};
use crate::support::{TestDb, TestServer, alert, grouped, token, webhook};

async fn post(server: &TestServer, body: String) {
    let (status, answer) = server.post(body).await;
    assert_eq!(status, 200, "{answer}");
}

async fn put(server: &TestServer, token: &str, incident: &str, body: Value) -> (u16, Value) {
    let path = format!("/api/v1/incidents/{incident}/report");
    server.api("PUT", &path, token, Some(body)).await
}

fn firing() -> String {
    webhook(vec![alert(
        "web-1",
        "critical",
        "firing",
        "2026-11-25T18:58:00Z",
        None,
    )])
}

fn resolved(at: &str) -> String {
    webhook(vec![alert(
        "web-1",
        "critical",
        "resolved",
        "2026-11-25T18:58:00Z",
        Some(at),
    )])
}

/// The alert firing again from `starts`, and resolved at `ends`.
fn again(starts: &str, ends: Option<&str>) -> String {
    let status = if ends.is_some() { "resolved" } else { "firing" };
    webhook(vec![alert("web-1", "critical", status, starts, ends)])
}

#[tokio::test]
async fn edited_sections_survive_regeneration_and_bad_edits_change_nothing() {
    let db = TestDb::new().await;
    let (server, timers, _) = logged(&db).await;
    let sre = token(&server, "bob", "sre", &[]);
    post(&server, firing()).await;
    timers.run_once().await.unwrap();
    let edit = json!({"root_cause": "A flag flipped by a deploy.\n\n- checked <b>twice</b>"});
    let (status, body) = put(&server, &sre, "INC-1", edit.clone()).await;
    assert_eq!(status, 409, "no report before the first resolution: {body}");

    let note = json!({"action": "note", "text": "Root cause: from a note"});
    assert_eq!(server.act(&sre, "INC-1", note).await.0, 200);
    server.clock.advance(TimeDelta::minutes(2));
    post(&server, resolved("2026-11-25T19:01:00Z")).await;
    server.clock.advance(TimeDelta::minutes(1));
    timers.run_once().await.unwrap();

    let viewer = token(&server, "vic", "viewer", &[]);
    for (who, body, want) in [
        (&viewer, edit.clone(), 403),
        (&sre, json!({"cause": "x"}), 422),
        (&sre, json!({"root_cause": 5}), 422),
        (&sre, json!({"root_cause": "x".repeat(20_001)}), 422),
        (&sre, json!({}), 422),
        (&sre, json!(["root_cause"]), 422),
    ] {
        let (status, answer) = put(&server, who, "INC-1", body).await;
        assert_eq!(status, want, "{answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    assert_eq!(db.count("audit_log where action = 'edit_report'").await, 0);

    let (status, answer) = put(&server, &sre, "INC-1", edit).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(db.count("audit_log where action = 'edit_report'").await, 1);
    assert_eq!(
        db.count("incident_events where kind = 'report_edited'")
            .await,
        1
    );
    let section = "## Root cause\nA flag flipped by a deploy.\n\n- checked \\<b\\>twice\\</b\\>\n";
    let (_, md) = fetch(
        &server,
        &sre,
        "/api/v1/incidents/INC-1/report",
        "text/markdown",
    )
    .await;
    assert!(md.contains(section), "{md}");
    let stored: String = sqlx::query_scalar("select markdown from incident_reports")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        stored.contains(section),
        "an edit stores the draft again: {stored}"
    );

    // Reopened and resolved again: the draft is made anew, and the edit stays.
    post(&server, again("2026-11-25T19:03:00Z", None)).await;
    server.clock.advance(TimeDelta::minutes(1));
    post(
        &server,
        again("2026-11-25T19:03:00Z", Some("2026-11-25T19:04:00Z")),
    )
    .await;
    server.clock.advance(TimeDelta::minutes(1));
    timers.run_once().await.unwrap();
    let (generated, markdown): (chrono::DateTime<chrono::Utc>, String) =
        sqlx::query_as("select generated_at, markdown from incident_reports")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(generated, server.clock_now());
    assert!(
        markdown.contains(section) && markdown.contains("reopened 1 time"),
        "{markdown}"
    );

    // The edit dropped: the note fills the section again.
    let (status, _) = put(&server, &sre, "INC-1", json!({"root_cause": null})).await;
    assert_eq!(status, 200);
    let (_, md) = fetch(
        &server,
        &sre,
        "/api/v1/incidents/INC-1/report",
        "text/markdown",
    )
    .await;
    assert!(md.contains("## Root cause\nfrom a note\n"), "{md}");

    // A developer sees its own services' reports only, and another's as missing.
    let theirs = token(&server, "dee", "developer", &["db"]);
    let (status, _) = fetch(&server, &theirs, "/api/v1/incidents/INC-1/report", "*/*").await;
    assert_eq!(status, 404);
    let ours = token(&server, "dan", "developer", &["web"]);
    let (status, _) = fetch(&server, &ours, "/api/v1/incidents/INC-1/report", "*/*").await;
    assert_eq!(status, 200);
    let (status, _) = fetch(
        &server,
        &ours,
        "/api/v1/incidents/INC-1/report?locale=fr",
        "*/*",
    )
    .await;
    assert_eq!(status, 422);
}

/// Report ids come from a counter per minute (tests/it/report_edits.rs above numbers them); a
/// suffix already in use, as a replica of the previous release (which counted the minute's
/// reports) may have given, is passed over instead of failing the resolution for ever.
#[tokio::test]
async fn a_report_id_already_in_use_is_passed_over() {
    let db = TestDb::new().await;
    let (server, _, _) = logged(&db).await;
    let start = "2026-11-25T18:58:00Z";
    let end = Some("2026-11-25T19:01:00Z");
    for key in ["{}:{a}", "{}:{b}", "{}:{c}"] {
        let alerts = vec![alert("web-1", "critical", "firing", start, None)];
        post(&server, grouped(key, alerts)).await;
    }
    let resolve = |key: &str| {
        grouped(
            key,
            vec![alert("web-1", "critical", "resolved", start, end)],
        )
    };
    post(&server, resolve("{}:{a}")).await;
    // INC-3's report, numbered by the old way while INC-1's was being written.
    sqlx::query(
        "insert into incident_reports (incident_id, report_id, due_at)
         select id, 'INC-202611251858-2', now() from incidents where number = 3",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    post(&server, resolve("{}:{b}")).await;
    let ids: Vec<(i64, String)> = sqlx::query_as(
        "select i.number, r.report_id from incident_reports r join incidents i on i.id = r.incident_id
         order by i.number",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let expected = [
        (1, "INC-202611251858".into()),
        (2, "INC-202611251858-3".into()),
        (3, "INC-202611251858-2".into()),
    ];
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn incidents_of_one_minute_get_numbered_report_ids_and_the_cli_prints_them() {
    let db = TestDb::new().await;
    let (server, timers, _) = logged(&db).await;
    let start = "2026-11-25T18:58:00Z";
    let end = Some("2026-11-25T19:01:00Z");
    for key in ["{}:{a}", "{}:{b}"] {
        post(
            &server,
            grouped(key, vec![alert("web-1", "critical", "firing", start, None)]),
        )
        .await;
    }
    for key in ["{}:{b}", "{}:{a}"] {
        post(
            &server,
            grouped(
                key,
                vec![alert("web-1", "critical", "resolved", start, end)],
            ),
        )
        .await;
    }
    let ids: Vec<(i64, String)> = sqlx::query_as(
        "select i.number, r.report_id from incident_reports r join incidents i on i.id = r.incident_id
         order by r.report_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        ids,
        [
            (2, "INC-202611251858".into()),
            (1, "INC-202611251858-2".into())
        ],
        "numbered in the order they resolved"
    );
    server.clock.advance(TimeDelta::minutes(1));
    timers.run_once().await.unwrap();
    let sre = token(&server, "bob", "sre", &[]);
    let path = "/api/v1/incidents/INC-202611251858-2/report";
    let (status, body) = fetch(&server, &sre, path, "application/json").await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (body["incident"].as_str(), body["locale"].as_str()),
        (Some("INC-1"), Some("en"))
    );

    let config = crate::binary::shipped_config();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_alertrouter"))
        .args([
            "report",
            "incident",
            "INC-202611251858-2",
            "--locale",
            "zh-CN",
            "--config",
        ])
        .arg(&config)
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed.starts_with("# 事故报告 - 2026-11-25\n"),
        "{printed}"
    );
    assert!(
        printed.contains("- 事故ID: INC-202611251858-2（INC-1）"),
        "{printed}"
    );
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_alertrouter"))
        .args(["report", "incident", "INC-999", "--config"])
        .arg(&config)
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no incident INC-999"));
}

#[tokio::test]
async fn a_report_is_a_thread_reply_in_slack_and_a_plain_mail() {
    let db = TestDb::new().await;
    let calls: Calls = Arc::default();
    let slack = fake_slack(calls.clone()).await;
    let inbox: Inbox = Arc::default();
    let port = fake_smtp(inbox.clone()).await;
    let server = start_with(&db, |c| {
        let alice = c.policies.users.get_mut("alice").unwrap();
        alice.email = Some("alice@example.com".into());
        alice.slack_id = Some("U0ALICE".into());
        c.policies.policies.get_mut("critical").unwrap().steps[0].via =
            vec![alertrouter::core::policy::Channel::Slack];
    })
    .await;
    let metrics = Arc::new(Metrics::new());
    let channels = ChannelSettings {
        email: Some(crate::email::smtp_at(port)),
        ..crate::escalation::slack_at(slack)
    };
    let dispatcher = dispatcher_for(&server, metrics.clone(), channels);
    let timers = worker(&server, metrics, 100);
    post(&server, firing()).await;
    timers.run_once().await.unwrap();
    dispatcher.run_once().await.unwrap();
    server.clock.advance(TimeDelta::minutes(2));
    post(&server, resolved("2026-11-25T19:01:00Z")).await;
    dispatcher.run_once().await.unwrap();
    server.clock.advance(TimeDelta::seconds(30));
    timers.run_once().await.unwrap();
    dispatcher.run_once().await.unwrap();

    let calls: Vec<(String, Value)> = calls.lock().unwrap().clone();
    // The page was the first call: the fake answered it with ts 1700000000.000001.
    assert!(calls[0].1["thread_ts"].is_null());
    let (_, reply) = calls.last().unwrap();
    assert_eq!(
        reply["thread_ts"], "1700000000.000001",
        "under the incident's message: {reply}"
    );
    assert_eq!(reply["blocks"][0]["type"], "markdown");
    let block = reply["blocks"][0]["text"].as_str().unwrap();
    assert!(
        block.starts_with("# Incident report - 2026-11-25"),
        "{block}"
    );
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .starts_with("Incident report INC-202611251858: errors on web-1")
    );

    let mails = inbox.lock().unwrap().clone();
    let (to, mail) = mails.last().unwrap();
    assert_eq!(to, &["alice@example.com"]);
    assert!(
        mail.contains("Subject: Incident report INC-202611251858: errors on web-1"),
        "{mail}"
    );
    assert!(
        mail.contains("Content-Type: text/plain; charset=utf-8"),
        "{mail}"
    );
    assert!(!mail.contains("text/html"), "{mail}");
    assert!(mail.contains("# Incident report - 2026-11-25"), "{mail}");
}
