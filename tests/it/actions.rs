//! Acting on incidents from the API and Slack: one action path, audited, and every place that
//! shows the incident follows (the Slack message edited in place, PagerDuty acknowledged).

use std::sync::Arc;

use alertrouter::clock::Clock;
use alertrouter::config::ChannelSettings;
use alertrouter::metrics::Metrics;
use chrono::TimeDelta;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::dispatch::FakePagerDuty;
use crate::escalation::{dispatcher_for, start_with, worker};
use crate::slack::{Calls, fake_slack};
use crate::support::{SLACK_SIGNING_SECRET, TestDb, TestServer, alert, grouped, token};

const PD_KEY: &str = "0123456789abcdef0123456789abcdef";

pub struct Paged {
    pub db: TestDb,
    pub server: TestServer,
    pub dispatcher: alertrouter::workers::dispatcher::Dispatcher,
    pub slack: Calls,
    pub pd: FakePagerDuty,
    pub metrics: Arc<Metrics>,
    /// Where Slack clicks say to reply (a fake `response_url`), and what arrived there.
    pub reply_url: String,
    pub replies: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Value>>,
}

impl Paged {
    /// The next ephemeral reply posted to the clicks' `response_url`.
    pub async fn next_reply(&self) -> Value {
        let mut replies = self.replies.lock().await;
        tokio::time::timeout(std::time::Duration::from_secs(10), replies.recv())
            .await
            .expect("a reply to the click")
            .expect("the fake response_url is running")
    }
}

/// A fake `response_url`: every JSON posted to it, in order.
pub async fn fake_response_url() -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/actions/{rest}",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/actions/T0-1-x", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

/// A critical incident (INC-1) paged to alice by Slack and PagerDuty, both delivered.
pub async fn paged() -> Paged {
    paged_with(|_| {}, ChannelSettings::default()).await
}

/// The same, with the server's settings adjusted and more channels for the dispatcher.
pub async fn paged_with(
    configure: impl FnOnce(&mut alertrouter::config::Settings),
    channels: ChannelSettings,
) -> Paged {
    let db = TestDb::new().await;
    let slack: Calls = Arc::default();
    let slack_url = fake_slack(slack.clone()).await;
    let pd = FakePagerDuty::default();
    let pd_url = pd.start().await;
    let server = start_with(&db, |c| {
        let alice = c.policies.users.get_mut("alice").unwrap();
        alice.slack_id = Some("U0ALICE".into());
        alice.phone = Some("+4915112345678".into());
        c.policies
            .pagerduty_services
            .insert("sre".into(), "${PD_KEY}".into());
        for p in c.policies.policies.values_mut() {
            for s in &mut p.steps {
                s.via
                    .retain(|ch| *ch != alertrouter::core::policy::Channel::Sms);
            }
        }
        configure(c);
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
            ..channels
        },
    )
    .with_env(|name| (name == "PD_KEY").then(|| PD_KEY.to_string()));
    let a = alert("web-1", "critical", "firing", "2026-11-25T18:50:00Z", None);
    server.post(grouped("web-1", vec![a])).await;
    worker(&server, metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    dispatcher.run_once().await.unwrap();
    assert_eq!(slack.lock().unwrap().len(), 1);
    assert_eq!(pd.events.lock().unwrap().len(), 1);
    let (reply_url, replies) = fake_response_url().await;
    Paged {
        db,
        server,
        dispatcher,
        slack,
        pd,
        metrics,
        reply_url,
        replies: tokio::sync::Mutex::new(replies),
    }
}

/// A `block_actions` interaction shaped as Slack sends it for a button click.
pub fn block_actions(user: &str, action_id: &str, value: &str, response_url: &str) -> Value {
    json!({
        "type": "block_actions",
        "team": {"id": "T0ALERTS", "domain": "acme"},
        "user": {"id": user, "username": "someone", "team_id": "T0ALERTS"},
        "api_app_id": "A0ROUTER",
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": "D0ALICE", "is_ephemeral": false},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "channel": {"id": "D0ALICE", "name": "directmessage"},
        "response_url": response_url,
        "actions": [{
            "action_id": action_id, "block_id": "incident-actions", "value": value, "type": "button",
            "text": {"type": "plain_text", "text": "Acknowledge"}, "action_ts": "1700000001.000002",
        }],
    })
}

/// A signed Slack click on `action_id` of incident `value` by `user`, `age` seconds ago.
pub async fn click(p: &Paged, user: &str, action_id: &str, value: &str, age: i64) -> (u16, Value) {
    let payload = block_actions(user, action_id, value, &p.reply_url);
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let ts = (p.server.clock.now().timestamp() - age).to_string();
    let signature = alertrouter::http::slack_signature(SLACK_SIGNING_SECRET, &ts, body.as_bytes());
    signed_click(p, &ts, &signature, body).await
}

pub async fn signed_click(p: &Paged, ts: &str, signature: &str, body: String) -> (u16, Value) {
    let response = p
        .server
        .http
        .post(format!("{}/hooks/slack/interactions", p.server.base))
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", signature)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    crate::support::server::read(response).await
}

pub async fn incident_id(db: &TestDb) -> String {
    sqlx::query_scalar::<_, uuid::Uuid>("select id from incidents where number = 1")
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn an_api_ack_edits_the_slack_message_acknowledges_pagerduty_and_is_audited() {
    let p = paged().await;
    let sre = token(&p.server, "bob", "sre", &[]);
    let (status, body) = p
        .server
        .api(
            "POST",
            "/api/v1/incidents/INC-1/actions",
            &sre,
            Some(json!({"action": "ack"})),
        )
        .await;
    assert_eq!(
        (status, body["acknowledged_by"].clone()),
        (200, json!("bob")),
        "{body}"
    );
    let (status, body) = p
        .server
        .api(
            "POST",
            "/api/v1/incidents/1/actions",
            &sre,
            Some(json!({"action": "ack"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["detail"], "INC-1: already acknowledged by bob");

    // A second later: Slack allows about one message a second to the DM.
    p.server.clock.advance(TimeDelta::seconds(1));
    p.dispatcher.run_once().await.unwrap();
    let calls = p.slack.lock().unwrap().clone();
    let methods: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        methods,
        ["chat.postMessage", "chat.update", "chat.postMessage"]
    );
    let update = &calls[1].1;
    assert!(
        update["blocks"].to_string().contains("acknowledged by bob"),
        "{update}"
    );
    assert!(
        update["blocks"].to_string().contains("incident_unack"),
        "{update}"
    );
    assert_eq!(calls[2].1["text"], "INC-1 acknowledged by bob.");
    let events = p.pd.events.lock().unwrap().clone();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["event_action"], "acknowledge");
    assert_eq!(events[1]["dedup_key"], events[0]["dedup_key"]);

    // Acknowledged: the 5-minute step pages no one.
    p.server.clock.advance(TimeDelta::minutes(10));
    worker(&p.server, p.metrics.clone(), 100)
        .run_once()
        .await
        .unwrap();
    let pages: i64 = p.db.count("outbox where payload->>'kind' = 'page'").await;
    assert_eq!(pages, 2, "only the first step's pages");

    let admin = token(&p.server, "root", "admin", &[]);
    let (status, audit) = p.server.api("GET", "/api/v1/audit", &admin, None).await;
    assert_eq!(status, 200, "{audit}");
    let entries = audit["entries"].as_array().unwrap();
    let summary: Vec<(String, String, String, String)> = entries
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (s("actor"), s("source"), s("action"), s("result"))
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("bob".into(), "api".into(), "ack".into(), "refused".into()),
            ("bob".into(), "api".into(), "ack".into(), "done".into()),
        ]
    );
    assert_eq!(entries[1]["before"]["acknowledged_by"], Value::Null);
    assert_eq!(entries[1]["after"]["acknowledged_by"], "bob");
    assert_eq!(entries[1]["client_addr"], "127.0.0.1");

    let (status, detail) = p
        .server
        .api("GET", "/api/v1/incidents/INC-1", &sre, None)
        .await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.ends_with(&["acknowledged"]), "{kinds:?}");
    assert_eq!(detail["notifications"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_slack_click_resolves_and_the_message_follows() {
    let p = paged().await;
    let id = incident_id(&p.db).await;
    let (status, body) = click(&p, "U0ALICE", "incident_resolve", &id, 2).await;
    assert_eq!(status, 200, "{body}");
    // Slack shows nothing of the answer's body: the clicker reads the outcome by response_url.
    let reply = p.next_reply().await;
    assert_eq!(reply["text"], "INC-1 resolved.");
    assert_eq!(reply["response_type"], "ephemeral");
    // A second later: Slack allows about one message a second to the DM.
    p.server.clock.advance(TimeDelta::seconds(1));
    p.dispatcher.run_once().await.unwrap();
    let calls = p.slack.lock().unwrap().clone();
    let update = &calls[1].1;
    assert_eq!(calls[1].0, "chat.update");
    assert!(
        update["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["type"] != "actions"),
        "a resolved message has no buttons: {update}"
    );
    assert_eq!(calls[2].1["text"], "INC-1 resolved by alice.");
    assert_eq!(p.pd.events.lock().unwrap()[1]["event_action"], "resolve");
    let (status, resolved_by): (String, Option<String>) =
        sqlx::query_as("select status, resolved_by from incidents")
            .fetch_one(&p.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), resolved_by.as_deref()),
        ("resolved", Some("alice"))
    );

    // Clicked again: refused with the reason, for that user's eyes only.
    let (status, _) = click(&p, "U0ALICE", "incident_ack", &id, 1).await;
    assert_eq!(status, 200);
    assert_eq!(
        p.next_reply().await["text"],
        "INC-1: the incident is resolved; it cannot be acknowledged"
    );
    // A Slack user linked to nobody is refused (the default).
    let (status, _) = click(&p, "U0STRANGER", "incident_ack", &id, 1).await;
    assert_eq!(status, 200);
    let reply = p.next_reply().await;
    assert!(
        reply["text"].as_str().unwrap().contains("not linked"),
        "{reply}"
    );
    let audit: Vec<(String, String, String)> =
        sqlx::query_as("select actor, action, result from audit_log order by id")
            .fetch_all(&p.db.pool)
            .await
            .unwrap();
    assert_eq!(
        audit,
        [
            ("alice".into(), "resolve".into(), "done".into()),
            ("alice".into(), "ack".into(), "refused".into()),
        ]
    );
}

#[tokio::test]
async fn racing_a_slack_ack_and_an_api_resolve_ends_consistently_every_time() {
    let p = paged().await;
    let sre = token(&p.server, "bob", "sre", &[]);
    // 200 more incidents, each raced by a Slack ack and an API resolve.
    for n in 0..200 {
        let key = format!("race-{n}");
        let a = alert(&key, "critical", "firing", "2026-11-25T18:50:00Z", None);
        p.server.post(grouped(&key, vec![a])).await;
    }
    let ids: Vec<(uuid::Uuid, i64)> =
        sqlx::query_as("select id, number from incidents where number > 1 order by number")
            .fetch_all(&p.db.pool)
            .await
            .unwrap();
    assert_eq!(ids.len(), 200);
    for (id, number) in &ids {
        // A second apart, within the API's 100 requests a minute per client.
        p.server.clock.advance(TimeDelta::seconds(1));
        let path = format!("/api/v1/incidents/{number}/actions");
        let value = id.to_string();
        let (slack, api) = tokio::join!(
            click(&p, "U0ALICE", "incident_ack", &value, 0),
            p.server
                .api("POST", &path, &sre, Some(json!({"action": "resolve"}))),
        );
        assert_eq!(slack.0, 200);
        assert_eq!(
            api.0, 200,
            "a resolve always applies to an open incident: {}",
            api.1
        );
        let (status, acked_by): (String, Option<String>) =
            sqlx::query_as("select status, acknowledged_by from incidents where id = $1")
                .bind(id)
                .fetch_one(&p.db.pool)
                .await
                .unwrap();
        assert_eq!(status, "resolved");
        let audit: Vec<(String, String)> = sqlx::query_as(
            "select action, result from audit_log where incident_id = $1 order by id",
        )
        .bind(id)
        .fetch_all(&p.db.pool)
        .await
        .unwrap();
        let order: Vec<(&str, &str)> = audit
            .iter()
            .map(|(a, r)| (a.as_str(), r.as_str()))
            .collect();
        match order.as_slice() {
            // The ack won the lock: both applied, in that order.
            [("ack", "done"), ("resolve", "done")] => {
                assert_eq!(acked_by.as_deref(), Some("alice"))
            }
            // The resolve won: the ack was refused.
            [("resolve", "done"), ("ack", "refused")] => {}
            other => panic!("INC-{number}: inconsistent {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_unlinked_slack_user_may_act_when_allowed_and_is_audited_by_slack_id() {
    let p = paged_with(
        |c| c.channels.slack_allow_unlinked = true,
        ChannelSettings::default(),
    )
    .await;
    let id = incident_id(&p.db).await;
    let (status, _) = click(&p, "U0GUEST", "incident_ack", &id, 1).await;
    assert_eq!(status, 200);
    assert_eq!(p.next_reply().await["text"], "INC-1 acknowledged.");
    let actor: String = sqlx::query_scalar("select actor from audit_log")
        .fetch_one(&p.db.pool)
        .await
        .unwrap();
    assert_eq!(actor, "slack:U0GUEST");
}

#[tokio::test]
async fn a_click_is_answered_within_its_budget_while_the_database_holds_the_incident() {
    let p = paged_with(
        |c| c.channels.slack_answer_within = std::time::Duration::from_millis(200),
        ChannelSettings::default(),
    )
    .await;
    let id = incident_id(&p.db).await;
    // Another transaction holds the incident's row: the ack cannot commit until it ends.
    let mut blocker = p.db.pool.begin().await.unwrap();
    sqlx::query("select 1 from incidents where number = 1 for update")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let (status, _) = click(&p, "U0ALICE", "incident_ack", &id, 0).await;
    assert_eq!(status, 200, "answered while the row is still locked");
    let acked: Option<String> = sqlx::query_scalar("select acknowledged_by from incidents")
        .fetch_one(&p.db.pool)
        .await
        .unwrap();
    assert_eq!(acked, None, "not committed yet");
    blocker.commit().await.unwrap();
    // Finished in the background; the clicker hears it was done.
    assert_eq!(p.next_reply().await["text"], "INC-1 acknowledged.");
    let acked: Option<String> = sqlx::query_scalar("select acknowledged_by from incidents")
        .fetch_one(&p.db.pool)
        .await
        .unwrap();
    assert_eq!(acked.as_deref(), Some("alice"));
}
