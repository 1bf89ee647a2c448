//! Matchers mean exactly what Alertmanager means: the installed `amtool` and `alertrouter` are
//! given the same matcher strings and the same routing tree, and must agree on which strings
//! are valid and, for a seeded set of random label sets, on the routes each set ends up on, in
//! order (`amtool config routes test` against `alertrouter simulate`).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_alertrouter");

/// Tricky matcher strings, as they would stand in a `matchers:` list.
const MATCHERS: &[&str] = &[
    r#"instance=~"\\d+""#,
    r#"instance=~\d+"#,
    r#"owner=~"\\w+""#,
    r#"owner=~"\\s*李.*""#,
    r#"owner=~"[\\w]+""#,
    r#"team=~".*\\bsre\\b.*""#,
    r#"a=~"\\Qa.b\\E""#,
    r#"a=~"a{,3}""#,
    r#"a=~"\\101""#,
    r#"a=~"\\0""#,
    r#"a=~"a{1001}""#,
    r#"a=~"a{2,1}""#,
    r#"a=~"(?<n>a)""#,
    r#"a=~"(?P<n>a)b""#,
    r#"a=~"a**""#,
    r#"a=~"x{2}{3}""#,
    r#"a=~"x{2,}?""#,
    r#"a=~"[a-z&&[^x]]""#,
    r#"a=~"\\<a""#,
    r#"a=~"[[]""#,
    r#"a=~"[^\\d]+""#,
    r#"a=~"\\D""#,
    r#"a=~"\\S+""#,
    r#"a=~"\\x41""#,
    r#"a=~"\\x{263a}""#,
    r#"a=~"\\pL+""#,
    r#"a=~"\\p{Han}+""#,
    r#"a=~"[[:alpha:]]+""#,
    r#"a=~"^*a""#,
    r#"a=~"\\e""#,
    r#"a=~"\\Z""#,
    r#"a=~"\\1""#,
    r#"a=~"(?x)a""#,
    r#"a=~"(?U)a+""#,
    r#"a=~"(?s).+""#,
    r#"a=~"(a|""#,
    r#"a=~".+,.+""#,
    r#"a=~"a\\.b""#,
    r#"a=~"a.b""#,
    r#"a=~"\\\\""#,
    r#"a=~"[\\-a]+""#,
    r#"a=~"[a-]+""#,
    r#"a=~"\\$""#,
    r#"a=~"é+""#,
    r#"a=~"(?i)é""#,
    r#"a=~"""#,
    r#"a!~"""#,
    r#"a="say \"hi\"""#,
    r#"a=say "hi""#,
    r#"a = b c "#,
    r#"{foo="bar""#,
    r#"foo="bar"}"#,
    "{}",
    r#" {a="b"}"#,
    r#"{a="b"} "#,
    "a\u{a0}=\"b\"",
    r#"foo=bar,,team=sre"#,
    "a=b\u{2003}",
    "a=\u{2003}b",
    "a=b\u{a0},team=sre",
    "team=sre,a=b\u{a0}",
    r#"a=b\n"#,
    r#"a=b\"#,
    r#"a=\"b"#,
    "a=\tb\t",
    r#"instance=~"web-.*", team="sre","#,
    r#"severity=~"(?i)CRIT.*""#,
    r#"severity!~"crit.*""#,
    r#"env!="prod""#,
    r#"alertname=~"Test.*""#,
];

const NAMES: &[&str] = &["instance", "owner", "team", "a", "foo", "severity", "env"];
const VALUES: &[&str] = &[
    "3",
    "٣",
    "42",
    "４２",
    "web-1",
    "li",
    "李雷",
    " 李雷",
    "sre",
    "db sre",
    "a.b",
    "axb",
    "aaa",
    "a{,3}",
    "A",
    "\u{0}",
    "<a",
    "a",
    "ab",
    "x]",
    "&]",
    "[",
    "xx",
    "xxx",
    "☺",
    "abc",
    "支付",
    "é",
    "éé",
    "É",
    "\\",
    "-a",
    "$",
    "a,b",
    "say \"hi\"",
    "b c",
    "bar",
    "prod",
    "dev",
    "critical",
    "CRITICAL",
    "warning",
    "x",
    "",
];

/// A small deterministic generator, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

fn amtool() -> Option<String> {
    let out = Command::new("sh")
        .args(["-c", "command -v amtool"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A route per matcher string (named `r<i>`, continue: true), one parent with two children, for
/// both tools; Alertmanager's receivers are named after alertrouter's routes.
fn trees(matchers: &[(usize, &str)]) -> (String, String) {
    let mut am = vec![];
    let mut ar = vec![];
    for (i, m) in matchers {
        am.push(json!({"receiver": format!("r{i}"), "matchers": [m], "continue": true}));
        ar.push(json!({"name": format!("r{i}"), "matchers": [m], "continue": true}));
    }
    let children = |key: &str| {
        json!([
            {key: "child-crit", "matchers": ["severity=~\"crit.*\""]},
            {key: "child-sre", "matchers": ["team=\"sre\""]},
        ])
    };
    am.push(json!({"receiver": "parent", "matchers": ["env!=\"prod\""], "continue": true, "routes": children("receiver")}));
    ar.push(json!({"name": "parent", "matchers": ["env!=\"prod\""], "continue": true, "routes": children("name")}));
    let mut receivers: Vec<Value> = matchers
        .iter()
        .map(|(i, _)| json!({"name": format!("r{i}")}))
        .collect();
    for name in ["default", "parent", "child-crit", "child-sre"] {
        receivers.push(json!({ "name": name }));
    }
    // JSON is YAML: both tools read these files.
    let am = json!({"route": {"receiver": "default", "routes": am}, "receivers": receivers});
    let ar = json!({"route": {"routes": ar}});
    (am.to_string(), ar.to_string())
}

/// An alertrouter config directory with `routes` as its routing tree.
fn alertrouter_config(dir: &Path, routes: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("routes")).unwrap();
    std::fs::write(dir.join("routes/tree.yaml"), routes).unwrap();
    let config = dir.join("alertrouter.yaml");
    std::fs::write(&config, "integrations: [{name: am, bearer_token: x}]\n").unwrap();
    config
}

fn amtool_accepts(amtool: &str, dir: &Path, matcher: &str) -> Result<(), String> {
    let (am, _) = trees(&[(0, matcher)]);
    let file = dir.join("one.yml");
    std::fs::write(&file, am).unwrap();
    let out = Command::new(amtool)
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(())
    } else {
        Err(text.trim().to_string())
    }
}

fn alertrouter_accepts(dir: &Path, matcher: &str) -> Result<(), String> {
    let (_, ar) = trees(&[(0, matcher)]);
    let config = alertrouter_config(&dir.join("one"), &ar);
    let out = Command::new(BIN)
        .arg("check-config")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// `k="v"` as amtool reads a label from its command line (OpenMetrics escapes).
fn label_arg(k: &str, v: &str) -> String {
    format!(
        "{k}=\"{}\"",
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

#[test]
fn amtool_and_alertrouter_agree_on_matchers_and_routes() {
    let Some(amtool) = amtool() else {
        if std::env::var_os("CI").is_some() {
            panic!("CI needs amtool: apt-get install prometheus-alertmanager");
        }
        eprintln!("SKIPPED amtool parity: no amtool (apt-get install prometheus-alertmanager)");
        return;
    };
    let dir = std::env::temp_dir().join(format!(
        "alertrouter-amtool-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut differences = Vec::new();
    let mut valid = Vec::new();
    for (i, m) in MATCHERS.iter().enumerate() {
        match (
            amtool_accepts(&amtool, &dir, m),
            alertrouter_accepts(&dir, m),
        ) {
            (Ok(()), Ok(())) => valid.push((i, *m)),
            (Err(_), Err(_)) => {}
            (am, ar) => differences.push(format!("{m:?}: amtool {am:?}, alertrouter {ar:?}")),
        }
    }
    assert!(valid.len() > 30, "too few valid matchers to compare routes");
    eprintln!(
        "{} of {} matcher strings valid in both",
        valid.len(),
        MATCHERS.len()
    );

    let (am, ar) = trees(&valid);
    let am_file = dir.join("alertmanager.yml");
    std::fs::write(&am_file, am).unwrap();
    let config = alertrouter_config(&dir.join("tree"), &ar);
    let payload_file = dir.join("payload.json");
    let mut rng = Rng(0x5eed_a1e7_0000_2026);
    for _ in 0..120 {
        let mut labels = serde_json::Map::new();
        labels.insert("alertname".into(), json!("TestAlert"));
        for _ in 0..(2 + rng.next() % 4) {
            let v = rng.pick(VALUES);
            // Alertmanager drops empty labels; so does the comparison.
            if !v.is_empty() && !v.contains('\0') {
                labels.insert(rng.pick(NAMES).to_string(), json!(v));
            }
        }
        let args: Vec<String> = labels
            .iter()
            .map(|(k, v)| label_arg(k, v.as_str().unwrap()))
            .collect();
        let out = Command::new(&amtool)
            .args(["config", "routes", "test", "--config.file"])
            .arg(&am_file)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "amtool: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let am_routes: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .trim()
            .split(',')
            .map(str::to_string)
            .collect();

        let payload = json!({
            "receiver": "alertrouter", "status": "firing", "version": "4",
            "groupKey": "{}:{}", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
            "alerts": [{"status": "firing", "labels": labels, "annotations": {},
                "startsAt": "2026-11-25T19:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": ""}],
        });
        std::fs::write(&payload_file, payload.to_string()).unwrap();
        let out = Command::new(BIN)
            .args(["simulate", "--config"])
            .arg(&config)
            .arg("--payload")
            .arg(&payload_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "simulate: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ar_routes: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                l.strip_prefix("incident on route \"")?
                    .strip_suffix('"')
                    .map(str::to_string)
            })
            .map(|r| {
                if r == "root" {
                    "default".to_string()
                } else {
                    r
                }
            })
            .collect();
        if am_routes != ar_routes {
            differences.push(format!(
                "{labels:?}: amtool {am_routes:?}, alertrouter {ar_routes:?}"
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
