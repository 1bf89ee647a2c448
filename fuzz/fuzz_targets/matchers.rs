//! Route and silence matchers (`{a="b", c=~"d.*"}` and the bare forms).
#![no_main]
libfuzzer_sys::fuzz_target!(|text: &str| {
    if let Err(e) = alertrouter::routing::matcher::parse_matchers(text) {
        assert!(!e.is_empty());
    }
});
