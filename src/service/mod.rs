//! The shell of each use case: it owns the transaction, the audit row and the metrics, and
//! calls the pure core and the store. HTTP handlers and workers call it; they only
//! authenticate, parse, and map its typed outcome to their answer.

pub mod actions;
pub mod monthly;
