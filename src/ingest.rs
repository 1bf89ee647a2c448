//! The imperative shell of webhook ingest: load the group, let the core decide, commit the plan,
//! and remember exact re-sends so the common no-news message costs no database round trip.

mod group_commit;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use crate::alertmanager::{AlertStatus, Webhook};
use crate::clock::Clock;
use crate::config::IngestSettings;
use crate::core::IncidentStatus;
use crate::core::escalation::{self, ChainChange, PolicySnapshot};
use crate::core::ingest::{EventKind, GroupSnapshot, IngestPolicy, Plan, decide};
use crate::core::notification::{Notice, NoticeKind};
use crate::core::policy::Policies;
use crate::live::{Live, Reloadable};
use crate::metrics::Metrics;
use crate::routing;
use crate::store::{self, EscalationWrite, GroupRef, WriteOutcome};

/// How many times a webhook is decided again after losing a race before it is answered 503.
const MAX_ATTEMPTS: usize = 8;

/// How many group hashes are remembered as known to exist (16 bytes each).
const KNOWN_GROUPS: usize = 65_536;

/// What a webhook did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Something changed and was committed.
    Changed,
    /// Nothing new: nothing written.
    Unchanged,
}

/// Webhook ingest for one process.
pub struct Ingestor {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    policy: IngestPolicy,
    metrics: Arc<Metrics>,
    seen: SeenMessages,
    /// The routing tree incidents are keyed by and the policies routes name.
    live: Arc<Live<Reloadable>>,
    /// Hashes of groups known to exist (a hint only: see `ingest`).
    groups: SeenMessages,
    changes: watch::Sender<u64>,
    /// Writes the one-statement plans of concurrent webhooks together (started on first use,
    /// inside the runtime).
    group_commit: OnceLock<group_commit::GroupCommit>,
}

impl Ingestor {
    /// An ingestor writing to `pool`, reading time from `clock`.
    pub fn new(
        pool: PgPool,
        clock: Arc<dyn Clock>,
        settings: &IngestSettings,
        live: Arc<Live<Reloadable>>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Ingestor {
            pool,
            clock,
            policy: IngestPolicy {
                reopen_window: TimeDelta::from_std(settings.reopen_window)
                    .unwrap_or(TimeDelta::MAX),
                flapping_reopens: settings.flapping_reopens,
                flapping_window: TimeDelta::from_std(settings.flapping_window)
                    .unwrap_or(TimeDelta::MAX),
                default_severity: settings.default_severity,
            },
            metrics,
            seen: SeenMessages::new(settings.dedup_cache_entries),
            live,
            groups: SeenMessages::new(KNOWN_GROUPS),
            changes: watch::channel(0).0,
            group_commit: OnceLock::new(),
        }
    }

    /// A receiver that sees a new value after every committed change (tests wait on it instead
    /// of sleeping).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Ingests one validated webhook from `integration`. An `Err` means nothing may have been
    /// committed and the sender must retry.
    pub async fn ingest(
        &self,
        integration: &str,
        webhook: &Webhook,
    ) -> Result<Ingested, sqlx::Error> {
        let digest = message_digest(integration, &webhook.group_key, webhook);
        if self.seen.contains(&digest) {
            self.metrics.cache_hit();
            return Ok(Ingested::Unchanged);
        }
        // One snapshot of the config for the whole webhook, even if a reload lands meanwhile.
        let live = self.live.get();
        let batches = routing::partition(&live.routes, webhook);
        let mut work: Vec<Work<'_, '_>> = batches
            .iter()
            .map(|batch| {
                let mut fingerprints: Vec<String> = batch
                    .alerts
                    .iter()
                    .map(|a| a.fingerprint.to_string())
                    .collect();
                fingerprints.sort_unstable();
                fingerprints.dedup();
                let hash = group_hash(integration, &batch.route.id, &batch.group_key);
                // A group this process has not seen, with nothing to resolve, is most likely
                // new: try the empty snapshot first. If it exists after all, the version check
                // refuses the write and the next attempt loads it; correctness never depends on
                // this guess.
                let guess_new = !self.groups.contains(&hash)
                    && batch.alerts.iter().all(|a| a.status == AlertStatus::Firing);
                Work {
                    batch,
                    fingerprints,
                    hash,
                    guess_new,
                    new_id: Uuid::now_v7(),
                }
            })
            .collect();
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let mut plans = Vec::new();
            for w in &work {
                let b = w.batch;
                let snapshot = if w.guess_new {
                    GroupSnapshot::default()
                } else {
                    store::load_group(
                        &self.pool,
                        integration,
                        &b.route.id,
                        &b.group_key,
                        &w.fingerprints,
                    )
                    .await?
                };
                self.groups.insert(w.hash);
                if let Some(plan) = decide(&snapshot, &b.alerts, &self.policy, now, w.new_id) {
                    let group = GroupRef {
                        escalation: escalation_write(
                            &live.policies,
                            b.route.policy.as_deref(),
                            &snapshot,
                            &plan,
                            now,
                            &self.metrics,
                        ),
                        integration,
                        route: &b.route.id,
                        policy: b.route.policy.as_deref(),
                        group_key: &b.group_key,
                        group_labels: &b.group_labels,
                        external_url: &webhook.external_url,
                    };
                    plans.push((group, snapshot.version, plan));
                }
            }
            if plans.is_empty() {
                self.seen.insert(digest);
                return Ok(Ingested::Unchanged);
            }
            match self.commit(&plans, now).await? {
                WriteOutcome::Committed => {
                    self.seen.insert(digest);
                    self.changes.send_modify(|n| *n += 1);
                    return Ok(Ingested::Changed);
                }
                WriteOutcome::Conflict => {
                    if !work.iter().any(|w| w.guess_new) {
                        self.metrics.conflict();
                    }
                    work.iter_mut().for_each(|w| w.guess_new = false);
                }
            }
        }
        Err(sqlx::Error::Protocol(format!(
            "group {:?} kept changing under {MAX_ATTEMPTS} attempts",
            webhook.group_key
        )))
    }

    /// Commits every plan of one webhook atomically: one statement when there is one (the common
    /// case), written in a group commit with other webhooks'; its own transaction when a
    /// webhook's alerts went to several incidents or it resolves or reopens one (rare, and they
    /// take more statements and locks, which a shared transaction would hold for all).
    async fn commit(
        &self,
        plans: &[(GroupRef<'_>, i64, Plan<'_>)],
        now: DateTime<Utc>,
    ) -> Result<WriteOutcome, sqlx::Error> {
        // A resolution and a reopen also write notices, after a read of where the incident
        // is shown: rare, so they take a transaction; every other webhook is one statement.
        let alone = |g: &GroupRef<'_>| {
            !matches!(
                g.escalation,
                EscalationWrite::Resume { .. } | EscalationWrite::Stop
            )
        };
        if let [(group, version, plan)] = plans
            && alone(group)
        {
            let committer = self.group_commit.get_or_init(|| {
                // Half the pool: the rest stays for group loads, workers and the API.
                let committers = (self.pool.options().get_max_connections() / 2).clamp(1, 8);
                group_commit::GroupCommit::start(
                    self.pool.clone(),
                    committers as usize,
                    self.metrics.clone(),
                )
            });
            let row = store::PlanRow::new(group, *version, plan, now);
            return committer.write(row).await;
        }
        let mut tx = self.pool.begin().await?;
        let mut resolutions = Vec::new();
        let report_delay = crate::core::escalation::delta(self.live.get().reports.delay);
        for (group, version, plan) in plans {
            if store::apply_plan(&mut *tx, group, *version, plan, now).await?
                == WriteOutcome::Conflict
            {
                tx.rollback().await?;
                return Ok(WriteOutcome::Conflict);
            }
            let id = plan.incident.id;
            match (&group.escalation, &plan.incident.reopen) {
                (EscalationWrite::Resume { .. }, Some(reopen)) => {
                    store::apply_resume(&mut tx, id, reopen, now).await?;
                }
                (EscalationWrite::Stop, _) => {
                    let resolved = Notice {
                        incident: id,
                        kind: NoticeKind::Resolved,
                        at: now,
                        actor: None,
                        detail: serde_json::Value::Null,
                    };
                    store::notify(&mut tx, id, now, &[resolved], Default::default()).await?;
                    store::reports::schedule(&mut tx, id, now + report_delay).await?;
                    if let Some(opened) = store::opened_at(&mut tx, id).await? {
                        let seconds = (now - opened).as_seconds_f64();
                        resolutions.push((plan.incident.severity, seconds));
                    }
                }
                _ => {}
            }
        }
        tx.commit().await?;
        for (severity, seconds) in resolutions {
            self.metrics.response.resolved(severity.as_str(), seconds);
        }
        Ok(WriteOutcome::Committed)
    }
}

/// What the plan does to the escalation chain: an incident that opens starts its route's
/// policy, one that reopens within the window resumes where it was, one that resolves stops.
fn escalation_write(
    policies: &Policies,
    policy: Option<&str>,
    snapshot: &GroupSnapshot,
    plan: &Plan<'_>,
    now: DateTime<Utc>,
    metrics: &Metrics,
) -> EscalationWrite {
    let opening = plan
        .events
        .iter()
        .map(|e| e.kind)
        .find(|k| matches!(k, EventKind::Opened | EventKind::Reopened));
    let route_policy = policy.and_then(|p| policies.policies.get(p));
    if let (Some(name), None, Some(_)) = (policy, route_policy, opening) {
        tracing::error!(incident = %plan.incident.id, policy = name,
            "the route names a policy that does not exist; nobody is paged");
        metrics.risks.chain_fallback("missing_policy");
    }
    let stored = snapshot
        .incident
        .as_ref()
        .filter(|i| i.id == plan.incident.id)
        .and_then(|i| i.chain.as_ref());
    if let Some(s) =
        stored.filter(|s| s.policy.is_none() && s.chain.generation > 0 && opening.is_some())
    {
        tracing::error!(incident = %plan.incident.id, generation = s.chain.generation,
            "the incident's stored policy does not parse; its route's current policy takes over");
        metrics.risks.chain_fallback("unreadable_snapshot");
    }
    let resolved = plan.incident.status == IncidentStatus::Resolved;
    match escalation::after_ingest(opening, resolved, stored, route_policy, now) {
        ChainChange::Keep => EscalationWrite::Keep,
        ChainChange::Stop => EscalationWrite::Stop,
        ChainChange::Start { chain, policy } => EscalationWrite::Start {
            due_at: chain.due_at,
            snapshot: snapshot_json(&policy),
            response_target: policy.response_target,
        },
        ChainChange::Resume { chain, policy } => EscalationWrite::Resume {
            due_at: chain.due_at,
            snapshot: policy.as_ref().map(snapshot_json),
        },
    }
}

fn snapshot_json(policy: &crate::core::policy::EscalationPolicy) -> serde_json::Value {
    serde_json::to_value(PolicySnapshot::from(policy)).unwrap_or(serde_json::Value::Null)
}

/// One batch of a webhook on its way through the core.
struct Work<'b, 'w> {
    batch: &'b routing::Batch<'w, 'b>,
    fingerprints: Vec<String>,
    hash: [u8; 16],
    guess_new: bool,
    new_id: Uuid,
}

fn group_hash(integration: &str, route: &str, group_key: &str) -> [u8; 16] {
    let mut hash = Sha256::new();
    for part in [integration, route, group_key] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&hash.finalize()[..16]);
    out
}

/// What identifies a message's news: its group and every occurrence with its status and end.
/// Two messages with the same digest change the database in the same way.
fn message_digest(integration: &str, group_key: &str, webhook: &Webhook) -> [u8; 16] {
    let mut occurrences: Vec<_> = webhook
        .alerts
        .iter()
        .map(|a| {
            (
                a.fingerprint,
                a.starts_at.timestamp_micros(),
                a.status.as_str(),
                a.ends_at.map(|t| t.timestamp_micros()),
            )
        })
        .collect();
    occurrences.sort_unstable();
    let mut hash = Sha256::new();
    hash.update(integration.as_bytes());
    hash.update([0]);
    hash.update(group_key.as_bytes());
    hash.update([0]);
    for (fp, starts, status, ends) in occurrences {
        hash.update(fp.to_string().as_bytes());
        hash.update(starts.to_le_bytes());
        hash.update(status.as_bytes());
        hash.update(ends.unwrap_or(i64::MIN).to_le_bytes());
    }
    let full = hash.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

type Generation = HashSet<[u8; 16]>;

/// A bounded set of committed message digests: two generations, the older dropped when the
/// newer fills, so memory stays bounded and recent messages stay remembered.
struct SeenMessages {
    capacity: usize,
    /// (newer, older)
    generations: Mutex<(Generation, Generation)>,
}

impl SeenMessages {
    fn new(capacity: usize) -> Self {
        SeenMessages {
            capacity: capacity / 2,
            generations: Mutex::new((HashSet::new(), HashSet::new())),
        }
    }

    fn contains(&self, digest: &[u8; 16]) -> bool {
        let g = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        g.0.contains(digest) || g.1.contains(digest)
    }

    fn insert(&self, digest: [u8; 16]) {
        if self.capacity == 0 {
            return;
        }
        let mut g = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        if g.0.len() >= self.capacity {
            let newer = std::mem::take(&mut g.0);
            g.1 = newer;
        }
        g.0.insert(digest);
    }
}
