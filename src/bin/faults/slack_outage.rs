//! Scenario 5: Slack answers 429, then 5xx, then nothing at all, while every incident also
//! pages its person by SMS and PagerDuty (and its team's webhook, which the common judge
//! counts). Afterwards, once nothing is pending: every Slack page went out, alone or bundled,
//! in each destination's order and once; SMS and PagerDuty were on time throughout; and the
//! Slack backlog was bundled.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::providers::{Arrival, Providers, SLACK_TOKEN, Slack, TWILIO_SID, TWILIO_TOKEN};
use crate::stage::{Ctx, Stage, row};
use crate::verdict::Row;

pub async fn slack_outage(ctx: &Ctx) -> anyhow::Result<Row> {
    // Seconds of: normal, 429, 503, no answer, normal again (the load runs throughout).
    let phases: [(Slack, u64); 5] = if ctx.short {
        [
            (Slack::Ok, 5),
            (Slack::RateLimited, 10),
            (Slack::Down, 10),
            (Slack::Hangs, 10),
            (Slack::Ok, 10),
        ]
    } else {
        [
            (Slack::Ok, 5),
            (Slack::RateLimited, 60),
            (Slack::Down, 60),
            (Slack::Hangs, 30),
            (Slack::Ok, 30),
        ]
    };
    let rate = 20;
    let secs: u64 = phases.iter().map(|(_, s)| s).sum();
    let (providers, port) = Providers::start().await?;
    let base = format!("http://127.0.0.1:{port}");
    let extra = format!(
        "  slack: {{url: \"{base}/api\", bot_token: \"{SLACK_TOKEN}\", timeout: 2s}}\n  \
         sms: {{url: \"{base}\", account_sid: \"{TWILIO_SID}\", auth_token: \"{TWILIO_TOKEN}\", from: \"+15005550006\", timeout: 5s}}\n  \
         pagerduty: {{url: \"{base}/v2/enqueue\", default_service: faults, timeout: 5s}}\n  \
         rate_limits: {{sms: {{per_destination: \"off\", global: \"off\"}}, pagerduty: {{per_destination: \"off\", global: \"off\"}}}}\n"
    );
    let mut stage = Stage::with(ctx, "slack_outage", 2, &[0], &extra).await?;
    let load = tokio::spawn(stage.load(rate, rate as u64 * secs).run());
    let mut back = Utc::now();
    for (mode, s) in phases {
        providers.set_slack(mode);
        if mode == Slack::Ok {
            back = Utc::now();
        }
        tokio::time::sleep(Duration::from_secs(s)).await;
    }
    let fates = load.await?;
    let (ok, hang) = (phases[0].1, phases[3].1);
    let mut r = row(
        "5. Slack failing",
        format!(
            "{rate} incidents/s for {secs} s, each paging Slack, SMS, PagerDuty and a webhook, 2 replicas"
        ),
        format!(
            "Slack answers 429 for {} s, 503 for {} s, then times out for {hang} s, from {ok} s",
            phases[1].1, phases[2].1
        ),
    );
    let pool = sqlx::PgPool::connect(&stage.url).await?;
    let drained = drain(&pool, Duration::from_secs(240)).await?;
    if !drained {
        r.failures
            .push("notifications still pending 240 s after the load".into());
    }
    check(&pool, &providers.arrivals(), back, &mut r).await?;
    let refused = providers.refused.lock().unwrap().clone();
    if !refused.is_empty() {
        r.failures.push(format!(
            "{} requests badly formed, first: {}",
            refused.len(),
            refused[0]
        ));
    }
    pool.close().await;
    stage.judge(r, &fates, Some(back)).await
}

/// Until no notification is pending (bounded); whether that happened.
async fn drain(pool: &sqlx::PgPool, within: Duration) -> anyhow::Result<bool> {
    let started = Instant::now();
    while started.elapsed() < within {
        let pending: i64 =
            sqlx::query_scalar("select count(*) from outbox where status = 'pending'")
                .fetch_one(pool)
                .await?;
        if pending == 0 {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(false)
}

/// The Slack, SMS and PagerDuty promises, from the outbox and what the fakes received.
async fn check(
    pool: &sqlx::PgPool,
    arrivals: &[Arrival],
    back: DateTime<Utc>,
    r: &mut Row,
) -> anyhow::Result<()> {
    let opened: HashMap<i64, DateTime<Utc>> =
        sqlx::query_as::<_, (i64, DateTime<Utc>)>("select number, opened_at from incidents")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
        "select o.id, o.recipient, o.status, i.number from outbox o join incidents i on i.id = o.incident_id where o.channel = 'slack'",
    )
    .fetch_all(pool)
    .await?;
    let by_status = |s: &str| rows.iter().filter(|row| row.2 == s).count();
    let (sent, bundled) = (by_status("sent"), by_status("bundled"));
    let unsent = rows.len() - sent - bundled;
    if unsent > 0 {
        r.failures
            .push(format!("{unsent} Slack pages neither sent nor bundled"));
    }
    if bundled == 0 {
        r.failures.push("no Slack page was bundled".into());
    }
    // At the fake: every incident named by some Slack message to its person.
    let slack: Vec<&Arrival> = arrivals.iter().filter(|a| a.channel == "slack").collect();
    let named: HashSet<(String, i64)> = slack
        .iter()
        .flat_map(|a| a.numbers.iter().map(|n| (a.to.clone(), *n)))
        .collect();
    let team_of = |n: i64| opened.contains_key(&n);
    let missing = rows
        .iter()
        .filter(|(_, recipient, _, n)| {
            let to = format!(
                "U{:04}",
                recipient
                    .trim_start_matches("user:u")
                    .parse::<u32>()
                    .unwrap_or(0)
            );
            team_of(*n) && !named.contains(&(to, *n))
        })
        .count();
    if missing > 0 {
        r.failures.push(format!(
            "{missing} incidents never named in a Slack message to their person"
        ));
    }
    // Order: each person's messages arrive in the order their pages were queued.
    let id_of: HashMap<(String, i64), i64> = rows
        .iter()
        .map(|(id, recipient, _, n)| {
            let t: u32 = recipient.trim_start_matches("user:u").parse().unwrap_or(0);
            ((format!("U{t:04}"), *n), *id)
        })
        .collect();
    let mut last: HashMap<&str, i64> = HashMap::new();
    let (mut out_of_order, mut twice) = (0, 0);
    let mut own_seen = HashSet::new();
    for a in &slack {
        let Some(own) = a.numbers.first() else {
            continue;
        };
        if !own_seen.insert((a.to.clone(), *own)) {
            twice += 1;
        }
        let Some(id) = id_of.get(&(a.to.clone(), *own)) else {
            continue;
        };
        let prev = last.entry(&a.to).or_insert(0);
        if *id < *prev {
            out_of_order += 1;
        }
        *prev = (*prev).max(*id);
    }
    if out_of_order > 0 {
        r.failures.push(format!(
            "{out_of_order} Slack messages out of their destination's order"
        ));
    }
    if twice > 0 {
        r.failures
            .push(format!("{twice} Slack messages sent twice"));
    }
    // SMS and PagerDuty: one each per incident, on time.
    let mut notes = vec![format!(
        "Slack: {} messages carried {} pages ({bundled} bundled), last page {:.1} s after Slack came back",
        slack.len(),
        rows.len(),
        slack
            .iter()
            .map(|a| a.at)
            .max()
            .map_or(0.0, |at| (at - back).num_milliseconds() as f64 / 1000.0),
    )];
    for channel in ["sms", "pagerduty"] {
        let got: Vec<&Arrival> = arrivals.iter().filter(|a| a.channel == channel).collect();
        let mut late: Vec<f64> = got
            .iter()
            .filter_map(|a| {
                Some((a.at - *opened.get(a.numbers.first()?)?).num_milliseconds() as f64 / 1000.0)
            })
            .collect();
        late.sort_by(f64::total_cmp);
        let firsts: HashSet<i64> = got
            .iter()
            .filter_map(|a| a.numbers.first().copied())
            .collect();
        let lost = opened.keys().filter(|n| !firsts.contains(n)).count();
        let p99 = late
            .get(late.len().saturating_sub(1) * 99 / 100)
            .copied()
            .unwrap_or(0.0);
        let max = late.last().copied().unwrap_or(0.0);
        notes.push(format!(
            "{channel}: {} for {} incidents, p99 {p99:.2} s, max {max:.2} s after opening",
            got.len(),
            opened.len()
        ));
        if lost > 0 {
            r.failures
                .push(format!("{lost} incidents without their {channel} page"));
        }
        if got.len() > firsts.len() {
            r.failures.push(format!(
                "{} {channel} pages sent twice",
                got.len() - firsts.len()
            ));
        }
        if p99 > 5.0 {
            r.failures.push(format!(
                "{channel} pages late while Slack failed (p99 {p99:.1} s)"
            ));
        }
    }
    r.notes.extend(notes);
    Ok(())
}
