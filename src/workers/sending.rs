//! Sending one delivery over its channel: finding the destination (a person's contact, a Slack
//! channel, a PagerDuty service's routing key, a webhook's URL) and calling the channel.

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::delivery::Engine;
use crate::channels::slack::SlackTarget;
use crate::channels::{Delivery, SendResult};
use crate::core::policy::User;
use crate::store::destinations as store;

impl Engine {
    pub(super) async fn send(&self, delivery: &Delivery, now: DateTime<Utc>) -> SendResult {
        if self.channels.get().log.covers(&delivery.channel) {
            return self.channels.get().log.send(delivery);
        }
        match delivery.channel.as_str() {
            "webhook" => self.send_webhook(delivery, now).await,
            "pagerduty" => {
                let service = match delivery.recipient.strip_prefix("pagerduty:") {
                    Some(name) => Some(name.to_string()),
                    None => self.default_pagerduty_service(),
                };
                match service.map(|name| self.routing_key(&name)) {
                    Some(Ok(key)) => self.channels.get().pagerduty.send(&key, delivery, now).await,
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
                    Ok(false) => self.channels.get().sms.send(&phone, delivery, now).await,
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
                Some(address) => {
                    self.channels
                        .get()
                        .email
                        .send(&address, delivery, now)
                        .await
                }
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
        let result = self.channels.get().webhook.send(&url, delivery, now).await;
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
        let result = self.channels.get().slack.send(to, delivery, now).await;
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
        if let Some(name) = self.channels.get().pagerduty_default_service.clone() {
            return Some(name);
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
}
