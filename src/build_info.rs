//! What this binary is: its version, the commit it was built from and the schema version it
//! expects (set by `build.rs`), as `--version`, `/readyz` and `alertrouter_build_info` show them.

/// The crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit the binary was built from (`unknown` outside a git checkout without
/// `ALERTROUTER_COMMIT`).
pub const COMMIT: &str = env!("ALERTROUTER_COMMIT");
/// The newest migration this binary applies and reads.
pub const SCHEMA: &str = env!("ALERTROUTER_SCHEMA");

/// `--version`'s line after the program name.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("ALERTROUTER_COMMIT"),
    ", schema ",
    env!("ALERTROUTER_SCHEMA"),
    ")"
);

/// The three as JSON fields.
pub fn json() -> serde_json::Value {
    serde_json::json!({"version": VERSION, "commit": COMMIT, "schema": SCHEMA.parse::<i64>().unwrap_or(0)})
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_is_the_newest_migration() {
        let newest = crate::store::MIGRATOR
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        assert_eq!(super::SCHEMA, newest.to_string());
        assert!(super::VERSION_LINE.contains(super::COMMIT));
    }
}
