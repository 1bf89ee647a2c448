//! Replays of correctly signed callbacks: a signature proves who sent a request, not when, so
//! each PagerDuty event, Slack click and inbound SMS is applied once, and PagerDuty's only when
//! fresh and newer than the incident's last opening.

use alertrouter::config::ChannelSettings;
use chrono::TimeDelta;
use secrecy::SecretString;
use serde_json::json;

use crate::actions::{Paged, click, incident_id, paged_with, signed_click};
use crate::hooks::{paged_for_sms, sms_as, state};
use crate::support::SLACK_SIGNING_SECRET;

async fn unack(p: &Paged) {
    let sre = crate::support::token(&p.server, "bob", "sre", &[]);
    let (status, body) = p
        .server
        .act(&sre, "INC-1", json!({"action": "unack"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(state(&p.db).await, ("open".into(), None));
}

async fn pagerduty(p: &Paged, id: &str, kind: &str, occurred_at: &str) -> (u16, serde_json::Value) {
    let body = json!({"event": {
        "id": id, "event_type": kind, "resource_type": "incident", "occurred_at": occurred_at,
        "agent": {"id": "PXYZ", "type": "user_reference", "summary": "Dana Ops"},
        "data": {"id": "Q1ABC", "type": "incident", "incident_key": incident_id(&p.db).await}
    }})
    .to_string();
    let response = p
        .server
        .http
        .post(format!("{}/hooks/pagerduty", p.server.base))
        .header(
            "x-pagerduty-signature",
            alertrouter::http::pagerduty_signature("pd-secret", body.as_bytes()),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    crate::support::server::read(response).await
}

#[tokio::test]
async fn pagerduty_events_apply_once_fresh_and_newer_than_the_incident() {
    let p = paged_with(
        |c| c.channels.pagerduty_webhook_secret = Some(SecretString::from("pd-secret".to_string())),
        ChannelSettings::default(),
    )
    .await;
    let before = p.db.dump().await;
    // A correctly signed resolution from 2025 (once seen resolving a live incident).
    let (status, body) = pagerduty(&p, "E-OLD", "incident.resolved", "2025-03-01T10:00:00Z").await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (200, Some("stale event")),
        "{body}"
    );
    // Dated before the incident opened: fresh enough, but about an older incident.
    p.server.clock.advance(TimeDelta::minutes(5));
    let (status, body) =
        pagerduty(&p, "E-BEFORE", "incident.resolved", "2026-11-25T18:59:00Z").await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (200, Some("older than the incident's last reopen")),
        "{body}"
    );
    assert_eq!(p.db.dump().await, before, "nothing changed");

    let (status, body) =
        pagerduty(&p, "E-ACK", "incident.acknowledged", "2026-11-25T19:04:30Z").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("mirrored")),
        "{body}"
    );
    assert_eq!(
        state(&p.db).await,
        ("open".into(), Some("pagerduty:Dana Ops".into()))
    );
    unack(&p).await;
    let (status, body) =
        pagerduty(&p, "E-ACK", "incident.acknowledged", "2026-11-25T19:04:30Z").await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (200, Some("event already handled")),
        "{body}"
    );
    assert_eq!(
        state(&p.db).await,
        ("open".into(), None),
        "the replay did nothing"
    );
    let (_, metrics) = p.server.get("/metrics").await;
    assert!(
        metrics.contains(r#"alertrouter_callback_replays_refused_total{source="pagerduty"} 2"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_replayed_slack_click_is_refused() {
    let p = paged_with(|_| {}, ChannelSettings::default()).await;
    let payload = crate::actions::block_actions("U0ALICE", "incident_ack", "INC-1", &p.reply_url);
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let ts = p.server.clock_now().timestamp().to_string();
    let signature = alertrouter::http::slack_signature(SLACK_SIGNING_SECRET, &ts, body.as_bytes());
    assert_eq!(signed_click(&p, &ts, &signature, body.clone()).await.0, 200);
    assert_eq!(state(&p.db).await, ("open".into(), Some("alice".into())));
    unack(&p).await;
    p.server.clock.advance(TimeDelta::seconds(30));
    let (status, answer) = signed_click(&p, &ts, &signature, body).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(
        state(&p.db).await,
        ("open".into(), None),
        "the replay did nothing"
    );
    // A new click (its own timestamp and signature) still works.
    assert_eq!(
        click(&p, "U0ALICE", "incident_ack", "INC-1", 0).await.0,
        200
    );
    assert_eq!(state(&p.db).await, ("open".into(), Some("alice".into())));
}

#[tokio::test]
async fn a_repeated_inbound_sms_does_nothing_twice() {
    let p = paged_for_sms().await;
    let (status, body) = sms_as(&p, "+4915112345678", "ACK 1", "twilio-token", "SMreplayed").await;
    assert!(status == 200 && body.contains("acknowledged"), "{body}");
    unack(&p).await;
    let (status, body) = sms_as(&p, "+4915112345678", "ACK 1", "twilio-token", "SMreplayed").await;
    assert_eq!(status, 200);
    assert!(!body.contains("<Message>"), "no answer to a repeat: {body}");
    assert_eq!(
        state(&p.db).await,
        ("open".into(), None),
        "the repeat did nothing"
    );
}

/// Makes every audit row fail to insert until [`heal`]: the last statement of an action's
/// transaction, so everything before it must roll back with it.
async fn break_audit(p: &Paged) {
    sqlx::raw_sql(
        "create function fail_audit() returns trigger language plpgsql as
           $$ begin raise exception 'disk full (test)'; end $$;
         create trigger fail_audit before insert on audit_log
           for each row execute function fail_audit();",
    )
    .execute(&p.db.pool)
    .await
    .unwrap();
}

async fn heal(p: &Paged) {
    sqlx::raw_sql("drop trigger fail_audit on audit_log; drop function fail_audit();")
        .execute(&p.db.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failed_action_leaves_its_link_and_its_event_id_usable() {
    let p = paged_with(
        |c| {
            c.channels.pagerduty_webhook_secret = Some(SecretString::from("pd-secret".to_string()));
            c.api.public_url = Some("https://alertrouter.example".into());
            c.api.link_secret = Some(SecretString::from("l".repeat(32)));
            c.channels.ack_links = c.api.links();
        },
        ChannelSettings::default(),
    )
    .await;
    let incident = uuid::Uuid::parse_str(&incident_id(&p.db).await).unwrap();
    let link = p
        .server
        .app
        .settings
        .channels
        .ack_links
        .as_ref()
        .unwrap()
        .url("mail-1", incident, "user:alice", p.server.clock_now());
    let token = link.split_once("?t=").unwrap().1.to_string();
    let post = || async {
        p.server
            .http
            .post(format!("{}/hooks/email/ack", p.server.base))
            .form(&[("t", token.clone())])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };

    break_audit(&p).await;
    assert_eq!(post().await, 503, "the database failed mid-action");
    let (status, _) = pagerduty(&p, "E-1", "incident.acknowledged", "2026-11-25T19:00:00Z").await;
    assert_eq!(status, 503);
    assert_eq!(state(&p.db).await, ("open".into(), None));
    heal(&p).await;

    // PagerDuty retries the same event; the person clicks the same link again.
    let (status, body) =
        pagerduty(&p, "E-1", "incident.acknowledged", "2026-11-25T19:00:00Z").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("mirrored")),
        "{body}"
    );
    unack(&p).await;
    assert_eq!(post().await, 200, "the link was not burnt by the failure");
    assert_eq!(state(&p.db).await, ("open".into(), Some("alice".into())));
    assert_eq!(post().await, 410, "and now it is spent");
}
