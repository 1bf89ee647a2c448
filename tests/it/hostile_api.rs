//! Hostile requests to the API and the callbacks: each is answered with its status and changes
//! nothing (every incident, notification, audit, link and opt-out row compared before and after).

use std::time::Duration;

use alertrouter::config::ChannelSettings;
use alertrouter::config::api::JwtKey;
use alertrouter::http::api::auth::Claims;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::actions::{Paged, incident_id, paged_with};
use crate::support::SLACK_SIGNING_SECRET;

const AUD: &str = "alertrouter";

fn key(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/jwt/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn claims(p: &Paged, role: &str, services: &[&str]) -> Claims {
    let now = p.server.clock_now().timestamp();
    Claims {
        sub: "mallory".into(),
        role: role.into(),
        services: services.iter().map(|s| s.to_string()).collect(),
        exp: now + 600,
        iat: Some(now),
        nbf: None,
        iss: None,
        aud: Some(AUD.into()),
    }
}

fn hs(claims: &Claims, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn rs(claims: &Claims, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(&key("rsa-private.pem")).unwrap(),
    )
    .unwrap()
}

fn es(claims: &Claims, kid: &str) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_ec_pem(&key("ec-private.pem")).unwrap(),
    )
    .unwrap()
}

/// A token with `alg: none` and no signature.
fn unsigned(claims: &Claims) -> String {
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&serde_json::to_value(claims).unwrap())
    )
}

const SECRET: &[u8] = crate::support::server::JWT_SECRET.as_bytes();

#[tokio::test]
async fn hostile_requests_are_refused_with_their_status_and_change_nothing() {
    let p = paged_with(
        |c| {
            c.api.jwt.audience = Some(AUD.into());
            c.api.jwt.keys = vec![
                JwtKey {
                    kid: "rsa1".into(),
                    alg: Algorithm::RS256,
                    key: DecodingKey::from_rsa_pem(&key("rsa-public.pem")).unwrap(),
                },
                JwtKey {
                    kid: "ec1".into(),
                    alg: Algorithm::ES256,
                    key: DecodingKey::from_ec_pem(&key("ec-public.pem")).unwrap(),
                },
            ];
            c.channels.pagerduty_webhook_secret = Some(SecretString::from("pd-secret".to_string()));
            c.channels.sms = Some(crate::dispatch::twilio_at("http://127.0.0.1:9", None));
            c.api.public_url = Some("https://alertrouter.example".into());
            c.api.link_secret = Some(SecretString::from("link-secret".to_string()));
            c.channels.ack_links = c.api.links();
            // The incident belongs to service "web".
        },
        ChannelSettings::default(),
    )
    .await;
    let id = incident_id(&p.db).await;
    let now = p.server.clock_now().timestamp();
    let sre = claims(&p, "sre", &[]);
    let ack = json!({"action": "ack"});
    let act = "/api/v1/incidents/INC-1/actions";

    // Positive controls first: the keys work, so the refusals below are about what is wrong.
    for good in [
        hs(&claims(&p, "viewer", &[]), SECRET),
        rs(&claims(&p, "viewer", &[]), "rsa1"),
        es(&claims(&p, "viewer", &[]), "ec1"),
    ] {
        assert_eq!(
            p.server
                .api("GET", "/api/v1/incidents", &good, None)
                .await
                .0,
            200
        );
    }
    let before = p.db.dump().await;

    let mut cases: Vec<(&str, u16, (u16, Value))> = Vec::new();
    macro_rules! case {
        ($name:expr, $want:expr, $got:expr) => {
            cases.push(($name, $want, $got));
        };
    }
    let with = |f: &dyn Fn(&mut Claims)| {
        let mut c = sre.clone();
        f(&mut c);
        c
    };
    case!(
        "no token",
        401,
        p.server.api("POST", act, "", Some(ack.clone())).await
    );
    case!(
        "alg none",
        401,
        p.server
            .api("POST", act, &unsigned(&sre), Some(ack.clone()))
            .await
    );
    case!(
        "wrong HS256 key",
        401,
        p.server
            .api("POST", act, &hs(&sre, b"guessed"), Some(ack.clone()))
            .await
    );
    case!(
        "HS256 signed with the RSA public key (alg confusion)",
        401,
        p.server
            .api(
                "POST",
                act,
                &{
                    let mut h = Header::new(Algorithm::HS256);
                    h.kid = Some("rsa1".into());
                    jsonwebtoken::encode(
                        &h,
                        &sre,
                        &EncodingKey::from_secret(&key("rsa-public.pem")),
                    )
                    .unwrap()
                },
                Some(ack.clone())
            )
            .await
    );
    case!(
        "RS256 with an unknown kid",
        401,
        p.server
            .api("POST", act, &rs(&sre, "nope"), Some(ack.clone()))
            .await
    );
    case!(
        "RS256 token under the EC key's kid",
        401,
        p.server
            .api("POST", act, &rs(&sre, "ec1"), Some(ack.clone()))
            .await
    );
    case!(
        "expired",
        401,
        p.server
            .api(
                "POST",
                act,
                &hs(
                    &with(&|c| {
                        c.iat = Some(now - 3000);
                        c.exp = now - 600
                    }),
                    SECRET
                ),
                Some(ack.clone())
            )
            .await
    );
    // Numbers chosen to wrap: `exp - iat` and `exp + leeway` once overflowed into a pass.
    for (name, iat, exp, nbf) in [
        (
            "iat = i64::MIN (lifetime wraps)",
            Some(i64::MIN),
            now + 600,
            None,
        ),
        ("exp = i64::MAX", Some(now), i64::MAX, None),
        (
            "iat far in the future",
            Some(now + 86_400),
            now + 87_000,
            None,
        ),
        ("iat two days ago", Some(now - 172_800), now + 600, None),
        ("nbf = i64::MAX", Some(now), now + 600, Some(i64::MAX)),
    ] {
        let token = hs(
            &with(&|c| {
                c.iat = iat;
                c.exp = exp;
                c.nbf = nbf;
            }),
            SECRET,
        );
        cases.push((
            name,
            401,
            p.server.api("POST", act, &token, Some(ack.clone())).await,
        ));
    }
    // Durations past what a time can hold are refused, never a panic.
    for (name, body) in [
        (
            "snooze for 10000000000w",
            json!({"action": "snooze", "for": "10000000000w"}),
        ),
        (
            "snooze for u64::MAX ms",
            json!({"action": "snooze", "for": "18446744073709551615ms"}),
        ),
        (
            "snooze until year 262142",
            json!({"action": "snooze", "until": "+262142-12-31T23:59:59Z"}),
        ),
    ] {
        cases.push((
            name,
            422,
            p.server
                .api("POST", act, &hs(&sre, SECRET), Some(body))
                .await,
        ));
    }
    case!(
        "not yet valid",
        401,
        p.server
            .api(
                "POST",
                act,
                &hs(&with(&|c| c.nbf = Some(now + 600)), SECRET),
                Some(ack.clone())
            )
            .await
    );
    case!(
        "lifetime over 1 h",
        401,
        p.server
            .api(
                "POST",
                act,
                &hs(&with(&|c| c.exp = now + 7200), SECRET),
                Some(ack.clone())
            )
            .await
    );
    case!(
        "wrong audience",
        401,
        p.server
            .api(
                "POST",
                act,
                &hs(&with(&|c| c.aud = Some("other".into())), SECRET),
                Some(ack.clone())
            )
            .await
    );
    case!(
        "no audience",
        401,
        p.server
            .api(
                "POST",
                act,
                &hs(&with(&|c| c.aud = None), SECRET),
                Some(ack.clone())
            )
            .await
    );
    case!(
        "unknown role",
        401,
        p.server
            .api(
                "POST",
                act,
                &hs(&with(&|c| c.role = "root".into()), SECRET),
                Some(ack.clone())
            )
            .await
    );
    case!(
        "garbage token",
        401,
        p.server
            .api("POST", act, "abc.def.ghi", Some(ack.clone()))
            .await
    );
    let dev_other = hs(&claims(&p, "developer", &["payments"]), SECRET);
    // Another service's incident and one that does not exist answer alike: no id is revealed.
    let other = p
        .server
        .api("GET", "/api/v1/incidents/INC-1", &dev_other, None)
        .await;
    let missing = p
        .server
        .api("GET", "/api/v1/incidents/INC-999", &dev_other, None)
        .await;
    assert_eq!(
        (other.0, other.1["error"].clone()),
        (missing.0, missing.1["error"].clone())
    );
    case!("developer reads another service's incident", 404, other);
    case!(
        "developer acts",
        403,
        p.server
            .api(
                "POST",
                act,
                &hs(&claims(&p, "developer", &["web"]), SECRET),
                Some(ack.clone())
            )
            .await
    );
    let viewer = hs(&claims(&p, "viewer", &[]), SECRET);
    case!(
        "viewer acts",
        403,
        p.server.api("POST", act, &viewer, Some(ack.clone())).await
    );
    case!(
        "viewer reads an incident whole",
        403,
        p.server
            .api("GET", "/api/v1/incidents/INC-1", &viewer, None)
            .await
    );
    case!(
        "viewer reads who is on call",
        403,
        p.server.api("GET", "/api/v1/oncall", &viewer, None).await
    );
    case!(
        "viewer reads maintenance windows",
        403,
        p.server
            .api("GET", "/api/v1/maintenance", &viewer, None)
            .await
    );
    let sre_token = hs(&sre, SECRET);
    case!(
        "sre reads the audit log",
        403,
        p.server.api("GET", "/api/v1/audit", &sre_token, None).await
    );
    case!(
        "sre retries a dead letter",
        403,
        p.server
            .api("POST", "/api/v1/dead-letters/1/retry", &sre_token, None)
            .await
    );
    case!(
        "injection in a status filter",
        422,
        p.server
            .api(
                "GET",
                "/api/v1/incidents?status=open'%20or%20'1'='1",
                &sre_token,
                None
            )
            .await
    );
    case!(
        "huge page size",
        422,
        p.server
            .api("GET", "/api/v1/incidents?limit=1000000", &sre_token, None)
            .await
    );
    case!(
        "forged cursor",
        422,
        p.server
            .api(
                "GET",
                "/api/v1/incidents?cursor=1;drop%20table%20incidents",
                &sre_token,
                None
            )
            .await
    );
    case!(
        "unknown filter",
        422,
        p.server
            .api("GET", "/api/v1/incidents?owner=me", &sre_token, None)
            .await
    );
    case!(
        "unknown action",
        422,
        p.server
            .api("POST", act, &sre_token, Some(json!({"action": "delete"})))
            .await
    );
    case!(
        "action with unknown fields",
        422,
        p.server
            .api(
                "POST",
                act,
                &sre_token,
                Some(json!({"action": "ack", "as": "root"}))
            )
            .await
    );
    case!(
        "reassign to a channel",
        422,
        p.server
            .api(
                "POST",
                act,
                &sre_token,
                Some(json!({"action": "reassign", "to": "webhook:x"}))
            )
            .await
    );
    case!(
        "unknown incident",
        404,
        p.server
            .api(
                "POST",
                "/api/v1/incidents/INC-999/actions",
                &sre_token,
                Some(ack.clone())
            )
            .await
    );
    case!(
        "not an incident reference",
        404,
        p.server
            .api("GET", "/api/v1/incidents/'%20or%201=1", &sre_token, None)
            .await
    );
    {
        let big = "x".repeat(100 * 1024);
        case!(
            "oversized action body",
            413,
            p.server
                .api(
                    "POST",
                    act,
                    &sre_token,
                    Some(json!({"action": "note", "text": big}))
                )
                .await
        );
    }
    // Slack: forged, stale and replayed signatures, and none at all.
    let payload = crate::actions::block_actions("U0ALICE", "incident_ack", &id, &p.reply_url);
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let ts_now = now.to_string();
    let sig =
        |ts: &str, secret: &str| alertrouter::http::slack_signature(secret, ts, body.as_bytes());
    case!(
        "Slack: forged signature",
        401,
        crate::actions::signed_click(&p, &ts_now, &sig(&ts_now, "not-the-secret"), body.clone())
            .await
    );
    let stale = (now - 600).to_string();
    case!(
        "Slack: stale request, correctly signed",
        401,
        crate::actions::signed_click(&p, &stale, &sig(&stale, SLACK_SIGNING_SECRET), body.clone())
            .await
    );
    case!(
        "Slack: signature replayed with a new timestamp",
        401,
        crate::actions::signed_click(
            &p,
            &ts_now,
            &sig(&stale, SLACK_SIGNING_SECRET),
            body.clone()
        )
        .await
    );
    case!(
        "Slack: body changed after signing",
        401,
        crate::actions::signed_click(
            &p,
            &ts_now,
            &sig(&ts_now, SLACK_SIGNING_SECRET),
            body.replace("ack", "resolve")
        )
        .await
    );
    case!(
        "Slack: no signature",
        401,
        crate::actions::signed_click(&p, "", "", body.clone()).await
    );
    // Twilio and PagerDuty: forged signatures.
    let form = "From=%2B4915112345678&Body=ACK+1";
    let post =
        |path: &str, header: (&'static str, String), body: String, content_type: &'static str| {
            let request = p
                .server
                .http
                .post(format!("{}{path}", p.server.base))
                .header(header.0, header.1)
                .header("content-type", content_type)
                .body(body);
            async move { crate::support::server::read(request.send().await.unwrap()).await }
        };
    case!(
        "Twilio: forged signature",
        403,
        post(
            "/hooks/twilio/sms",
            ("x-twilio-signature", "bm9wZQ==".into()),
            form.into(),
            "application/x-www-form-urlencoded"
        )
        .await
    );
    let pd = json!({"event": {"event_type": "incident.resolved", "data": {"incident_key": id}}})
        .to_string();
    case!(
        "PagerDuty: forged signature",
        401,
        post(
            "/hooks/pagerduty",
            (
                "x-pagerduty-signature",
                alertrouter::http::pagerduty_signature("guess", pd.as_bytes())
            ),
            pd.clone(),
            "application/json"
        )
        .await
    );
    // E-mail links: forged and expired.
    let signer = p.server.app.settings.channels.ack_links.clone().unwrap();
    let incident = uuid::Uuid::parse_str(&id).unwrap();
    let expired = signer.url(
        "m1",
        incident,
        "user:alice",
        p.server.clock_now() - chrono::TimeDelta::days(2),
    );
    let expired = expired.split_once("?t=").unwrap().1.to_string();
    case!(
        "e-mail: expired link",
        410,
        post(
            "/hooks/email/ack",
            ("x-none", String::new()),
            format!("t={expired}"),
            "application/x-www-form-urlencoded"
        )
        .await
    );
    let forged = alertrouter::links::LinkSigner::new(
        "https://alertrouter.example",
        SecretString::from("guess".to_string()),
        Duration::from_secs(3600),
    )
    .url("m2", incident, "user:alice", p.server.clock_now());
    let forged = forged.split_once("?t=").unwrap().1.to_string();
    case!(
        "e-mail: link signed with another secret",
        403,
        post(
            "/hooks/email/ack",
            ("x-none", String::new()),
            format!("t={forged}"),
            "application/x-www-form-urlencoded"
        )
        .await
    );

    let mut wrong = Vec::new();
    for (name, want, (got, body)) in &cases {
        if want != got {
            wrong.push(format!("{name}: wanted {want}, got {got} {body}"));
        }
        if *got == 401 && !name.starts_with("Slack") && !name.starts_with("PagerDuty") {
            assert!(
                body["error"].is_string(),
                "{name}: a JSON error body: {body}"
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(cases.len() >= 25, "{} cases", cases.len());
    assert_eq!(p.db.dump().await, before, "nothing changed");

    // The injection-shaped service filter is just a value that matches nothing.
    let (status, body) = p
        .server
        .api(
            "GET",
            "/api/v1/incidents?service=%27%20or%201%3D1%20--",
            &sre_token,
            None,
        )
        .await;
    assert_eq!(
        (status, body["incidents"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    // 401s tell the client how to authenticate.
    let r = p
        .server
        .http
        .get(format!("{}/api/v1/incidents", p.server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"alertrouter\""
    );
}

#[tokio::test]
async fn the_api_limits_anonymous_clients_and_subjects_apart_and_answers_429_with_retry_after() {
    let p = paged_with(
        |c| {
            c.api.per_client = alertrouter::workers::limits::Rate::parse("3/1m").unwrap();
            c.api.per_subject = alertrouter::workers::limits::Rate::parse("3/1m").unwrap();
        },
        ChannelSettings::default(),
    )
    .await;
    let get = |token: Option<String>, xff: Option<&str>| {
        let mut r = p.server.http.get(format!("{}/api/v1/stats", p.server.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(x) = xff {
            r = r.header("x-forwarded-for", x);
        }
        async move {
            let r = r.send().await.unwrap();
            let after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), after)
        }
    };
    // 600 anonymous requests from one address once locked a valid admin token out.
    for _ in 0..3 {
        assert_eq!(get(None, None).await.0, 401);
    }
    assert_eq!(get(None, None).await, (429, Some("21".into())));
    let admin = crate::support::token(&p.server, "root", "admin", &[]);
    assert_eq!(
        get(Some(admin.clone()), None).await.0,
        200,
        "a valid token is not locked out"
    );
    // A subject has its own allowance.
    let t = crate::support::token(&p.server, "bob", "viewer", &[]);
    for _ in 0..3 {
        assert_eq!(get(Some(t.clone()), None).await.0, 200);
    }
    assert_eq!(get(Some(t.clone()), None).await, (429, Some("21".into())));
    // Without trusted proxies, X-Forwarded-For is the client's to invent: ignored.
    assert_eq!(get(None, Some("198.51.100.1")).await.0, 429);
    // The Alertmanager webhook is never limited.
    for n in 0..5 {
        let a = crate::support::alert(
            &format!("x{n}"),
            "warning",
            "firing",
            "2026-11-25T18:50:00Z",
            None,
        );
        assert_eq!(
            p.server
                .post(crate::support::grouped(&format!("x{n}"), vec![a]))
                .await
                .0,
            200
        );
    }
    p.server.clock.advance(chrono::TimeDelta::seconds(20));
    assert_eq!(get(Some(t), None).await.0, 200);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_limited_and_audited() {
    let p = paged_with(
        |c| {
            c.api.per_client = alertrouter::workers::limits::Rate::parse("2/1m").unwrap();
            c.api.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        },
        ChannelSettings::default(),
    )
    .await;
    let send = |xff: &str, token: Option<String>, ack: bool| {
        let url = match ack {
            true => format!("{}/api/v1/incidents/INC-1/actions", p.server.base),
            false => format!("{}/api/v1/stats", p.server.base),
        };
        let mut r = match ack {
            true => p.server.http.post(url).json(&json!({"action": "ack"})),
            false => p.server.http.get(url),
        };
        r = r.header("x-forwarded-for", xff);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    for _ in 0..2 {
        assert_eq!(send("203.0.113.5", None, false).await, 401);
    }
    assert_eq!(send("203.0.113.5", None, false).await, 429);
    assert_eq!(
        send("203.0.113.6", None, false).await,
        401,
        "another client, its own bucket"
    );
    let sre = crate::support::token(&p.server, "bob", "sre", &[]);
    assert_eq!(send("198.51.100.7", Some(sre), true).await, 200);
    let addr: String = sqlx::query_scalar("select client_addr from audit_log where source = 'api'")
        .fetch_one(&p.db.pool)
        .await
        .unwrap();
    assert_eq!(addr, "198.51.100.7");
}

#[tokio::test]
async fn keys_from_a_jwks_url_are_fetched_when_a_token_names_one() {
    let jwks = std::fs::read_to_string(format!(
        "{}/tests/fixtures/jwt/jwks.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || async move { jwks }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let p = paged_with(
        |c| c.api.jwt.jwks_url = Some(url),
        ChannelSettings::default(),
    )
    .await;
    let mut c = claims(&p, "viewer", &[]);
    c.aud = None;
    let (status, body) = p
        .server
        .api("GET", "/api/v1/incidents", &rs(&c, "jwks1"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = p
        .server
        .api("GET", "/api/v1/incidents", &rs(&c, "rotated-away"), None)
        .await;
    assert_eq!(status, 401);
    assert!(
        body["detail"].as_str().unwrap().contains("unknown key"),
        "{body}"
    );
}
