//! End to end with a real Alertmanager (Debian's `prometheus-alertmanager`) posting to us.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use alertrouter::clock::{ManualClock, SystemClock};
use chrono::Utc;
use serde_json::json;

use crate::support::{TOKEN, TestDb, TestServer, settings, t0};

/// The Alertmanager binary, or why the test cannot run.
fn alertmanager_binary() -> Result<String, String> {
    if let Ok(path) = std::env::var("ALERTMANAGER_BIN") {
        return Ok(path);
    }
    for name in ["prometheus-alertmanager", "alertmanager"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if let Some(path) = found {
            return Ok(path);
        }
    }
    Err("no Alertmanager: apt-get install prometheus-alertmanager, or set ALERTMANAGER_BIN".into())
}

struct Alertmanager {
    child: Child,
    api: String,
    dir: std::path::PathBuf,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_alertmanager(binary: &str, webhook_url: &str) -> Alertmanager {
    let dir =
        std::env::temp_dir().join(format!("alertrouter-am-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    let config = format!(
        r#"route:
  receiver: alertrouter
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: alertrouter
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: {token}
"#,
        token = dir.join("token").display()
    );
    std::fs::write(dir.join("alertmanager.yml"), config).unwrap();
    let port = free_port();
    let child = Command::new(binary)
        .arg(format!(
            "--config.file={}",
            dir.join("alertmanager.yml").display()
        ))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start alertmanager");
    let api = format!("http://127.0.0.1:{port}");
    let am = Alertmanager { child, api, dir };
    // An external process: poll its readiness endpoint, bounded.
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let ready = client.get(format!("{}/-/ready", am.api)).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return am;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("alertmanager did not become ready at {}", am.api);
}

#[tokio::test]
async fn alerts_through_a_real_alertmanager_become_an_incident_and_resolve_it() {
    let binary = match alertmanager_binary() {
        Ok(b) => b,
        Err(why) if std::env::var_os("CI").is_some() => panic!("CI needs Alertmanager: {why}"),
        Err(why) => {
            eprintln!("SKIPPED alerts_through_a_real_alertmanager: {why}");
            return;
        }
    };
    let db = TestDb::new().await;
    let manual = Arc::new(ManualClock::new(t0()));
    let server =
        TestServer::start_with_clock(settings(&db.url), Arc::new(SystemClock), manual).await;
    let changes = server.app.ingestor.subscribe();
    let am = start_alertmanager(&binary, &format!("{}/hooks/alertmanager", server.base)).await;

    let starts = Utc::now() - chrono::TimeDelta::minutes(1);
    let alerts = |ends: Option<chrono::DateTime<Utc>>| {
        json!(["1", "2"].iter().map(|i| {
            let mut a = json!({
                "labels": {"alertname": "E2EDown", "service": "checkout", "instance": format!("checkout-{i}"), "severity": "critical"},
                "annotations": {"summary": "checkout is down"},
                "startsAt": starts.to_rfc3339(),
                "generatorURL": "http://prometheus:9090/graph",
            });
            if let Some(e) = ends { a["endsAt"] = json!(e.to_rfc3339()); }
            a
        }).collect::<Vec<_>>())
    };
    let client = reqwest::Client::new();
    let push = |body: serde_json::Value| {
        let client = client.clone();
        let url = format!("{}/api/v2/alerts", am.api);
        async move {
            let r = client.post(url).json(&body).send().await.unwrap();
            assert!(
                r.status().is_success(),
                "alertmanager refused alerts: {}",
                r.status()
            );
        }
    };

    push(alerts(None)).await;
    // Alertmanager flushes after group_wait; wait for our commit, not for a clock.
    let wait_for = |count: i64| {
        let db = &db;
        let mut changes = changes.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    if db.count("incident_events").await >= count {
                        return;
                    }
                    changes.changed().await.unwrap();
                }
            })
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {count} events"));
        }
    };
    wait_for(3).await;
    let (group_key, status, severity, alerts_n): (String, String, String, i64) = sqlx::query_as(
        "select i.group_key, i.status, i.severity, (select count(*) from alerts a where a.incident_id = i.id)
         from incidents i",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(group_key, r#"{}:{alertname="E2EDown", service="checkout"}"#);
    assert_eq!(
        (status.as_str(), severity.as_str(), alerts_n),
        ("open", "critical", 2)
    );
    let kinds: Vec<String> = sqlx::query_scalar("select kind from incident_events order by id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(kinds, ["opened", "alert_fired", "alert_fired"]);

    // Resolve both through Alertmanager: it sends the resolved notification, we resolve.
    push(alerts(Some(Utc::now() - chrono::TimeDelta::seconds(1)))).await;
    wait_for(6).await;
    let kinds: Vec<String> = sqlx::query_scalar("select kind from incident_events order by id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(kinds[3..], ["alert_resolved", "alert_resolved", "resolved"]);
    assert_eq!(
        db.incidents().await,
        vec![(1, "resolved".into(), "critical".into())]
    );
    drop(am);
}
