//! Background workers: they claim work from Postgres, call the core, and commit the result.

pub mod dispatcher;
pub mod escalation;
