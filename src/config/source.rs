//! One YAML file being loaded: its text, for errors that name the file and the line.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::ConfigError;

/// A config file's name and text.
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    /// Reads a file.
    pub fn read(path: &Path) -> Result<SourceFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: path.display().to_string(),
            key: "(file)".into(),
            reason: format!("cannot read: {e}"),
        })?;
        Ok(SourceFile {
            path: path.to_path_buf(),
            text,
        })
    }

    /// Deserializes the whole file; errors carry the key path and serde's line and column.
    pub fn parse<T: DeserializeOwned + Default>(&self) -> Result<T, ConfigError> {
        if self.text.trim().is_empty() {
            return Ok(T::default());
        }
        let de = serde_norway::Deserializer::from_str(&self.text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let line = inner.location().map(|l| l.line());
            ConfigError {
                origin: self.origin(line),
                key: if key == "." { "(document)".into() } else { key },
                reason: inner.to_string(),
            }
        })
    }

    /// An error about `key`, located at the first line that contains `needle`.
    /// Prefers a line that also names the key's last field (`delay: 5m` over `shift: 15m`).
    pub fn error(
        &self,
        key: impl Into<String>,
        needle: &str,
        reason: impl Into<String>,
    ) -> ConfigError {
        let key = key.into();
        let field = key.rsplit('.').next().unwrap_or("");
        let field = field.split('[').next().unwrap_or(field);
        let line = self
            .text
            .lines()
            .position(|l| !needle.is_empty() && l.contains(needle) && l.contains(field))
            .map(|i| i + 1)
            .or_else(|| self.line_of(needle));
        ConfigError {
            origin: self.origin(line),
            key,
            reason: reason.into(),
        }
    }

    /// Parses a `[start, end)` pair of RFC 3339 times under `key`, refusing an empty window.
    pub fn window(
        &self,
        key: &str,
        start: &str,
        end: &str,
    ) -> Result<(DateTime<Utc>, DateTime<Utc>), ConfigError> {
        let time = |field: &str, text: &str| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    self.error(
                        format!("{key}.{field}"),
                        text,
                        format!("{text:?} is not an RFC 3339 time"),
                    )
                })
        };
        let (s, e) = (time("start", start)?, time("end", end)?);
        if e <= s {
            return Err(self.error(format!("{key}.end"), end, "ends before it starts"));
        }
        Ok((s, e))
    }

    fn origin(&self, line: Option<usize>) -> String {
        match line {
            Some(l) => format!("{}:{l}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }

    /// The 1-based line of the first occurrence of `needle` (a name or value from the file).
    pub fn line_of(&self, needle: &str) -> Option<usize> {
        if needle.is_empty() {
            return None;
        }
        self.text
            .lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
    }
}

/// The `*.yaml` and `*.yml` files of a directory, in name order.
pub fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ConfigError {
        origin: dir.display().to_string(),
        key: "(directory)".into(),
        reason: format!("cannot read: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}
