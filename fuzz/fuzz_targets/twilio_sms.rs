//! Twilio's form body and the SMS reply in it ("ack 42", "resolve INC-20261201..."): the form
//! parses or is refused, a wrong signature is refused, the reply is understood or not; no panic.
#![no_main]
use alertrouter::http::twilio::{parse_sms, twilio_signature, verified_form};
use axum::http::HeaderMap;

libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    let url = "https://alertrouter.example/hooks/twilio/sms";
    let mut headers = HeaderMap::new();
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let signature = twilio_signature("fuzz-token", url, &form);
    headers.insert("x-twilio-signature", signature.parse().unwrap());
    if let Ok(params) = verified_form("fuzz-token", url, &headers, body) {
        if let Some((_, text)) = params.iter().find(|(k, _)| k == "Body") {
            let _ = parse_sms(text);
        }
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = parse_sms(text);
    }
});
