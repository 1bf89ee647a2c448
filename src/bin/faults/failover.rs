//! Scenario 10: Postgres failover. The suite's Postgres gets a streaming standby on this machine
//! (a base backup, `synchronous_standby_names = '*'`, so a commit returns only once the standby
//! has it), two replicas are given both hosts in one URL with
//! `target_session_attrs=read-write`, and under load the primary is killed (SIGKILL) and, a few
//! seconds later as a failover manager would, the standby promoted. Afterwards the suite's
//! Postgres is started again, without the standby, for the scenarios that follow.

use std::time::{Duration, Instant};

use chrono::Utc;

use crate::cluster::Pg;
use crate::stage::{Ctx, Stage, row};
use crate::verdict::Row;

const DB: &str = "faults_failover";

/// How long the primary is dead before the standby is promoted (a failover manager's detection).
const DETECTION: Duration = Duration::from_secs(5);

pub async fn failover(ctx: &Ctx) -> anyhow::Result<Row> {
    let (rate, secs, delay) = if ctx.short {
        (200, 30, 10)
    } else {
        (500, 60, 20)
    };
    let primary_url = ctx.pg.fresh_db(DB).await?;
    let mut standby = Pg {
        dir: ctx.pg.dir.with_extension("standby"),
        port: ctx.pg.port + 1,
    };
    standby.port = {
        let (s, p) = (standby.clone(), ctx.pg.clone());
        tokio::task::spawn_blocking(move || s.standby_of(&p)).await??
    };
    ctx.pg
        .admin(&[
            "alter system set synchronous_standby_names = '*'",
            "select pg_reload_conf()",
        ])
        .await?;
    wait_for_sync(&ctx.pg).await?;
    let both = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/{DB}?target_session_attrs=read-write",
        ctx.pg.port, standby.port
    );
    let mut stage = Stage::at(ctx, "failover", 2, &[0, delay], "", &both, &primary_url).await?;
    let load = tokio::spawn(stage.load(rate, u64::from(rate * secs)).run());
    let at = secs / 3;
    tokio::time::sleep(Duration::from_secs(u64::from(at))).await;
    let primary = ctx.pg.clone();
    tokio::task::spawn_blocking(move || primary.kill()).await??;
    tokio::time::sleep(DETECTION).await;
    let promoting = standby.clone();
    tokio::task::spawn_blocking(move || promoting.promote()).await??;
    let promoted = Utc::now();
    // What was acknowledged is judged on the promoted standby.
    stage.url = standby.url(DB);
    let fates = load.await?;
    let r = row(
        "10. Postgres failover to a synchronous standby",
        format!(
            "{rate} webhooks/s for {secs} s, 2 replicas on both hosts (target_session_attrs=read-write)"
        ),
        format!(
            "primary killed at {at} s, standby promoted {} s later",
            DETECTION.as_secs()
        ),
    );
    let judged = stage.judge(r, &fates, Some(promoted)).await;
    restore(ctx, &standby).await?;
    judged
}

/// Until the primary reports a synchronous standby (bounded).
async fn wait_for_sync(primary: &Pg) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(&primary.url("postgres")).await?;
    let started = Instant::now();
    loop {
        let sync: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_replication where sync_state = 'sync'",
        )
        .fetch_one(&pool)
        .await?;
        if sync > 0 {
            pool.close().await;
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            anyhow::bail!("the standby did not become synchronous within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The standby stopped and removed; the suite's Postgres started again without a synchronous
/// standby to wait for.
async fn restore(ctx: &Ctx, standby: &Pg) -> anyhow::Result<()> {
    let (s, p) = (standby.clone(), ctx.pg.clone());
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        s.stop()?;
        let _ = std::fs::remove_dir_all(&s.dir);
        p.start()
    })
    .await??;
    ctx.pg
        .admin(&[
            "alter system reset synchronous_standby_names",
            "select pg_reload_conf()",
        ])
        .await
}
