//! Statistics benchmark: seeds a month of incidents with their alerts, timelines and pages
//! straight into Postgres (`seed`), then times the statistics and the monthly report as the API
//! computes them (`measure`), printing one table row per figure.

use std::time::Instant;

use alertrouter::live::Reloadable;
use alertrouter::service::monthly::{Format, monthly, print};
use alertrouter::store::statistics::{Period, period};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Seeds a month of incidents and times statistics and the monthly report")]
struct Args {
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Writes `--incidents` incidents opened in November 2026 (and a tenth as many in October).
    Seed {
        #[arg(long, default_value_t = 100_000)]
        incidents: i64,
    },
    /// Times each figure `--runs` times after one warm-up run.
    Measure {
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}

/// One month of incidents from `$2` over `$3`, numbered from `$4`: every row derived from the
/// incident's number, so each run seeds the same data.
const SEED: &str = "
with n as (
    select i, t, severity, target, t + (i * 13 % 3600) * interval '1 second' as acked,
        i % 7 = 0 or (i * 13 % 3600) * interval '1 second' > target as missed
    from (
        select i, $2::timestamptz + (i - $4) * ($3::interval / $1) as t,
            (array['critical', 'warning', 'info'])[i % 3 + 1] as severity,
            (array[interval '5 min', interval '30 min', interval '24 hours'])[i % 3 + 1] as target
        from generate_series($4, $4 + $1 - 1) i
    ) raw
), groups as (
    insert into incident_groups (integration, route, group_key, version, current_incident_id)
    select 'bench', severity, 'g' || i, 1,
        ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid
    from n returning id, group_key, current_incident_id
), incidents as (
    insert into incidents (id, group_id, integration, group_key, group_labels, status, severity,
        started_at, opened_at, resolved_at, updated_at, route, policy, response_target,
        flapping_since, first_acknowledged_at, escalations, response_target_missed_at)
    select g.current_incident_id, g.id, 'bench', g.group_key,
        jsonb_build_object('service', 'svc' || (i % 50), 'team', 'team' || (i % 8)),
        case when i % 10 = 0 then 'open' else 'resolved' end, severity, t, t,
        case when i % 10 <> 0 then t + ((i * 37) % 7200 + 120) * interval '1 second' end, t,
        severity, severity, target, case when i % 50 = 0 then t end,
        case when i % 7 <> 0 then acked end, case when i % 4 = 0 then 1 else 0 end,
        case when missed then t + target end
    from n join groups g on g.group_key = 'g' || n.i
    returning id, group_id, opened_at, resolved_at, severity, response_target,
        substr(group_key, 2)::bigint as i
), alerts as (
    insert into alerts (group_id, incident_id, fingerprint, starts_at, status, severity, alertname,
        labels, annotations, generator_url, created_at, updated_at)
    select group_id, id, 'f' || k, opened_at, 'resolved', severity, 'Alert' || ((i + k) % 40),
        jsonb_build_object('alertname', 'Alert' || ((i + k) % 40), 'instance', 'i' || k),
        '{}', '', opened_at, opened_at
    from incidents, generate_series(0, i % 3) k
), events as (
    insert into incident_events (incident_id, kind, occurred_at, received_at, integration, detail)
    select id, e.kind, e.at, e.at, 'bench', e.detail
    from incidents, lateral (values
        ('opened', opened_at, null::jsonb, true),
        ('alert_fired', opened_at, null, true),
        ('escalated', opened_at, '{\"step\": 0, \"loop\": 0}'::jsonb, true),
        ('escalated', opened_at + interval '5 min', '{\"step\": 1, \"loop\": 0}', i % 4 = 0),
        ('acknowledged', opened_at + (i * 13 % 3600) * interval '1 second',
            '{\"actor\": \"bench\", \"source\": \"api\"}', i % 7 <> 0),
        ('response_target_missed', opened_at + response_target, null,
            i % 7 = 0 or (i * 13 % 3600) * interval '1 second' > response_target),
        ('resolved', resolved_at, null, resolved_at is not null)
    ) as e(kind, at, detail, keep)
    where e.keep
)
insert into outbox (incident_id, dedup_key, channel, recipient, payload, status, created_at,
    due_at, sent_at, attempts)
select id, id || ':' || c, c, 'user:u' || (i % 1000), '{\"kind\": \"page\"}',
    case when (i + length(c)) % 40 = 0 then 'dead' else 'sent' end, opened_at, opened_at,
    case when (i + length(c)) % 40 <> 0 then opened_at + (i % 30) * interval '1 second' end, 1
from incidents, unnest(array['slack', 'sms', 'pagerduty']) c";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a valid time")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    // The service's own pool: its size and connection settings (JIT off) are part of the figure.
    let pool = alertrouter::store::pool(&alertrouter::config::DatabaseSettings {
        url: args.database_url.clone().into(),
        max_connections: 8,
        acquire_timeout: std::time::Duration::from_secs(5),
        statement_timeout: std::time::Duration::from_secs(600),
    })?;
    match args.mode {
        Mode::Seed { incidents } => {
            let started = Instant::now();
            for (count, from, first) in [
                (incidents, "2026-11-01T00:00:00Z", 1),
                (incidents / 10, "2026-10-01T00:00:00Z", incidents + 1),
            ] {
                sqlx::query(SEED)
                    .bind(count)
                    .bind(at(from))
                    .bind(sqlx::postgres::types::PgInterval {
                        months: 0,
                        days: 30,
                        microseconds: 0,
                    })
                    .bind(first)
                    .execute(&pool)
                    .await?;
            }
            sqlx::query("vacuum analyze").execute(&pool).await?;
            let rows: (i64, i64, i64, i64) = sqlx::query_as(
                "select (select count(*) from incidents), (select count(*) from alerts),
                    (select count(*) from incident_events), (select count(*) from outbox)",
            )
            .fetch_one(&pool)
            .await?;
            eprintln!(
                "seeded {} incidents, {} alerts, {} events, {} notifications in {:.1} s",
                rows.0,
                rows.1,
                rows.2,
                rows.3,
                started.elapsed().as_secs_f64()
            );
        }
        Mode::Measure { runs } => measure(&pool, runs).await?,
    }
    Ok(())
}

async fn measure(pool: &sqlx::PgPool, runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let settings = bench_settings();
    let hours = settings.reports.business_hours.clone();
    let live = Reloadable::from_settings(&settings);
    let now = at("2026-12-01T00:00:00Z");
    let (from, to) = (at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z"));
    println!("| figure | runs | min | median | max |");
    println!("|---|---|---|---|---|");
    for figure in [
        "stats",
        "stats by service",
        "stats by severity",
        "monthly md",
        "monthly html",
    ] {
        let mut times = Vec::new();
        for run in 0..=runs {
            let started = Instant::now();
            match figure {
                "monthly md" | "monthly html" => {
                    let report = monthly(pool, &live, "2026-11", None, now).await?;
                    let format = if figure == "monthly md" {
                        Format::Markdown
                    } else {
                        Format::Html
                    };
                    print(&live, &report, format)?;
                }
                _ => {
                    let group_by = figure.strip_prefix("stats by ");
                    let asked = Period {
                        from,
                        to,
                        group_by,
                        hours: &hours,
                    };
                    period(pool, &asked).await?;
                }
            }
            // The first run warms the caches.
            if run > 0 {
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "| {figure} | {runs} | {:.0} ms | {:.0} ms | {:.0} ms |",
            times[0],
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    Ok(())
}

/// Settings with nothing but what the report reads (the database is given by the pool).
fn bench_settings() -> alertrouter::config::Settings {
    let text = "integrations: [{name: bench, bearer_token: bench}]\ndatabase: {url: \"postgres://unused\"}\n";
    let dir = std::env::temp_dir().join(format!("statsbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let file = dir.join("alertrouter.yaml");
    std::fs::write(&file, text).expect("a config file");
    let settings =
        alertrouter::config::Settings::load(Some(&file), &|_| None).expect("a valid config");
    let _ = std::fs::remove_dir_all(&dir);
    settings
}
