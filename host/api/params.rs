//! Reading request parameters and bodies, with errors that name the field:
//! shared by every route that takes filters or a JSON body. Query strings
//! are read into each route's own parameter type (the type the OpenAPI
//! document describes), unknown parameters refused.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use super::ApiError;

/// The longest free text (a note, a reason) a request may carry.
pub const MAX_TEXT: usize = 4096;

/// A 422 naming `field` and the problem.
pub fn invalid(field: &str, problem: String) -> ApiError {
    ApiError::Invalid {
        field: field.into(),
        problem,
    }
}

/// A 422 for a deserialisation error, naming where it happened (or
/// `whole` when it is about the input as a whole).
fn located<E: std::fmt::Display>(e: serde_path_to_error::Error<E>, whole: &str) -> ApiError {
    let path = e.path().to_string();
    let message = e.into_inner().to_string();
    // serde names an unknown or missing field in its message, not in the
    // path: an unknown one is at the path (when there is one), a missing
    // one inside it.
    let name = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
    };
    let top = path.is_empty() || path == ".";
    let field = match (name("unknown field `"), name("missing field `")) {
        (Some(unknown), _) if top => unknown,
        (_, Some(missing)) if top => missing,
        (_, Some(missing)) => format!("{path}.{missing}"),
        _ if top => whole.to_string(),
        _ => path,
    };
    invalid(&field, message)
}

/// A route's parameters from the query string (none: all defaults).
pub fn query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    let de =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.unwrap_or("").as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| located(e, "query"))
}

/// A page size: 1 to 1000, `default` when not given.
pub fn limit(field: &str, v: Option<u32>, default: usize) -> Result<usize, ApiError> {
    match v {
        None => Ok(default),
        Some(n) if (1..=1000).contains(&n) => Ok(n as usize),
        Some(n) => Err(invalid(field, format!("{n} must be 1 to 1000"))),
    }
}

/// A time window's ends (open ends: all time). A window that ends before
/// it starts holds nothing.
pub fn window(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        from.unwrap_or(DateTime::<Utc>::MIN_UTC),
        to.unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

/// An optional JSON body: empty (or `null`) means the type's default.
pub fn body<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = bytes.trim_ascii();
    if text.is_empty() || text == b"null" {
        return Ok(T::default());
    }
    required_body(bytes)
}

/// A JSON body that must be there.
pub fn required_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| located(e, "body"))
}

/// Free text no longer than `MAX_TEXT` characters (as the document's
/// `maxLength` counts them).
pub fn text(field: &str, v: &str) -> Result<(), ApiError> {
    let chars = v.chars().count();
    if chars > MAX_TEXT {
        return Err(invalid(
            field,
            format!("{chars} characters (limit {MAX_TEXT})"),
        ));
    }
    Ok(())
}

/// A body that only gives a reason, which is required: a denial, a
/// rollback.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why (required, up to 4096 characters).
    #[schema(max_length = 4096, pattern = "\\S")]
    pub reason: String,
}
