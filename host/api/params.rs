//! Reading request parameters and bodies, with errors that name the field:
//! shared by every route that takes filters or a JSON body.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::ApiError;

/// A 422 naming `field` and the problem.
pub fn invalid(field: &str, problem: String) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        problem,
    }
}

/// A wire-named enum value (`approve_auto`, `low`, …) from a parameter.
pub fn parse_enum<T: serde::de::DeserializeOwned>(field: &str, v: &str) -> Result<T, ApiError> {
    serde_json::from_value(json!(v))
        .map_err(|_| invalid(field, format!("{v:?} is not a known value")))
}

/// An RFC 3339 time from a parameter.
pub fn parse_time(field: &str, v: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid(field, format!("{v:?} is not an RFC 3339 time")))
}

/// A page size from a parameter: 1 to 1000.
pub fn parse_limit(field: &str, v: &str) -> Result<usize, ApiError> {
    v.parse()
        .ok()
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| invalid(field, format!("{v:?} must be 1 to 1000")))
}

/// An optional JSON body: empty means the type's default.
pub fn body<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| invalid("body", e.to_string()))
}
