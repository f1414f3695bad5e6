//! The envelope every answer is wrapped in (docs/reference/api.md#answers),
//! as types: the code that writes answers and the OpenAPI document are both
//! made from these.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// A successful answer: `data` is the route's own type.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always `true` here.
    pub success: bool,
    pub data: T,
    pub meta: Meta,
    /// Always empty here.
    pub errors: Vec<ErrorDetail>,
}

/// An answer that went wrong: `data` is null and `errors` says why.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub data: Option<()>,
    pub meta: Meta,
    pub errors: Vec<ErrorDetail>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Meta {
    pub timestamp: DateTime<Utc>,
    /// Unique per answer; quote it when reporting a problem.
    pub request_id: String,
    /// The API's version.
    pub version: String,
}

/// One problem with a request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// The parameter or body field at fault (validation errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
    /// `unauthorized`, `forbidden`, `validation`, `bad_request`,
    /// `not_found`, `method_not_allowed`, `conflict`, `too_large`,
    /// `rate_limited`, `timeout` or `internal`.
    pub code: String,
}

impl Meta {
    pub fn now() -> Meta {
        Meta {
            timestamp: Utc::now(),
            request_id: uuid::Uuid::new_v4().to_string(),
            version: "1.0".into(),
        }
    }
}

impl<T: Serialize> Envelope<T> {
    pub fn new(data: T) -> Envelope<T> {
        Envelope {
            success: true,
            data,
            meta: Meta::now(),
            errors: Vec::new(),
        }
    }
}

impl ErrorEnvelope {
    pub fn new(error: ErrorDetail) -> ErrorEnvelope {
        ErrorEnvelope {
            success: false,
            data: None,
            meta: Meta::now(),
            errors: vec![error],
        }
    }
}
