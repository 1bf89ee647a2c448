//! Durations (`5m`, `1h30m`, `500ms`) and sizes (`2MiB`, `1048576`) as written in config.

use std::time::Duration;

/// The longest duration anything may say (config or request): ten years. Below it, every sum
/// with a time stays far inside what a time can hold.
pub const MAX_DURATION: Duration = Duration::from_secs(3650 * 86_400);

/// Parses a Prometheus-style duration: one or more `<integer><unit>` with units
/// `ms`, `s`, `m`, `h`, `d`, `w`, largest first (`1h30m`), at most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("{s:?} is not a duration like 30s, 5m, 1h30m or 500ms");
    if s.is_empty() {
        return Err(err());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    let mut last_unit = u64::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let millis_per = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return Err(err()),
        };
        if millis_per >= last_unit {
            return Err(err());
        }
        last_unit = millis_per;
        rest = &rest[unit_len..];
        let millis = value.checked_mul(millis_per).ok_or_else(err)?;
        total = total
            .checked_add(Duration::from_millis(millis))
            .ok_or_else(err)?;
    }
    if total > MAX_DURATION {
        return Err(format!("{s:?} is longer than 10 years"));
    }
    Ok(total)
}

/// Parses a size in bytes: a plain integer or one with a `KiB`, `MiB` or `GiB` suffix.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let err = || format!("{s:?} is not a size like 2MiB, 512KiB or 1048576");
    let (number, factor) = [
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("B", 1),
    ]
    .into_iter()
    .find_map(|(suffix, f)| s.strip_suffix(suffix).map(|n| (n, f)))
    .unwrap_or((s, 1));
    let n: usize = number.trim().parse().map_err(|_| err())?;
    n.checked_mul(factor).ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("520w").is_ok());
        for bad in [
            "",
            "5",
            "m",
            "5x",
            "30m1h",
            "1h1h",
            "-5m",
            "10000000000w",
            "999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2MiB").unwrap(), 2 << 20);
        assert_eq!(parse_size("1048576").unwrap(), 1 << 20);
        assert!(parse_size("2 megs").is_err());
    }
}
