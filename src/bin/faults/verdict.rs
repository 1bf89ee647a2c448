//! After a scenario: waits (bounded) until every page owed has reached the fake, then compares
//! what Alertmanager was told (2xx), what Postgres holds and what the fake received.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::fake::Fake;
use crate::load::Fate;

/// One line of the table.
#[derive(Debug, Serialize, Default)]
pub struct Row {
    pub scenario: String,
    pub load: String,
    pub fault: String,
    pub webhooks: usize,
    pub answered_2xx: usize,
    /// Answered 2xx but not in Postgres.
    pub lost: usize,
    /// Given up without a 2xx (the load re-sent them until the give-up time).
    pub unanswered: usize,
    pub answers_4xx: usize,
    pub answers_503: usize,
    pub answers_503_without_retry_after: usize,
    pub network_errors: usize,
    pub longest_answer_s: f64,
    pub pages_owed: usize,
    pub pages_lost: usize,
    /// Pages that arrived more than once with the same message id (one outbox row sent again).
    pub pages_duplicated: usize,
    /// … of which the sender had logged as a redelivery after a lease ran out.
    pub duplicates_counted: usize,
    /// The same step of an incident arriving under two message ids: a step fired twice.
    pub steps_doubled: usize,
    pub lateness_p99_s: f64,
    pub lateness_max_s: f64,
    pub recovered_s: Option<f64>,
    pub refused_by_fake: u64,
    /// No webhook try may take longer than this (the webhook's own deadline and a margin).
    pub answer_budget_s: Option<f64>,
    /// What a scenario found wrong beyond the common checks.
    pub failures: Vec<String>,
    pub notes: Vec<String>,
}

pub const HEADER: &str = "| scenario | load | fault | webhooks 2xx / sent | 2xx lost | pages lost / owed | pages duplicated (counted redeliveries) | lateness p99 / max | recovered in |\n|---|---|---|---|---|---|---|---|---|";

impl Row {
    pub fn markdown(&self) -> String {
        let mut answers = format!("{} / {}", self.answered_2xx, self.webhooks);
        if self.answers_503 > 0 || self.network_errors > 0 {
            answers.push_str(&format!(
                " ({} × 503, {} network errors on the way)",
                self.answers_503, self.network_errors
            ));
        }
        let mut notes = self.broken();
        notes.extend(self.notes.iter().cloned());
        let fault = if notes.is_empty() {
            self.fault.clone()
        } else {
            format!("{} — **{}**", self.fault, notes.join("; "))
        };
        format!(
            "| {} | {} | {} | {} | {} | {} / {} | {} ({}) | {:.2} s / {:.2} s | {} |",
            self.scenario,
            self.load,
            fault,
            answers,
            self.lost,
            self.pages_lost,
            self.pages_owed,
            self.pages_duplicated,
            self.duplicates_counted,
            self.lateness_p99_s,
            self.lateness_max_s,
            self.recovered_s
                .map_or("never".into(), |s| format!("{s:.1} s")),
        )
    }

    /// The promises this row breaks.
    pub fn broken(&self) -> Vec<String> {
        let mut broken = Vec::new();
        let mut check = |bad: bool, what: String| {
            if bad {
                broken.push(what);
            }
        };
        check(
            self.lost > 0,
            format!("{} webhooks answered 2xx but not stored", self.lost),
        );
        check(
            self.pages_lost > 0,
            format!("{} pages lost", self.pages_lost),
        );
        check(
            self.answers_4xx > 0,
            format!("{} answers 4xx", self.answers_4xx),
        );
        check(
            self.answers_503_without_retry_after > 0,
            format!(
                "{} 503s without Retry-After",
                self.answers_503_without_retry_after
            ),
        );
        check(
            self.steps_doubled > 0,
            format!("{} steps fired twice", self.steps_doubled),
        );
        check(
            self.pages_duplicated > self.duplicates_counted,
            format!(
                "{} duplicates not counted as redeliveries",
                self.pages_duplicated - self.duplicates_counted
            ),
        );
        check(
            self.unanswered > 0,
            format!("{} webhooks never answered 2xx", self.unanswered),
        );
        check(
            self.refused_by_fake > 0,
            format!("{} messages badly signed", self.refused_by_fake),
        );
        check(self.recovered_s.is_none(), "never recovered".into());
        if let Some(budget) = self.answer_budget_s {
            check(
                self.longest_answer_s > budget,
                format!(
                    "a try took {:.1} s (budget {budget} s)",
                    self.longest_answer_s
                ),
            );
        }
        broken.extend(self.failures.iter().cloned());
        broken
    }
}

pub struct Judge<'a> {
    pub url: &'a str,
    pub fake: &'a Fake,
    pub steps: &'a [Duration],
    /// When the fault ended (recovery counts from it).
    pub fault_end: Option<DateTime<Utc>>,
    /// The replicas' logs, where each redelivery is logged with its outbox row.
    pub logs: Vec<std::path::PathBuf>,
    /// How long to wait for the pages owed once the load has ended.
    pub wait: Duration,
}

struct Incident {
    n: u64,
    number: i64,
    opened_at: DateTime<Utc>,
}

impl Judge<'_> {
    pub async fn judge(&self, mut row: Row, fates: &[Fate]) -> anyhow::Result<Row> {
        let pool = sqlx::PgPool::connect(self.url).await?;
        tally_answers(&mut row, fates);
        let incidents = incidents(&pool).await?;
        let stored: HashSet<u64> = incidents.iter().map(|i| i.n).collect();
        row.lost = fates
            .iter()
            .filter(|f| f.acked_at.is_some() && !stored.contains(&f.n))
            .count();
        // Every step of every stored incident is owed (the policies do not repeat).
        let owed: Vec<(i64, i64, DateTime<Utc>)> = incidents
            .iter()
            .flat_map(|i| {
                self.steps.iter().enumerate().map(|(s, d)| {
                    (
                        i.number,
                        s as i64,
                        i.opened_at + chrono::TimeDelta::from_std(*d).unwrap(),
                    )
                })
            })
            .collect();
        row.pages_owed = owed.len();
        let deadline = Instant::now() + self.wait + *self.steps.iter().max().unwrap();
        loop {
            let counts = self.fake.counts();
            let missing = owed
                .iter()
                .filter(|(n, s, _)| !counts.contains_key(&(*n, 0, *s)))
                .count();
            if missing == 0 || Instant::now() > deadline {
                row.pages_lost = missing;
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        self.duplicates(&pool, &mut row).await?;
        if let Some((number, step)) = self.lateness(&mut row, &owed, fates) {
            explain(&pool, number, step).await;
        }
        row.refused_by_fake = self.fake.refused.load(std::sync::atomic::Ordering::Relaxed);
        pool.close().await;
        Ok(row)
    }

    async fn duplicates(&self, pool: &sqlx::PgPool, row: &mut Row) -> anyhow::Result<()> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("select id, dedup_key from outbox where channel = 'webhook'")
                .fetch_all(pool)
                .await?;
        let by_msg: HashMap<String, i64> = rows
            .into_iter()
            .map(|(id, key)| (alertrouter::channels::webhook::message_id(&key), id))
            .collect();
        let mut per_msg: HashMap<String, usize> = HashMap::new();
        let mut ids_per_step: HashMap<(i64, i64, i64), HashSet<String>> = HashMap::new();
        for r in self.fake.receipts() {
            *per_msg.entry(r.msg_id.clone()).or_default() += 1;
            ids_per_step
                .entry((r.number, r.round, r.step))
                .or_default()
                .insert(r.msg_id);
        }
        let redelivered: HashSet<i64> = self.logs.iter().flat_map(|l| redelivered(l)).collect();
        for (msg, count) in per_msg {
            if count > 1 {
                row.pages_duplicated += count - 1;
                if by_msg.get(&msg).is_some_and(|id| redelivered.contains(id)) {
                    row.duplicates_counted += count - 1;
                }
            }
        }
        row.steps_doubled = ids_per_step.values().filter(|ids| ids.len() > 1).count();
        Ok(())
    }

    /// Fills in lateness and recovery; returns the latest page's (incident number, step).
    fn lateness(
        &self,
        row: &mut Row,
        owed: &[(i64, i64, DateTime<Utc>)],
        fates: &[Fate],
    ) -> Option<(i64, i64)> {
        let mut first: HashMap<(i64, i64), DateTime<Utc>> = HashMap::new();
        for r in self.fake.receipts().into_iter().filter(|r| r.round == 0) {
            let at = first.entry((r.number, r.step)).or_insert(r.at);
            *at = (*at).min(r.at);
        }
        let mut late: Vec<f64> = owed
            .iter()
            .filter_map(|(n, s, due)| {
                let got = first.get(&(*n, *s))?;
                Some(((*got - *due).num_milliseconds() as f64 / 1000.0).max(0.0))
            })
            .collect();
        late.sort_by(f64::total_cmp);
        let worst = owed
            .iter()
            .filter_map(|(n, s, due)| Some((*first.get(&(*n, *s))? - *due, *n, *s, *due)))
            .max();
        if let Some(worst) = worst {
            eprintln!(
                "faults: latest page: incident {} step {} due {} arrived {:.2} s late",
                worst.1,
                worst.2,
                worst.3,
                worst.0.num_milliseconds() as f64 / 1000.0
            );
        }
        if let Some(max) = late.last() {
            row.lateness_max_s = *max;
            row.lateness_p99_s = late[((late.len() as f64 * 0.99).ceil() as usize).max(1) - 1];
        }
        // Recovered: webhooks answered 2xx again and every page due before the fault ended
        // delivered.
        if let Some(end) = self.fault_end {
            let answered = fates
                .iter()
                .filter_map(|f| f.acked_at)
                .filter(|at| *at >= end)
                .min();
            let caught_up = owed
                .iter()
                .filter(|(_, _, due)| *due <= end)
                .map(|(n, s, _)| first.get(&(*n, *s)).copied())
                .try_fold(end, |latest, got| got.map(|g| latest.max(g)));
            row.recovered_s = match (answered, caught_up) {
                (Some(a), Some(c)) => Some(a.max(c)),
                (None, Some(c)) => Some(c),
                _ => None,
            }
            .map(|at| (at - end).num_milliseconds() as f64 / 1000.0);
        }
        worst.map(|w| (w.1, w.2))
    }
}

/// Prints the story of one page's outbox rows (to see what kept the latest one late).
async fn explain(pool: &sqlx::PgPool, number: i64, step: i64) {
    type Story = (String, String, i32, Option<DateTime<Utc>>, Option<String>);
    let rows: Result<Vec<Story>, _> = sqlx::query_as(
        "select o.status, to_char(o.created_at, 'HH24:MI:SS.MS') || ' due ' ||
                to_char(o.due_at, 'HH24:MI:SS.MS'), o.attempts, o.sent_at, o.last_error
             from outbox o join incidents i on i.id = o.incident_id
             where i.number = $1 and (o.payload->>'step')::int = $2",
    )
    .bind(number)
    .bind(step as i32)
    .fetch_all(pool)
    .await;
    match rows {
        Ok(rows) => {
            for (status, times, attempts, sent, error) in rows {
                eprintln!(
                    "faults:   its outbox row: {status}, written {times}, {attempts} attempts, sent {sent:?}, last error {error:?}"
                );
            }
        }
        Err(e) => eprintln!("faults:   its outbox row could not be read: {e}"),
    }
}

fn tally_answers(row: &mut Row, fates: &[Fate]) {
    row.webhooks = fates.len();
    row.answered_2xx = fates.iter().filter(|f| f.acked_at.is_some()).count();
    row.unanswered = row.webhooks - row.answered_2xx;
    for (status, retry_after) in fates.iter().flat_map(|f| f.refusals.iter()) {
        match status {
            0 => row.network_errors += 1,
            400..=499 => row.answers_4xx += 1,
            503 => {
                row.answers_503 += 1;
                if !retry_after {
                    row.answers_503_without_retry_after += 1;
                }
            }
            _ => row
                .notes
                .push(format!("answered {status}, which no fault should cause")),
        }
    }
    row.longest_answer_s = fates
        .iter()
        .map(|f| f.longest.as_secs_f64())
        .fold(0.0, f64::max);
}

async fn incidents(pool: &sqlx::PgPool) -> anyhow::Result<Vec<Incident>> {
    let rows: Vec<(String, i64, DateTime<Utc>)> = sqlx::query_as(
        "select group_labels->>'fault_n', number, opened_at from incidents
         where group_labels ? 'fault_n'",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(n, number, opened_at)| {
            Some(Incident {
                n: n.parse().ok()?,
                number,
                opened_at,
            })
        })
        .collect())
}

/// The outbox rows a replica's log names as redelivered (claimed again after a lease ran out).
fn redelivered(log: &std::path::Path) -> Vec<i64> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains("redelivering"))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["outbox_id"].as_i64())
        .collect()
}
