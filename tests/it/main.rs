//! Integration tests: a real Postgres (a fresh database per test) and, end to end, a real
//! Alertmanager. Run them with `scripts/test.sh`.

mod actions;
mod alertmanager_e2e;
mod amtool_parity;
mod binary;
mod callback_replays;
mod chain_fallback;
mod dispatch;
mod email;
mod escalation;
mod fixtures;
mod flapping;
mod flood;
mod hooks;
mod hostile;
mod hostile_api;
mod hostile_messages;
mod huge;
mod leaks;
mod lifecycle;
mod log_channel;
mod messages;
mod openapi;
mod pipeline;
mod poison;
mod replay;
mod routing;
mod service;
mod slack;
mod slack_fallback;
mod sms;
mod support;
mod suppression;
mod unavailable;
mod webhook_events;
mod windows_api;
