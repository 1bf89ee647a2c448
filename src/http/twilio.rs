//! Twilio's callbacks, each checked against its `X-Twilio-Signature`: delivery receipts
//! (`StatusCallback`) at `POST /hooks/twilio/status`, and replies to pages at
//! `POST /hooks/twilio/sms` (`ACK 4821`, `RESOLVE 4821`, `4821 a`, STOP and START).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;

use super::error::ApiError;
use crate::app::App;
use crate::channels::mask_contacts;
use crate::core::actions::Action;
use crate::core::{Actor, IncidentRef};
use crate::service::actions::{ActionError, act};
use crate::store::destinations::{record_receipt, set_opt_out};
use crate::store::replays::Once;

/// Twilio's routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/hooks/twilio/status", post(status))
        .route("/hooks/twilio/sms", post(reply))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
}

/// Twilio's signature of a form POST: HMAC-SHA1 with the auth token over the URL Twilio called
/// followed by every parameter's name and value, sorted by name; base64.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("any key");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The form's parameters if `X-Twilio-Signature` signs them for `url`; compared in constant time.
pub fn verified_form(
    auth_token: &str,
    url: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, ApiError> {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| ApiError::BadRequest(format!("not a form: {e}")))?;
    let given = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Forbidden("X-Twilio-Signature missing".into()))?;
    let expected = twilio_signature(auth_token, url, &params);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_bytes(),
        given.as_bytes(),
    )) {
        return Err(ApiError::Forbidden(
            "X-Twilio-Signature does not match".into(),
        ));
    }
    Ok(params)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A delivery receipt: the SMS's provider status is stored on its outbox row; a failed or
/// undelivered one is logged and counted.
async fn status(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let live = app.live.get();
    let twilio = live.channels.twilio();
    let (Some(t), Some(url)) = (twilio, twilio.and_then(|t| t.status_callback.as_deref())) else {
        return Err(ApiError::NotFound(
            "Twilio status callbacks are not configured (channels.sms.status_callback)".into(),
        ));
    };
    let params = verified_form(t.auth_token.expose_secret(), url, &headers, &body)?;
    let (Some(sid), Some(state)) = (
        param(&params, "MessageSid"),
        param(&params, "MessageStatus"),
    ) else {
        return Err(ApiError::Unprocessable(
            "MessageSid and MessageStatus are required".into(),
        ));
    };
    let known = record_receipt(&app.pool, sid, state, app.clock.now())
        .await
        .map_err(ApiError::from)?;
    if !known {
        return Err(ApiError::NotFound(format!("no SMS {sid:?} was sent")));
    }
    app.metrics.sms_receipt(state);
    if matches!(state, "failed" | "undelivered") {
        let to = mask_contacts(param(&params, "To").unwrap_or(""));
        let code = param(&params, "ErrorCode").unwrap_or("");
        tracing::warn!(sid, %to, code, status = state, "SMS not delivered");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// What an SMS reply asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsCommand {
    Act(Action, i64),
    Stop,
    Start,
}

/// Reads `ACK 4821`, `RESOLVE 4821`, `4821 a` / `4821 r` (any case), STOP words and START words.
pub fn parse_sms(body: &str) -> Option<SmsCommand> {
    let words: Vec<String> = body
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let word = |w: &str| match w {
        "ack" | "a" | "acknowledge" | "ok" => Some(Action::Ack),
        "resolve" | "r" | "resolved" => Some(Action::Resolve),
        _ => None,
    };
    let number = |w: &str| w.trim_start_matches("inc-").parse::<i64>().ok();
    match words.as_slice() {
        // Twilio's own opt-out and opt-in keywords: Twilio blocks the number on these itself.
        [w] if [
            "stop",
            "stopall",
            "unsubscribe",
            "cancel",
            "end",
            "quit",
            "revoke",
            "optout",
        ]
        .contains(&w.as_str()) =>
        {
            Some(SmsCommand::Stop)
        }
        [w] if ["start", "unstop", "yes"].contains(&w.as_str()) => Some(SmsCommand::Start),
        [a, b] => match (word(a), number(b), number(a), word(b)) {
            (Some(action), Some(n), _, _) | (_, _, Some(n), Some(action)) => {
                Some(SmsCommand::Act(action, n))
            }
            _ => None,
        },
        _ => None,
    }
}

fn twiml(text: &str) -> axum::response::Response {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    (
        [(axum::http::header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{escaped}</Message></Response>"),
    )
        .into_response()
}

/// A reply to a page: the sender must be a person's phone; the answer is a TwiML message.
async fn reply(
    State(app): State<Arc<App>>,
    axum::extract::ConnectInfo(addr): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    let live = app.live.get();
    let (Some(t), Some(base)) = (live.channels.twilio(), &live.api.public_url) else {
        return Err(ApiError::NotFound(
            "SMS replies need Twilio (channels.sms) and api.public_url".into(),
        ));
    };
    let url = format!("{base}/hooks/twilio/sms");
    let params = verified_form(t.auth_token.expose_secret(), &url, &headers, &body)?;
    let client = super::client::client_ip(addr, &headers, &live.api.trusted_proxies);
    act_on_reply(&app, client, &params).await
}

/// How long inbound MessageSids are remembered (seconds).
const REMEMBER_SIDS_SECS: i64 = 7 * 86_400;

/// TwiML that sends nothing.
fn empty_twiml() -> axum::response::Response {
    (
        [(axum::http::header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
    )
        .into_response()
}

/// What a verified SMS reply asks for, done.
async fn act_on_reply(
    app: &App,
    client: std::net::IpAddr,
    params: &[(String, String)],
) -> Result<axum::response::Response, ApiError> {
    let from = param(params, "From").unwrap_or("").to_string();
    let text = param(params, "Body").unwrap_or("");
    let Some(command) = parse_sms(text) else {
        return Ok(twiml(
            "Reply ACK <number> or RESOLVE <number>, e.g. ACK 42.",
        ));
    };
    let now = app.clock.now();
    match command {
        SmsCommand::Stop | SmsCommand::Start => {
            let stop = command == SmsCommand::Stop;
            set_opt_out(&app.pool, &from, stop, now)
                .await
                .map_err(ApiError::from)?;
            tracing::info!(from = %mask_contacts(&from), stop, "SMS opt-out changed");
            // Twilio answers STOP and START itself; say nothing more.
            Ok(empty_twiml())
        }
        SmsCommand::Act(action, number) => {
            let person = app
                .live
                .get()
                .policies
                .person_by(|u| u.phone.as_deref(), &from);
            let Some(name) = person else {
                app.metrics.action("sms", action.name(), "refused");
                tracing::info!(from = %mask_contacts(&from), "SMS reply from an unknown number refused");
                return Ok(twiml(
                    "This number belongs to no one in alertrouter; nothing was done.",
                ));
            };
            let actor = Actor {
                name,
                source: "sms",
                client_addr: Some(client.to_string()),
            };
            // Each inbound message acts once, however often Twilio delivers it: its MessageSid is
            // recorded in the action's transaction.
            let once = param(params, "MessageSid").map(|sid| Once::Callback {
                source: "twilio",
                key: sid.to_string(),
                expires_at: now + chrono::TimeDelta::seconds(REMEMBER_SIDS_SECS),
            });
            let done = act(
                app,
                &actor,
                IncidentRef::Number(number),
                &action,
                once.as_ref(),
            )
            .await;
            Ok(match done {
                Ok(_) => twiml(&format!(
                    "INC-{number} {}.",
                    if action == Action::Ack {
                        "acknowledged"
                    } else {
                        "resolved"
                    }
                )),
                Err(why @ (ActionError::Refused { .. } | ActionError::NotFound)) => {
                    twiml(&why.to_string())
                }
                Err(ActionError::AlreadyHandled) => {
                    super::replay::refused(app, "twilio", "an inbound SMS arrived a second time");
                    empty_twiml()
                }
                Err(other) => return Err(other.into()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sms_replies_are_understood() {
        use super::{Action, SmsCommand, parse_sms};
        let ack = |n| Some(SmsCommand::Act(Action::Ack, n));
        assert_eq!(parse_sms("ACK 4821"), ack(4821));
        assert_eq!(parse_sms("  ack   4821 "), ack(4821));
        assert_eq!(parse_sms("4821 a"), ack(4821));
        assert_eq!(parse_sms("4821 A"), ack(4821));
        assert_eq!(parse_sms("ack INC-4821"), ack(4821));
        assert_eq!(
            parse_sms("RESOLVE 7"),
            Some(SmsCommand::Act(Action::Resolve, 7))
        );
        assert_eq!(parse_sms("7 r"), Some(SmsCommand::Act(Action::Resolve, 7)));
        // Twilio's own opt-out and opt-in keywords, any case.
        for stop in [
            "STOP",
            "stopall",
            "Unsubscribe",
            "CANCEL",
            "end",
            "QUIT",
            "revoke",
            "OPTOUT",
        ] {
            assert_eq!(parse_sms(stop), Some(SmsCommand::Stop), "{stop}");
        }
        for start in ["start", "UNSTOP", "Yes"] {
            assert_eq!(parse_sms(start), Some(SmsCommand::Start), "{start}");
        }
        for junk in ["", "ACK", "ACK x", "hello there", "ack 1 2", "4821"] {
            assert_eq!(parse_sms(junk), None, "{junk:?}");
        }
    }

    use super::*;

    /// The worked example of Twilio's webhook security guide.
    #[test]
    fn twilios_published_example_signs_the_same() {
        let params: Vec<(String, String)> = [
            ("To", "+18005551212"),
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("Caller", "+12349013030"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            twilio_signature("12345", url, &params),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-twilio-signature",
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ=".parse().unwrap(),
        );
        let body = serde_urlencoded::to_string(&params).unwrap();
        assert!(verified_form("12345", url, &headers, body.as_bytes()).is_ok());
        let tampered = body.replace("1234&", "9999&");
        assert!(verified_form("12345", url, &headers, tampered.as_bytes()).is_err());
        assert!(
            verified_form("12345", "https://evil.example/", &headers, body.as_bytes()).is_err()
        );
    }
}
