//! Delivery benchmark. Runs fake Slack, Twilio, PagerDuty, webhook and SMTP receivers that answer
//! at once, and measures a running alertrouter (configured by scripts/bench-delivery.sh to send
//! to them) in one of two ways:
//!
//! - `latency`: posts new-incident webhooks at `--rate` per second and times each from its 2xx
//!   (the commit) to the fake Slack receiving its `chat.postMessage`; prints p50/p99.
//! - `throughput`: writes `--rows` due notifications straight into the outbox, spread over every
//!   channel and `--destinations` people, and reports deliveries per second from the moment they
//!   came due to the last one sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[derive(Parser, Debug)]
#[command(about = "Measures alertrouter's delivery against local fake receivers")]
struct Args {
    /// Port of the fake HTTP receivers (Slack under /api, Twilio, PagerDuty, webhooks).
    #[arg(long, default_value_t = 19097)]
    fake_port: u16,
    /// Port of the fake SMTP server.
    #[arg(long, default_value_t = 19098)]
    smtp_port: u16,
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    Latency {
        #[arg(long, default_value = "http://127.0.0.1:19096/hooks/alertmanager")]
        url: String,
        /// Bearer token file.
        #[arg(long)]
        token_file: std::path::PathBuf,
        /// New incidents per second.
        #[arg(long, default_value_t = 200)]
        rate: u32,
        #[arg(long, default_value_t = 10)]
        seconds: u32,
        /// Incidents are spread over this many teams (routes), each with its own Slack channel.
        #[arg(long, default_value_t = 20)]
        teams: u32,
    },
    Throughput {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 20_000)]
        rows: u32,
        /// People paged (each by Slack, SMS and e-mail); PagerDuty services and webhooks are a
        /// tenth as many.
        #[arg(long, default_value_t = 1_000)]
        destinations: u32,
        /// The channels written (all five by default).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "slack,sms,email,pagerduty,webhook"
        )]
        channels: Vec<String>,
    },
}

/// When each benchmark message reached the fake Slack, by its number.
#[derive(Default)]
struct Seen {
    slack: Mutex<HashMap<u64, Instant>>,
}

async fn slack(State(seen): State<Arc<Seen>>, body: String) -> Json<Value> {
    let body: Value = serde_json::from_str(&body).unwrap_or_default();
    let text = body["text"].as_str().unwrap_or("");
    if let Some(n) = text
        .split("bench ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
    {
        seen.slack
            .lock()
            .unwrap()
            .entry(n)
            .or_insert_with(Instant::now);
    }
    Json(json!({"ok": true, "channel": body["channel"], "ts": "1700000000.000100"}))
}

async fn fakes(port: u16, smtp_port: u16) -> anyhow::Result<Arc<Seen>> {
    let seen = Arc::new(Seen::default());
    let app = axum::Router::new()
        .route("/api/chat.postMessage", post(slack))
        .route("/api/chat.update", post(slack))
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            post(|| async {
                (
                    axum::http::StatusCode::CREATED,
                    Json(json!({"sid": "SMbench", "status": "queued"})),
                )
            }),
        )
        .route(
            "/v2/enqueue",
            post(|| async {
                (
                    axum::http::StatusCode::ACCEPTED,
                    Json(json!({"status": "success", "message": "Event processed"})),
                )
            }),
        )
        .route("/webhook/{name}", post(|| async { "ok" }))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let smtp = tokio::net::TcpListener::bind(("127.0.0.1", smtp_port)).await?;
    tokio::spawn(async move {
        while let Ok((socket, _)) = smtp.accept().await {
            tokio::spawn(smtp_session(socket));
        }
    });
    Ok(seen)
}

/// Just enough SMTP for lettre without TLS: every command is accepted.
async fn smtp_session(socket: tokio::net::TcpStream) -> std::io::Result<()> {
    socket.set_nodelay(true)?;
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 bench ESMTP\r\n").await?;
    let mut in_data = false;
    while let Some(line) = lines.next_line().await? {
        let reply: &[u8] = if in_data {
            if line != "." {
                continue;
            }
            in_data = false;
            b"250 queued\r\n"
        } else {
            match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                Some("EHLO") => b"250-bench\r\n250 8BITMIME\r\n",
                Some("DATA") => {
                    in_data = true;
                    b"354 go on\r\n"
                }
                Some("QUIT") => {
                    write.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => b"250 ok\r\n",
            }
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seen = fakes(args.fake_port, args.smtp_port).await?;
    match args.mode {
        Mode::Latency {
            url,
            token_file,
            rate,
            seconds,
            teams,
        } => {
            let token = std::fs::read_to_string(token_file)?.trim().to_string();
            let (p50, p99, n, missing) = latency(seen, &url, &token, rate, seconds, teams).await?;
            if args.json {
                println!(
                    "{}",
                    json!({"p50_ms": p50, "p99_ms": p99, "incidents": n, "missing": missing})
                );
            } else {
                println!(
                    "{n} incidents at {rate}/s: commit → Slack p50 {p50:.1} ms, p99 {p99:.1} ms, {missing} never arrived"
                );
            }
        }
        Mode::Throughput {
            database_url,
            rows,
            destinations,
            channels,
        } => {
            let (per_sec, sent, secs) =
                throughput(&database_url, rows, destinations, &channels).await?;
            if args.json {
                println!(
                    "{}",
                    json!({"deliveries_per_s": per_sec, "sent": sent, "seconds": secs})
                );
            } else {
                println!("{sent} deliveries in {secs:.2} s: {per_sec:.0}/s");
            }
        }
    }
    Ok(())
}

async fn latency(
    seen: Arc<Seen>,
    url: &str,
    token: &str,
    rate: u32,
    seconds: u32,
    teams: u32,
) -> anyhow::Result<(f64, f64, usize, usize)> {
    let client = reqwest::Client::new();
    let run = std::process::id();
    let committed: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
    let mut posts = Vec::new();
    for n in 0..u64::from(rate * seconds) {
        tick.tick().await;
        let body = json!({
            "version": "4", "status": "firing", "receiver": "alertrouter",
            "groupKey": format!("{{}}:{{bench=\"{run}-{n}\"}}"),
            "truncatedAlerts": 0,
            "groupLabels": {"bench": format!("{run}-{n}")},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
            "alerts": [{
                "status": "firing",
                "labels": {"alertname": "DeliveryBench", "severity": "critical",
                           "team": format!("t{}", n % u64::from(teams.max(1))), "bench": format!("{run}-{n}")},
                "annotations": {"summary": format!("bench {n}")},
                "startsAt": chrono::Utc::now().to_rfc3339(), "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph", "fingerprint": format!("{:016x}", n)
            }]
        });
        let request = client.post(url).bearer_auth(token).json(&body);
        let committed = committed.clone();
        posts.push(tokio::spawn(async move {
            if let Ok(response) = request.send().await
                && response.status().is_success()
            {
                committed.lock().unwrap().insert(n, Instant::now());
            }
        }));
    }
    for p in posts {
        p.await?;
    }
    // Wait (bounded) for the last pages to arrive.
    let total = committed.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(15);
    while seen.slack.lock().unwrap().len() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let committed = committed.lock().unwrap().clone();
    let arrived = seen.slack.lock().unwrap().clone();
    let mut ms: Vec<f64> = committed
        .iter()
        .filter_map(|(n, at)| arrived.get(n).map(|s| s.saturating_duration_since(*at)))
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    let missing = total - ms.len();
    Ok((
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.len(),
        missing,
    ))
}

async fn throughput(
    database_url: &str,
    rows: u32,
    destinations: u32,
    channels: &[String],
) -> anyhow::Result<(f64, i64, f64)> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(database_url)
        .await?;
    let run = format!("bench-{}", std::process::id());
    let lead = Duration::from_secs(3);
    let due: chrono::DateTime<chrono::Utc> = chrono::Utc::now() + lead;
    let incidents = rows.div_ceil(channels.len() as u32);
    let small = (destinations / 10).max(1);
    // One incident per five notifications; each notification is a due step-0 page.
    sqlx::query(
        "with g as (
            insert into incident_groups (integration, route, group_key, version, current_incident_id)
            select 'bench', 'bench', $1 || ':' || i, 1, md5($1 || i)::uuid
            from generate_series(1, $2) i
            returning id, group_key, current_incident_id
        )
        insert into incidents (id, group_id, integration, route, group_key, group_labels, status,
            severity, started_at, opened_at, updated_at)
        select g.current_incident_id, g.id, 'bench', 'bench', g.group_key, '{\"alertname\": \"DeliveryBench\"}',
            'open', 'critical', $3, $3, $3
        from g",
    )
    .bind(&run)
    .bind(incidents as i32)
    .bind(due)
    .execute(&pool)
    .await?;
    sqlx::query(
        "insert into outbox (incident_id, dedup_key, channel, recipient, payload, created_at, due_at)
        select md5($1 || i)::uuid, $1 || ':' || i || ':' || c.name, c.name,
            case c.name
                when 'pagerduty' then 'pagerduty:s' || (i % $4)
                when 'webhook' then 'webhook:w' || (i % $4)
                else 'user:u' || (i % $3) end,
            jsonb_build_object('kind', 'page', 'step', 0, 'incident_id', md5($1 || i)::uuid::text),
            $5, $5
        from generate_series(1, $2) i, unnest($6::text[]) with ordinality c(name, k)
        order by i, c.k",
    )
    .bind(&run)
    .bind(incidents as i32)
    .bind(destinations as i32)
    .bind(small as i32)
    .bind(due)
    .bind(channels)
    .execute(&pool)
    .await?;
    let rows = i64::from(incidents) * channels.len() as i64;
    let deadline = Instant::now() + lead + Duration::from_secs(300);
    loop {
        let (pending, sent, last): (i64, i64, Option<chrono::DateTime<chrono::Utc>>) =
            sqlx::query_as(
                "select count(*) filter (where status = 'pending'),
                    count(*) filter (where status = 'sent'), max(sent_at)
                 from outbox where dedup_key like $1 || ':%'",
            )
            .bind(&run)
            .fetch_one(&pool)
            .await?;
        if pending == 0 {
            anyhow::ensure!(
                sent == rows,
                "{} of {rows} notifications were not sent",
                rows - sent
            );
            // Which channel finished last, to see what bounds a run.
            let per_channel: Vec<(String, i64, f64)> = sqlx::query_as(
                "select channel, count(*), extract(epoch from max(sent_at) - $2)::float8
                 from outbox where dedup_key like $1 || ':%' group by channel order by 3",
            )
            .bind(&run)
            .bind(due)
            .fetch_all(&pool)
            .await?;
            for (channel, n, last) in per_channel {
                eprintln!("deliverybench: {channel}: {n} sent, the last {last:.2} s after due");
            }
            let secs = (last.unwrap_or(due) - due).as_seconds_f64().max(1e-3);
            return Ok((sent as f64 / secs, sent, secs));
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{pending} still pending after 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
