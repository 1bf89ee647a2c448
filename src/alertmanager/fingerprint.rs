//! Alertmanager's alert identity: a 64-bit FNV-1a hash of the sorted label set.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

const FNV_OFFSET: u64 = 14_695_981_039_346_656_037;
const FNV_PRIME: u64 = 1_099_511_628_211;
/// Prometheus' `model.SeparatorByte`: never valid UTF-8, so no label can forge a boundary.
const SEPARATOR: u8 = 0xff;

/// An alert's identity, printed as Alertmanager prints it: 16 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// Computes the fingerprint of a label set exactly as `model.LabelSet.Fingerprint` does:
    /// FNV-1a over `name 0xff value 0xff` for every label, in label-name order.
    pub fn of_labels(labels: &BTreeMap<String, String>) -> Self {
        let mut hash = FNV_OFFSET;
        let mut add = |bytes: &[u8]| {
            for &b in bytes {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(FNV_PRIME);
            }
        };
        // A BTreeMap iterates in byte order of the names, which is Go's `sort.Strings` order.
        for (name, value) in labels {
            add(name.as_bytes());
            add(&[SEPARATOR]);
            add(value.as_bytes());
            add(&[SEPARATOR]);
        }
        Fingerprint(hash)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for Fingerprint {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("must be 1 to 16 hexadecimal digits");
        }
        u64::from_str_radix(s, 16)
            .map(Fingerprint)
            .map_err(|_| "must be 1 to 16 hexadecimal digits")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_label_set_is_the_fnv_offset() {
        assert_eq!(
            Fingerprint::of_labels(&BTreeMap::new()).to_string(),
            "cbf29ce484222325"
        );
    }

    #[test]
    fn parses_and_prints_round_trip() {
        let fp: Fingerprint = "03d72a429a7124ce".parse().unwrap();
        assert_eq!(fp.to_string(), "03d72a429a7124ce");
        assert!("xyz".parse::<Fingerprint>().is_err());
        assert!("".parse::<Fingerprint>().is_err());
        assert!("00000000000000000".parse::<Fingerprint>().is_err());
    }
}
