//! `POST /hooks/slack/interactions`: the buttons on Slack messages. Each request is checked
//! against `X-Slack-Signature` (v0, HMAC-SHA256 of `v0:timestamp:body` with the signing secret,
//! compared in constant time) and refused when its timestamp is more than 5 minutes off.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use slack_morphism::events::SlackInteractionEvent;

use super::error::ApiError;
use crate::app::App;
use crate::core::actions::Action;
use crate::core::{Actor, IncidentRef};
use crate::service::actions::{ActionError, Done, act};

/// Slack's route.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/hooks/slack/interactions", post(interaction))
        .layer(DefaultBodyLimit::max(64 * 1024))
}

/// How far a request's timestamp may be from now.
const MAX_SKEW_SECS: i64 = 300;

/// The `v0=` signature of a request body at `timestamp`.
pub fn slack_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("v0={hex}")
}

/// Checks the signature and the timestamp of a request.
fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(ts), Some(given)) = (
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
    ) else {
        return Err(ApiError::Unauthorized(
            "Slack signature headers missing".into(),
        ));
    };
    let at: i64 = ts
        .parse()
        .map_err(|_| ApiError::Unauthorized("X-Slack-Request-Timestamp is not a time".into()))?;
    if (now - at).abs() > MAX_SKEW_SECS {
        return Err(ApiError::Unauthorized(
            "X-Slack-Request-Timestamp is more than 5 minutes off (a replay?)".into(),
        ));
    }
    let expected = slack_signature(secret, ts, body);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_bytes(),
        given.as_bytes(),
    )) {
        return Err(ApiError::Unauthorized(
            "X-Slack-Signature does not match".into(),
        ));
    }
    Ok(())
}

async fn interaction(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let live = app.live.get();
    let Some(secret) = &live.channels.slack_signing_secret else {
        return Err(ApiError::NotFound(
            "Slack interactions are not configured (channels.slack.signing_secret)".into(),
        ));
    };
    verify(
        secret.expose_secret(),
        &headers,
        &body,
        app.clock.now().timestamp(),
    )?;
    // A signature is good for the whole 5-minute window: each (timestamp, signature) is taken
    // once. Slack never re-sends a click, so a failed one is not forgotten either.
    let pair = ["x-slack-request-timestamp", "x-slack-signature"]
        .map(|h| headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or(""))
        .join(":");
    let window = std::time::Duration::from_secs(2 * MAX_SKEW_SECS as u64);
    if !super::replay::first(&app, "slack", pair, window).await? {
        return Err(ApiError::Unauthorized(
            "this signed request was already handled (a replay)".into(),
        ));
    }
    let Some(clicked) = parse_interaction(&body)? else {
        // Shortcuts, modals, clicks of nothing: alertrouter puts none on its messages.
        return Ok(StatusCode::OK);
    };
    // Slack shows nothing of this answer's body: everything the clicker should read goes to
    // the interaction's response_url, as a message only they see.
    let response_url = clicked.response_url;
    let reply = |text: String| app.slack_replies.reply(response_url.as_deref(), text);
    let slack_user = clicked.user;
    let action = match clicked.action_id.as_str() {
        "incident_ack" => Action::Ack,
        "incident_unack" => Action::Unack,
        "incident_resolve" => Action::Resolve,
        "incident_escalate" => Action::Escalate,
        "incident_snooze" => Action::Snooze {
            until: app.clock.now() + chrono::TimeDelta::hours(1),
        },
        other => {
            reply(format!("Unknown action {other:?}."));
            return Ok(StatusCode::OK);
        }
    };
    let incident: IncidentRef = match clicked.value.as_deref().unwrap_or("").parse() {
        Ok(incident) => incident,
        Err(why) => {
            reply(format!("This button names no incident ({why})."));
            return Ok(StatusCode::OK);
        }
    };
    let person = app
        .live
        .get()
        .policies
        .person_by(|u| u.slack_id.as_deref(), &slack_user);
    let name = match person {
        Some(name) => name,
        None if live.channels.slack_allow_unlinked && !slack_user.is_empty() => {
            format!("slack:{slack_user}")
        }
        None => {
            app.metrics.action("slack", action.name(), "refused");
            reply(
                "Your Slack account is not linked to a person in alertrouter (slack_id), so it cannot act on incidents."
                    .into(),
            );
            return Ok(StatusCode::OK);
        }
    };
    let actor = Actor {
        name,
        source: "slack",
        client_addr: Some(
            super::client::client_ip(addr, &headers, &live.api.trusted_proxies).to_string(),
        ),
    };
    // Slack wants an answer within 3 s whatever the database does. The action runs on its
    // own task and tells the clicker its outcome through response_url; Slack is answered when
    // it is done or when the budget runs out, whichever comes first.
    let acting = {
        let app = app.clone();
        let action = action.clone();
        tokio::spawn(async move {
            let text = outcome_text(act(&app, &actor, incident, &action, None).await, &action);
            app.slack_replies.reply(response_url.as_deref(), text);
        })
    };
    if tokio::time::timeout(live.channels.slack_answer_within, acting)
        .await
        .is_err()
    {
        tracing::info!(
            action = action.name(),
            "Slack click answered before its action committed; the outcome follows by response_url"
        );
    }
    Ok(StatusCode::OK)
}

/// A button click, as an interaction's form body carries it.
#[derive(Debug)]
pub struct Click {
    pub action_id: String,
    /// The button's value: the incident it names.
    pub value: Option<String>,
    /// The clicker's Slack user id ("" if the payload names none).
    pub user: String,
    pub response_url: Option<String>,
}

/// Reads an interaction's form body (`payload=` JSON, Slack's model by slack-morphism): the
/// first action of a block-actions event, `None` for any other interaction or none clicked.
pub fn parse_interaction(body: &[u8]) -> Result<Option<Click>, ApiError> {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| ApiError::BadRequest(format!("not a form: {e}")))?;
    let payload = form
        .iter()
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| ApiError::BadRequest("no payload field".into()))?;
    let event: SlackInteractionEvent = serde_json::from_str(payload)
        .map_err(|e| ApiError::BadRequest(format!("payload is not a Slack interaction: {e}")))?;
    let SlackInteractionEvent::BlockActions(clicks) = event else {
        return Ok(None);
    };
    let Some(clicked) = clicks.actions.as_ref().and_then(|a| a.first()) else {
        return Ok(None);
    };
    Ok(Some(Click {
        action_id: clicked.action_id.0.clone(),
        value: clicked.value.clone(),
        user: clicks
            .user
            .as_ref()
            .map(|u| u.id.0.clone())
            .unwrap_or_default(),
        response_url: clicks.response_url.as_ref().map(|u| u.0.to_string()),
    }))
}

/// What the clicker reads about their action.
fn outcome_text(result: Result<Done, ActionError>, action: &Action) -> String {
    match result {
        Ok(done) => format!(
            "{} {}.",
            done.incident(),
            match action {
                Action::Ack => "acknowledged",
                Action::Unack => "unacknowledged",
                Action::Resolve => "resolved",
                Action::Escalate => "escalated",
                _ => "snoozed for 1 hour",
            }
        ),
        Err(why @ (ActionError::Refused { .. } | ActionError::NotFound)) => why.to_string(),
        Err(e) => format!("Could not {} the incident: {e}. Try again.", action.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_slacks_published_example() {
        // The example of Slack's "Verifying requests from Slack" guide.
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            slack_signature(
                "8f742231b10e8888abcd99yyyzzz85a5",
                "1531420618",
                body.as_bytes()
            ),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }

    #[test]
    fn a_button_click_is_read_from_the_form_through_slack_morphisms_model() {
        let payload = r#"{"type":"block_actions","team":{"id":"T9TK3CUKW","domain":"example"},
            "user":{"id":"UA8RXUSPL","username":"jtorrance","team_id":"T9TK3CUKW"},
            "api_app_id":"AABA1ABCD","token":"9s8d9as89d8as9d8as989",
            "container":{"type":"message","message_ts":"1548261231.000200","channel_id":"CBR2V3XEX","is_ephemeral":false},
            "trigger_id":"12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
            "channel":{"id":"CBR2V3XEX","name":"review-updates"},
            "response_url":"https://hooks.slack.com/actions/AABA1ABCD/1232321423432/D09sSasdasdAS9091209",
            "actions":[{"action_id":"incident_ack","block_id":"actions","text":{"type":"plain_text","text":"Acknowledge"},
                "value":"INC-42","type":"button","action_ts":"1548426417.840180"}]}"#;
        let body = serde_urlencoded::to_string([("payload", payload)]).unwrap();
        let click = parse_interaction(body.as_bytes()).unwrap().unwrap();
        assert_eq!(click.user, "UA8RXUSPL");
        assert_eq!(
            (click.action_id.as_str(), click.value.as_deref()),
            ("incident_ack", Some("INC-42"))
        );
        assert!(
            click
                .response_url
                .unwrap()
                .starts_with("https://hooks.slack.com/")
        );
        let shortcut =
            serde_urlencoded::to_string([("payload", r#"{"type":"shortcut"}"#)]).unwrap();
        assert!(matches!(
            parse_interaction(shortcut.as_bytes()),
            Ok(None) | Err(_)
        ));
        for bad in [&b"payload=%7Bnope"[..], b"nothing=here", b"%zz"] {
            let e = parse_interaction(bad).unwrap_err().to_string();
            assert!(!e.is_empty(), "{e}");
        }
    }
}
