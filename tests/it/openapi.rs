//! The OpenAPI document is generated from the API's route table; these tests fail when the
//! table, the router or the committed docs/openapi.json drift apart.

use alertrouter::http::api::{ROUTES, document};

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

#[tokio::test]
async fn every_listed_route_is_served_and_every_served_route_is_listed() {
    let p = paged().await;
    let admin = token(&p.server, "root", "admin", &[]);
    for r in ROUTES {
        let path = r.path.replace("{incident}", "INC-1").replace("{id}", "1");
        let body = match r.body {
            Some("Action") => Some(serde_json::json!({"action": "note", "text": "hi"})),
            Some(_) => Some(serde_json::json!({})),
            None => None,
        };
        let (status, answer) = p
            .server
            .api(&r.method.to_uppercase(), &path, &admin, body)
            .await;
        // The router's own 404/405 have no JSON body; ours always do.
        assert!(
            !(answer.is_null() && (status == 404 || status == 405)),
            "{} {}: {status}",
            r.method,
            r.path
        );
    }
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
    let mut listed: Vec<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    served.sort();
    listed.sort();
    assert_eq!(served, listed);
}
