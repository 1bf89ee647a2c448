//! API tokens: any text in `Authorization: Bearer` is a caller or a refusal (header, algorithm,
//! key id, signature, claims), never a panic.
#![no_main]
use std::sync::OnceLock;

use alertrouter::config::api::ApiSettings;

fn settings() -> &'static ApiSettings {
    static SETTINGS: OnceLock<ApiSettings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        let mut s = ApiSettings::default();
        s.jwt.hs256_secret = Some("fuzz-secret-fuzz-secret-fuzz-secret-32".to_string().into());
        s.jwt.issuer = Some("alertrouter".into());
        s
    })
}

libfuzzer_sys::fuzz_target!(|token: &str| {
    if let Err(e) = alertrouter::http::api::auth::verify(&settings().jwt, &[], token, 1_764_600_000)
    {
        assert!(!e.to_string().is_empty());
    }
});
