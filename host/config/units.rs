//! Typed values in the files' words: durations are written as a number in
//! the unit their key names (`timeout_seconds: 30`, `cooldown_minutes: 60`,
//! `block_ms: 1000`) and read into a [`Duration`]; a text that may be left
//! out is read into an `Option` (an empty string, as older files write
//! "none", reads as `None`). Reading refuses what no value of the type can
//! be (a negative or non-finite duration), naming the key; ranges that depend
//! on the setting are checked with the rest in `validate`.

use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A unit a duration is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Millis,
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl Unit {
    /// Seconds in one of this unit.
    fn seconds(self) -> f64 {
        match self {
            Unit::Millis => 0.001,
            Unit::Seconds => 1.0,
            Unit::Minutes => 60.0,
            Unit::Hours => 3_600.0,
            Unit::Days => 86_400.0,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Unit::Millis => "milliseconds",
            Unit::Seconds => "seconds",
            Unit::Minutes => "minutes",
            Unit::Hours => "hours",
            Unit::Days => "days",
        }
    }

    /// `d` as a number of this unit (as the file writes it).
    pub fn of(self, d: Duration) -> f64 {
        d.as_secs_f64() / self.seconds()
    }

    /// A number of this unit as a duration, or why it cannot be one.
    pub fn duration(self, v: f64) -> Result<Duration, String> {
        if !v.is_finite() || v < 0.0 {
            return Err(format!(
                "{v} is not a duration: write a number of {}, 0 or more",
                self.name()
            ));
        }
        Duration::try_from_secs_f64(v * self.seconds())
            .map_err(|_| format!("{v} {} is too long a duration", self.name()))
    }
}

/// A configured duration as a span of calendar time, to add to or take
/// from a time (a duration too long for one is the longest span).
pub fn span(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

fn read<'de, D: Deserializer<'de>>(d: D, unit: Unit) -> Result<Duration, D::Error> {
    struct Number;
    impl Visitor<'_> for Number {
        type Value = f64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
    }
    let v = d.deserialize_any(Number)?;
    unit.duration(v).map_err(de::Error::custom)
}

fn write<S: Serializer>(d: &Duration, s: S, unit: Unit) -> Result<S::Ok, S::Error> {
    let v = unit.of(*d);
    // Whole numbers are written as integers, as the files write them.
    if v.fract() == 0.0 && v < (1u64 << 53) as f64 {
        s.serialize_u64(v as u64)
    } else {
        s.serialize_f64(v)
    }
}

macro_rules! unit_module {
    ($(#[$doc:meta])* $name:ident, $unit:expr) => {
        $(#[$doc])*
        pub mod $name {
            use super::*;
            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
                read(d, $unit)
            }
            pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
                write(d, s, $unit)
            }

            /// The same for a duration that may be left out (`null` or
            /// absent reads as `None`).
            pub mod optional {
                use super::super::*;
                pub fn deserialize<'de, D: Deserializer<'de>>(
                    d: D,
                ) -> Result<Option<Duration>, D::Error> {
                    #[derive(Deserialize)]
                    struct Given(#[serde(with = "super")] Duration);
                    Ok(Option::<Given>::deserialize(d)?.map(|g| g.0))
                }
                pub fn serialize<S: Serializer>(
                    d: &Option<Duration>,
                    s: S,
                ) -> Result<S::Ok, S::Error> {
                    match d {
                        Some(d) => write(d, s, $unit),
                        None => s.serialize_none(),
                    }
                }
            }
        }
    };
}

unit_module!(
    /// `#[serde(with = "units::millis")]`: a duration written in milliseconds.
    millis,
    Unit::Millis
);
unit_module!(
    /// `#[serde(with = "units::seconds")]`: a duration written in seconds.
    seconds,
    Unit::Seconds
);
unit_module!(
    /// `#[serde(with = "units::minutes")]`: a duration written in minutes.
    minutes,
    Unit::Minutes
);
unit_module!(
    /// `#[serde(with = "units::hours")]`: a duration written in hours.
    hours,
    Unit::Hours
);
unit_module!(
    /// `#[serde(with = "units::days")]`: a duration written in days.
    days,
    Unit::Days
);

/// `#[serde(with = "units::optional")]`: a value written as text that may
/// be left out, where an empty string also means "none" (for
/// `Option<String>`, `Option<PathBuf>` and `Option<Url>`); a text the type
/// cannot hold is refused with the type's own reason.
pub mod optional {
    use super::*;

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        let text = Option::<String>::deserialize(d)?;
        text.filter(|t| !t.is_empty())
            .map(|t| {
                t.parse()
                    .map_err(|e| de::Error::custom(format!("{t:?}: {e}")))
            })
            .transpose()
    }

    pub fn serialize<S, T>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        T: Serialize,
    {
        match v {
            Some(v) => v.serialize(s),
            None => s.serialize_str(""),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Sample {
        #[serde(rename = "timeout_seconds", with = "seconds")]
        timeout: Duration,
        #[serde(rename = "cooldown_minutes", with = "minutes")]
        cooldown: Duration,
        #[serde(rename = "block_ms", with = "millis")]
        block: Duration,
        #[serde(default, with = "optional")]
        file: Option<PathBuf>,
    }

    #[test]
    fn durations_read_in_the_unit_their_key_names_and_write_back_the_same() {
        let text = "timeout_seconds: 2.5\ncooldown_minutes: 60\nblock_ms: 1000\nfile: /x/y\n";
        let s: Sample = serde_yaml::from_str(text).expect("parses");
        assert_eq!(s.timeout, Duration::from_millis(2_500));
        assert_eq!(s.cooldown, Duration::from_secs(3_600));
        assert_eq!(s.block, Duration::from_secs(1));
        assert_eq!(s.file, Some(PathBuf::from("/x/y")));
        let json = serde_json::to_value(&s).expect("writes");
        assert_eq!(
            json,
            serde_json::json!({"timeout_seconds": 2.5, "cooldown_minutes": 60, "block_ms": 1000, "file": "/x/y"})
        );
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Kept {
        #[serde(rename = "retention_days", with = "days")]
        retention: Duration,
        #[serde(rename = "audit_days", default, with = "days::optional")]
        audit: Option<Duration>,
    }

    #[test]
    fn days_and_durations_that_may_be_left_out() {
        let k: Kept =
            serde_yaml::from_str("retention_days: 31\naudit_days: 1.5\n").expect("parses");
        assert_eq!(k.retention, Duration::from_secs(31 * 86_400));
        assert_eq!(k.audit, Some(Duration::from_secs(129_600)));
        assert_eq!(
            serde_json::to_value(&k).expect("writes"),
            serde_json::json!({"retention_days": 31, "audit_days": 1.5})
        );
        let k: Kept = serde_yaml::from_str("retention_days: 0\n").expect("parses");
        assert_eq!((k.retention, k.audit), (Duration::ZERO, None));
        assert_eq!(
            serde_json::to_value(&k).expect("writes"),
            serde_json::json!({"retention_days": 0, "audit_days": null})
        );
        let e = serde_yaml::from_str::<Kept>("retention_days: 1\naudit_days: -2\n")
            .expect_err("negative");
        assert!(
            e.to_string()
                .contains("-2 is not a duration: write a number of days"),
            "{e}"
        );
    }

    #[test]
    fn an_empty_or_missing_text_is_none() {
        let s: Sample = serde_yaml::from_str(
            "timeout_seconds: 0\ncooldown_minutes: 0\nblock_ms: 0\nfile: \"\"\n",
        )
        .expect("parses");
        assert_eq!(s.file, None);
        assert_eq!(s.timeout, Duration::ZERO);
        let s: Sample =
            serde_yaml::from_str("timeout_seconds: 0\ncooldown_minutes: 0\nblock_ms: 0\n")
                .expect("parses");
        assert_eq!(s.file, None);
    }

    #[test]
    fn a_negative_or_non_numeric_duration_is_refused_naming_the_unit() {
        let e = serde_yaml::from_str::<Sample>(
            "timeout_seconds: -1\ncooldown_minutes: 0\nblock_ms: 0\n",
        )
        .expect_err("negative");
        assert!(
            e.to_string()
                .contains("-1 is not a duration: write a number of seconds, 0 or more"),
            "{e}"
        );
        let e = serde_yaml::from_str::<Sample>(
            "timeout_seconds: soon\ncooldown_minutes: 0\nblock_ms: 0\n",
        )
        .expect_err("text");
        assert!(e.to_string().contains("expected a number"), "{e}");
        assert!(Unit::Hours.duration(1e300).is_err());
    }
}
