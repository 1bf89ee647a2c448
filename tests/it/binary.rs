//! The `alertrouter` binary as operators run it: logs, secrets, signals and its CLI.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{TestDb, alert, webhook};

const BIN: &str = env!("CARGO_BIN_EXE_alertrouter");
const TOKEN: &str = "binary-test-token-7f3a";

fn temp_dir() -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("alertrouter-bin-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The shipped config as a fresh clone has it, in a directory of its own: the secrets
/// scripts/run.sh generates are not there (simulate, oncall and report need none).
pub fn shipped_config() -> std::path::PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let clone = temp_dir();
    std::fs::copy(
        format!("{root}/alertrouter.yaml"),
        clone.join("alertrouter.yaml"),
    )
    .unwrap();
    for dir in ["routes", "policies"] {
        std::fs::create_dir_all(clone.join(dir)).unwrap();
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), clone.join(dir).join(entry.file_name())).unwrap();
        }
    }
    clone.join("alertrouter.yaml")
}

fn with_password(url: &str) -> String {
    url.replacen(
        "postgres://postgres@",
        "postgres://postgres:db-pass-9c1@",
        1,
    )
}

#[tokio::test]
async fn serve_logs_json_without_secrets_and_exits_0_on_sigterm() {
    let db = TestDb::new().await;
    let dir = temp_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(
        dir.join("alertrouter.yaml"),
        format!(
            "listen: 127.0.0.1:{port}\ndatabase: {{url: \"{}\"}}\nintegrations: [{{name: am, bearer_token_file: token}}]\n",
            with_password(&db.url)
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(dir.join("alertrouter.yaml"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    // An external process: poll until it answers, bounded.
    let mut up = false;
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "alertrouter did not start");
    let post = |token: &'static str| {
        http.post(format!("{base}/hooks/alertmanager"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(webhook(vec![alert(
                "web-1",
                "critical",
                "firing",
                "2026-11-25T18:50:00Z",
                None,
            )]))
            .send()
    };
    assert_eq!(post(TOKEN).await.unwrap().status(), 200);
    assert_eq!(post("guessed-wrong-token").await.unwrap().status(), 401);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    for secret in [TOKEN, "guessed-wrong-token", "db-pass-9c1"] {
        assert!(
            !out.contains(secret),
            "{secret} leaked into the logs:\n{out}"
        );
    }
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{out}"
    );
    assert!(out.contains("alertrouter stopped"), "{out}");
    assert!(out.contains("request_id"), "{out}");
    assert_eq!(db.count("incidents").await, 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_config_names_file_key_and_reason() {
    let dir = temp_dir();
    let path = dir.join("bad.yaml");
    std::fs::write(
        &path,
        "database: {url: 'postgres://h/d'}\nintegrations: [{name: am, bearer_token: x}]\ningest:\n  reopen_window: soon\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.yaml: ingest.reopen_window: \"soon\" is not a duration"),
        "{stderr}"
    );

    std::fs::write(&path, "database: {url: 'postgres://u:hunter2@h/d'}\nintegrations: [{name: am, bearer_token: x}]\n").unwrap();
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.starts_with("config OK: ") && !stdout.contains("hunter2"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn token_issue_mints_a_token_the_api_accepts_and_refuses_a_long_ttl() {
    let dir = temp_dir();
    let path = dir.join("alertrouter.yaml");
    std::fs::write(
        &path,
        "database: {url: 'postgres://h/d'}\nintegrations: [{name: am, bearer_token: x}]\napi:\n  jwt: {hs256_secret: s3cret-for-tokens-0123456789abcdef, max_lifetime: 2h}\n",
    )
    .unwrap();
    let issue = |extra: &[&str]| {
        Command::new(BIN)
            .args(["token", "issue", "--config"])
            .arg(&path)
            .args([
                "--sub",
                "deploy-bot",
                "--role",
                "sre",
                "--services",
                "web,db",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = issue(&["--ttl", "90m"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let settings = alertrouter::config::Settings::load(Some(&path), &|_| None).unwrap();
    let caller = alertrouter::http::api::auth::verify(
        &settings.api.jwt,
        &[],
        &token,
        chrono::Utc::now().timestamp(),
    )
    .unwrap();
    assert_eq!(caller.sub, "deploy-bot");
    assert_eq!(caller.role, alertrouter::http::api::auth::Role::Sre);
    assert_eq!(caller.services, ["web", "db"]);
    let out = issue(&["--ttl", "3h"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("longer than api.jwt.max_lifetime"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_migrating_together_apply_each_migration_once() {
    // An empty database (not the migrated template).
    let (_, url) = crate::support::db::empty_database().await;
    let mut pools = Vec::new();
    for _ in 0..4 {
        pools.push(sqlx::PgPool::connect(&url).await.unwrap());
    }
    let tasks: Vec<_> = pools
        .iter()
        .cloned()
        .map(|pool| tokio::spawn(async move { alertrouter::store::migrate(&pool).await }))
        .collect();
    for task in tasks {
        task.await
            .unwrap()
            .expect("every replica's migrate succeeds");
    }
    let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations")
        .fetch_one(&pools[0])
        .await
        .unwrap();
    assert_eq!(
        applied as usize,
        alertrouter::store::MIGRATOR.iter().count()
    );
    alertrouter::store::ready(&pools[0]).await.unwrap();
}

#[test]
fn simulate_prints_the_route_and_the_whole_paging_plan_of_the_shipped_policies() {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = shipped_config();
    let exec = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&config)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    };
    let run = |args: &[&str]| {
        let out = exec(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // check-config names each missing secret file as a warning; --strict refuses it.
    let checked = exec(&["check-config"]);
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: ")
            && stderr.contains("bearer_token_file")
            && stderr.contains(".data/alertmanager-token does not exist"),
        "{stderr}"
    );
    let strict = exec(&["check-config", "--strict"]);
    assert!(!strict.status.success());
    assert!(
        String::from_utf8_lossy(&strict.stderr)
            .contains("integrations[0].bearer_token_file: cannot read"),
        "{}",
        String::from_utf8_lossy(&strict.stderr)
    );
    let fixture = format!("{root}/tests/fixtures/02_firing_HighErrorRate_web_critical.json");
    let plan = run(&[
        "simulate",
        "--payload",
        &fixture,
        "--at",
        "2026-11-25T19:00:00Z",
    ]);
    for line in [
        "incident on route \"critical\"",
        "key:         {}:{alertname=\"HighErrorRate\", service=\"web\"}",
        "+0s  2026-11-25T19:00:00+00:00  loop 1 step 1  user alice by slack + sms + pagerduty  (schedule:sre-primary)",
        "response target: 5m, missed at 2026-11-25T19:05:00+00:00 if nobody acknowledges",
        "+5m  2026-11-25T19:05:00+00:00  loop 1 step 2  user alice by slack + sms + pagerduty  (schedule:sre-primary)\n",
        "+15m  2026-11-25T19:15:00+00:00  loop 1 step 3  user carol by slack + sms + pagerduty  (user:carol)",
    ] {
        assert!(plan.contains(line), "missing {line:?} in\n{plan}");
    }
    // A week later the other SRE is on call, handing over Monday 09:00 Berlin time.
    let now = run(&["oncall", "--at", "2026-11-25T19:00:00Z"]);
    assert_eq!(
        now,
        "sre-primary: alice (until 2026-11-30T08:00:00+00:00, Europe/Berlin)\n"
    );
    let later = run(&[
        "oncall",
        "--schedule",
        "sre-primary",
        "--at",
        "2026-11-30T08:00:00Z",
    ]);
    assert!(later.starts_with("sre-primary: bob"), "{later}");
}

/// Lines of a child's stdout, as they come.
fn line_reader(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for_line(lines: &std::sync::mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("no log line containing {needle:?}");
}

#[tokio::test]
async fn sighup_and_the_admin_api_reload_routes_policies_and_credentials_and_refuse_a_broken_config()
 {
    let db = TestDb::new().await;
    let dir = temp_dir();
    std::fs::create_dir_all(dir.join("routes")).unwrap();
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    let policies = |name: &str| {
        format!(
            "users: [{{name: u}}]\nescalation_policies:\n  - name: {name}\n    steps: [{{delay: 0s, targets: [user:u]}}]\n"
        )
    };
    std::fs::write(dir.join("policies/p.yaml"), policies("first")).unwrap();
    std::fs::write(dir.join("routes/r.yaml"), "route:\n  policy: first\n").unwrap();
    std::fs::write(dir.join("token"), "old-token\n").unwrap();
    let (old_key, new_key) = (
        "jwt-old-secret-0123456789abcdef0123",
        "jwt-new-secret-0123456789abcdef0123",
    );
    std::fs::write(dir.join("jwt"), old_key).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.join("alertrouter.yaml"),
        format!(
            "listen: 127.0.0.1:{port}\ndatabase: {{url: \"{}\"}}\nintegrations: [{{name: am, bearer_token_file: token}}]\napi: {{jwt: {{hs256_secret_file: jwt}}}}\n",
            db.url
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--role", "api", "--config"])
        .arg(dir.join("alertrouter.yaml"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = line_reader(child.stdout.take().unwrap());
    wait_for_line(&lines, "alertrouter listening");
    let http = reqwest::Client::new();
    let post = |token: &'static str, instance: &'static str| {
        let mut body: serde_json::Value = serde_json::from_str(&webhook(vec![alert(
            instance,
            "critical",
            "firing",
            "2026-11-25T18:50:00Z",
            None,
        )]))
        .unwrap();
        body["groupKey"] = serde_json::json!(instance);
        http.post(format!("http://127.0.0.1:{port}/hooks/alertmanager"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let policy_of = |instance: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "select policy from incidents where group_key = $1",
            )
            .bind(instance)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let hup = |pid: u32| {
        assert!(
            Command::new("kill")
                .args(["-HUP", &pid.to_string()])
                .status()
                .unwrap()
                .success()
        )
    };

    assert_eq!(post("old-token", "a").await.unwrap().status(), 200);
    assert_eq!(policy_of("a").await.as_deref(), Some("first"));

    // A valid change: new policy, new route target, rotated credential.
    std::fs::write(dir.join("policies/p.yaml"), policies("second")).unwrap();
    std::fs::write(dir.join("routes/r.yaml"), "route:\n  policy: second\n").unwrap();
    std::fs::write(dir.join("token"), "new-token\n").unwrap();
    hup(child.id());
    wait_for_line(&lines, "config reloaded");
    assert_eq!(post("old-token", "b").await.unwrap().status(), 401);
    assert_eq!(post("new-token", "b").await.unwrap().status(), 200);
    assert_eq!(policy_of("b").await.as_deref(), Some("second"));
    assert_eq!(
        policy_of("a").await.as_deref(),
        Some("first"),
        "an open incident keeps its policy"
    );

    // A broken change is refused, naming the file and line; the running config stays.
    std::fs::write(dir.join("routes/r.yaml"), "route:\n  policy: third\n").unwrap();
    hup(child.id());
    let refused = wait_for_line(&lines, "config reload refused");
    assert!(
        refused.contains("r.yaml:2") && refused.contains("unknown escalation policy"),
        "{refused}"
    );
    assert_eq!(post("new-token", "c").await.unwrap().status(), 200);
    assert_eq!(policy_of("c").await.as_deref(), Some("second"));

    // The same by the admin API, answered with the outcome: the JWT key rotates.
    let minted = |key: &str| {
        crate::support::server::mint(key, "root", "admin", &[], chrono::Utc::now().timestamp())
    };
    let reload = |token: String| {
        http.post(format!("http://127.0.0.1:{port}/api/v1/admin/reload"))
            .bearer_auth(token)
            .send()
    };
    let incidents = |token: String| {
        http.get(format!("http://127.0.0.1:{port}/api/v1/incidents"))
            .bearer_auth(token)
            .send()
    };
    let answer = reload(minted(old_key)).await.unwrap();
    assert_eq!(answer.status(), 422, "the broken route is still there");
    let why: serde_json::Value = answer.json().await.unwrap();
    assert!(
        why["detail"].as_str().unwrap().contains("r.yaml:2"),
        "{why}"
    );
    std::fs::write(dir.join("routes/r.yaml"), "route:\n  policy: second\n").unwrap();
    std::fs::write(dir.join("jwt"), new_key).unwrap();
    let answer = reload(minted(old_key)).await.unwrap();
    assert_eq!(answer.status(), 200);
    let done: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(done["needs_restart"], serde_json::json!([]), "{done}");
    assert_eq!(incidents(minted(old_key)).await.unwrap().status(), 401);
    assert_eq!(incidents(minted(new_key)).await.unwrap().status(), 200);

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let _ = std::fs::remove_dir_all(dir);
}
