//! The outbox dispatcher: claims due notifications in order per destination, sends them outside
//! any transaction, and records sent / retry (exponential backoff with jitter, `Retry-After`
//! honoured) / dead.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::StreamExt;
use secrecy::SecretString;
use sqlx::PgPool;
use uuid::Uuid;

use crate::channels::slack::SlackTarget;
use crate::channels::{Channels, Delivery, SendResult, mask_contacts};
use crate::clock::Clock;
use crate::core::policy::User;
use crate::live::{Live, Reloadable};
use crate::metrics::Metrics;
use crate::store::outbox::{self as store, OUTBOX_CHANNEL, Recorded};
use crate::workers::limits::Limits;

/// The channels this dispatcher delivers.
pub const DELIVERED_CHANNELS: [&str; 5] = ["webhook", "pagerduty", "sms", "slack", "email"];

/// Tuning of the dispatcher.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// How long a claim holds without news; a send in flight renews it every third of this, so
    /// a live send is never taken over however slow its provider.
    pub lease: Duration,
    pub batch: i64,
    /// Sends in flight per channel.
    pub concurrency: usize,
    /// First retry delay; doubles per attempt up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// A notification failing this many times, or this old, is dead.
    pub max_attempts: i32,
    pub max_age: Duration,
    pub poll: Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            lease: Duration::from_secs(60),
            batch: 100,
            concurrency: 32,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            max_attempts: 12,
            max_age: Duration::from_secs(24 * 3600),
            poll: Duration::from_secs(1),
        }
    }
}

/// Reads one environment variable.
type EnvFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// One dispatcher (any number may run on one database).
pub struct Dispatcher {
    pub id: Uuid,
    pool: PgPool,
    clock: Arc<dyn Clock>,
    live: Arc<Live<Reloadable>>,
    metrics: Arc<Metrics>,
    channels: Channels,
    settings: DispatchSettings,
    limits: Limits,
    /// Where `${ENV}` references of routing keys are read (tests inject their own).
    env: Arc<EnvFn>,
    /// How many destinations each channel had pending rows for at its last claim.
    destinations: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl Dispatcher {
    /// A dispatcher with a fresh id.
    pub fn new(
        pool: PgPool,
        clock: Arc<dyn Clock>,
        live: Arc<Live<Reloadable>>,
        metrics: Arc<Metrics>,
        channels: Channels,
        settings: DispatchSettings,
    ) -> Self {
        let mut channels = channels;
        channels.slack.count_fallbacks_in(metrics.clone());
        Dispatcher {
            limits: Limits::new(clock.clone(), &channels.rate_limits),
            id: Uuid::now_v7(),
            pool,
            clock,
            live,
            metrics,
            channels,
            settings,
            env: Arc::new(crate::config::process_env),
            destinations: Default::default(),
        }
    }

    /// Reads `${ENV}` references from `env` instead of the process environment.
    pub fn with_env(
        mut self,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Arc::new(env);
        self
    }

    /// Claims one batch, sends it, records the results. Returns how many were claimed.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let now = self.clock.now();
        let lease_until = now + delta(self.settings.lease);
        let all: Vec<(&str, i64)> = DELIVERED_CHANNELS
            .iter()
            .map(|c| (*c, self.settings.batch))
            .collect();
        let claimed = self
            .claim(&all, now, lease_until, self.settings.batch)
            .await?;
        let n = claimed.len();
        let mut sends = futures_util::stream::iter(claimed)
            .map(|(delivery, created_at)| self.deliver(delivery, created_at))
            .buffer_unordered(self.settings.concurrency.max(1));
        while let Some(result) = sends.next().await {
            if let Err(e) = result {
                tracing::warn!(error = %e, "delivery result not recorded; the lease will expire and it is sent again");
            }
        }
        Ok(n)
    }

    async fn deliver(
        &self,
        mut delivery: Delivery,
        created_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        if delivery.redelivery {
            self.metrics.redelivery(&delivery.channel);
        }
        let now = self.clock.now();
        if let Err(wait) = self.limits.check(&delivery.channel, &delivery.recipient) {
            self.metrics.delivery(&delivery.channel, "rate_limited");
            let at = now + delta(wait);
            store::record_delivery(
                &self.pool,
                delivery.id,
                self.id,
                &Recorded::Deferred { at },
                now,
            )
            .await?;
            return Ok(());
        }
        if bundles(&delivery) {
            let lease_until = now + delta(self.settings.lease);
            delivery.bundled =
                store::claim_bundle(&self.pool, self.id, &delivery, now, lease_until, MAX_BUNDLE)
                    .await?;
        }
        // Held for as long as the send takes, however slow the provider.
        let held: Vec<i64> = std::iter::once(delivery.id)
            .chain(delivery.bundled.iter().map(|b| b.id))
            .collect();
        let result = super::lease::keeping(
            &self.pool,
            &self.clock,
            self.id,
            &held,
            self.settings.lease,
            self.send(&delivery, now),
        )
        .await;
        if !delivery.bundled.is_empty() {
            let ids: Vec<i64> = delivery.bundled.iter().map(|b| b.id).collect();
            let sent = matches!(result, SendResult::Sent { .. });
            if sent {
                self.metrics
                    .delivery_n(&delivery.channel, "bundled", ids.len() as u64);
            }
            store::settle_bundle(
                &self.pool,
                self.id,
                delivery.id,
                &ids,
                sent,
                self.clock.now(),
            )
            .await?;
        }
        let recorded = decide(
            &delivery,
            created_at,
            result,
            &self.settings,
            self.clock.now(),
        );
        match &recorded {
            Recorded::Sent { .. } => self.metrics.delivery(&delivery.channel, "sent"),
            Recorded::RetryAt { error, .. } => {
                self.metrics.delivery(&delivery.channel, "retry");
                let error = mask_contacts(error);
                tracing::info!(id = delivery.id, channel = %delivery.channel, %error, "delivery failed; will retry");
            }
            Recorded::Deferred { .. } => {}
            Recorded::Dead { error } => {
                self.metrics.delivery(&delivery.channel, "dead");
                let error = mask_contacts(error);
                tracing::error!(id = delivery.id, channel = %delivery.channel, %error, "delivery dead");
            }
        }
        store::record_delivery(
            &self.pool,
            delivery.id,
            self.id,
            &recorded,
            self.clock.now(),
        )
        .await?;
        Ok(())
    }

    async fn send(&self, delivery: &Delivery, now: DateTime<Utc>) -> SendResult {
        if self.channels.log.covers(&delivery.channel) {
            return self.channels.log.send(delivery);
        }
        match delivery.channel.as_str() {
            "webhook" => self.send_webhook(delivery, now).await,
            "pagerduty" => {
                let service = match delivery.recipient.strip_prefix("pagerduty:") {
                    Some(name) => Some(name.to_string()),
                    None => self.default_pagerduty_service(),
                };
                match service.map(|name| self.routing_key(&name)) {
                    Some(Ok(key)) => self.channels.pagerduty.send(&key, delivery, now).await,
                    Some(Err(error)) => SendResult::Dead { error },
                    None => SendResult::Dead {
                        error: "no PagerDuty service for a person: set channels.pagerduty.default_service".into(),
                    },
                }
            }
            "sms" => match self.contact(delivery, |u| u.phone.clone()) {
                Some(phone) => match store::opted_out(&self.pool, &phone).await {
                    Ok(true) => SendResult::Dead {
                        error: format!("{} replied STOP to SMS", delivery.recipient),
                    },
                    Ok(false) => self.channels.sms.send(&phone, delivery, now).await,
                    Err(e) => SendResult::Retry {
                        after: None,
                        error: format!("database: {e}"),
                    },
                },
                None => SendResult::Dead {
                    error: format!("{} has no phone number", delivery.recipient),
                },
            },
            "slack" => self.send_slack(delivery, now).await,
            "email" => match self.contact(delivery, |u| u.email.clone()) {
                Some(address) => self.channels.email.send(&address, delivery, now).await,
                None => SendResult::Dead {
                    error: format!("{} has no e-mail address", delivery.recipient),
                },
            },
            other => SendResult::Dead {
                error: format!("channel {other:?} is not delivered by this version"),
            },
        }
    }

    /// An outgoing webhook, unless its endpoint answered 410 Gone (then disabled until its URL
    /// changes).
    async fn send_webhook(&self, delivery: &Delivery, now: DateTime<Utc>) -> SendResult {
        let name = delivery.recipient.strip_prefix("webhook:").unwrap_or("");
        let Some(url) = self.live.get().policies.webhooks.get(name).cloned() else {
            return SendResult::Dead {
                error: format!("no webhook destination {name:?} in policies"),
            };
        };
        match crate::store::webhooks::webhook_disabled_at(&self.pool, name, &url).await {
            Ok(Some(at)) => {
                return SendResult::Dead {
                    error: format!(
                        "webhook {name:?} is disabled: it answered 410 Gone at {at}; change its URL to enable it again"
                    ),
                };
            }
            Ok(None) => {}
            Err(e) => {
                return SendResult::Retry {
                    after: None,
                    error: format!("database: {e}"),
                };
            }
        }
        let result = self.channels.webhook.send(&url, delivery, now).await;
        if let SendResult::Gone { error } = &result {
            tracing::error!(webhook = name, %error, "webhook endpoint answered 410 Gone: disabled until its URL changes");
            self.metrics.risks.webhook_disabled(name);
            if let Err(e) =
                crate::store::webhooks::disable_webhook(&self.pool, name, &url, error, now).await
            {
                tracing::warn!(webhook = name, error = %e, "could not record the disabled webhook");
            }
        }
        result
    }

    /// A contact detail of the paged person, if the recipient is a person who has it.
    fn contact(
        &self,
        delivery: &Delivery,
        field: impl Fn(&User) -> Option<String>,
    ) -> Option<String> {
        let name = delivery.recipient.strip_prefix("user:")?;
        self.live.get().policies.users.get(name).and_then(field)
    }

    /// Slack: a DM to the paged person or a post to a channel; later pages of the same incident
    /// edit that message and reply in its thread.
    async fn send_slack(&self, delivery: &Delivery, now: DateTime<Utc>) -> SendResult {
        let live = self.live.get();
        let (target, mention) = match delivery.recipient.split_once(':') {
            Some(("user", name)) => match live
                .policies
                .users
                .get(name)
                .and_then(|u| u.slack_id.clone())
            {
                Some(id) => (id.clone(), Some(id)),
                None => {
                    return SendResult::Dead {
                        error: format!("{} has no slack_id", delivery.recipient),
                    };
                }
            },
            Some(("slack_channel", name)) => match live.policies.slack_channels.get(name) {
                Some(channel) => (channel.clone(), None),
                None => {
                    return SendResult::Dead {
                        error: format!("no Slack channel {name:?} in policies"),
                    };
                }
            },
            _ => {
                return SendResult::Dead {
                    error: format!("Slack cannot reach {}", delivery.recipient),
                };
            }
        };
        let existing = match store::slack_message(&self.pool, delivery.incident.id, &target).await {
            Ok(existing) => existing,
            Err(e) => {
                return SendResult::Retry {
                    after: None,
                    error: format!("database: {e}"),
                };
            }
        };
        let first = existing.is_none();
        let to = SlackTarget {
            target: &target,
            mention: mention.as_deref(),
            existing,
        };
        let result = self.channels.slack.send(to, delivery, now).await;
        let posted = match (&result, first) {
            (SendResult::Sent { reference }, true) => reference.split_once(' '),
            _ => None,
        };
        if let Some((channel, ts)) = posted {
            let id = delivery.incident.id;
            // If this fails, the next page posts a new message instead of editing this one.
            if let Err(e) =
                store::remember_slack_message(&self.pool, id, &target, channel, ts).await
            {
                tracing::warn!(error = %e, "Slack message not remembered");
            }
        }
        result
    }

    /// The configured default service, or the only one there is.
    fn default_pagerduty_service(&self) -> Option<String> {
        if let Some(name) = &self.channels.pagerduty_default_service {
            return Some(name.clone());
        }
        let live = self.live.get();
        let mut names = live.policies.pagerduty_services.keys();
        match (names.next(), names.next()) {
            (Some(only), None) => Some(only.clone()),
            _ => None,
        }
    }

    /// A service's routing key, from the `${ENV}` reference in `destinations.pagerduty_services`.
    fn routing_key(&self, service: &str) -> Result<SecretString, String> {
        let live = self.live.get();
        let reference = live
            .policies
            .pagerduty_services
            .get(service)
            .ok_or_else(|| format!("no PagerDuty service {service:?} in policies"))?;
        let var = reference.trim_start_matches("${").trim_end_matches('}');
        (self.env)(var)
            .filter(|v| !v.is_empty())
            .map(SecretString::from)
            .ok_or_else(|| {
                format!("the routing key of PagerDuty service {service:?}: {var} is not set")
            })
    }

    /// Claims up to `limit` rows, at most `cap` per `(channel, cap)`, choosing per channel how
    /// its queue heads are found from how many destinations it had last time (a skip scan until
    /// a claim shows many: it never costs more than one probe per destination).
    async fn claim(
        &self,
        caps: &[(&str, i64)],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<(Delivery, DateTime<Utc>)>, sqlx::Error> {
        let plan: Vec<store::ChannelClaim<'_>> = {
            let seen = self.destinations.lock().unwrap_or_else(|p| p.into_inner());
            caps.iter()
                .map(|(channel, cap)| store::ChannelClaim {
                    channel,
                    cap: *cap,
                    few_destinations: seen
                        .get(*channel)
                        .is_none_or(|n| *n < store::FEW_DESTINATIONS),
                })
                .collect()
        };
        let (rows, destinations) =
            store::claim_deliveries(&self.pool, self.id, &plan, now, lease_until, limit).await?;
        let mut seen = self.destinations.lock().unwrap_or_else(|p| p.into_inner());
        for (channel, n) in destinations {
            seen.insert(channel, n);
        }
        Ok(rows)
    }

    /// Runs until `shutdown`, woken by NOTIFY when rows are written and whenever a send ends
    /// (it frees its destination's next row); a short poll is the net. Each channel has its own
    /// `concurrency` sends in flight and is claimed separately, so a slow or hanging provider
    /// never holds back another channel.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let this = Arc::new(self);
        let mut wakeups = super::Wakeups::new(&this.pool, OUTBOX_CHANNEL).await;
        let done = Arc::new(tokio::sync::Notify::new());
        let slots: Vec<(&str, Arc<tokio::sync::Semaphore>)> = DELIVERED_CHANNELS
            .iter()
            .map(|c| {
                (
                    *c,
                    Arc::new(tokio::sync::Semaphore::new(
                        this.settings.concurrency.max(1),
                    )),
                )
            })
            .collect();
        let mut sends = tokio::task::JoinSet::new();
        while !*shutdown.borrow() {
            // One claim for every channel with a free slot, each up to its free slots.
            let free: Vec<(&str, i64)> = slots
                .iter()
                .map(|(c, slot)| {
                    (
                        *c,
                        (slot.available_permits() as i64).min(this.settings.batch),
                    )
                })
                .filter(|(_, n)| *n > 0)
                .collect();
            let room: i64 = free.iter().map(|(_, n)| n).sum();
            let now = this.clock.now();
            let lease_until = now + delta(this.settings.lease);
            let rows = if free.is_empty() {
                Vec::new()
            } else {
                match this.claim(&free, now, lease_until, room).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox claim failed; retrying");
                        Vec::new()
                    }
                }
            };
            let claimed = rows.len();
            for (delivery, created_at) in rows {
                let Some((_, slot)) = slots.iter().find(|(c, _)| *c == delivery.channel) else {
                    continue;
                };
                let Ok(permit) = slot.clone().try_acquire_owned() else {
                    continue; // cannot happen: the claim took at most the free slots
                };
                let (this, done) = (this.clone(), done.clone());
                sends.spawn(async move {
                    if let Err(e) = this.deliver(delivery, created_at).await {
                        tracing::warn!(error = %e, "delivery result not recorded; the lease will expire and it is sent again");
                    }
                    drop(permit);
                    done.notify_one();
                });
            }
            while sends.try_join_next().is_some() {}
            if claimed > 0 {
                continue;
            }
            tokio::select! {
                () = wakeups.idle(this.settings.poll, &mut shutdown) => {}
                () = done.notified() => {}
            }
        }
        // Let sends in flight record their results (each is bounded by its channel's timeout).
        while sends.join_next().await.is_some() {}
    }
}

/// The most pages one message carries besides its own.
const MAX_BUNDLE: i64 = 50;

/// Whether the pages waiting behind this one go out with it: only a page that already had to
/// wait (for a rate limit or a failing provider) takes others along, and only to a person or a
/// channel that reads them (Slack, SMS, e-mail); PagerDuty and webhooks get one event per
/// incident.
fn bundles(delivery: &Delivery) -> bool {
    matches!(delivery.channel.as_str(), "slack" | "sms" | "email")
        && delivery.payload["kind"] == "page"
        && (delivery.deferrals > 0 || delivery.attempts > 0)
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// What to record for a send: retries back off exponentially with a deterministic jitter
/// (±20 %, from the row id) unless the provider said when; too many attempts or too old is dead.
pub fn decide(
    delivery: &Delivery,
    created_at: DateTime<Utc>,
    result: SendResult,
    settings: &DispatchSettings,
    now: DateTime<Utc>,
) -> Recorded {
    // What is stored and shown never carries a destination's URL (its credential).
    let redact = crate::channels::redact::text;
    match result {
        SendResult::Sent { reference } => Recorded::Sent { reference },
        SendResult::Dead { error } | SendResult::Gone { error } => Recorded::Dead {
            error: redact(&error),
        },
        SendResult::Retry { after, error } => {
            let error = redact(&error);
            let attempts = delivery.attempts + 1;
            if attempts >= settings.max_attempts || now - created_at >= delta(settings.max_age) {
                return Recorded::Dead {
                    error: format!("gave up after {attempts} attempts: {error}"),
                };
            }
            let backoff = after.unwrap_or_else(|| {
                let exp = settings
                    .backoff
                    .saturating_mul(1u32 << attempts.clamp(0, 20) as u32 >> 1)
                    .min(settings.max_backoff);
                let jitter = 0.8
                    + 0.4
                        * ((delivery.id.wrapping_mul(2_654_435_761) as u64 % 1000) as f64 / 1000.0);
                exp.mul_f64(jitter)
            });
            Recorded::RetryAt {
                at: now + delta(backoff),
                error,
            }
        }
    }
}
