//! Wire names of unit enum values (`approve_auto`, `low`, …): exactly what
//! serde writes for them, read without writing anything — a serializer
//! that only takes the variant's name — so metrics labels and log fields
//! cost no allocation per kill.

use serde::Serialize;
use serde::ser::{self, Impossible};

/// Not a unit enum value (or a string).
#[derive(Debug)]
pub struct NotAName;

impl std::fmt::Display for NotAName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a unit enum value")
    }
}

impl std::error::Error for NotAName {}

impl ser::Error for NotAName {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        NotAName
    }
}

/// Takes a unit variant's name; refuses everything else.
struct VariantName;

type No = Impossible<&'static str, NotAName>;

/// Methods that refuse, each returning `Result<$ok, NotAName>`.
macro_rules! refuse {
    ($ok:ty: $($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ok, NotAName> { Err(NotAName) })*
    };
}

impl ser::Serializer for VariantName {
    type Ok = &'static str;
    type Error = NotAName;
    type SerializeSeq = No;
    type SerializeTuple = No;
    type SerializeTupleStruct = No;
    type SerializeTupleVariant = No;
    type SerializeMap = No;
    type SerializeStruct = No;
    type SerializeStructVariant = No;

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<&'static str, NotAName> {
        Ok(variant)
    }

    refuse!(&'static str:
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
    );

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<&'static str, NotAName> {
        Err(NotAName)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<&'static str, NotAName> {
        Err(NotAName)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<&'static str, NotAName> {
        Err(NotAName)
    }
    refuse!(No:
        serialize_seq(Option<usize>),
        serialize_tuple(usize),
        serialize_tuple_struct(&'static str, usize),
        serialize_tuple_variant(&'static str, u32, &'static str, usize),
        serialize_map(Option<usize>),
        serialize_struct(&'static str, usize),
        serialize_struct_variant(&'static str, u32, &'static str, usize),
    );
}

/// A unit enum value's wire name ("" for anything else).
pub fn wire_str<T: Serialize>(v: &T) -> &'static str {
    v.serialize(VariantName).unwrap_or("")
}

/// The wire name of a unit enum value, or of any value serde writes as a
/// plain string, as an owned string ("" for anything else).
pub fn wire_name<T: Serialize>(v: &T) -> String {
    match v.serialize(VariantName) {
        Ok(name) => name.to_string(),
        Err(NotAName) => serde_json::to_value(v)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DecisionOutcome, KillReason, RiskLevel, Severity};

    /// What serde_json writes for `v`, unquoted.
    fn written<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v)
            .expect("json")
            .trim_matches('"')
            .to_string()
    }

    /// Each value's name is what serde_json writes for it.
    fn named_as_written<T: Serialize>(all: &[T]) {
        for v in all {
            assert_eq!(wire_str(v), written(v));
        }
    }

    #[test]
    fn names_are_what_serde_writes_for_every_variant() {
        use DecisionOutcome as O;
        named_as_written(&[
            O::ApproveAuto,
            O::ApproveManual,
            O::PendingReview,
            O::Deny,
            O::Defer,
        ]);
        use RiskLevel as R;
        named_as_written(&[R::Minimal, R::Low, R::Medium, R::High, R::Critical]);
        use KillReason as K;
        named_as_written(&[
            K::ThreatDetected,
            K::AnomalyBehavior,
            K::PolicyViolation,
            K::ResourceExhaustion,
            K::DependencyCascade,
            K::ManualOverride,
        ]);
        use Severity as S;
        named_as_written(&[S::Critical, S::High, S::Medium, S::Low, S::Info]);
        assert_eq!(wire_str(&DecisionOutcome::ApproveAuto), "approve_auto");
    }

    #[test]
    fn other_values_have_no_name_but_strings_keep_theirs() {
        assert_eq!(wire_str(&3u8), "");
        assert_eq!(wire_str(&Some(RiskLevel::Low)), "");
        assert_eq!(wire_name(&"plain"), "plain");
        assert_eq!(wire_name(&3u8), "");
        assert_eq!(wire_name(&Severity::Info), "info");
    }
}
