//! Twilio's callbacks: delivery receipts (`StatusCallback`) at `POST /hooks/twilio/status`,
//! each checked against its `X-Twilio-Signature`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;

use super::error::ApiError;
use crate::app::App;
use crate::channels::mask_contacts;
use crate::store::outbox::record_receipt;

/// Twilio's routes.
pub fn router() -> Router<Arc<App>> {
    Router::new().route("/hooks/twilio/status", post(status))
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
    let twilio = app.settings.channels.twilio();
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
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
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

#[cfg(test)]
mod tests {
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
