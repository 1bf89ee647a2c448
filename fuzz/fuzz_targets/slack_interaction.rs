//! Slack's interaction form body (`payload=` JSON, block actions).
#![no_main]
libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    if let Err(e) = alertrouter::http::slack::parse_interaction(body) {
        assert!(!e.to_string().is_empty());
    }
});
