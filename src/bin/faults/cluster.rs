//! What a scenario runs on: the throwaway Postgres (stopped and started through scripts/pg.sh),
//! a configuration on disk, and alertrouter replicas as separate processes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// The throwaway cluster the suite was started with.
#[derive(Clone)]
pub struct Pg {
    pub dir: PathBuf,
    pub port: u16,
}

impl Pg {
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    fn pg_sh(&self, verb: &str) -> anyhow::Result<()> {
        self.pg_sh_with(verb, &[]).map(drop)
    }

    /// Runs scripts/pg.sh; what it printed (a URL, for the verbs that start a server).
    fn pg_sh_with(&self, verb: &str, more: &[String]) -> anyhow::Result<String> {
        let out = Command::new("scripts/pg.sh")
            .arg(verb)
            .arg(&self.dir)
            .arg(self.port.to_string())
            .args(more)
            .stderr(Stdio::piped())
            .output()
            .context("scripts/pg.sh")?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            bail!("scripts/pg.sh {verb} failed: {}", err.trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// A fast shutdown: connections are cut, in-flight transactions roll back.
    pub fn stop(&self) -> anyhow::Result<()> {
        self.pg_sh("stop")
    }

    pub fn start(&self) -> anyhow::Result<()> {
        self.pg_sh("start")
    }

    /// SIGKILL of the postmaster: the machine died.
    pub fn kill(&self) -> anyhow::Result<()> {
        self.pg_sh("kill")
    }

    /// A standby in recovery becomes a primary.
    pub fn promote(&self) -> anyhow::Result<()> {
        self.pg_sh("promote")
    }

    /// Makes this cluster a streaming standby of `primary` (a base backup) and starts it; the
    /// port it listens on.
    pub fn standby_of(&self, primary: &Pg) -> anyhow::Result<u16> {
        let url = self.pg_sh_with("standby", &[primary.port.to_string()])?;
        let port = url
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split('/').next()?.parse().ok());
        port.with_context(|| format!("scripts/pg.sh standby printed {url:?}"))
    }

    /// Runs statements one by one on the `postgres` database, on a session that may write
    /// whatever the server's default (scenario 8 makes it read-only).
    pub async fn admin(&self, statements: &[&str]) -> anyhow::Result<()> {
        let options: sqlx::postgres::PgConnectOptions = self.url("postgres").parse()?;
        let options = options.options([("default_transaction_read_only", "off")]);
        let mut conn = sqlx::ConnectOptions::connect(&options).await?;
        for sql in statements {
            sqlx::raw_sql(sql).execute(&mut conn).await?;
        }
        Ok(())
    }

    /// A new empty database for one scenario; its URL.
    pub async fn fresh_db(&self, name: &str) -> anyhow::Result<String> {
        self.admin(&[
            &format!("drop database if exists {name} with (force)"),
            &format!("create database {name}"),
        ])
        .await?;
        Ok(self.url(name))
    }
}

/// The routes and policies of a scenario: `teams` routes by the `team` label, each paging its own
/// outgoing webhook at every step delay in `steps`. When `extra` configures Slack, every team
/// also has a person (`uT`, Slack id `U000T`) paged at each step by Slack, SMS and PagerDuty.
pub struct Setup {
    pub teams: usize,
    pub steps: Vec<Duration>,
    pub fake_port: u16,
    pub secret: String,
    pub token: String,
    /// More of alertrouter.yaml (top-level sections the others do not write).
    pub extra: String,
}

/// Writes alertrouter.yaml, routes/ and policies/ into `work`.
pub fn write_config(work: &Path, setup: &Setup) -> anyhow::Result<()> {
    std::fs::create_dir_all(work.join("routes"))?;
    std::fs::create_dir_all(work.join("policies"))?;
    std::fs::write(work.join("token"), &setup.token)?;
    std::fs::write(
        work.join("alertrouter.yaml"),
        format!(
            "database: {{url: \"postgres://unused\"}}\n\
             integrations: [{{name: faults, bearer_token_file: token}}]\n\
             log: {{format: json, level: {}}}\n\
             channels:\n  webhook: {{signing_secret: \"{}\", timeout: 5s}}\n{}",
            // FAULTS_LOG=info shows the replicas' info lines too (in their logs).
            std::env::var("FAULTS_LOG").unwrap_or_else(|_| "warn".into()),
            setup.secret,
            setup.extra
        ),
    )?;
    let people = setup.extra.contains("slack:");
    let mut routes = String::from("route:\n  policy: t0\n  routes:\n");
    let mut policies = String::from("escalation_policies:\n");
    let mut hooks = String::from("destinations:\n  webhooks:\n");
    for t in 0..setup.teams {
        routes.push_str(&format!(
            "    - {{matchers: ['team=\"t{t}\"'], policy: t{t}}}\n"
        ));
        let steps: Vec<String> = setup
            .steps
            .iter()
            .map(|d| {
                let person = if people {
                    format!(", 'user:u{t}'")
                } else {
                    String::new()
                };
                format!(
                    "{{delay: {}s, targets: ['webhook:w{t}'{person}]}}",
                    d.as_secs()
                )
            })
            .collect();
        policies.push_str(&format!(
            "  - {{name: t{t}, steps: [{}]}}\n",
            steps.join(", ")
        ));
        hooks.push_str(&format!(
            "    w{t}: http://127.0.0.1:{}/hook/w{t}\n",
            setup.fake_port
        ));
    }
    std::fs::write(work.join("routes/faults.yaml"), routes)?;
    policies.push_str(&hooks);
    if people {
        policies.push_str("  pagerduty_services: {faults: \"${FAULTS_PAGERDUTY_KEY}\"}\nusers:\n");
        for t in 0..setup.teams {
            policies.push_str(&format!(
                "  - {{name: u{t}, slack_id: U{t:04}, phone: \"+1555555{t:04}\", contact: [slack, sms, pagerduty]}}\n"
            ));
        }
    }
    std::fs::write(work.join("policies/faults.yaml"), policies)?;
    Ok(())
}

/// One `alertrouter serve` process.
pub struct Replica {
    child: Option<Child>,
    pub base: String,
    pub log: PathBuf,
}

impl Replica {
    /// Starts `bin` in `work` on database `url` and waits (bounded) until `/readyz` answers 200.
    pub async fn start(
        bin: &Path,
        work: &Path,
        url: &str,
        name: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Replica> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = work.join(format!("{name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = Command::new(bin)
            .args(["serve", "--config", "alertrouter.yaml"])
            .current_dir(work)
            .env("ALERTROUTER_DATABASE_URL", url)
            .env("ALERTROUTER_LISTEN", format!("127.0.0.1:{port}"))
            .envs(env.iter().copied())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let replica = Replica {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let http = reqwest::Client::new();
        // A separate process: poll until it is ready, bounded.
        for _ in 0..600 {
            let ready = http
                .get(format!("{}/readyz", replica.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(replica);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        bail!("{name} did not become ready; see {}", replica.log.display())
    }

    /// SIGKILL: no drain, no goodbye.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGHUP: reload the configuration.
    pub fn hup(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-HUP", &child.id().to_string()])
                .status();
        }
    }

    /// The sum of a metric's samples in this replica's `/metrics`.
    pub async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    /// SIGTERM and wait for the process to end.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill9();
    }
}
