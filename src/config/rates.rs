//! Rate limits as configured: `5/15m` per destination and over a channel, with the defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use super::units::parse_duration;

/// One quota: `count` messages per `per`, all of them at once if they come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    /// Parses `5/15m`, `1/s`, `120/1m`.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let err = || format!("{text:?} is not a rate like 1/s, 5/15m or 120/1m");
        let (count, per) = text.trim().split_once('/').ok_or_else(err)?;
        let count: u32 = count.trim().parse().map_err(|_| err())?;
        let per = per.trim();
        let per = if per.starts_with(|c: char| c.is_ascii_digit()) {
            parse_duration(per).map_err(|_| err())?
        } else {
            parse_duration(&format!("1{per}")).map_err(|_| err())?
        };
        if count == 0 || per.is_zero() {
            return Err(err());
        }
        Ok(Rate { count, per })
    }
}

/// The limits of one channel: per destination (a Slack channel, a phone number, a PagerDuty
/// service) and over all of its destinations together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelRates {
    pub per_destination: Option<Rate>,
    pub global: Option<Rate>,
}

/// The defaults: Slack about one message a second per channel and 50/s per workspace; SMS five
/// per fifteen minutes per number and 10/s in all; PagerDuty 120/min per service (its own
/// per-key limit). E-mail and webhooks are not limited.
pub fn default_rates() -> BTreeMap<String, ChannelRates> {
    let rate = |count, secs| {
        Some(Rate {
            count,
            per: Duration::from_secs(secs),
        })
    };
    BTreeMap::from([
        (
            "slack".to_string(),
            ChannelRates {
                per_destination: rate(1, 1),
                global: rate(50, 1),
            },
        ),
        (
            "sms".to_string(),
            ChannelRates {
                per_destination: rate(5, 900),
                global: rate(10, 1),
            },
        ),
        (
            "pagerduty".to_string(),
            ChannelRates {
                per_destination: rate(120, 60),
                global: None,
            },
        ),
    ])
}
