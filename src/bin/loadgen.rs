//! Load generator for the Alertmanager webhook: posts realistic v4 webhooks over N keep-alive
//! connections for a fixed time, retries 5xx and network errors the way Alertmanager does, and
//! prints throughput and latency percentiles (one JSON line with `--json`).
//!
//! Scenarios:
//! - `new`:    every webhook opens a new group (`--alerts` firing alerts each).
//! - `replay`: `--groups` groups are sent once (not measured), then re-sent unchanged.
//! - `mix`:    over `--groups` groups: new firing alerts, resolutions and replays
//!   (`--resolved-ratio`, `--replay-ratio`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    New,
    Replay,
    Mix,
}

#[derive(Parser, Debug, Clone)]
#[command(about = "Posts Alertmanager webhooks to alertrouter and measures it")]
struct Args {
    /// The webhook URL (http only).
    #[arg(long, default_value = "http://127.0.0.1:9095/hooks/alertmanager")]
    url: String,
    /// Bearer token, or `@FILE` to read it from a file; empty: no `Authorization` header.
    #[arg(long, default_value = "@.data/alertmanager-token")]
    token: String,
    #[arg(long, value_enum, default_value = "new")]
    scenario: Scenario,
    /// Alerts per webhook.
    #[arg(long, default_value_t = 1)]
    alerts: usize,
    /// Distinct groups (replay and mix).
    #[arg(long, default_value_t = 1000)]
    groups: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Stop after this many webhooks in all (0: no limit, stop at --duration).
    #[arg(long, default_value_t = 0)]
    count: u64,
    /// Measured duration, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Share of mix messages that resolve an alert.
    #[arg(long, default_value_t = 0.2)]
    resolved_ratio: f64,
    /// Share of mix messages that are exact re-sends.
    #[arg(long, default_value_t = 0.5)]
    replay_ratio: f64,
    /// A label of this run, so repeated runs do not collide with earlier groups.
    #[arg(long, default_value_t = std::process::id().to_string())]
    run_id: String,
    /// Print one JSON line instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    alertrouter::config::parse_duration(s)
}

/// Alertmanager's retry delays within one flush (observed: +0, 0.7, 1.5, 2.4, 4.4, 6.6, 9.6 s).
const RETRY_DELAYS_MS: [u64; 6] = [700, 800, 900, 2000, 2200, 3000];

#[derive(Default)]
struct Totals {
    sent: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    alerts: AtomicU64,
}

fn alert_json(group: &str, instance: usize, status: &str, starts: &str, ends: &str) -> String {
    format!(
        r#"{{"status":"{status}","labels":{{"alertname":"LoadTest","group":"{group}","instance":"i-{instance}","job":"api","service":"api","severity":"critical"}},"annotations":{{"summary":"load test alert {instance} of {group}","runbook_url":"https://runbooks.example/load"}},"startsAt":"{starts}","endsAt":"{ends}","generatorURL":"http://prometheus:9090/graph?g0.expr=up"}}"#
    )
}

const ZERO: &str = "0001-01-01T00:00:00Z";

fn webhook_json(group: &str, alerts: &[String], firing: bool) -> String {
    format!(
        r#"{{"receiver":"alertrouter","status":"{}","alerts":[{}],"groupLabels":{{"alertname":"LoadTest","group":"{group}"}},"commonLabels":{{"alertname":"LoadTest"}},"commonAnnotations":{{}},"externalURL":"http://alertmanager:9093","version":"4","groupKey":"{{}}:{{alertname=\"LoadTest\", group=\"{group}\"}}","truncatedAlerts":0}}"#,
        if firing { "firing" } else { "resolved" },
        alerts.join(",")
    )
}

/// The message a worker sends for its `n`th request.
fn message(args: &Args, worker: usize, n: u64, starts: &str) -> (String, usize) {
    match args.scenario {
        Scenario::New => {
            let group = format!("{}-{worker}-{n}", args.run_id);
            let alerts: Vec<String> = (0..args.alerts)
                .map(|i| alert_json(&group, i, "firing", starts, ZERO))
                .collect();
            (webhook_json(&group, &alerts, true), args.alerts)
        }
        Scenario::Replay => replay_message(args, (worker as u64 * 7919 + n) as usize, starts),
        Scenario::Mix => {
            let k = (worker as u64 * 7919 + n) as usize;
            let roll = (n.wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0;
            if roll < args.replay_ratio {
                return replay_message(args, k, starts);
            }
            // One alert of a mix group fires, or resolves.
            let firing = roll >= args.replay_ratio + args.resolved_ratio;
            let group = format!("{}-mix-{}", args.run_id, k % args.groups);
            let (status, ends) = if firing {
                ("firing", ZERO)
            } else {
                ("resolved", starts)
            };
            let alerts = vec![alert_json(
                &group,
                (n % 1000) as usize,
                status,
                starts,
                ends,
            )];
            (webhook_json(&group, &alerts, firing), 1)
        }
    }
}

fn replay_message(args: &Args, k: usize, starts: &str) -> (String, usize) {
    let group = format!("{}-replay-{}", args.run_id, k % args.groups);
    let alerts: Vec<String> = (0..args.alerts.max(1))
        .map(|i| alert_json(&group, i, "firing", starts, ZERO))
        .collect();
    (webhook_json(&group, &alerts, true), args.alerts.max(1))
}

struct Conn {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

async fn connect(addr: &str) -> std::io::Result<Conn> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Conn { sender })
}

/// Sends one webhook until it is answered non-5xx, as Alertmanager would. Returns whether it
/// ended 2xx.
async fn deliver(
    conn: &mut Option<Conn>,
    addr: &str,
    path: &str,
    auth: &str,
    body: Bytes,
    totals: &Totals,
) -> bool {
    for attempt in 0..=RETRY_DELAYS_MS.len() {
        if attempt > 0 {
            totals.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(RETRY_DELAYS_MS[attempt - 1])).await;
        }
        if conn.is_none() {
            match connect(addr).await {
                Ok(c) => *conn = Some(c),
                Err(_) => continue,
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let mut request = Request::post(path)
            .header("host", addr)
            .header("content-type", "application/json")
            .header("user-agent", "Alertmanager/0.25.0 (alertrouter loadgen)");
        if !auth.is_empty() {
            request = request.header("authorization", auth);
        }
        let request = request
            .body(Full::new(body.clone()))
            .expect("valid request");
        if c.sender.ready().await.is_err() {
            *conn = None;
            continue;
        }
        match c.sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                let _ = response.into_body().collect().await;
                if status.is_server_error() {
                    continue;
                }
                return status.is_success();
            }
            Err(_) => *conn = None,
        }
    }
    false
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let token = match args.token.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| format!("--token @{file}: {e}"))?
            .trim()
            .to_string(),
        None => args.token.clone(),
    };
    let auth: Arc<str> = if token.is_empty() {
        "".into()
    } else {
        format!("Bearer {token}").into()
    };
    let rest = args
        .url
        .strip_prefix("http://")
        .ok_or("--url must start with http://")?;
    let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (addr, path): (Arc<str>, Arc<str>) =
        (addr.into(), if path.is_empty() { "/" } else { path }.into());
    let starts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let args = Arc::new(args);
    let totals = Arc::new(Totals::default());

    if args.scenario == Scenario::Replay {
        // Warm-up: every group once, not measured, so what follows carries nothing new.
        let mut conn = None;
        for k in 0..args.groups {
            let (body, _) = replay_message(&args, k, &starts);
            if !deliver(
                &mut conn,
                &addr,
                &path,
                &auth,
                body.into(),
                &Totals::default(),
            )
            .await
            {
                return Err(format!("warm-up webhook {k} was refused"));
            }
        }
    }

    let deadline = Instant::now() + args.duration;
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..args.connections {
        let (args, totals, addr, path, auth, starts) = (
            args.clone(),
            totals.clone(),
            addr.clone(),
            path.clone(),
            auth.clone(),
            starts.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(1 << 16);
            let mut conn = None;
            let mut n = 0u64;
            while Instant::now() < deadline {
                if args.count > 0 && totals.sent.fetch_add(1, Ordering::Relaxed) >= args.count {
                    break;
                }
                let (body, alerts) = message(&args, worker, n, &starts);
                n += 1;
                let t = Instant::now();
                let ok = deliver(&mut conn, &addr, &path, &auth, body.into(), &totals).await;
                latencies.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                if ok {
                    totals.ok.fetch_add(1, Ordering::Relaxed);
                    totals.alerts.fetch_add(alerts as u64, Ordering::Relaxed);
                } else {
                    totals.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.map_err(|e| e.to_string())?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let ok = totals.ok.load(Ordering::Relaxed);
    let report = serde_json::json!({
        "scenario": format!("{:?}", args.scenario).to_lowercase(),
        "alerts_per_webhook": args.alerts,
        "connections": args.connections,
        "seconds": (elapsed * 100.0).round() / 100.0,
        "webhooks_ok": ok,
        "webhooks_failed": totals.failed.load(Ordering::Relaxed),
        "retries": totals.retries.load(Ordering::Relaxed),
        "webhooks_per_s": (ok as f64 / elapsed).round(),
        "alerts_per_s": (totals.alerts.load(Ordering::Relaxed) as f64 / elapsed).round(),
        "p50_ms": percentile(&latencies, 0.50),
        "p99_ms": percentile(&latencies, 0.99),
        "p999_ms": percentile(&latencies, 0.999),
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    }
    Ok(())
}
