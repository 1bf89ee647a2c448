//! Property tests of every parser that reads outside text (issue 15's fuzzing, in the normal
//! suite): random bytes, and the captured Alertmanager fixtures with random bytes spliced in,
//! never panic, and every refusal names what is wrong.

use proptest::prelude::*;

use crate::alertmanager::parse_webhook;
use crate::config::{parse_duration, parse_size};
use crate::http::twilio::parse_sms;
use crate::routing::matcher::parse_matchers;
use crate::routing::time_interval::{
    parse_days_of_month, parse_months, parse_time, parse_weekdays, parse_years,
};

const FIXTURES: [&[u8]; 4] = [
    include_bytes!("../tests/fixtures/02_firing_HighErrorRate_web_critical.json"),
    include_bytes!("../tests/fixtures/05_mixed_firing+resolved_HighErrorRate_web.json"),
    include_bytes!("../tests/fixtures/08_firing_50alerts_BigGroup_api.json"),
    include_bytes!("../tests/fixtures/10_firing_partial_23of50_immediate_flush.json"),
];

/// A fixture with `len` bytes at `at` replaced by `with`.
fn spliced(fixture: usize, at: usize, len: usize, with: &[u8]) -> Vec<u8> {
    let body = FIXTURES[fixture % FIXTURES.len()];
    let at = at % body.len();
    let end = (at + len).min(body.len());
    [&body[..at], with, &body[end..]].concat()
}

/// Text: arbitrary Unicode, or the characters the grammars care about.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::string::string_regex(r#"[{}=!~",\\ a-z0-9:._\-*+?()\[\]|^$]{0,40}"#).unwrap(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn webhook_bodies_of_random_bytes_are_refused_with_a_reason(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = parse_webhook(&body) {
            prop_assert!(!e.detail.is_empty());
        }
    }

    #[test]
    fn fixtures_with_bytes_spliced_in_parse_or_say_why(
        fixture in 0usize..4, at in any::<usize>(), len in 0usize..16,
        with in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let body = spliced(fixture, at, len, &with);
        if let Err(e) = parse_webhook(&body) {
            prop_assert!(!e.detail.is_empty(), "empty reason for {:?}", String::from_utf8_lossy(&body));
        }
    }

    #[test]
    fn matchers_parse_or_say_why(input in text()) {
        if let Err(e) = parse_matchers(&input) {
            prop_assert!(!e.is_empty());
        }
    }

    #[test]
    fn time_interval_fields_parse_or_say_why(input in text()) {
        for result in [
            parse_time(&input).map(|_| ()),
            parse_weekdays(&input).map(|_| ()),
            parse_months(&input).map(|_| ()),
            parse_days_of_month(&input).map(|_| ()),
            parse_years(&input).map(|_| ()),
        ] {
            if let Err(e) = result {
                prop_assert!(!e.is_empty());
            }
        }
    }

    #[test]
    fn durations_and_sizes_parse_or_say_why(input in text()) {
        if let Err(e) = parse_duration(&input) {
            prop_assert!(!e.is_empty());
        }
        if let Err(e) = parse_size(&input) {
            prop_assert!(!e.is_empty());
        }
    }

    #[test]
    fn sms_replies_never_panic(input in text()) {
        let _ = parse_sms(&input);
    }

    #[test]
    fn api_action_bodies_are_refused_with_a_reason(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Err(e) = crate::http::api::input::parse_action(&body, chrono::Utc::now()) {
            use crate::http::error::ApiError;
            let refused = matches!(&e, ApiError::BadRequest(m) | ApiError::Unprocessable(m) if !m.is_empty());
            prop_assert!(refused, "{:?}", e);
        }
    }

    #[test]
    fn slack_interaction_bodies_are_read_or_refused_with_a_reason(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        action in text(),
        value in text(),
    ) {
        if let Err(e) = crate::http::slack::parse_interaction(&body) {
            prop_assert!(!e.to_string().is_empty());
        }
        // A well-formed click with any action id and value is read as it is.
        let payload = serde_json::json!({
            "type": "block_actions", "team": {"id": "T1", "domain": "example"},
            "user": {"id": "U1", "team_id": "T1"}, "api_app_id": "A1", "token": "t",
            "container": {"type": "message", "message_ts": "1.2", "channel_id": "C1"},
            "trigger_id": "1.2.3", "channel": {"id": "C1", "name": "ops"},
            "response_url": "https://hooks.slack.com/actions/A1/1/x",
            "actions": [{"action_id": action, "block_id": "b", "value": value,
                         "type": "button", "action_ts": "1"}],
        });
        let form = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        let click = crate::http::slack::parse_interaction(form.as_bytes());
        prop_assert!(matches!(&click, Ok(Some(c)) if c.action_id == action && c.value.as_deref() == Some(value.as_str())), "{:?}", click);
    }

    #[test]
    fn pagerduty_bodies_are_read_or_refused_with_a_reason(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        kind in prop_oneof![Just("incident.acknowledged".to_string()), Just("incident.resolved".to_string()), text()],
        occurred in text(),
    ) {
        if let Err(e) = crate::http::pagerduty::parse_event(&body) {
            prop_assert!(!e.to_string().is_empty());
        }
        let body = serde_json::json!({"event": {"id": "E1", "event_type": kind, "occurred_at": occurred,
            "data": {"incident_key": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}}});
        if let Err(e) = crate::http::pagerduty::parse_event(body.to_string().as_bytes()) {
            prop_assert!(e.to_string().contains("occurred_at"), "{}", e);
        }
    }

    #[test]
    fn api_tokens_of_any_text_are_refused_with_a_reason(token in text(), header in text()) {
        let mut api = crate::config::api::ApiSettings::default();
        api.jwt.hs256_secret = Some("property-secret-property-secret-32!".to_string().into());
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let crafted = format!("{}.e30.c2ln", base64::Engine::encode(&b64, header.as_bytes()));
        for t in [token.as_str(), crafted.as_str()] {
            let refused = crate::http::api::auth::verify(&api.jwt, &[], t, 1_764_600_000);
            prop_assert!(matches!(&refused, Err(e) if !e.to_string().is_empty()), "{:?}", refused.map(|c| c.sub));
        }
    }
}
