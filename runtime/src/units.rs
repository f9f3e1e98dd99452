//! The grammar of sizes (`GORO_STACK_SIZE`, `#[goro::main(stack_size = "1m")]`) and durations
//! (`GORO_TEST_TIMEOUT`, `#[goro::test(timeout = "10s")]`).
//!
//! This file depends on `std` only: the proc-macro crate (`select-macro`) compiles the same
//! file (`#[path]`) to check an attribute's value at compile time, so a value the macro
//! accepts is exactly one the runtime accepts.

use std::time::Duration;

/// Parses a size such as `262144`, `256k`, `256KiB`, `1m`, `1MiB`, `1g`, `1GiB` (suffixes in
/// either case).
pub(crate) fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let (num, mul) = [
        ("kib", 1024),
        ("mib", 1 << 20),
        ("gib", 1 << 30),
        ("k", 1024),
        ("m", 1 << 20),
        ("g", 1 << 30),
    ]
    .iter()
    .find_map(|(suf, mul)| {
        lower
            .strip_suffix(suf)
            .map(|n| (n.trim().to_string(), *mul))
    })
    .unwrap_or((lower.clone(), 1));
    num.parse::<usize>().ok()?.checked_mul(mul)
}

/// Parses a duration in Go's `time.ParseDuration` syntax, without a sign: one or more decimal
/// numbers, each with an optional fraction and a unit (`ns`, `us` or `µs`, `ms`, `s`, `m`,
/// `h`), such as `300ms`, `1.5s`, `2m30s`; `0` alone is zero.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let mut rest = s.trim();
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0; // nanoseconds
    while !rest.is_empty() {
        let int_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                a.split_at(n)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return None; // no digits: ".s", "s", "1h."
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let per: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            _ => return None, // a missing or unknown unit
        };
        let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut ns = int.checked_mul(per)?;
        // The fraction, digit by digit (at most 19 matter below a nanosecond per hour).
        let mut scale = per;
        for d in frac.bytes().take(20) {
            scale /= 10;
            ns = ns.checked_add(u128::from(d - b'0') * scale)?;
        }
        total = total.checked_add(ns)?;
        rest = after;
    }
    let secs = u64::try_from(total / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (total % 1_000_000_000) as u32))
}

#[cfg(test)]
mod tests {
    use super::{parse_duration, parse_size};
    use std::time::Duration;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("256k"), Some(256 * 1024));
        assert_eq!(parse_size("256KiB"), Some(256 * 1024));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("1m"), Some(1 << 20));
        assert_eq!(parse_size("10g"), Some(10 << 30));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size(" 2 G "), Some(2 << 30));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("1mb"), None);
        assert_eq!(parse_size("-1k"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn durations_parse_as_go_parses_them() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_duration("10s"), Some(ms(10_000)));
        assert_eq!(parse_duration("300ms"), Some(ms(300)));
        assert_eq!(parse_duration("1.5s"), Some(ms(1500)));
        assert_eq!(parse_duration(".5s"), Some(ms(500)));
        assert_eq!(parse_duration("2m30s"), Some(ms(150_000)));
        assert_eq!(parse_duration("1h"), Some(ms(3_600_000)));
        assert_eq!(parse_duration("7us"), Some(Duration::from_micros(7)));
        assert_eq!(parse_duration("7µs"), Some(Duration::from_micros(7)));
        assert_eq!(parse_duration("12ns"), Some(Duration::from_nanos(12)));
        for bad in [
            "",
            "10",
            "s",
            "1x",
            "1.s.",
            "-1s",
            "1 s",
            "1sec",
            ".s",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
