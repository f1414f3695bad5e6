//! One mapping from what went wrong to an HTTP status, in the API's envelope.
//! Internal errors are logged, never shown. Answers axum makes itself (an
//! unknown route, a wrong method, a body over the limit) are rewritten into
//! the same envelope by `envelope_plain_errors`.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::envelope::{ErrorDetail, ErrorEnvelope};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or unknown API key")]
    Unauthorized,
    #[error("this key's role ({0}) may not do this")]
    Forbidden(String),
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    /// A kill refused with every problem it has, each naming its field.
    #[error("{0}")]
    InvalidKill(crate::ingest::validate::ValidationError),
    #[error("{0}")]
    BadRequest(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is too large (the limit is 2 MiB, 64 MiB for a plugin upload)")]
    TooLarge,
    #[error("too many requests from this key: retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error(
        "the store is answering other reads (interfaces.web.max_concurrent_reads): retry in {retry_after_secs} s"
    )]
    Busy { retry_after_secs: u64 },
    #[error("too many wrong API keys from this address: retry in {retry_after_secs} s")]
    TooManyFailures { retry_after_secs: u64 },
    #[error(
        "the request took over {0} s and was stopped; what it started may still finish: check before retrying"
    )]
    Timeout(f64),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Invalid { .. } | ApiError::InvalidKill(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyFailures { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Invalid { .. } | ApiError::InvalidKill(_) => "validation",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge => "too_large",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Busy { .. } => "busy",
            ApiError::TooManyFailures { .. } => "too_many_failures",
            ApiError::Timeout(_) => "timeout",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "Internal error answering an API request");
        }
        let mut envelope = ErrorEnvelope::new(ErrorDetail::from(&self));
        if let ApiError::InvalidKill(e) = &self {
            envelope.errors = e
                .all()
                .map(|(field, problem)| ErrorDetail {
                    field: Some(field.to_string()),
                    message: problem.to_string(),
                    code: "validation".into(),
                })
                .collect();
        }
        let mut response = (self.status(), Json(envelope)).into_response();
        if let ApiError::RateLimited { retry_after_secs }
        | ApiError::Busy { retry_after_secs }
        | ApiError::TooManyFailures { retry_after_secs } = self
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_secs),
            );
        }
        response
    }
}

impl From<&ApiError> for ErrorDetail {
    fn from(e: &ApiError) -> Self {
        match e {
            ApiError::Invalid { field, problem } => ErrorDetail {
                field: Some(field.clone()),
                message: problem.clone(),
                code: e.code().into(),
            },
            // Its first problem, and the others after it.
            ApiError::InvalidKill(v) => ErrorDetail {
                field: Some(v.field.clone()),
                message: if v.more.is_empty() {
                    v.problem.clone()
                } else {
                    let also: Vec<String> =
                        v.more.iter().map(|(f, p)| format!("{f}: {p}")).collect();
                    format!("{} (also {})", v.problem, also.join("; "))
                },
                code: e.code().into(),
            },
            other => ErrorDetail {
                field: None,
                message: other.to_string(),
                code: other.code().into(),
            },
        }
    }
}

/// Rewrites the error answers axum writes as plain text (no route, wrong
/// method, body over the limit, a path it could not read) into the
/// envelope, so every answer of the API has one shape.
pub async fn envelope_plain_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound("no such route".into()),
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::MethodNotAllowed("this route does not take that method".into())
        }
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
        s if s.is_server_error() => ApiError::Internal(format!("{s} from the framework")),
        _ => {
            // The framework's own words on a request it could not read
            // (a malformed path parameter, a wrong content type).
            let (_, body) = response.into_parts();
            let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
            ApiError::BadRequest(String::from_utf8_lossy(&text).trim().to_string())
        }
    };
    error.into_response()
}
