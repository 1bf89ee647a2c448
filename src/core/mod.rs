//! The pure incident core: every decision, no I/O and no clock (`now` is always an argument).

pub mod actions;
pub mod escalation;
mod incident;
pub mod ingest;
pub mod notification;
pub mod plan;
pub mod policy;
mod severity;

pub use incident::{Actor, IncidentRef, IncidentStatus};
pub use severity::Severity;
