//! The config loader: the input, split at NUL bytes, is alertrouter.yaml, routes/fuzz.yaml and
//! policies/fuzz.yaml; loading them gives settings or an error naming a file and a key.
#![no_main]
use std::path::PathBuf;
use std::sync::OnceLock;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base =
            std::env::temp_dir().join(format!("alertrouter-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(base.join("routes")).unwrap();
        std::fs::create_dir_all(base.join("policies")).unwrap();
        base
    })
}

libfuzzer_sys::fuzz_target!(|input: &[u8]| {
    let mut parts = input.splitn(3, |b| *b == 0);
    let base = dir();
    let files = ["alertrouter.yaml", "routes/fuzz.yaml", "policies/fuzz.yaml"];
    for file in files {
        std::fs::write(base.join(file), parts.next().unwrap_or_default()).unwrap();
    }
    let env = |_: &str| None;
    let path = base.join(files[0]);
    if let Err(e) = alertrouter::config::Settings::load_without_secrets(Some(&path), &env) {
        let text = e.to_string();
        assert!(!text.is_empty());
    }
});
