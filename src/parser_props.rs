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
}
