//! The scenarios: each starts from a fresh database, runs its replicas and load, injects its
//! fault at a set time, and hands what happened to the judge.

use std::time::Duration;

use chrono::Utc;

use crate::stage::{Ctx, Stage, row, stage_pg};
use crate::verdict::Row;

/// Scenario 1: `kill -9` of one of two replicas in the middle of the load.
pub async fn kill_replica(ctx: &Ctx) -> anyhow::Result<Row> {
    let (rate, secs) = (500, if ctx.short { 10 } else { 60 });
    let mut stage = Stage::new(ctx, "kill_replica", 2, &[0]).await?;
    let load = tokio::spawn(stage.load(rate, u64::from(rate * secs)).run());
    tokio::time::sleep(Duration::from_secs(u64::from(secs) / 2)).await;
    stage.kill(1);
    let killed = Utc::now();
    let fates = load.await?;
    let r = row(
        "1. kill -9 one of 2 replicas",
        format!("{rate} webhooks/s for {secs} s"),
        format!("replica 2 killed at {} s", secs / 2),
    );
    stage.judge(r, &fates, Some(killed)).await
}

/// Scenario 2: Postgres stopped under load, started again.
pub async fn postgres_down(ctx: &Ctx) -> anyhow::Result<Row> {
    let (rate, secs, down) = if ctx.short {
        (200, 20, 8)
    } else {
        (500, 60, 30)
    };
    let mut stage = Stage::new(ctx, "postgres_down", 2, &[0]).await?;
    let load = tokio::spawn(stage.load(rate, u64::from(rate * secs)).run());
    let at = (secs - down) / 2;
    tokio::time::sleep(Duration::from_secs(u64::from(at))).await;
    stage_pg(ctx, false).await?;
    tokio::time::sleep(Duration::from_secs(u64::from(down))).await;
    stage_pg(ctx, true).await?;
    let back = Utc::now();
    let fates = load.await?;
    let r = row(
        "2. Postgres stopped",
        format!("{rate} webhooks/s for {secs} s, 2 replicas"),
        format!("Postgres down {down} s from {at} s"),
    );
    stage.judge(r, &fates, Some(back)).await
}

/// Scenario 4: three replicas, incidents whose second step falls due within a window, one
/// replica killed in the middle of it.
pub async fn kill_mid_escalation(ctx: &Ctx) -> anyhow::Result<Row> {
    let (count, rate, delay) = if ctx.short {
        (500, 250, 20)
    } else {
        (2000, 500, 30)
    };
    let mut stage = Stage::new(ctx, "kill_mid_escalation", 3, &[0, delay]).await?;
    let spread = count / u64::from(rate);
    let load = tokio::spawn(stage.load(rate, count).run());
    // Halfway through the window in which the second steps fall due.
    tokio::time::sleep(Duration::from_secs(delay) + Duration::from_secs(spread) / 2).await;
    stage.kill(2);
    let killed = Utc::now();
    let fates = load.await?;
    let r = row(
        "4. kill -9 one of 3 replicas mid-escalation",
        format!("{count} incidents, 2 steps each, the second due within {spread} s"),
        format!("replica 3 killed {} s into that window", spread / 2),
    );
    stage.judge(r, &fates, Some(killed)).await
}

/// Scenario 3: Postgres restarted (fast shutdown, start) while a burst of second steps falls
/// due.
pub async fn postgres_restart(ctx: &Ctx) -> anyhow::Result<Row> {
    let (count, rate, delay) = if ctx.short {
        (500, 250, 20)
    } else {
        (2000, 500, 30)
    };
    let mut stage = Stage::new(ctx, "postgres_restart", 2, &[0, delay]).await?;
    let spread = count / u64::from(rate);
    let load = tokio::spawn(stage.load(rate, count).run());
    tokio::time::sleep(Duration::from_secs(delay) + Duration::from_secs(spread) / 2).await;
    stage_pg(ctx, false).await?;
    stage_pg(ctx, true).await?;
    let back = Utc::now();
    let fates = load.await?;
    let r = row(
        "3. Postgres restarted mid-escalation",
        format!("{count} incidents, 2 steps each, the second due within {spread} s, 2 replicas"),
        format!("fast restart {} s into that window", spread / 2),
    );
    stage.judge(r, &fates, Some(back)).await
}

/// Scenario 7: the pool exhausted by slow queries: another session holds the tables the
/// webhook and the workers use, so every statement waits (until `statement_timeout`).
pub async fn pool_exhausted(ctx: &Ctx) -> anyhow::Result<Row> {
    let (rate, secs, hold) = if ctx.short {
        (200, 20, 8)
    } else {
        (500, 60, 20)
    };
    let mut stage = Stage::new(ctx, "pool_exhausted", 2, &[0]).await?;
    let load = tokio::spawn(stage.load(rate, u64::from(rate * secs)).run());
    let at = (secs - hold) / 2;
    tokio::time::sleep(Duration::from_secs(u64::from(at))).await;
    let pool = sqlx::PgPool::connect(&stage.url).await?;
    let mut tx = pool.begin().await?;
    sqlx::query("lock table incident_groups, incidents, outbox in access exclusive mode")
        .execute(&mut *tx)
        .await?;
    tokio::time::sleep(Duration::from_secs(u64::from(hold))).await;
    tx.rollback().await?;
    let released = Utc::now();
    pool.close().await;
    let fates = load.await?;
    let r = row(
        "7. pool exhausted by slow queries",
        format!("{rate} webhooks/s for {secs} s, 2 replicas"),
        format!("the three busiest tables locked {hold} s from {at} s"),
    );
    stage.judge(r, &fates, Some(released)).await
}

/// Scenario 8: Postgres refuses every write (`default_transaction_read_only`, as a full disk or
/// a standby would) for a while.
pub async fn read_only(ctx: &Ctx) -> anyhow::Result<Row> {
    let (rate, secs, hold) = if ctx.short {
        (200, 20, 8)
    } else {
        (500, 60, 20)
    };
    let mut stage = Stage::new(ctx, "read_only", 2, &[0]).await?;
    let load = tokio::spawn(stage.load(rate, u64::from(rate * secs)).run());
    let at = (secs - hold) / 2;
    tokio::time::sleep(Duration::from_secs(u64::from(at))).await;
    let set = |on: &str| format!("alter system set default_transaction_read_only = {on}");
    ctx.pg
        .admin(&[&set("on"), "select pg_reload_conf()"])
        .await?;
    tokio::time::sleep(Duration::from_secs(u64::from(hold))).await;
    ctx.pg
        .admin(&[&set("off"), "select pg_reload_conf()"])
        .await?;
    let back = Utc::now();
    let fates = load.await?;
    let r = row(
        "8. Postgres read-only",
        format!("{rate} webhooks/s for {secs} s, 2 replicas"),
        format!("writes refused {hold} s from {at} s"),
    );
    stage.judge(r, &fates, Some(back)).await
}

/// Scenario 9: config reloads (SIGHUP) under load: a good one, then a broken one, which must be
/// refused while everything goes on, then the good one again.
pub async fn reload(ctx: &Ctx) -> anyhow::Result<Row> {
    let (rate, secs) = if ctx.short { (200, 15) } else { (500, 60) };
    let mut stage = Stage::new(ctx, "reload", 2, &[0]).await?;
    let load = tokio::spawn(stage.load(rate, u64::from(rate * secs)).run());
    let third = Duration::from_secs(u64::from(secs)) / 3;
    let routes = stage.work.join("routes/faults.yaml");
    let good = std::fs::read_to_string(&routes)?;
    let mut failures = Vec::new();
    tokio::time::sleep(third).await;
    std::fs::write(&routes, format!("{good}# reloaded\n"))?;
    failures.extend(stage.reload_all(1.0, "a good config").await?);
    tokio::time::sleep(third / 2).await;
    std::fs::write(&routes, "route: [this is not a route\n")?;
    failures.extend(stage.reload_all(0.0, "a broken config").await?);
    tokio::time::sleep(third / 2).await;
    std::fs::write(&routes, &good)?;
    failures.extend(stage.reload_all(1.0, "the good config again").await?);
    let last = Utc::now();
    let fates = load.await?;
    let refused = fates.iter().filter(|f| !f.refusals.is_empty()).count();
    if refused > 0 {
        failures.push(format!(
            "{refused} webhooks were not answered 2xx at the first try"
        ));
    }
    let mut r = row(
        "9. config reloads under load",
        format!("{rate} webhooks/s for {secs} s, 2 replicas"),
        "SIGHUP with a good, a broken, the good config".into(),
    );
    r.failures = failures;
    stage.judge(r, &fates, Some(last)).await
}

/// Scenario 6: rude clients beside the load on one replica — connections that never send a
/// byte, webhooks whose bodies come a byte a second, and a crowd posting 2 MiB bodies at once.
pub async fn rude_clients(ctx: &Ctx) -> anyhow::Result<Row> {
    use crate::rude;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (rate, secs, idle, slow, big) = if ctx.short {
        (100, 20, 500, 20, 30)
    } else {
        (200, 60, 3000, 50, 100)
    };
    let mut stage = Stage::new(ctx, "rude_clients", 1, &[0]).await?;
    let pid = stage.replicas[0].pid().unwrap_or(0);
    let load = tokio::spawn(stage.load(rate, u64::from(rate * secs)).run());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_before = rude::peak_rss_mib(pid);
    let (stop, seen) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(rude::Seen::default()),
    );
    let base = stage.replicas[0].base.clone();
    let idlers = tokio::spawn(rude::idle(base.clone(), idle, stop.clone(), seen.clone()));
    let trickles = tokio::spawn(rude::slow(
        base.clone(),
        stage.token.clone(),
        slow,
        stop.clone(),
        seen.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(u64::from(secs) / 3)).await;
    rude::big(base, stage.token.clone(), big, seen.clone()).await;
    let bodies_done = Utc::now();
    let fates = load.await?;
    stop.store(true, Ordering::Relaxed);
    let rss_peak = rude::peak_rss_mib(pid);
    let _ = tokio::join!(idlers, trickles);
    let ms = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed) as f64 / 1000.0;
    let (slow_answers, big_answers) = (
        seen.slow_answers.lock().unwrap().clone(),
        seen.big_answers.lock().unwrap().clone(),
    );
    let mut r = row(
        "6. rude clients",
        format!("{rate} webhooks/s for {secs} s, 1 replica"),
        format!(
            "{idle} idle connections and {slow} 1 byte/s senders throughout, {big} × 2 MiB bodies at once at {} s",
            secs / 3
        ),
    );
    r.notes.push(format!(
        "{} idle connections opened, none held past {:.1} s; slow senders cut after at most {:.1} s ({}); 2 MiB bodies: {}, slowest {:.1} s; peak RSS {:.0} MiB (before {:.0} MiB)",
        seen.idle_opened.load(Ordering::Relaxed),
        ms(&seen.idle_longest_ms),
        ms(&seen.slow_longest_ms),
        rude::tally(&slow_answers),
        rude::tally(&big_answers),
        ms(&seen.big_longest_ms),
        rss_peak,
        rss_before,
    ));
    // The server's deadlines: 10 s to send headers (and idle on keep-alive), 8 s for a
    // webhook's body and commit; a few seconds' slack for a busy scheduler and the poll.
    if ms(&seen.idle_longest_ms) > 13.0 {
        r.failures
            .push("an idle connection was held past the header deadline".into());
    }
    if ms(&seen.slow_longest_ms) > 20.0 {
        r.failures
            .push("a slow sender was let trickle past the webhook's deadline".into());
    }
    if big_answers.iter().any(|s| (400..500).contains(s)) {
        r.failures
            .push("a 2 MiB webhook (under the body limit) was answered 4xx".into());
    }
    let mut tries: Vec<f64> = fates.iter().map(|f| f.longest.as_secs_f64()).collect();
    tries.sort_by(f64::total_cmp);
    if let Some(p99) = tries.get(tries.len() * 99 / 100) {
        r.notes.push(format!("the load's answers: p99 {p99:.3} s"));
    }
    stage.judge(r, &fates, Some(bodies_done)).await
}

/// The scenarios by name, in the table's order.
pub fn all() -> Vec<&'static str> {
    vec![
        "kill_replica",
        "postgres_down",
        "postgres_restart",
        "kill_mid_escalation",
        "slack_outage",
        "rude_clients",
        "pool_exhausted",
        "read_only",
        "reload",
        "failover",
    ]
}

pub async fn run(ctx: &Ctx, name: &str) -> anyhow::Result<Row> {
    match name {
        "kill_replica" => kill_replica(ctx).await,
        "postgres_down" => postgres_down(ctx).await,
        "kill_mid_escalation" => kill_mid_escalation(ctx).await,
        "postgres_restart" => postgres_restart(ctx).await,
        "pool_exhausted" => pool_exhausted(ctx).await,
        "rude_clients" => rude_clients(ctx).await,
        "slack_outage" => crate::slack_outage::slack_outage(ctx).await,
        "read_only" => read_only(ctx).await,
        "reload" => reload(ctx).await,
        "failover" => crate::failover::failover(ctx).await,
        other => anyhow::bail!("no scenario {other}; there are: {}", all().join(", ")),
    }
}
