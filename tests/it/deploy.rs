//! deploy/ against the binary: every port, probe, path and environment variable the manifests
//! name is one the binary really serves or reads (asked of the binary, not listed here), the
//! alert rules name metrics it exports and runbooks the guide has, and the kustomization lists
//! every manifest.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use alertrouter::config::Settings;
use serde_json::Value;

use crate::exposition::exported_metrics;
use crate::support::{TestDb, TestServer, settings};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let value: serde_norway::Value =
        serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::to_value(value).unwrap()
}

fn container() -> Value {
    yaml("deploy/kubernetes/base/deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
        .clone()
}

/// The port of an address like `0.0.0.0:9095` or a URL like `http://127.0.0.1:9095/readyz`.
fn port_of(text: &str) -> u16 {
    let rest = text.rsplit_once("://").map_or(text, |(_, r)| r);
    let authority = rest.split('/').next().unwrap();
    authority.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// The base config, copied with stand-in secret files, loaded with `env`; returns the settings
/// and every variable the loader asked for.
fn load_base_config(env: &[(String, String)]) -> (Settings, BTreeSet<String>) {
    let dir = std::env::temp_dir().join(format!("deploy-config-{}", std::process::id()));
    let base = root().join("deploy/kubernetes/base/config");
    for sub in ["", "routes", "policies", "secrets"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for sub in ["routes", "policies"] {
        for entry in std::fs::read_dir(base.join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(sub).join(entry.file_name())).unwrap();
        }
    }
    std::fs::copy(base.join("alertrouter.yaml"), dir.join("alertrouter.yaml")).unwrap();
    for secret in ["alertmanager-token", "api-secret"] {
        std::fs::write(dir.join("secrets").join(secret), "x".repeat(48)).unwrap();
    }
    let asked = Mutex::new(BTreeSet::new());
    let lookup = |name: &str| {
        asked.lock().unwrap().insert(name.to_string());
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    };
    let settings = Settings::load(Some(&dir.join("alertrouter.yaml")), &lookup)
        .unwrap_or_else(|e| panic!("the Kubernetes base config: {e}"));
    (settings, asked.into_inner().unwrap())
}

/// Variables the command line reads (clap lists them in `serve --help`).
fn cli_variables() -> BTreeSet<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_alertrouter"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout).to_string();
    help.split("[env: ")
        .skip(1)
        .map(|s| s.split(['=', ']']).next().unwrap().to_string())
        .collect()
}

/// Every `NAME=value` a manifest sets, from the Deployment, the compose file, the systemd unit
/// and the Dockerfile.
fn manifest_variables() -> Vec<(String, String, &'static str)> {
    let mut vars = Vec::new();
    for e in container()["env"].as_array().unwrap() {
        let value = e["value"]
            .as_str()
            .unwrap_or("postgres://u:p@db:5432/alertrouter");
        vars.push((
            e["name"].as_str().unwrap().to_string(),
            value.to_string(),
            "deployment.yaml",
        ));
    }
    let compose = yaml("deploy/compose/compose.yaml");
    for (k, v) in compose["services"]["alertrouter-1"]["environment"]
        .as_object()
        .unwrap()
    {
        vars.push((k.clone(), v.as_str().unwrap().to_string(), "compose.yaml"));
    }
    let unit = std::fs::read_to_string(root().join("deploy/systemd/alertrouter.service")).unwrap();
    for line in unit.lines().filter_map(|l| l.strip_prefix("Environment=")) {
        let (k, v) = line.split_once('=').unwrap();
        vars.push((k.to_string(), v.to_string(), "alertrouter.service"));
    }
    let dockerfile = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let env_block = dockerfile.split("\nENV ALERTROUTER_CONFIG").nth(1).unwrap();
    for part in format!("ALERTROUTER_CONFIG{env_block}")
        .lines()
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("USER"))
    {
        let part = part.trim().trim_end_matches('\\').trim();
        if let Some((k, v)) = part.split_once('=') {
            vars.push((k.to_string(), v.to_string(), "Dockerfile"));
        }
    }
    vars
}

#[tokio::test]
async fn manifests_name_ports_probes_paths_and_variables_the_binary_uses() {
    let vars = manifest_variables();
    assert!(vars.len() >= 8, "{vars:?}");
    let env: Vec<(String, String)> = vars
        .iter()
        .filter(|(_, _, from)| *from == "deployment.yaml")
        .map(|(k, v, _)| (k.clone(), v.clone()))
        .collect();
    let (resolved, asked) = load_base_config(&env);
    let known: BTreeSet<String> = asked.union(&cli_variables()).cloned().collect();
    for (name, value, from) in &vars {
        assert!(
            known.contains(name),
            "{from} sets {name}, which alertrouter never reads (it reads {known:?})"
        );
        // Every value parses as the binary would take it.
        let one = vec![
            (name.clone(), value.clone()),
            ("DATABASE_URL".into(), "postgres://u:p@db:5432/a".into()),
        ];
        if asked.contains(name) && name != "DATABASE_URL" {
            load_base_config(&one);
        }
    }

    // One port everywhere: the listen address the config resolves to with the Deployment's env.
    let port = resolved.listen.port();
    let c = container();
    assert_eq!(
        c["ports"][0]["containerPort"].as_u64(),
        Some(u64::from(port))
    );
    let service = yaml("deploy/kubernetes/base/service.yaml");
    assert_eq!(
        service["spec"]["ports"][0]["port"].as_u64(),
        Some(u64::from(port))
    );
    assert_eq!(
        service["spec"]["ports"][0]["targetPort"],
        c["ports"][0]["name"]
    );
    let dockerfile = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    assert!(
        dockerfile.contains(&format!("\nEXPOSE {port}\n")),
        "Dockerfile EXPOSE"
    );
    let healthcheck = dockerfile.split("HEALTHCHECK").nth(1).unwrap();
    let probe_url = healthcheck
        .split('"')
        .find(|s| s.starts_with("http://"))
        .unwrap();
    assert_eq!(port_of(probe_url), port);
    for (_, value, from) in vars.iter().filter(|(k, _, _)| k == "ALERTROUTER_LISTEN") {
        assert_eq!(port_of(value), port, "{from}");
    }
    let prometheus = yaml("deploy/compose/prometheus.yml");
    for target in prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
        .as_array()
        .unwrap()
    {
        assert_eq!(port_of(target.as_str().unwrap()), port);
    }

    // The config path the container is started with is where the ConfigMap is mounted, and the
    // secret files the config names are in the mounted Secret.
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let config_path = args[args.iter().position(|a| *a == "--config").unwrap() + 1];
    let mounts = c["volumeMounts"].as_array().unwrap();
    let mounted = |path: &str| mounts.iter().find(|m| m["mountPath"] == path).cloned();
    assert!(
        mounted(config_path).is_some(),
        "{config_path} is not mounted"
    );
    let config_dir = Path::new(config_path).parent().unwrap();
    for dir in ["routes", "policies", "secrets"] {
        let path = config_dir.join(dir);
        assert!(
            mounted(path.to_str().unwrap()).is_some(),
            "{} is not mounted",
            path.display()
        );
    }
    let base_config =
        std::fs::read_to_string(root().join("deploy/kubernetes/base/config/alertrouter.yaml"))
            .unwrap();
    let volumes =
        yaml("deploy/kubernetes/base/deployment.yaml")["spec"]["template"]["spec"]["volumes"]
            .clone();
    let secret = volumes
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "secrets")
        .unwrap();
    for item in secret["secret"]["items"].as_array().unwrap() {
        let file = format!("secrets/{}", item["path"].as_str().unwrap());
        assert!(base_config.contains(&file), "the config never reads {file}");
    }
    let setting_lines = base_config
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'));
    let words: Vec<&str> = setting_lines.flat_map(str::split_whitespace).collect();
    for file in words.into_iter().filter(|w| w.starts_with("secrets/")) {
        let name = file.trim_start_matches("secrets/");
        assert!(
            secret["secret"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["path"] == name),
            "{file} is read by the config but not mounted"
        );
    }

    // The probes answer on a running alertrouter.
    let db = TestDb::new().await;
    let server = TestServer::start(settings(&db.url)).await;
    for probe in ["readinessProbe", "livenessProbe"] {
        let path = c[probe]["httpGet"]["path"].as_str().unwrap();
        assert_eq!(
            c[probe]["httpGet"]["port"], c["ports"][0]["name"],
            "{probe}"
        );
        let (status, body) = server.get(path).await;
        assert_eq!(status, 200, "{probe} {path}: {body}");
    }
    let (status, _) = server
        .get(
            prometheus["scrape_configs"][0]["metrics_path"]
                .as_str()
                .unwrap(),
        )
        .await;
    assert_eq!(status, 200);
    let monitor = yaml("deploy/kubernetes/base/servicemonitor.yaml");
    let (status, _) = server
        .get(monitor["spec"]["endpoints"][0]["path"].as_str().unwrap())
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"],
        c["ports"][0]["name"]
    );
}

#[tokio::test]
async fn alert_rules_name_exported_metrics_and_runbooks_the_guide_has() {
    let rules = yaml("deploy/prometheus/alertrouter-rules.yml");
    let operator = yaml("deploy/kubernetes/base/prometheusrule.yaml");
    assert_eq!(
        operator["spec"], rules,
        "the PrometheusRule and the rule file differ"
    );

    let exported = exported_metrics().await;
    let guide = std::fs::read_to_string(root().join("docs/operations.md")).unwrap();
    let anchors: BTreeSet<String> = guide
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect();
    let mut alerts = 0;
    for rule in rules["groups"][0]["rules"].as_array().unwrap() {
        alerts += 1;
        let name = rule["alert"].as_str().unwrap();
        let expr = rule["expr"].as_str().unwrap();
        let mut named = 0;
        for word in expr.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if word.starts_with("alertrouter_") {
                named += 1;
                assert!(exported(word), "{name}: {word} is not exported");
            }
        }
        assert!(
            named > 0 || expr.contains("up{"),
            "{name} names no metric: {expr}"
        );
        let runbook = rule["annotations"]["runbook_url"].as_str().unwrap();
        let anchor = runbook.split_once('#').unwrap().1;
        assert_eq!(anchor, name.to_lowercase(), "{name}");
        assert!(
            anchors.contains(anchor),
            "docs/operations.md has no section {name}"
        );
    }
    assert!(alerts >= 8);
}

#[test]
fn kustomizations_list_every_manifest_and_file() {
    let base = root().join("deploy/kubernetes/base");
    let k = yaml("deploy/kubernetes/base/kustomization.yaml");
    let listed: BTreeSet<String> = k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    let present: BTreeSet<String> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present);
    let volumes =
        yaml("deploy/kubernetes/base/deployment.yaml")["spec"]["template"]["spec"]["volumes"]
            .clone();
    for generator in k["configMapGenerator"].as_array().unwrap() {
        for file in generator["files"].as_array().unwrap() {
            assert!(base.join(file.as_str().unwrap()).is_file(), "{file}");
        }
        let name = &generator["name"];
        assert!(
            volumes
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["configMap"]["name"] == *name),
            "ConfigMap {name} is generated but not mounted"
        );
    }
    let overlay = yaml("deploy/kubernetes/overlays/example/kustomization.yaml");
    let dir = root().join("deploy/kubernetes/overlays/example");
    for r in overlay["resources"].as_array().unwrap() {
        assert!(
            dir.join(r.as_str().unwrap())
                .join("kustomization.yaml")
                .is_file(),
            "{r}"
        );
    }
    for p in overlay["patches"].as_array().unwrap() {
        assert!(dir.join(p["path"].as_str().unwrap()).is_file(), "{p}");
    }
    assert_eq!(
        overlay["images"][0]["name"],
        container()["image"]
            .as_str()
            .unwrap()
            .split(':')
            .next()
            .unwrap()
    );
}

#[test]
fn alertmanager_examples_pass_amtool() {
    let Some(amtool) = ["amtool", "prometheus-alertmanager-amtool"]
        .into_iter()
        .find(|a| {
            std::process::Command::new(a)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        eprintln!("SKIPPED: no amtool (apt-get install prometheus-alertmanager)");
        return;
    };
    for file in [
        "deploy/alertmanager/alertmanager.yml",
        "deploy/compose/alertmanager.yml",
    ] {
        let out = std::process::Command::new(amtool)
            .args(["check-config", root().join(file).to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
