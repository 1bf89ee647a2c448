//! The monthly report over the seeded month: its figures agree with the statistics and the
//! seed, in Markdown in both languages, and as HTML that headless Chromium shows with its charts.

use serde_json::Value;

use crate::statistics::{Seeded, seed_set, write};
use crate::support::{TestDb, TestServer, settings, token};

async fn text(server: &TestServer, token: &str, path: &str) -> (u16, String, String) {
    let response = server
        .http
        .get(format!("{}{path}", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (
        response.status().as_u16(),
        kind,
        response.text().await.unwrap(),
    )
}

fn missed(set: &[Seeded]) -> usize {
    set.iter()
        .filter(|s| {
            s.target
                .is_some_and(|t| s.tta.or(s.ttr).is_none_or(|r| r > t))
        })
        .count()
}

#[tokio::test]
async fn the_monthly_report_adds_up_and_opens_in_chromium_with_its_charts() {
    let db = TestDb::new().await;
    let set = seed_set();
    write(&db, &set).await;
    let server = TestServer::start(settings(&db.url)).await;
    let viewer = token(&server, "val", "viewer", &[]);

    let (status, kind, json) = text(
        &server,
        &viewer,
        "/api/v1/reports/monthly?month=2026-11&format=json",
    )
    .await;
    assert_eq!((status, kind.as_str()), (200, "application/json"), "{json}");
    let m: Value = serde_json::from_str(&json).unwrap();
    let (_, stats) = server
        .api(
            "GET",
            "/api/v1/stats?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z",
            &viewer,
            None,
        )
        .await;
    assert_eq!(
        m["totals"], stats["period"]["totals"],
        "the same figures as the statistics"
    );
    assert_eq!(m["totals"]["incidents"], 1_200);
    assert_eq!(m["missed_total"], missed(&set) as i64);
    assert_eq!(m["missed"].as_array().unwrap().len(), 50);
    let days = m["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    let per_day: i64 = days
        .iter()
        .map(|d| {
            d["critical"].as_i64().unwrap()
                + d["warning"].as_i64().unwrap()
                + d["info"].as_i64().unwrap()
        })
        .sum();
    assert_eq!(per_day, 1_200);
    let severities: Vec<&str> = m["by_severity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(severities, ["critical", "info", "warning"]);
    // 2026-11-01 is a Sunday: its week starts in October.
    let weeks: Vec<&str> = m["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["start"].as_str().unwrap())
        .collect();
    assert_eq!(
        weeks,
        [
            "2026-10-26",
            "2026-11-02",
            "2026-11-09",
            "2026-11-16",
            "2026-11-23",
            "2026-11-30"
        ]
    );
    let incidents: i64 = m["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["incidents"].as_i64().unwrap())
        .sum();
    assert_eq!(incidents, 1_200);

    let (status, kind, en) = text(&server, &viewer, "/api/v1/reports/monthly?month=2026-11").await;
    assert_eq!(
        (status, kind.as_str()),
        (200, "text/markdown; charset=utf-8")
    );
    for line in [
        "# Monthly incident report - November 2026",
        "## The paging path",
        "## Week over week",
        "## Noisiest alerts",
        "| HighErrorRate |",
        "## Missed response targets",
    ] {
        assert!(en.contains(line), "{line} missing:\n{en}");
    }
    assert!(
        en.contains(&format!(
            "{} incidents missed their response target (the first 50 listed)",
            missed(&set)
        )),
        "{en}"
    );
    let (_, _, zh) = text(
        &server,
        &viewer,
        "/api/v1/reports/monthly?month=2026-11&locale=zh-CN",
    )
    .await;
    for line in [
        "# 月度事故报告 - 2026年11月",
        "## 告警通道可用性",
        "## 周环比",
        "## 未达成响应目标的事故",
    ] {
        assert!(zh.contains(line), "{line} missing:\n{zh}");
    }
    for bad in [
        "month=2026-13",
        "month=2026-11&format=pdf",
        "month=2026-11&locale=fr",
    ] {
        let (status, _, body) =
            text(&server, &viewer, &format!("/api/v1/reports/monthly?{bad}")).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }

    let (status, kind, html) = text(
        &server,
        &viewer,
        "/api/v1/reports/monthly?month=2026-11&format=html",
    )
    .await;
    assert_eq!((status, kind.as_str()), (200, "text/html; charset=utf-8"));
    let dir = std::env::temp_dir().join(format!(
        "alertrouter-monthly-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (page, shot) = (dir.join("monthly.html"), dir.join("monthly.png"));
    std::fs::write(&page, &html).unwrap();
    let seen = chromium(&page, &shot);
    assert_eq!(
        seen["errors"],
        serde_json::json!([]),
        "nothing fetched, no errors: {seen}"
    );
    assert_eq!(seen["h1"], "Monthly incident report - November 2026");
    assert_eq!(seen["svgs"], 2, "{seen}");
    // One bar segment per day and severity that had incidents, besides the legend and background.
    let segments = days
        .iter()
        .flat_map(|d| ["critical", "warning", "info"].map(|s| d[s].as_i64().unwrap()))
        .filter(|n| *n > 0)
        .count() as u64;
    assert!(seen["bars"].as_u64().unwrap() >= segments, "{seen}");
    assert!(
        seen["lines"].as_u64().unwrap() >= 2,
        "MTTA and MTTR: {seen}"
    );
    for (w, h) in seen["boxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b[0].as_f64().unwrap(), b[1].as_f64().unwrap()))
    {
        assert!(
            w > 300.0 && h > 100.0,
            "a chart is drawn at a readable size: {seen}"
        );
    }
    let texts = seen["texts"].to_string();
    assert!(
        texts.contains("Incidents per day by severity") && texts.contains("MTTR"),
        "{texts}"
    );
    assert_eq!(
        (seen["tables"].as_u64(), seen["scripts"].as_u64()),
        (Some(5), Some(0)),
        "{seen}"
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 20_000,
        "a screenshot at {}",
        shot.display()
    );
    if std::env::var_os("KEEP_SCREENSHOT").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    } else {
        eprintln!("screenshot: {}", shot.display());
    }
}

/// What Chromium shows of `page` (see tests/browser/open.mjs), with a screenshot at `shot`.
fn chromium(page: &std::path::Path, shot: &std::path::Path) -> Value {
    let root = env!("CARGO_MANIFEST_DIR");
    assert!(
        std::path::Path::new(&format!(
            "{root}/tests/browser/node_modules/playwright-core"
        ))
        .exists(),
        "playwright-core is not installed: npm ci --prefix tests/browser (scripts/test.sh does it)"
    );
    let out = std::process::Command::new("node")
        .arg(format!("{root}/tests/browser/open.mjs"))
        .arg(page)
        .arg(shot)
        .output()
        .expect("node runs (Debian's nodejs)");
    assert!(
        out.status.success(),
        "chromium (Debian's `chromium` package) did not open the page: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
