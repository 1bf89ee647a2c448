//! The soak: two replicas under a realistic mixed load for a long while — new groups, their
//! resolutions, exact re-sends, escalations to a second step, deliveries, API reads and
//! acknowledgements — with each replica's RSS and open file descriptors, Postgres' connections
//! and the tables' sizes sampled every minute, printed as a table and drawn as an SVG chart.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use plotters::prelude::*;

use crate::load::body;
use crate::stage::{Ctx, Stage};

const TABLES: [&str; 5] = [
    "incidents",
    "alerts",
    "incident_events",
    "outbox",
    "audit_log",
];
const SECRET: &str = "soak-api-secret-soak-api-secret-0123456789";

/// One minute's reading.
struct Sample {
    minute: f64,
    rss_mib: Vec<f64>,
    fds: Vec<f64>,
    connections: f64,
    /// MiB per table, in `TABLES` order.
    tables: Vec<f64>,
}

pub async fn soak(ctx: &Ctx, minutes: u64, svg: &Path) -> anyhow::Result<()> {
    let extra = format!(
        "api:\n  retention: 5m\n  jwt: {{hs256_secret: \"{SECRET}\"}}\n  \
         rate_limits: {{per_client: 1000000/1m, per_subject: 1000000/1m}}\n"
    );
    let stage = Stage::with(ctx, "soak", 2, &[0, 60], &extra).await?;
    let stop = Instant::now() + Duration::from_secs(minutes * 60);
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(Failures::default());
    let http = reqwest::Client::new();
    let bases: Vec<String> = stage.replicas.iter().map(|r| r.base.clone()).collect();
    let webhooks = tokio::spawn(webhook_mix(
        http.clone(),
        bases.clone(),
        stage.token.clone(),
        stop,
        sent.clone(),
        failed.clone(),
    ));
    let api = tokio::spawn(api_mix(http.clone(), bases, stop, failed.clone()));
    let pool = sqlx::PgPool::connect(&stage.url).await?;
    let started = Instant::now();
    let mut samples = Vec::new();
    println!(
        "| minute | RSS MiB (each replica) | open fds | Postgres connections | MiB: {} |",
        TABLES.join(", ")
    );
    println!("|---|---|---|---|---|");
    loop {
        let sample = sample(&stage, &pool, started.elapsed().as_secs_f64() / 60.0).await?;
        println!(
            "| {:.0} | {} | {} | {} | {} |",
            sample.minute,
            join(&sample.rss_mib),
            join(&sample.fds),
            sample.connections,
            join(&sample.tables)
        );
        samples.push(sample);
        if Instant::now() >= stop {
            break;
        }
        tokio::time::sleep(Duration::from_secs(60).min(stop - Instant::now())).await;
    }
    webhooks.await?;
    api.await?;
    eprintln!(
        "soak: {} webhooks sent; not answered 2xx (webhooks and API calls): {:?}",
        sent.load(Ordering::Relaxed),
        failed.0.lock().unwrap()
    );
    draw(&samples, svg)?;
    Ok(())
}

/// Answers that were not 2xx, by request kind and status ("network" for none).
#[derive(Default)]
struct Failures(std::sync::Mutex<std::collections::BTreeMap<String, u64>>);

impl Failures {
    /// Counts `answer` unless it is a 2xx (or, with `conflict_ok`, a 409); whether it was.
    fn note(
        &self,
        kind: &str,
        answer: &reqwest::Result<reqwest::Response>,
        conflict_ok: bool,
    ) -> bool {
        let status = match answer {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) if conflict_ok && r.status().as_u16() == 409 => return true,
            Ok(r) => r.status().as_u16().to_string(),
            Err(_) => "network".into(),
        };
        *self
            .0
            .lock()
            .unwrap()
            .entry(format!("{kind} {status}"))
            .or_default() += 1;
        false
    }
}

fn join(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|v| format!("{v:.1}")).collect();
    parts.join(" / ")
}

async fn sample(stage: &Stage, pool: &sqlx::PgPool, minute: f64) -> anyhow::Result<Sample> {
    let mut rss_mib = Vec::new();
    let mut fds = Vec::new();
    for r in &stage.replicas {
        let pid = r.pid().unwrap_or(0);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss_kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        rss_mib.push(rss_kib / 1024.0);
        let open = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
        fds.push(open as f64);
    }
    let connections: i64 = sqlx::query_scalar(
        "select count(*) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()",
    )
    .fetch_one(pool)
    .await?;
    let mut tables = Vec::new();
    for t in TABLES {
        let bytes: i64 = sqlx::query_scalar("select pg_total_relation_size($1::regclass)")
            .bind(t)
            .fetch_one(pool)
            .await?;
        tables.push(bytes as f64 / 1048576.0);
    }
    Ok(Sample {
        minute,
        rss_mib,
        fds,
        connections: connections as f64,
        tables,
    })
}

/// 40 new groups a second, each resolved two minutes later, and 40 exact re-sends a second of
/// groups still firing: 120 webhooks a second, alternating between the replicas.
async fn webhook_mix(
    http: reqwest::Client,
    bases: Vec<String>,
    token: String,
    stop: Instant,
    sent: Arc<AtomicU64>,
    failed: Arc<Failures>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    let mut n: u64 = 0;
    let mut fired: Vec<String> = Vec::new();
    while Instant::now() < stop {
        tick.tick().await;
        let new = body(n, 20);
        fired.push(new.clone());
        let mut bodies = vec![new];
        if fired.len() > 4800 {
            let old = fired.remove(0);
            bodies.push(
                old.replace("\"status\":\"firing\"", "\"status\":\"resolved\"")
                    .replace(
                        "\"endsAt\":\"0001-01-01T00:00:00Z\"",
                        &format!("\"endsAt\":\"{}\"", chrono::Utc::now().to_rfc3339()),
                    ),
            );
        }
        bodies.push(fired[(n as usize * 7919) % fired.len()].clone());
        for (i, b) in bodies.into_iter().enumerate() {
            let (http, url, token) = (
                http.clone(),
                format!(
                    "{}/hooks/alertmanager",
                    bases[(n as usize + i) % bases.len()]
                ),
                token.clone(),
            );
            let (sent, failed) = (sent.clone(), failed.clone());
            tokio::spawn(async move {
                let answer = http
                    .post(url)
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(b)
                    .send()
                    .await;
                sent.fetch_add(1, Ordering::Relaxed);
                failed.note("webhook", &answer, false);
            });
        }
        n += 1;
    }
}

/// Every second: a list of open incidents and one incident's detail, and an acknowledgement of
/// the oldest open one.
async fn api_mix(http: reqwest::Client, bases: Vec<String>, stop: Instant, failed: Arc<Failures>) {
    let now = chrono::Utc::now().timestamp();
    let claims = alertrouter::http::api::auth::Claims {
        sub: "soak".into(),
        role: "sre".into(),
        services: Vec::new(),
        exp: now + 3500,
        iat: Some(now),
        nbf: None,
        iss: None,
        aud: None,
    };
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token");
    let mut k = 0usize;
    while Instant::now() < stop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let base = &bases[k % bases.len()];
        k += 1;
        let list = http
            .get(format!("{base}/api/v1/incidents?status=open&limit=20"))
            .bearer_auth(&token)
            .send()
            .await;
        if !failed.note("list", &list, false) {
            continue;
        }
        let Ok(list) = list else { continue };
        let list: serde_json::Value = list.json().await.unwrap_or_default();
        let Some(id) = list["incidents"][0]["id"].as_str().map(String::from) else {
            continue;
        };
        for request in [
            http.get(format!("{base}/api/v1/incidents/{id}")),
            http.post(format!("{base}/api/v1/incidents/{id}/actions"))
                .json(&serde_json::json!({"action": "ack"})),
        ] {
            let answer = request.bearer_auth(&token).send().await;
            failed.note("detail or ack", &answer, true);
        }
    }
}

/// Named lines of a chart: one value per sample.
type Lines = Vec<(String, Vec<f64>)>;

/// Four small charts, one per measure, over the minutes.
fn draw(samples: &[Sample], path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (960, 720)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((2, 2));
    let minutes = samples.last().map_or(1.0, |s| s.minute.max(1.0));
    let series: [(&str, Lines); 4] = [
        ("RSS (MiB)", per_replica(samples, |s| &s.rss_mib)),
        ("open file descriptors", per_replica(samples, |s| &s.fds)),
        (
            "Postgres connections",
            vec![(
                "all".into(),
                samples.iter().map(|s| s.connections).collect(),
            )],
        ),
        (
            "table + index size (MiB)",
            TABLES
                .iter()
                .enumerate()
                .map(|(i, t)| (t.to_string(), samples.iter().map(|s| s.tables[i]).collect()))
                .collect(),
        ),
    ];
    for (panel, (title, lines)) in panels.iter().zip(series) {
        let top = lines
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(1.0, f64::max)
            * 1.15;
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..minutes, 0.0..top)?;
        chart.configure_mesh().x_desc("minute").draw()?;
        for (i, (name, values)) in lines.into_iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> = samples.iter().map(|s| s.minute).zip(values).collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

fn per_replica(samples: &[Sample], pick: impl Fn(&Sample) -> &Vec<f64>) -> Lines {
    let replicas = samples.first().map_or(0, |s| pick(s).len());
    (0..replicas)
        .map(|r| {
            (
                format!("replica {}", r + 1),
                samples.iter().map(|s| pick(s)[r]).collect(),
            )
        })
        .collect()
}
