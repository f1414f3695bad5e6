//! Timestamps as serde writes them for `DateTime<Utc>` (RFC 3339 with `Z`
//! and as many fraction digits as the value needs: none, 3, 6 or 9),
//! written digit by digit instead of through `core::fmt`. A decided kill
//! writes four of these (its kill, context, decision and audit event), and
//! chrono's formatting was about 2% of the CPU time of a decision.
//!
//! Use with `#[serde(serialize_with = "crate::wire_time::rfc3339")]`;
//! reading is serde's own. Log lines' millisecond form comes from here too
//! ([`push_millis`]). Years outside 0–9999 and leap seconds, which
//! chrono writes in forms of their own, are left to chrono.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serializer;

/// How many fraction digits to write.
#[derive(Clone, Copy)]
enum Fraction {
    /// As many as the value needs (serde's form).
    Needed,
    /// Always milliseconds (`SecondsFormat::Millis`).
    Millis,
}

/// `2026-11-26T12:57:07.854273353Z`, written into `out`; `None` when
/// chrono's own form differs from this one.
fn format<'a>(t: &DateTime<Utc>, fraction: Fraction, out: &'a mut [u8; 30]) -> Option<&'a str> {
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let mut put = |at: usize, value: u32, digits: usize| {
        let mut v = value;
        for i in (0..digits).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, t.month(), 2);
    put(8, t.day(), 2);
    put(11, t.hour(), 2);
    put(14, t.minute(), 2);
    put(17, t.second(), 2);
    let (fraction, digits) = if let Fraction::Millis = fraction {
        (nanos / 1_000_000, 3)
    } else if nanos == 0 {
        (0, 0)
    } else if nanos.is_multiple_of(1_000_000) {
        (nanos / 1_000_000, 3)
    } else if nanos.is_multiple_of(1_000) {
        (nanos / 1_000, 6)
    } else {
        (nanos, 9)
    };
    if digits > 0 {
        put(20, fraction, digits);
    }
    for (at, c) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')] {
        out[at] = c;
    }
    let mut end = 19;
    if digits > 0 {
        out[19] = b'.';
        end = 20 + digits;
    }
    out[end] = b'Z';
    std::str::from_utf8(&out[..=end]).ok()
}

/// Serializes a timestamp exactly as `DateTime<Utc>`'s own `Serialize`.
pub fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 30];
    match format(t, Fraction::Needed, &mut buf) {
        Some(text) => s.serialize_str(text),
        None => serde::Serialize::serialize(t, s),
    }
}

/// Appends a timestamp as `to_rfc3339_opts(SecondsFormat::Millis, true)`
/// writes it (log lines).
pub fn push_millis(t: &DateTime<Utc>, out: &mut String) {
    let mut buf = [0u8; 30];
    match format(t, Fraction::Millis, &mut buf) {
        Some(text) => out.push_str(text),
        None => out.push_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(serde::Serialize)]
    struct Fast(#[serde(serialize_with = "rfc3339")] DateTime<Utc>);

    fn same(t: DateTime<Utc>) {
        assert_eq!(
            serde_json::to_string(&Fast(t)).expect("fast"),
            serde_json::to_string(&t).expect("chrono"),
            "{t:?}"
        );
        let mut millis = String::new();
        push_millis(&t, &mut millis);
        assert_eq!(
            millis,
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "{t:?}"
        );
    }

    #[test]
    fn every_form_is_written_as_chrono_writes_it() {
        let base = Utc.with_ymd_and_hms(2026, 11, 26, 12, 57, 7).unwrap();
        for nanos in [
            0,
            1,
            999_999_999,
            854_273_353,
            5_000_000,
            120_000_000,
            7_000,
            123_456_000,
            100,
        ] {
            same(base + chrono::Duration::nanoseconds(nanos));
        }
        // Digits that need their zeros, and the ends of the range.
        same(Utc.with_ymd_and_hms(1, 2, 3, 4, 5, 6).unwrap());
        same(Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap());
        same(Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap());
        // Left to chrono: years past four digits, before year 0, and a
        // leap second.
        same(Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap());
        same(Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap());
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .unwrap()
            .and_utc();
        same(leap);
    }

    #[test]
    fn a_spread_of_instants_matches_chrono() {
        // A fixed walk over four centuries with varied sub-second parts.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = (x % 12_623_040_000) as i64 - 2_208_988_800;
            let nanos = match x % 4 {
                0 => 0,
                1 => (x >> 20) as u32 % 1000 * 1_000_000,
                2 => (x >> 20) as u32 % 1_000_000 * 1_000,
                _ => (x >> 20) as u32 % 1_000_000_000,
            };
            same(DateTime::from_timestamp(secs, nanos).expect("in range"));
        }
    }
}
