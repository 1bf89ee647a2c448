//! The scenarios: each starts from a fresh database, runs its replicas and load, injects its
//! fault at a set time, and hands what happened to the judge.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;

use crate::cluster::{Pg, Replica, Setup, write_config};
use crate::fake::Fake;
use crate::load::{Fate, Load};
use crate::verdict::{Judge, Row};

pub struct Ctx {
    pub bin: PathBuf,
    pub pg: Pg,
    pub work: PathBuf,
    /// The bounded versions CI runs.
    pub short: bool,
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TEAMS: usize = 20;

/// A scenario's running system.
struct Stage {
    url: String,
    fake: Arc<Fake>,
    replicas: Vec<Replica>,
    up: Vec<Arc<AtomicBool>>,
    token: String,
    steps: Vec<Duration>,
}

impl Stage {
    async fn new(ctx: &Ctx, name: &str, replicas: usize, steps: &[u64]) -> anyhow::Result<Stage> {
        let work = ctx.work.join(name);
        let _ = std::fs::remove_dir_all(&work);
        let url = ctx.pg.fresh_db(&format!("faults_{name}")).await?;
        let (fake, fake_port) = Fake::start(SECRET).await?;
        let token = format!("faults-{}", uuid::Uuid::now_v7().simple());
        let steps: Vec<Duration> = steps.iter().map(|s| Duration::from_secs(*s)).collect();
        write_config(
            &work,
            &Setup {
                teams: TEAMS,
                steps: steps.clone(),
                fake_port,
                secret: SECRET.into(),
                token: token.clone(),
            },
        )?;
        let mut started = Vec::new();
        for r in 0..replicas {
            // One at a time: the first migrates the new database.
            started.push(Replica::start(&ctx.bin, &work, &url, &format!("replica{r}"), &[]).await?);
        }
        let up = started
            .iter()
            .map(|_| Arc::new(AtomicBool::new(true)))
            .collect();
        Ok(Stage {
            url,
            fake,
            replicas: started,
            up,
            token,
            steps,
        })
    }

    fn load(&self, rate: u32, count: u64) -> Load {
        Load {
            rate,
            count,
            first: 0,
            teams: TEAMS,
            token: self.token.clone(),
            targets: self
                .replicas
                .iter()
                .zip(&self.up)
                .map(|(r, up)| (r.base.clone(), up.clone()))
                .collect(),
            give_up: Duration::from_secs(120),
        }
    }

    /// `kill -9` of replica `i`, which the load balancer then stops choosing.
    fn kill(&mut self, i: usize) {
        self.replicas[i].kill9();
        self.up[i].store(false, Ordering::Relaxed);
    }

    async fn judge(
        &mut self,
        row: Row,
        fates: &[Fate],
        fault_end: Option<chrono::DateTime<Utc>>,
    ) -> anyhow::Result<Row> {
        let judge = Judge {
            url: &self.url,
            fake: &self.fake,
            steps: &self.steps,
            fault_end,
            logs: self.replicas.iter().map(|r| r.log.clone()).collect(),
            // A dead replica's claims wait out their leases (escalation 15 s, delivery 60 s).
            wait: Duration::from_secs(100),
        };
        let row = judge.judge(row, fates).await?;
        for r in &mut self.replicas {
            r.stop();
        }
        Ok(row)
    }
}

fn row(scenario: &str, load: String, fault: String) -> Row {
    Row {
        scenario: scenario.into(),
        load,
        fault,
        ..Row::default()
    }
}

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

async fn stage_pg(ctx: &Ctx, up: bool) -> anyhow::Result<()> {
    let pg = Pg {
        dir: ctx.pg.dir.clone(),
        port: ctx.pg.port,
    };
    tokio::task::spawn_blocking(move || if up { pg.start() } else { pg.stop() }).await?
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

/// The scenarios by name, in the table's order.
pub fn all() -> Vec<&'static str> {
    vec!["kill_replica", "postgres_down", "kill_mid_escalation"]
}

pub async fn run(ctx: &Ctx, name: &str) -> anyhow::Result<Row> {
    match name {
        "kill_replica" => kill_replica(ctx).await,
        "postgres_down" => postgres_down(ctx).await,
        "kill_mid_escalation" => kill_mid_escalation(ctx).await,
        other => anyhow::bail!("no scenario {other}; there are: {}", all().join(", ")),
    }
}
