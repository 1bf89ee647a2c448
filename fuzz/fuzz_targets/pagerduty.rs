//! PagerDuty's v3 webhook body: an event to mirror, one to ignore, or a refusal with a reason.
#![no_main]
libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    if let Err(e) = alertrouter::http::pagerduty::parse_event(body) {
        assert!(!e.to_string().is_empty());
    }
});
