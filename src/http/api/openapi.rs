//! The API's routes as data, and the OpenAPI 3 document generated from them.

use serde_json::{Map, Value, json};

/// One route of `/api/v1`.
pub struct ApiRoute {
    pub method: &'static str,
    pub path: &'static str,
    /// The least role that may call it; `None` for public routes.
    pub role: Option<&'static str>,
    pub summary: &'static str,
    /// Query parameters.
    pub query: &'static [&'static str],
    /// The schema of its JSON body, if it takes one.
    pub body: Option<&'static str>,
}

const fn route(
    method: &'static str,
    path: &'static str,
    role: Option<&'static str>,
    summary: &'static str,
    query: &'static [&'static str],
    body: Option<&'static str>,
) -> ApiRoute {
    ApiRoute {
        method,
        path,
        role,
        summary,
        query,
        body,
    }
}

/// Every route the API router serves (a test checks each is served and nothing else is).
pub const ROUTES: &[ApiRoute] = &[
    route(
        "get",
        "/api/v1/incidents",
        Some("viewer"),
        "Incidents, newest first (a developer sees its services' only)",
        &[
            "status", "severity", "service", "team", "since", "until", "cursor", "limit",
        ],
        None,
    ),
    route(
        "get",
        "/api/v1/incidents/{incident}",
        Some("developer"),
        "One incident: alerts, labels, annotations, timeline, notifications and their delivery",
        &[],
        None,
    ),
    route(
        "post",
        "/api/v1/incidents/{incident}/actions",
        Some("sre"),
        "Acknowledge, unacknowledge, resolve, escalate now, snooze, reassign or add a note",
        &[],
        Some("Action"),
    ),
    route(
        "get",
        "/api/v1/oncall",
        Some("sre"),
        "Who is on call now, per schedule",
        &[],
        None,
    ),
    route(
        "get",
        "/api/v1/maintenance",
        Some("sre"),
        "Maintenance windows not yet over",
        &[],
        None,
    ),
    route(
        "post",
        "/api/v1/maintenance",
        Some("sre"),
        "Open a one-off maintenance window",
        &[],
        Some("Window"),
    ),
    route(
        "post",
        "/api/v1/maintenance/{id}/end",
        Some("sre"),
        "End a maintenance window now",
        &[],
        None,
    ),
    route(
        "get",
        "/api/v1/schedule-overrides",
        Some("sre"),
        "Schedule overrides not yet over",
        &[],
        None,
    ),
    route(
        "post",
        "/api/v1/schedule-overrides",
        Some("sre"),
        "Put someone on call for a schedule for a while",
        &[],
        Some("Override"),
    ),
    route(
        "get",
        "/api/v1/stats",
        Some("viewer"),
        "Open incidents by severity; mean time to acknowledge and resolve over 30 days",
        &[],
        None,
    ),
    route(
        "get",
        "/api/v1/audit",
        Some("admin"),
        "The audit log, newest first",
        &["cursor", "limit"],
        None,
    ),
    route(
        "get",
        "/api/v1/dead-letters",
        Some("admin"),
        "Notifications that could not be delivered",
        &[],
        None,
    ),
    route(
        "post",
        "/api/v1/dead-letters/{id}/retry",
        Some("admin"),
        "Send a dead letter again",
        &[],
        None,
    ),
    route(
        "get",
        "/api/v1/openapi.json",
        None,
        "This document",
        &[],
        None,
    ),
];

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// The OpenAPI 3.0 document of [`ROUTES`].
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let mut parameters: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        parameters.extend(
            r.query
                .iter()
                .map(|name| json!({"name": name, "in": "query", "required": false, "schema": {"type": "string"}})),
        );
        let mut responses = json!({
            "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
        });
        if r.role.is_some() {
            responses["401"] = error_response("Missing or invalid token");
            responses["403"] = error_response("The token's role may not do this");
            responses["429"] = error_response("Over the rate limit; see Retry-After");
        }
        if r.path.contains('{') {
            responses["404"] = error_response("Not found");
        }
        if r.body == Some("Action") {
            responses["409"] = error_response("Not possible in the incident's state");
        }
        if !r.query.is_empty() || r.body.is_some() {
            responses["422"] = error_response("Invalid input");
        }
        let mut op = json!({
            "summary": r.summary,
            "parameters": parameters,
            "responses": responses,
        });
        if let Some(role) = r.role {
            op["security"] = json!([{"bearer": []}]);
            op["x-min-role"] = json!(role);
        }
        if let Some(schema) = r.body {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "alertrouter", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "detail"], "properties": {
                    "error": {"type": "string"}, "detail": {"type": "string"}}},
                "Window": {"type": "object", "required": ["name", "matchers"], "properties": {
                    "name": {"type": "string"},
                    "matchers": {"type": "string", "description": "Alertmanager matchers, e.g. {service=\"web\"}"},
                    "start": {"type": "string", "format": "date-time", "description": "default now"},
                    "end": {"type": "string", "format": "date-time", "description": "this, or for"},
                    "for": {"type": "string", "description": "instead of end: a duration from the start, e.g. 2h"}}},
                "Override": {"type": "object", "required": ["schedule", "user"], "properties": {
                    "schedule": {"type": "string"}, "user": {"type": "string"},
                    "start": {"type": "string", "format": "date-time", "description": "default now"},
                    "end": {"type": "string", "format": "date-time", "description": "this, or for"},
                    "for": {"type": "string", "description": "instead of end: a duration from the start, e.g. 8h"}}},
                "Action": {"type": "object", "required": ["action"], "properties": {
                    "action": {"type": "string", "enum": ["ack", "unack", "resolve", "escalate", "snooze", "reassign", "note"]},
                    "until": {"type": "string", "format": "date-time", "description": "snooze: until when"},
                    "for": {"type": "string", "description": "snooze: how long, e.g. 1h"},
                    "to": {"type": "string", "description": "reassign: user:NAME or schedule:NAME"},
                    "text": {"type": "string", "maxLength": 4000, "description": "note"}}},
            },
        },
    })
}
