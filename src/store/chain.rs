//! The incident columns that hold its escalation chain, read the same way everywhere (ingest,
//! the timer worker, actions): one `FromRow` part, one mapping, one default.

use chrono::{DateTime, Utc};

use crate::core::escalation::Chain;

/// `chain_generation`, `chain_origin`, `chain_repeat`, `chain_step` and (where selected)
/// `escalation_due_at`; flattened into each row struct that reads an incident's chain.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChainColumns {
    pub chain_generation: i32,
    pub chain_origin: Option<DateTime<Utc>>,
    pub chain_repeat: i32,
    pub chain_step: i32,
    #[sqlx(default)]
    pub escalation_due_at: Option<DateTime<Utc>>,
}

impl ChainColumns {
    /// The chain. A chain that never started has no origin: the earliest time stands for it
    /// (anything computed from it is long due, never in the future).
    pub fn chain(&self) -> Chain {
        Chain {
            generation: self.chain_generation,
            origin: self.chain_origin.unwrap_or(DateTime::<Utc>::MIN_UTC),
            repeat: self.chain_repeat.max(0) as u32,
            step: self.chain_step.max(0) as usize,
            due_at: self.escalation_due_at,
        }
    }
}
