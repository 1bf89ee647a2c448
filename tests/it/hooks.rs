//! Acknowledging from the other sources end to end: an SMS reply, an e-mail link, PagerDuty.
//! Each is verified (Twilio's and PagerDuty's signatures, the link's HMAC), audited, and the
//! Slack message follows.

use std::sync::Arc;
use std::time::Duration;

use alertrouter::config::ChannelSettings;
use chrono::TimeDelta;
use secrecy::SecretString;
use serde_json::json;

use crate::actions::{Paged, incident_id, paged_with};
use crate::support::TestDb;

pub const PUBLIC: &str = "https://alertrouter.example";

/// An incident paged, with Twilio and the public URL set so SMS replies verify.
pub async fn paged_for_sms() -> Paged {
    paged_with(
        |c| {
            c.channels.sms = Some(twilio());
            c.api.public_url = Some(PUBLIC.into());
        },
        ChannelSettings::default(),
    )
    .await
}

fn twilio() -> alertrouter::config::SmsProvider {
    crate::dispatch::twilio_at("http://127.0.0.1:9", None)
}

async fn sms(p: &Paged, from: &str, text: &str, token: &str) -> (u16, String) {
    static SENT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    sms_as(p, from, text, token, &format!("SMin{n}")).await
}

/// An inbound SMS with the given `MessageSid`, signed with `token`.
pub async fn sms_as(p: &Paged, from: &str, text: &str, token: &str, sid: &str) -> (u16, String) {
    let params: Vec<(String, String)> = [
        ("From", from),
        ("To", "+15005550006"),
        ("Body", text),
        ("MessageSid", sid),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let url = format!("{PUBLIC}/hooks/twilio/sms");
    let signature = alertrouter::http::twilio_signature(token, &url, &params);
    let response = p
        .server
        .http
        .post(format!("{}/hooks/twilio/sms", p.server.base))
        .header("x-twilio-signature", signature)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&params).unwrap())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

pub async fn state(db: &TestDb) -> (String, Option<String>) {
    sqlx::query_as("select status, acknowledged_by from incidents where number = 1")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_sms_reply_acknowledges_and_the_slack_message_follows() {
    let p = paged_for_sms().await;
    let before = p.db.dump().await;
    // Forged, from a stranger, or nonsense: nothing changes.
    assert_eq!(
        sms(&p, "+4915112345678", "ACK 1", "wrong-token").await.0,
        403
    );
    let (status, body) = sms(&p, "+4900000000", "ACK 1", "twilio-token").await;
    assert_eq!(status, 200);
    assert!(body.contains("belongs to no one"), "{body}");
    let (_, body) = sms(&p, "+4915112345678", "hello", "twilio-token").await;
    assert!(body.contains("Reply ACK"), "{body}");
    assert_eq!(p.db.dump().await, before, "nothing changed");

    let (status, body) = sms(&p, "+4915112345678", "1 a", "twilio-token").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("<Message>INC-1 acknowledged.</Message>"),
        "{body}"
    );
    assert_eq!(state(&p.db).await, ("open".into(), Some("alice".into())));
    p.server.clock.advance(TimeDelta::seconds(1));
    p.dispatcher.run_once().await.unwrap();
    let texts: Vec<String> = p
        .slack
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.1["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(texts.last().unwrap(), "INC-1 acknowledged by alice.");
    let (_, body) = sms(&p, "+4915112345678", "ACK 1", "twilio-token").await;
    assert!(body.contains("already acknowledged by alice"), "{body}");

    // STOP is honoured: no more SMS to that number until START.
    sms(&p, "+4915112345678", "STOP", "twilio-token").await;
    let stopped: i64 =
        p.db.count("sms_opt_outs where phone = '+4915112345678'")
            .await;
    assert_eq!(stopped, 1);
    sms(&p, "+4915112345678", "START", "twilio-token").await;
    assert_eq!(p.db.count("sms_opt_outs").await, 0);
    let sources: Vec<String> =
        sqlx::query_scalar("select source || ':' || result from audit_log order by id")
            .fetch_all(&p.db.pool)
            .await
            .unwrap();
    assert_eq!(sources, ["sms:done", "sms:refused"]);
}

#[tokio::test]
async fn an_email_link_shows_a_page_then_acknowledges_once() {
    use crate::email::{Inbox, fake_smtp};
    use alertrouter::config::{SmtpSettings, SmtpTls};
    let inbox: Inbox = Arc::default();
    let port = fake_smtp(inbox.clone()).await;
    let p = paged_with(
        |c| {
            c.policies.users.get_mut("alice").unwrap().email = Some("alice@example.com".into());
            for step in &mut c.policies.policies.get_mut("critical").unwrap().steps {
                step.via.push(alertrouter::core::policy::Channel::Email);
            }
            c.api.public_url = Some(PUBLIC.into());
            c.api.link_secret = Some(SecretString::from("link-secret".to_string()));
            c.channels.ack_links = c.api.links();
        },
        ChannelSettings {
            email: Some(SmtpSettings {
                host: "127.0.0.1".into(),
                port,
                tls: SmtpTls::None,
                username: None,
                password: None,
                from: "alerts@example.com".into(),
                timeout: Duration::from_secs(5),
            }),
            ack_links: Some(Arc::new(alertrouter::links::LinkSigner::new(
                PUBLIC,
                SecretString::from("link-secret".to_string()),
                Duration::from_secs(24 * 3600),
            ))),
            ..ChannelSettings::default()
        },
    )
    .await;
    let mail = inbox.lock().unwrap()[0].1.clone();
    // Undo quoted-printable soft breaks and escapes.
    let plain = mail.replace("=\n", "").replace("=3D", "=");
    let start = plain
        .find("Acknowledge: ")
        .expect("the mail carries a link")
        + "Acknowledge: ".len();
    let link: String = plain[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let path = link.strip_prefix(PUBLIC).unwrap().to_string();
    let token = path.split_once("?t=").unwrap().1.to_string();

    // Following the link (a mail scanner does) changes nothing.
    let before = p.db.dump().await;
    let (status, page) = p.server.get(&path).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Acknowledge INC-1?") && page.contains("method=\"post\""),
        "{page}"
    );
    assert_eq!(p.db.dump().await, before);
    // The page holds a live token: not cached, not leaked by Referer, not framed.
    let r = p
        .server
        .http
        .get(format!("{}{path}", p.server.base))
        .send()
        .await
        .unwrap();
    let h = r.headers();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );

    let post = |t: String| {
        let http = p.server.http.clone();
        let url = format!("{}/hooks/email/ack", p.server.base);
        async move {
            let r = http.post(url).form(&[("t", t)]).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, page) = post(token.clone()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("INC-1 acknowledged"));
    assert_eq!(state(&p.db).await, ("open".into(), Some("alice".into())));
    // Used once: refused again, by GET and by POST.
    assert_eq!(post(token.clone()).await.0, 410);
    assert_eq!(p.server.get(&path).await.0, 410);
    // Forged and expired links.
    // Its first character changed, to one it is not (replacing the last one with A left a token
    // ending in A as it was, one run in 64; and a last character carries padding bits).
    let first = if token.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{first}{}", &token[1..]);
    assert_eq!(post(forged).await.0, 403);
    p.server.clock.advance(TimeDelta::hours(25));
    let fresh = p
        .server
        .app
        .settings
        .channels
        .ack_links
        .as_ref()
        .unwrap()
        .url(
            "another-mail",
            uuid::Uuid::parse_str(&incident_id(&p.db).await).unwrap(),
            "user:alice",
            p.server.clock_now() - TimeDelta::hours(25),
        );
    let token = fresh.split_once("?t=").unwrap().1.to_string();
    assert_eq!(post(token).await.0, 410, "expired");
    let audit: Vec<String> =
        sqlx::query_scalar("select source || ':' || action || ':' || result from audit_log")
            .fetch_all(&p.db.pool)
            .await
            .unwrap();
    assert_eq!(audit, ["email:ack:done"]);
}

#[tokio::test]
async fn a_pagerduty_acknowledgement_is_mirrored_and_forged_ones_refused() {
    let p = paged_with(
        |c| c.channels.pagerduty_webhook_secret = Some(SecretString::from("pd-secret".to_string())),
        ChannelSettings::default(),
    )
    .await;
    let id = incident_id(&p.db).await;
    let body = json!({"event": {
        "id": "01DEN4HPBQAE8ZCQVKH4Q5XSUB", "event_type": "incident.acknowledged",
        "resource_type": "incident", "occurred_at": "2026-11-25T19:00:00Z",
        "agent": {"id": "PXYZ", "type": "user_reference", "summary": "Dana Ops"},
        "data": {"id": "Q1ABC", "type": "incident", "status": "acknowledged", "incident_key": id,
                 "title": "errors on web-1"}
    }})
    .to_string();
    let send = |signature: String, body: String| {
        let http = p.server.http.clone();
        let url = format!("{}/hooks/pagerduty", p.server.base);
        async move {
            let r = http
                .post(url)
                .header("x-pagerduty-signature", signature)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    };
    let before = p.db.dump().await;
    assert_eq!(
        send(
            alertrouter::http::pagerduty_signature("other", body.as_bytes()),
            body.clone()
        )
        .await,
        401
    );
    assert_eq!(send(String::new(), body.clone()).await, 401);
    assert_eq!(p.db.dump().await, before);
    let good = alertrouter::http::pagerduty_signature("pd-secret", body.as_bytes());
    // Rotation: PagerDuty may send several signatures; one matching is enough.
    assert_eq!(send(format!("v1=00ff, {good}"), body.clone()).await, 200);
    assert_eq!(
        state(&p.db).await,
        ("open".into(), Some("pagerduty:Dana Ops".into()))
    );
    p.server.clock.advance(TimeDelta::seconds(1));
    p.dispatcher.run_once().await.unwrap();
    let last = p.slack.lock().unwrap().last().unwrap().1.clone();
    assert_eq!(last["text"], "INC-1 acknowledged by pagerduty:Dana Ops.");
}

#[tokio::test]
async fn retention_prunes_old_audit_rows_and_finished_notifications_in_batches() {
    let p = paged_with(|_| {}, ChannelSettings::default()).await;
    let now = p.server.clock_now();
    sqlx::query(
        "insert into audit_log (at, actor, source, action, result)
         select $1 - interval '100 days', 'old', 'api', 'ack', 'done' from generate_series(1, 25)",
    )
    .bind(now)
    .execute(&p.db.pool)
    .await
    .unwrap();
    sqlx::query("update outbox set created_at = created_at - interval '100 days'")
        .execute(&p.db.pool)
        .await
        .unwrap();
    let (audit, outbox) = alertrouter::workers::retention::prune_once(
        &p.db.pool,
        now,
        Duration::from_secs(90 * 86400),
        10,
    )
    .await
    .unwrap();
    assert_eq!((audit, outbox), (25, 2));
    assert_eq!(p.db.count("audit_log").await, 0);
    assert_eq!(p.db.count("outbox").await, 0);
}
