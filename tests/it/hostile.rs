//! Malformed and hostile requests: each gets its status and a JSON error, and changes nothing.

use serde_json::json;

use crate::support::server::read;
use crate::support::{TOKEN, TestDb, TestServer, alert, settings, webhook};

const S1: &str = "2026-11-25T18:50:00Z";

struct Case {
    name: &'static str,
    auth: Option<String>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    detail: &'static str,
}

fn case(name: &'static str, body: impl Into<Vec<u8>>, status: u16, detail: &'static str) -> Case {
    Case {
        name,
        auth: Some(format!("Bearer {TOKEN}")),
        content_type: Some("application/json"),
        body: body.into(),
        status,
        detail,
    }
}

fn with_alert(alert: serde_json::Value) -> String {
    webhook(vec![alert])
}

fn edit(f: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&webhook(vec![alert(
        "web-9", "critical", "firing", S1, None,
    )]))
    .unwrap();
    f(&mut v);
    v.to_string()
}

fn cases() -> Vec<Case> {
    let good = webhook(vec![alert("web-9", "critical", "firing", S1, None)]);
    let base = json!({"status": "firing", "labels": {"alertname": "X"}, "startsAt": S1});
    let alert_with = |key: &str, value: serde_json::Value| {
        let mut a = base.clone();
        a[key] = value;
        with_alert(a)
    };
    vec![
        case(
            "not JSON",
            "<html>",
            400,
            "body: expected value at line 1 column 1",
        ),
        case("JSON array", "[1,2]", 400, "body: must be a JSON object"),
        case(
            "trailing garbage",
            format!("{good}}}"),
            400,
            "body: trailing characters",
        ),
        case(
            "wrong version",
            edit(|v| v["version"] = json!("3")),
            400,
            "version: unsupported \"3\"",
        ),
        case(
            "version as number",
            edit(|v| v["version"] = json!(4)),
            400,
            "version: invalid type",
        ),
        case(
            "no version",
            edit(|v| {
                v.as_object_mut().unwrap().remove("version");
            }),
            400,
            "version: missing",
        ),
        case(
            "no groupKey",
            edit(|v| {
                v.as_object_mut().unwrap().remove("groupKey");
            }),
            400,
            "groupKey: missing",
        ),
        case(
            "empty alerts",
            edit(|v| v["alerts"] = json!([])),
            400,
            "alerts: empty",
        ),
        case(
            "alerts not a list",
            edit(|v| v["alerts"] = json!({"a": 1})),
            400,
            "alerts: invalid type",
        ),
        case(
            "no labels",
            with_alert(json!({"status": "firing", "startsAt": S1})),
            400,
            "alerts[0].labels: missing",
        ),
        case(
            "no alertname",
            alert_with("labels", json!({"job": "x"})),
            400,
            "alerts[0].labels.alertname: missing",
        ),
        case(
            "label not a string",
            alert_with("labels", json!({"alertname": "X", "n": 1})),
            400,
            "alerts[0].labels.n: invalid type: integer",
        ),
        case(
            "bogus status",
            alert_with("status", json!("exploded")),
            400,
            "alerts[0].status: \"exploded\" is not",
        ),
        case(
            "bad startsAt",
            alert_with("startsAt", json!("2026-13-45T99:00:00Z")),
            400,
            "alerts[0].startsAt: invalid RFC 3339",
        ),
        case(
            "zero startsAt",
            alert_with("startsAt", json!("0001-01-01T00:00:00Z")),
            400,
            "alerts[0].startsAt: zero time",
        ),
        case(
            "bad endsAt",
            alert_with("endsAt", json!("soon")),
            400,
            "alerts[0].endsAt: invalid RFC 3339",
        ),
        case(
            "bad fingerprint",
            alert_with("fingerprint", json!("not-hex!")),
            400,
            "alerts[0].fingerprint: must be",
        ),
        case(
            "second alert bad, first good",
            webhook(vec![
                alert("web-7", "critical", "firing", S1, None),
                json!({"status": "firing", "labels": {}, "startsAt": S1}),
            ]),
            400,
            "alerts[1].labels.alertname: missing",
        ),
        case(
            "body over the default limit",
            format!(
                "{{\"pad\":\"{}\"}}",
                "x".repeat(alertrouter::config::DEFAULT_MAX_BODY_BYTES + 1)
            ),
            413,
            "body larger than",
        ),
        Case {
            content_type: Some("text/plain"),
            ..case(
                "wrong content type",
                good.clone(),
                415,
                "Content-Type must be application/json",
            )
        },
        Case {
            content_type: None,
            ..case(
                "no content type",
                good.clone(),
                415,
                "Content-Type must be application/json",
            )
        },
        Case {
            auth: None,
            ..case("no auth", good.clone(), 401, "missing Authorization header")
        },
        Case {
            auth: Some("Bearer wrong-token".into()),
            ..case("wrong token", good.clone(), 401, "invalid credentials")
        },
        Case {
            auth: Some(format!("Bearer {TOKEN}x")),
            ..case(
                "token with a suffix",
                good.clone(),
                401,
                "invalid credentials",
            )
        },
        Case {
            auth: Some("Basic YWxlcnRtYW5hZ2VyOndyb25n".into()),
            ..case(
                "wrong basic password",
                good.clone(),
                401,
                "invalid credentials",
            )
        },
        Case {
            auth: Some("Basic !!!".into()),
            ..case(
                "malformed basic",
                good.clone(),
                401,
                "malformed Basic credentials",
            )
        },
        Case {
            auth: Some(format!("Digest {TOKEN}")),
            ..case(
                "unknown scheme",
                good.clone(),
                401,
                "unsupported Authorization scheme",
            )
        },
    ]
}

#[tokio::test]
async fn hostile_requests_are_refused_and_change_nothing() {
    let db = TestDb::new().await;
    let server = TestServer::start(settings(&db.url)).await;
    // Some state first, so "nothing changed" means something.
    server
        .post(webhook(vec![alert("web-1", "warning", "firing", S1, None)]))
        .await;
    let before = db.dump().await;
    assert!(!before.is_empty());

    let cases = cases();
    assert!(cases.len() >= 15);
    for c in cases {
        let mut request = server
            .http
            .post(format!("{}/hooks/alertmanager", server.base))
            .body(c.body);
        if let Some(auth) = &c.auth {
            request = request.header("authorization", auth);
        }
        if let Some(ct) = c.content_type {
            request = request.header("content-type", ct);
        }
        let response = request.send().await.unwrap();
        let www_authenticate = response.headers().get("www-authenticate").cloned();
        let (status, body) = read(response).await;
        assert_eq!(status, c.status, "{}: {body}", c.name);
        assert!(body["error"].is_string(), "{}: {body}", c.name);
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with(c.detail),
            "{}: detail {detail:?}, want {:?}",
            c.name,
            c.detail
        );
        assert!(!detail.contains(TOKEN), "{}: secret echoed", c.name);
        if status == 401 {
            assert!(
                www_authenticate.is_some(),
                "{}: no WWW-Authenticate",
                c.name
            );
        }
        assert_eq!(db.dump().await, before, "{}: rows changed", c.name);
    }
    let metrics = server.get("/metrics").await.1;
    for line in [
        r#"alertrouter_webhooks_total{integration="",outcome="unauthorized"} 6"#,
        r#"alertrouter_webhooks_total{integration="am",outcome="invalid"} 21"#,
    ] {
        assert!(metrics.contains(line), "missing {line:?} in {metrics}");
    }
}
