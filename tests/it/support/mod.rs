//! What every integration test shares: a database of its own, a running server, payloads.

pub mod db;
pub mod payload;
pub mod server;
pub mod wait;

pub use db::TestDb;
pub use payload::{alert, fixture, grouped, webhook};
pub use server::{SLACK_SIGNING_SECRET, TOKEN, TestServer, settings, t0, token};
pub use wait::until;
