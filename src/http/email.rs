//! The acknowledge links of e-mails: `GET /hooks/email/ack?t=…` only shows a page asking to
//! confirm (mail scanners that follow links acknowledge nothing); its form `POST`s the token
//! back, which acts once.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{StatusCode, Uri};
use axum::response::Html;
use axum::routing::get;

use crate::app::App;
use crate::core::actions::Action;
use crate::core::{Actor, IncidentRef};
use crate::links::Link;
use crate::service::actions::{ActionError, act};

/// The links' routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/hooks/email/ack", get(confirm).post(acknowledge))
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(axum::middleware::map_response(guarded))
}

/// The pages carry a live token: never cached, never leaked by `Referer`, never framed (so no
/// one can trick a click onto the confirm button), and nothing runs on them but the form.
async fn guarded(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

type Page = (StatusCode, Html<String>);

/// Text escaped for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Page {
    (
        status,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body><h1>{t}</h1>{body}</body></html>",
            t = esc(title)
        )),
    )
}

fn token_of(form: &[(String, String)]) -> Option<&str> {
    form.iter().find(|(k, _)| k == "t").map(|(_, v)| v.as_str())
}

/// Checks the token; a used or bad link gets a page saying so.
async fn check(app: &App, token: Option<&str>) -> Result<(Link, i64), Page> {
    let live = app.live.get();
    let Some(signer) = &live.channels.ack_links else {
        return Err(page(StatusCode::NOT_FOUND, "Links are not configured", ""));
    };
    let bad = |why: &str| {
        page(
            StatusCode::FORBIDDEN,
            "This link does not work",
            &format!("<p>{why}.</p>"),
        )
    };
    let link = signer
        .verify(token.ok_or_else(|| bad("no token"))?, app.clock.now())
        .map_err(|why| {
            if why.contains("expired") {
                page(
                    StatusCode::GONE,
                    "This link has expired",
                    "<p>Acknowledge in Slack, by SMS or in the API instead.</p>",
                )
            } else {
                bad(why)
            }
        })?;
    let found = crate::store::actions::link_state(&app.pool, link.incident, &link.nonce)
        .await
        .map_err(|_| page(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment", ""))?;
    match found {
        None => Err(bad("its incident is gone")),
        Some((_, true)) => Err(page(
            StatusCode::GONE,
            "This link was already used",
            "<p>Each link works once.</p>",
        )),
        Some((number, false)) => Ok((link, number)),
    }
}

/// `GET`: a confirmation page, changing nothing.
async fn confirm(State(app): State<Arc<App>>, uri: Uri) -> Page {
    let form: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let token = token_of(&form).map(str::to_string);
    match check(&app, token.as_deref()).await {
        Err(p) => p,
        Ok((_, number)) => page(
            StatusCode::OK,
            &format!("Acknowledge INC-{number}?"),
            &format!(
                "<form method=\"post\" action=\"/hooks/email/ack\"><input type=\"hidden\" name=\"t\" value=\"{}\"><button type=\"submit\">Acknowledge INC-{number}</button></form>",
                token.unwrap_or_default().replace('"', "")
            ),
        ),
    }
}

/// `POST` from the page: acknowledges as the person the mail went to; the link is spent.
async fn acknowledge(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Page {
    let live = app.live.get();
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let (link, number) = match check(&app, token_of(&form)).await {
        Ok(found) => found,
        Err(p) => return p,
    };
    let actor = Actor {
        name: link
            .recipient
            .strip_prefix("user:")
            .unwrap_or(&link.recipient)
            .to_string(),
        source: "email",
        client_addr: Some(
            super::client::client_ip(addr, &headers, &live.api.trusted_proxies).to_string(),
        ),
    };
    // The link is spent in the action's own transaction: a failure leaves it usable.
    let incident = IncidentRef::Id(link.incident);
    let once = crate::store::replays::Once::Link(link);
    match act(&app, &actor, incident, &Action::Ack, Some(&once)).await {
        Ok(_) => page(
            StatusCode::OK,
            &format!("INC-{number} acknowledged"),
            "<p>Thank you.</p>",
        ),
        Err(why @ (ActionError::Refused { .. } | ActionError::NotFound)) => page(
            StatusCode::CONFLICT,
            &format!("INC-{number}"),
            &format!("<p>{}</p>", esc(&why.to_string())),
        ),
        Err(ActionError::AlreadyHandled) => page(
            StatusCode::GONE,
            "This link was already used",
            "<p>Each link works once.</p>",
        ),
        Err(_) => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again in a moment",
            "<p>Nothing was done; the link still works.</p>",
        ),
    }
}
