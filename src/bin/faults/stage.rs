//! A scenario's running system: a fresh database, the fake receiver, the configuration and the
//! replicas, with the means to hurt them.

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
pub struct Stage {
    pub url: String,
    pub fake: Arc<Fake>,
    pub replicas: Vec<Replica>,
    pub up: Vec<Arc<AtomicBool>>,
    pub token: String,
    pub work: PathBuf,
    steps: Vec<Duration>,
}

impl Stage {
    pub async fn new(
        ctx: &Ctx,
        name: &str,
        replicas: usize,
        steps: &[u64],
    ) -> anyhow::Result<Stage> {
        Stage::with(ctx, name, replicas, steps, "").await
    }

    /// As [`Stage::new`], with `extra` added to alertrouter.yaml.
    pub async fn with(
        ctx: &Ctx,
        name: &str,
        replicas: usize,
        steps: &[u64],
        extra: &str,
    ) -> anyhow::Result<Stage> {
        let url = ctx.pg.fresh_db(&format!("faults_{name}")).await?;
        Stage::at(ctx, name, replicas, steps, extra, &url, &url).await
    }

    /// As [`Stage::with`], on a database that exists: the replicas connect to `url`, the judge
    /// and the scenario to `direct` (one host; `url` may name several).
    pub async fn at(
        ctx: &Ctx,
        name: &str,
        replicas: usize,
        steps: &[u64],
        extra: &str,
        url: &str,
        direct: &str,
    ) -> anyhow::Result<Stage> {
        let work = ctx.work.join(name);
        let _ = std::fs::remove_dir_all(&work);
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
                extra: extra.into(),
            },
        )?;
        let mut started = Vec::new();
        for r in 0..replicas {
            // One at a time: the first migrates the new database.
            // The routing key of the person's PagerDuty service (never inline in the config).
            let env = [("FAULTS_PAGERDUTY_KEY", "R0FAULTSROUTINGKEY00000000000000")];
            started.push(Replica::start(&ctx.bin, &work, url, &format!("replica{r}"), &env).await?);
        }
        let up = started
            .iter()
            .map(|_| Arc::new(AtomicBool::new(true)))
            .collect();
        Ok(Stage {
            url: direct.to_string(),
            fake,
            replicas: started,
            up,
            token,
            work,
            steps,
        })
    }

    pub fn load(&self, rate: u32, count: u64) -> Load {
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

    /// SIGHUP to every replica; what is wrong if they do not report `expected` as the outcome
    /// of their last reload (bounded wait: the reload runs beside the load).
    pub async fn reload_all(&self, expected: f64, what: &str) -> anyhow::Result<Vec<String>> {
        let before: Vec<f64> = futures_util::future::try_join_all(
            self.replicas
                .iter()
                .map(|r| r.metric("alertrouter_config_last_reload_timestamp_seconds")),
        )
        .await?;
        // The gauge is in whole or fractional seconds: let the next reload's time differ.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let mut failures = Vec::new();
        for (r, before) in self.replicas.iter().zip(before) {
            r.hup();
            let mut outcome = None;
            for _ in 0..100 {
                let at = r
                    .metric("alertrouter_config_last_reload_timestamp_seconds")
                    .await?;
                if at > before {
                    outcome = Some(
                        r.metric("alertrouter_config_last_reload_successful")
                            .await?,
                    );
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            match outcome {
                Some(o) if o == expected => {}
                Some(o) => {
                    failures.push(format!("{what}: reload outcome {o}, expected {expected}"))
                }
                None => failures.push(format!("{what}: no reload seen within 5 s")),
            }
        }
        Ok(failures)
    }

    /// `kill -9` of replica `i`, which the load balancer then stops choosing.
    pub fn kill(&mut self, i: usize) {
        self.replicas[i].kill9();
        self.up[i].store(false, Ordering::Relaxed);
    }

    pub async fn judge(
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

pub fn row(scenario: &str, load: String, fault: String) -> Row {
    Row {
        scenario: scenario.into(),
        load,
        fault,
        // Alertmanager's own timeout is 10 s; the webhook's deadline is 8 s.
        answer_budget_s: Some(10.0),
        ..Row::default()
    }
}

pub async fn stage_pg(ctx: &Ctx, up: bool) -> anyhow::Result<()> {
    let pg = Pg {
        dir: ctx.pg.dir.clone(),
        port: ctx.pg.port,
    };
    tokio::task::spawn_blocking(move || if up { pg.start() } else { pg.stop() }).await?
}
