//! The validator every section of the config goes through: errors named by file and key,
//! `ALERTROUTER_*` overrides, `${ENV}` references, secrets from files, durations.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use super::{ConfigError, EnvLookup, parse_duration};

pub(super) struct Validator<'a> {
    pub(super) has_file: bool,
    pub(super) origin: String,
    pub(super) base: PathBuf,
    pub(super) env: EnvLookup<'a>,
    /// Set when missing secret files are warnings, collected here.
    pub(super) missing_secrets: Option<std::cell::RefCell<Vec<String>>>,
}

impl Validator<'_> {
    pub(super) fn error(&self, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            origin: self.origin.clone(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// `ALERTROUTER_<NAME>` if set (reported under that name), else the file's value.
    pub(super) fn layered(
        &self,
        var: &str,
        key: &str,
        file: Option<String>,
    ) -> (String, Option<String>) {
        match (self.env)(var) {
            Some(v) => (var.to_string(), Some(v)),
            None => (key.to_string(), file),
        }
    }

    /// Replaces `${NAME}` references with the variable's value.
    pub(super) fn expand(&self, key: &str, value: &str) -> Result<String, ConfigError> {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| self.error(key, "unterminated ${ reference"))?;
            let name = &rest[start + 2..start + end];
            let val = (self.env)(name).ok_or_else(|| {
                self.error(key, format!("environment variable {name} is not set"))
            })?;
            out.push_str(&val);
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    pub(super) fn read_secret_file(
        &self,
        key: &str,
        path: &Path,
    ) -> Result<SecretString, ConfigError> {
        let full = self.base.join(path);
        let text = match std::fs::read_to_string(&full) {
            Ok(text) => text,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound && self.missing_secrets.is_some() =>
            {
                if let Some(m) = &self.missing_secrets {
                    m.borrow_mut().push(format!(
                        "{}: {key}: {} does not exist (the service needs it to start)",
                        self.origin,
                        full.display()
                    ));
                }
                // Long enough for every length check: the file's absence is the warning.
                return Ok(SecretString::from(
                    "(missing secret file, stood in for by this placeholder)".to_string(),
                ));
            }
            Err(e) => {
                return Err(self.error(key, format!("cannot read {}: {e}", full.display())));
            }
        };
        let value = text.trim();
        if value.is_empty() {
            return Err(self.error(key, format!("{} is empty", full.display())));
        }
        Ok(SecretString::from(value.to_string()))
    }

    /// Exactly one of an inline value (with `${ENV}` references) and a file.
    pub(super) fn secret(
        &self,
        key: &str,
        inline: Option<&str>,
        file: Option<&Path>,
    ) -> Result<SecretString, ConfigError> {
        match (inline, file) {
            (Some(_), Some(_)) => {
                Err(self.error(key, format!("give {key} or {key}_file, not both")))
            }
            (Some(v), None) => {
                let v = self.expand(key, v)?;
                if v.is_empty() {
                    return Err(self.error(key, "empty"));
                }
                Ok(SecretString::from(v))
            }
            (None, Some(p)) => self.read_secret_file(&format!("{key}_file"), p),
            (None, None) => Err(self.error(key, format!("missing (set {key} or {key}_file)"))),
        }
    }

    pub(super) fn duration(
        &self,
        key: &str,
        value: Option<String>,
        default: &str,
    ) -> Result<Duration, ConfigError> {
        let text = value.unwrap_or_else(|| default.to_string());
        let d = parse_duration(&text).map_err(|e| self.error(key, e))?;
        if d.is_zero() {
            return Err(self.error(key, "must be greater than zero"));
        }
        Ok(d)
    }
}
