//! The OpenAPI document is generated from the handlers; these tests fail when the document, the
//! router, the committed docs/openapi.json or the API's real answers drift apart.

use alertrouter::http::api::document;
use serde_json::{Value, json};

use crate::actions::paged;
use crate::support::token;

#[tokio::test]
async fn the_document_is_served_and_matches_the_committed_copy() {
    let p = paged().await;
    let (status, served) = p.server.api("GET", "/api/v1/openapi.json", "", None).await;
    assert_eq!(status, 200);
    assert_eq!(served, document());
    let rendered = serde_json::to_string_pretty(&served).unwrap() + "\n";
    let path = format!("{}/docs/openapi.json", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let committed =
        std::fs::read_to_string(&path).expect("docs/openapi.json (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        rendered, committed,
        "docs/openapi.json is stale: run the tests with UPDATE_GOLDEN=1"
    );
}

/// Every (method, path) of the document.
fn documented() -> Vec<(String, String)> {
    let doc = document();
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            out.push((method.clone(), path.clone()));
        }
    }
    out.sort();
    out
}

#[test]
fn every_documented_route_is_served_and_every_served_route_is_documented() {
    let source = std::fs::read_to_string(format!(
        "{}/src/http/api/mod.rs",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    // Each `.route("path", get(..).post(..))` up to the next `.route(` or `.layer(`.
    let route =
        regex::Regex::new(r#"\.route\(\s*"([^"]+)",([^;]*?)(?:\.route\(|\.layer\()"#).unwrap();
    let method = regex::Regex::new(r"(?:^|[\s.])(get|post|put|patch|delete)\(").unwrap();
    let mut served = Vec::new();
    let mut rest = source.as_str();
    while let Some(c) = route.captures(rest) {
        for m in method.captures_iter(&c[2]) {
            served.push((m[1].to_string(), c[1].to_string()));
        }
        rest = &rest[c.get(2).unwrap().end()..];
    }
    served.sort();
    assert_eq!(served, documented());
}

#[test]
fn every_operation_is_named_tagged_and_typed() {
    let doc = document();
    let mut ids = std::collections::BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let at = format!("{method} {path}");
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{at}: no id"));
            assert!(ids.insert(id.to_string()), "{at}: operationId {id} twice");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{at}");
            for (status, r) in op["responses"].as_object().unwrap() {
                let schema = &r["content"]["application/json"]["schema"];
                assert!(schema.is_object(), "{at} {status}: no schema");
                if path != "/api/v1/openapi.json" {
                    assert_ne!(schema, &json!({"type": "object"}), "{at} {status}: untyped");
                }
            }
        }
    }
    let list = &doc["paths"]["/api/v1/incidents"]["get"]["parameters"];
    let param = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no parameter {name}"))["schema"]
            .clone()
    };
    assert_eq!(param("limit")["maximum"], 200);
    assert_eq!(param("since")["format"], "date-time");
    let status = serde_json::to_string(&param("status")).unwrap();
    assert!(status.contains("Status"), "{status}");
    let created = &doc["paths"]["/api/v1/maintenance"]["post"]["responses"];
    assert!(created.get("201").is_some() && created.get("200").is_none());
    let auth = &doc["paths"]["/api/v1/audit"]["get"]["responses"];
    assert!(auth["401"]["headers"].get("WWW-Authenticate").is_some());
    assert!(auth["429"]["headers"].get("Retry-After").is_some());
    assert!(auth["503"]["headers"].get("Retry-After").is_some());
}

/// The schema the document gives for `status` of `method path`, as a standalone JSON Schema.
fn response_schema(doc: &Value, method: &str, path: &str, status: u16) -> Value {
    let op = &doc["paths"][path][method];
    let response = &op["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {path} answered {status}, which the document does not list"
    );
    let mut schema = response["content"]["application/json"]["schema"].clone();
    schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    schema["components"] = doc["components"].clone();
    schema
}

/// Calls every operation — answers and refusals — on a paged incident, and checks each answer's
/// body against the document's schema for its status.
#[tokio::test]
async fn every_answer_of_the_api_validates_against_the_document() {
    let p = paged().await;
    let s = &p.server;
    let doc = document();
    let admin = token(s, "root", "admin", &[]);
    let viewer = token(s, "val", "viewer", &[]);
    let dev = token(s, "dan", "developer", &["billing"]);
    // The check can fail: a wrong shape does not validate.
    let list = response_schema(&doc, "get", "/api/v1/incidents", 200);
    assert!(jsonschema::validate(&list, &json!({"incidents": [{"id": 1}]})).is_err());
    let detail = response_schema(&doc, "get", "/api/v1/incidents/{incident}", 200);
    assert!(jsonschema::validate(&detail, &json!({"alerts": []})).is_err());
    let mut checked = Vec::new();
    let calls: Vec<(&str, &str, String, &str, Option<Value>)> = vec![
        (
            "get",
            "/api/v1/incidents",
            "/api/v1/incidents?limit=1".into(),
            &admin,
            None,
        ),
        (
            "get",
            "/api/v1/incidents",
            "/api/v1/incidents?limit=900".into(),
            &admin,
            None,
        ),
        (
            "get",
            "/api/v1/incidents",
            "/api/v1/incidents".into(),
            "nonsense",
            None,
        ),
        (
            "get",
            "/api/v1/incidents/{incident}",
            "/api/v1/incidents/INC-1".into(),
            &admin,
            None,
        ),
        (
            "get",
            "/api/v1/incidents/{incident}",
            "/api/v1/incidents/INC-1".into(),
            &dev,
            None,
        ),
        (
            "post",
            "/api/v1/incidents/{incident}/actions",
            "/api/v1/incidents/INC-1/actions".into(),
            &admin,
            Some(json!({"action": "note", "text": "looking"})),
        ),
        (
            "post",
            "/api/v1/incidents/{incident}/actions",
            "/api/v1/incidents/INC-1/actions".into(),
            &admin,
            Some(json!({"action": "snooze", "for": "1h"})),
        ),
        (
            "post",
            "/api/v1/incidents/{incident}/actions",
            "/api/v1/incidents/INC-1/actions".into(),
            &admin,
            Some(json!({"action": "ack"})),
        ),
        (
            "post",
            "/api/v1/incidents/{incident}/actions",
            "/api/v1/incidents/INC-1/actions".into(),
            &admin,
            Some(json!({"action": "ack"})),
        ),
        (
            "post",
            "/api/v1/incidents/{incident}/actions",
            "/api/v1/incidents/INC-1/actions".into(),
            &admin,
            Some(json!({"action": "dance"})),
        ),
        (
            "post",
            "/api/v1/incidents/{incident}/actions",
            "/api/v1/incidents/INC-1/actions".into(),
            &viewer,
            Some(json!({"action": "ack"})),
        ),
        (
            "get",
            "/api/v1/oncall",
            "/api/v1/oncall".into(),
            &admin,
            None,
        ),
        (
            "post",
            "/api/v1/maintenance",
            "/api/v1/maintenance".into(),
            &admin,
            Some(json!({"name": "db", "matchers": "{service=\"db\"}", "for": "2h"})),
        ),
        (
            "post",
            "/api/v1/maintenance",
            "/api/v1/maintenance".into(),
            &admin,
            Some(json!({"name": "db", "matchers": "", "for": "2h"})),
        ),
        (
            "get",
            "/api/v1/maintenance",
            "/api/v1/maintenance".into(),
            &admin,
            None,
        ),
        (
            "post",
            "/api/v1/maintenance/{id}/end",
            "/api/v1/maintenance/1/end".into(),
            &admin,
            None,
        ),
        (
            "post",
            "/api/v1/maintenance/{id}/end",
            "/api/v1/maintenance/1/end".into(),
            &admin,
            None,
        ),
        (
            "post",
            "/api/v1/schedule-overrides",
            "/api/v1/schedule-overrides".into(),
            &admin,
            Some(json!({"schedule": "primary", "user": "carol", "for": "8h"})),
        ),
        (
            "get",
            "/api/v1/schedule-overrides",
            "/api/v1/schedule-overrides".into(),
            &admin,
            None,
        ),
        (
            "get",
            "/api/v1/stats",
            "/api/v1/stats".into(),
            &viewer,
            None,
        ),
        (
            "get",
            "/api/v1/audit",
            "/api/v1/audit?limit=2".into(),
            &admin,
            None,
        ),
        (
            "get",
            "/api/v1/audit",
            "/api/v1/audit".into(),
            &viewer,
            None,
        ),
        (
            "get",
            "/api/v1/dead-letters",
            "/api/v1/dead-letters".into(),
            &admin,
            None,
        ),
        (
            "post",
            "/api/v1/dead-letters/{id}/retry",
            "/api/v1/dead-letters/99/retry".into(),
            &admin,
            None,
        ),
        (
            "get",
            "/api/v1/openapi.json",
            "/api/v1/openapi.json".into(),
            "",
            None,
        ),
        (
            "get",
            "/api/v1/incidents/{incident}/report",
            "/api/v1/incidents/INC-1/report?locale=fr".into(),
            &admin,
            None,
        ),
        (
            "put",
            "/api/v1/incidents/{incident}/report",
            "/api/v1/incidents/INC-1/report".into(),
            &admin,
            Some(json!({"root_cause": "not resolved yet"})),
        ),
        (
            "put",
            "/api/v1/incidents/{incident}/report",
            "/api/v1/incidents/INC-1/report".into(),
            &admin,
            Some(json!({"cause": "x"})),
        ),
        (
            "get",
            "/api/v1/reports/monthly",
            "/api/v1/reports/monthly?month=2026-11&format=json".into(),
            &viewer,
            None,
        ),
        (
            "get",
            "/api/v1/reports/monthly",
            "/api/v1/reports/monthly?month=11/2026".into(),
            &viewer,
            None,
        ),
        (
            "get",
            "/api/v1/stats",
            "/api/v1/stats?group_by=severity".into(),
            &viewer,
            None,
        ),
    ];
    for (method, path, url, token, body) in calls {
        let (status, answer) = s.api(&method.to_uppercase(), &url, token, body).await;
        let schema = response_schema(&doc, method, path, status);
        if let Err(e) = jsonschema::validate(&schema, &answer) {
            panic!("{method} {url} → {status}: {e}\n{answer:#}");
        }
        checked.push(format!("{method} {path} {status}"));
    }
    // The report's JSON form, asked for by `Accept`.
    let (status, text) = crate::reports::fetch(
        s,
        &admin,
        "/api/v1/incidents/INC-1/report",
        "application/json",
    )
    .await;
    let schema = response_schema(&doc, "get", "/api/v1/incidents/{incident}/report", status);
    let answer: Value = serde_json::from_str(&text).unwrap();
    if let Err(e) = jsonschema::validate(&schema, &answer) {
        panic!("report → {status}: {e}\n{answer:#}");
    }
    checked.push(format!("get report {status}"));
    // The answers include a success and a refusal of every kind the API gives.
    for expected in [
        "get /api/v1/incidents 200",
        "get /api/v1/incidents 422",
        "get /api/v1/incidents 401",
        "get /api/v1/incidents/{incident} 404",
        "post /api/v1/incidents/{incident}/actions 409",
        "post /api/v1/incidents/{incident}/actions 403",
        "post /api/v1/maintenance 201",
        "post /api/v1/maintenance 422",
        "post /api/v1/schedule-overrides 201",
        "post /api/v1/dead-letters/{id}/retry 404",
        "put /api/v1/incidents/{incident}/report 409",
        "put /api/v1/incidents/{incident}/report 422",
        "get /api/v1/incidents/{incident}/report 422",
        "get report 200",
        "get /api/v1/reports/monthly 200",
        "get /api/v1/reports/monthly 422",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected}: {checked:#?}"
        );
    }
}
