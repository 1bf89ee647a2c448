//! What a webhook may carry, and what is done with the rest: text Postgres cannot store is
//! repaired and over-limit parts are cut, never the whole group refused.
//!
//! Why repair rather than refuse: Alertmanager never retries a 4xx, so refusing a message because
//! one label holds a NUL loses the page of every alert beside it; answering 503 (what Postgres'
//! refusal used to become) makes it retry for ever and pages no one either. A NUL becomes U+FFFD
//! (what Go itself writes for bytes that are not text), and every repair is counted in
//! [`Repairs`] so the handler logs and meters it.

use std::fmt;

use sha2::{Digest, Sha256};

use super::LabelSet;

/// Alerts kept from one message; the rest count as `truncatedAlerts`. Far above the 10,000-alert
/// groups seen in the real world (and the body limit binds first).
pub const MAX_ALERTS: usize = 50_000;
/// Labels (and, separately, annotations) kept per alert, in name order; `alertname` always.
pub const MAX_LABELS: usize = 256;
/// Bytes of a label or annotation name.
pub const MAX_NAME_BYTES: usize = 1024;
/// Bytes of a label value, a receiver, a group label.
pub const MAX_VALUE_BYTES: usize = 16 << 10;
/// Bytes of an annotation value (descriptions run long).
pub const MAX_ANNOTATION_BYTES: usize = 64 << 10;
/// Bytes of a URL; a longer one is dropped, as a cut URL points somewhere else.
pub const MAX_URL_BYTES: usize = 8 << 10;
/// Bytes of a group key as stored: a Postgres index entry holds about 2.7 KB, so a longer key
/// keeps its start and a digest of the whole, which is just as unique and as stable.
pub const MAX_GROUP_KEY_BYTES: usize = 2048;

/// What was repaired in one message. Empty for every message Alertmanager really sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Repairs {
    /// Strings in which NUL characters were replaced by U+FFFD.
    pub nul_replaced: usize,
    /// Names and values cut to their limit (on a character boundary, ending in `…`).
    pub cut: usize,
    /// Labels and annotations dropped: over [`MAX_LABELS`], an empty name, or a name that
    /// became a duplicate once repaired.
    pub dropped_labels: usize,
    /// URLs dropped for being over [`MAX_URL_BYTES`].
    pub dropped_urls: usize,
    /// Alerts over [`MAX_ALERTS`], counted into `truncatedAlerts`.
    pub dropped_alerts: usize,
    /// The group key was replaced by its start and a digest.
    pub group_key_digested: bool,
}

impl Repairs {
    /// Whether nothing was repaired.
    pub fn is_empty(&self) -> bool {
        *self == Repairs::default()
    }

    /// `(reason, count)` for each kind of repair made, for the metric.
    pub fn kinds(&self) -> Vec<(&'static str, usize)> {
        [
            ("nul_replaced", self.nul_replaced),
            ("cut", self.cut),
            ("dropped_labels", self.dropped_labels),
            ("dropped_urls", self.dropped_urls),
            ("dropped_alerts", self.dropped_alerts),
            ("group_key_digested", usize::from(self.group_key_digested)),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }

    /// A string with a NUL in it, repaired in place.
    pub fn text(&mut self, s: &mut String, max: usize) {
        if s.contains('\0') {
            *s = s.replace('\0', "\u{FFFD}");
            self.nul_replaced += 1;
        }
        if s.len() > max {
            let keep = s.floor_char_boundary(max - '…'.len_utf8());
            s.truncate(keep);
            s.push('…');
            self.cut += 1;
        }
    }

    /// A URL: repaired, or dropped when over the limit.
    pub fn url(&mut self, s: &mut String) {
        if s.len() > MAX_URL_BYTES {
            s.clear();
            self.dropped_urls += 1;
        }
        self.text(s, MAX_URL_BYTES);
    }

    /// Labels or annotations: every name and value repaired, at most [`MAX_LABELS`] kept
    /// (`alertname` first among them, so a validated alert keeps its name).
    pub fn labels(&mut self, labels: &mut LabelSet, max_value: usize) {
        let needs_work = labels.len() > MAX_LABELS
            || labels.iter().any(|(k, v)| {
                k.is_empty()
                    || k.len() > MAX_NAME_BYTES
                    || v.len() > max_value
                    || k.contains('\0')
                    || v.contains('\0')
            });
        if !needs_work {
            return;
        }
        let mut old = std::mem::take(labels);
        let first = old.remove_entry("alertname");
        for (mut name, mut value) in first.into_iter().chain(old) {
            if name.is_empty() || labels.len() >= MAX_LABELS {
                self.dropped_labels += 1;
                continue;
            }
            self.text(&mut name, MAX_NAME_BYTES);
            self.text(&mut value, max_value);
            if labels.contains_key(&name) {
                self.dropped_labels += 1;
                continue;
            }
            labels.insert(name, value);
        }
    }

    /// The group key, repaired, and digested when too long to index.
    pub fn group_key(&mut self, key: &mut String) {
        if key.contains('\0') {
            *key = key.replace('\0', "\u{FFFD}");
            self.nul_replaced += 1;
        }
        if key.len() > MAX_GROUP_KEY_BYTES {
            let digest = Sha256::digest(key.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            let keep = key.floor_char_boundary(MAX_GROUP_KEY_BYTES - 80);
            key.truncate(keep);
            key.push_str("…sha256:");
            key.push_str(&hex);
            self.group_key_digested = true;
        }
    }
}

impl fmt::Display for Repairs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .kinds()
            .into_iter()
            .map(|(kind, n)| format!("{kind}={n}"))
            .collect();
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_becomes_the_replacement_character_and_is_counted() {
        let mut r = Repairs::default();
        let mut s = "a\0b\0".to_string();
        r.text(&mut s, 100);
        assert_eq!(s, "a\u{FFFD}b\u{FFFD}");
        assert_eq!(r.nul_replaced, 1);
        assert!(!r.is_empty());
    }

    #[test]
    fn cuts_land_on_a_character_boundary() {
        let mut r = Repairs::default();
        let mut s = "日本語".repeat(10);
        r.text(&mut s, 10);
        assert!(s.len() <= 10, "{s}");
        assert!(s.ends_with('…'));
        assert_eq!(r.cut, 1);
    }

    #[test]
    fn labels_keep_alertname_and_drop_the_rest_past_the_cap() {
        let mut r = Repairs::default();
        let mut labels: LabelSet = (0..MAX_LABELS + 10)
            .map(|i| (format!("a{i:04}"), "v".to_string()))
            .collect();
        labels.insert("alertname".into(), "X".into());
        labels.insert(String::new(), "empty name".into());
        labels.insert("k\0".into(), "1".into());
        labels.insert("k\u{FFFD}".into(), "2".into());
        r.labels(&mut labels, MAX_VALUE_BYTES);
        assert_eq!(labels.len(), MAX_LABELS);
        assert_eq!(labels["alertname"], "X");
        assert!(!labels.contains_key(""));
        assert_eq!(r.dropped_labels, 14, "{r}");
    }

    #[test]
    fn a_long_group_key_keeps_its_start_and_a_digest() {
        let mut r = Repairs::default();
        let long = format!("{{}}:{{job=\"{}\"}}", "x".repeat(5000));
        let (mut a, mut b) = (long.clone(), format!("{long}y"));
        r.group_key(&mut a);
        r.group_key(&mut b);
        assert!(a.len() <= MAX_GROUP_KEY_BYTES && a.starts_with("{}:{job=\"xxx"));
        assert_ne!(a, b, "different keys stay different");
        let mut again = long.clone();
        r.group_key(&mut again);
        assert_eq!(a, again, "and the same key maps the same way");
        let mut short = "{}:{}".to_string();
        let mut none = Repairs::default();
        none.group_key(&mut short);
        assert!(none.is_empty());
    }

    #[test]
    fn an_over_long_url_is_dropped() {
        let mut r = Repairs::default();
        let mut url = format!("http://x/{}", "a".repeat(MAX_URL_BYTES));
        r.url(&mut url);
        assert_eq!((url.as_str(), r.dropped_urls), ("", 1));
    }
}
