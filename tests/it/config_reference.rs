//! docs/configuration.md is generated from the configuration files' shapes (see
//! `alertrouter::config::reference`): it fails here when the committed copy drifts, when a key
//! has no meaning written, or when the JSON Schema `alertrouter config-schema` prints would
//! refuse a configuration the project ships.

use std::path::{Path, PathBuf};

use alertrouter::config::reference::{ConfigFile, keys, markdown};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_committed_reference_is_the_generated_one() {
    let rendered = markdown();
    let path = root().join("docs/configuration.md");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let committed =
        std::fs::read_to_string(&path).expect("docs/configuration.md (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        rendered, committed,
        "docs/configuration.md is stale: run the tests with UPDATE_GOLDEN=1"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_alertrouter"))
        .arg("config-reference")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), rendered);
}

#[test]
fn every_key_says_what_it_means() {
    for file in ConfigFile::ALL {
        let keys = keys(file);
        assert!(keys.len() > 10, "{file:?}");
        for key in keys {
            assert!(
                key.meaning.len() > 3,
                "{file:?}: {} has no doc comment in src/config",
                key.path
            );
        }
    }
    // Keys the loader reads, as the reference names them.
    let main: Vec<String> = keys(ConfigFile::Alertrouter)
        .into_iter()
        .map(|k| k.path)
        .collect();
    for wanted in [
        "listen",
        "database.url",
        "integrations[].heartbeat.missing_after",
        "channels.rate_limits.<channel>.per_destination",
        "api.jwt.keys[].kid",
        "server.shutdown_delay",
    ] {
        assert!(main.contains(&wanted.to_string()), "{wanted} missing");
    }
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

fn schema_of(file: &str) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_alertrouter"))
        .args(["config-schema", file])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_schema_accepts_every_shipped_config_and_refuses_an_unknown_key() {
    let main = schema_of("alertrouter");
    let routes = schema_of("routes");
    let policies = schema_of("policies");
    let valid = |schema: &Value, path: &Path| {
        let text = std::fs::read_to_string(path).unwrap();
        let value: Value = serde_norway::from_str(&text).unwrap();
        if let Err(e) = jsonschema::validate(schema, &value) {
            panic!("{}: {e}", path.display());
        }
    };
    let mut checked = 0;
    for dir in [root(), root().join("deploy/kubernetes/base/config")] {
        valid(&main, &dir.join("alertrouter.yaml"));
        for file in yaml_files(&dir.join("routes")) {
            valid(&routes, &file);
            checked += 1;
        }
        for file in yaml_files(&dir.join("policies")) {
            valid(&policies, &file);
            checked += 1;
        }
    }
    valid(&main, &root().join("deploy/compose/alertrouter.yaml"));
    assert!(checked >= 4, "{checked}");
    let typo: Value = serde_json::json!({"listen": "127.0.0.1:9095", "databse": {}});
    assert!(jsonschema::validate(&main, &typo).is_err());
    let wrong: Value = serde_json::json!({"escalation_policies": [{"name": "x"}]});
    assert!(
        jsonschema::validate(&policies, &wrong).is_err(),
        "steps is required"
    );
}
