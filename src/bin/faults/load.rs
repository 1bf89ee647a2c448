//! The load: new-group webhooks at a steady rate, each sent the way Alertmanager sends it — a
//! non-2xx answer or a network error is sent again after Alertmanager's delays, to the next
//! replica (a load balancer's choice), until a 2xx or the give-up time. Each webhook's fate is
//! recorded: when it was answered 2xx, and every other answer on the way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// Alertmanager's delays between tries of one notification (observed on 0.25).
const RETRY_DELAYS_MS: [u64; 6] = [700, 800, 900, 2000, 2200, 3000];

const MAX_IN_FLIGHT: usize = 2000;

pub struct Load {
    /// Webhooks per second.
    pub rate: u32,
    pub count: u64,
    /// The first webhook's number (several loads in one scenario do not collide).
    pub first: u64,
    pub teams: usize,
    pub token: String,
    /// Each replica's base URL and whether a health check would send to it.
    pub targets: Vec<(String, Arc<AtomicBool>)>,
    /// A webhook not answered 2xx within this is given up (Alertmanager would drop it at its
    /// next group interval).
    pub give_up: Duration,
}

/// What became of one webhook.
#[derive(Debug, Clone, Default)]
pub struct Fate {
    pub n: u64,
    pub acked_at: Option<DateTime<Utc>>,
    /// Answers that were not 2xx: (status, had `Retry-After`); 0 = network error or timeout.
    pub refusals: Vec<(u16, bool)>,
    /// The longest any one try took to be answered.
    pub longest: Duration,
}

/// The body of webhook `n`: one firing alert in a group of its own, routed to team `n % teams`.
pub fn body(n: u64, teams: usize) -> String {
    let team = n % teams as u64;
    let starts = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    format!(
        r#"{{"receiver":"alertrouter","status":"firing","alerts":[{{"status":"firing","labels":{{"alertname":"FaultTest","fault_n":"{n}","team":"t{team}","severity":"critical"}},"annotations":{{"summary":"fault test {n}"}},"startsAt":"{starts}","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph","fingerprint":"{n:016x}"}}],"groupLabels":{{"fault_n":"{n}"}},"commonLabels":{{"alertname":"FaultTest","team":"t{team}"}},"commonAnnotations":{{}},"externalURL":"http://alertmanager:9093","version":"4","groupKey":"{{}}:{{fault_n=\"{n}\"}}","truncatedAlerts":0}}"#
    )
}

impl Load {
    /// Sends the load and returns every webhook's fate once each is answered 2xx or given up.
    pub async fn run(self) -> Vec<Fate> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let load = Arc::new(self);
        // Open requests at once: past this a try waits for a free one (a file descriptor each;
        // with Postgres away every webhook of the last half minute is retrying).
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(load.count as usize);
        for i in 0..load.count {
            // Open loop: webhook i leaves at i / rate whatever became of the earlier ones.
            let at = start + Duration::from_secs_f64(i as f64 / f64::from(load.rate));
            tokio::time::sleep_until(at.into()).await;
            let (load, http, slots) = (load.clone(), http.clone(), slots.clone());
            tasks.push(tokio::spawn(async move {
                send(&load, &http, &slots, load.first + i).await
            }));
        }
        let mut fates = Vec::with_capacity(tasks.len());
        for t in tasks {
            fates.push(t.await.expect("sender"));
        }
        fates
    }
}

async fn send(load: &Load, http: &reqwest::Client, slots: &tokio::sync::Semaphore, n: u64) -> Fate {
    let body = body(n, load.teams);
    let mut fate = Fate {
        n,
        ..Fate::default()
    };
    let started = Instant::now();
    for attempt in 0usize.. {
        let target = pick(load, n as usize + attempt);
        let slot = slots.acquire().await.expect("never closed");
        let t0 = Instant::now();
        let answer = http
            .post(format!("{target}/hooks/alertmanager"))
            .bearer_auth(&load.token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await;
        fate.longest = fate.longest.max(t0.elapsed());
        drop(slot);
        match answer {
            Ok(r) if r.status().is_success() => {
                fate.acked_at = Some(Utc::now());
                return fate;
            }
            Ok(r) => {
                let retry_after = r.headers().contains_key("retry-after");
                fate.refusals.push((r.status().as_u16(), retry_after));
                // Alertmanager gives up on a 4xx at once: so does the load.
                if r.status().is_client_error() {
                    return fate;
                }
            }
            Err(_) => fate.refusals.push((0, false)),
        }
        let delay = RETRY_DELAYS_MS[attempt.min(RETRY_DELAYS_MS.len() - 1)];
        if started.elapsed() + Duration::from_millis(delay) > load.give_up {
            return fate;
        }
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    unreachable!("the loop returns")
}

/// The `k`th choice among the replicas a health check would send to (all, if none is up).
fn pick(load: &Load, k: usize) -> &str {
    let up: Vec<&str> = load
        .targets
        .iter()
        .filter(|(_, up)| up.load(Ordering::Relaxed))
        .map(|(t, _)| t.as_str())
        .collect();
    if up.is_empty() {
        &load.targets[k % load.targets.len()].0
    } else {
        up[k % up.len()]
    }
}
