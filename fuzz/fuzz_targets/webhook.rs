//! Alertmanager's webhook body: parses, or is refused with a reason; never panics.
#![no_main]
libfuzzer_sys::fuzz_target!(|body: &[u8]| {
    if let Err(e) = alertrouter::alertmanager::parse_webhook(body) {
        assert!(!e.to_string().is_empty());
    }
});
