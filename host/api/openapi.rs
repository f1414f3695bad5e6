//! The OpenAPI 3.1 document, made from the code: every route is registered
//! through `utoipa-axum` from its handler's `#[utoipa::path]`, so the router
//! and the document cannot disagree. Served at `/api/v1/openapi.json`
//! (without a key: it describes, it does not reveal) and written by
//! `medic openapi`.

use std::sync::OnceLock;

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr, Response};

use super::envelope::ErrorEnvelope;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Medic API",
        description = "Medic decides whether a service Smith killed should come back, brings it \
                       back, watches it and learns from the outcome. Every answer is wrapped in \
                       one envelope (success, data, meta, errors). Send an API key in \
                       `X-API-Key` (or `Authorization: Bearer`); roles: viewer (read), \
                       approver (queue decisions, rollbacks), admin (mode, thresholds, plugins, \
                       config), ingest (kills).",
        license(name = "Apache-2.0")
    ),
    components(schemas(ErrorEnvelope)),
    tags(
        (name = "kills", description = "Kills from Smith"),
        (name = "decisions", description = "What Medic decided, and why"),
        (name = "queue", description = "Decisions waiting for a human"),
        (name = "resurrections", description = "Bringing services back, watching them, rolling back"),
        (name = "outcomes", description = "How resurrections ended"),
        (name = "thresholds", description = "The thresholds the strategies judge with"),
        (name = "plugins", description = "The WebAssembly plugins that judge"),
        (name = "mode", description = "Observer, manual, semi-auto, full-auto"),
        (name = "reports", description = "Daily and weekly reports"),
        (name = "engine", description = "Health, status, metrics, audit, configuration"),
    )
)]
pub struct ApiDoc;

/// Routes anyone may call; every other needs a key.
pub(super) const OPEN: &[&str] = &["/health", "/health/ready", "/api/v1/openapi.json"];

/// Finishes the document the router collected: the key scheme, the key
/// requirement on every route that checks one, and the answers every such
/// route can give (401, 403, 429, 500) so no operation leaves them out.
pub fn finish(mut doc: Document) -> Document {
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        "api_key".into(),
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-API-Key",
            "An API key (configured as its sha256, or MEDIC_API_KEY)",
        ))),
    );
    let error = |description: &str| -> RefOr<Response> {
        RefOr::T(
            utoipa::openapi::ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(utoipa::openapi::Ref::from_schema_name(
                            "ErrorEnvelope",
                        )))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let keyed = !OPEN.contains(&path.as_str());
        for (op, takes_body) in [
            (&mut item.get, false),
            (&mut item.put, true),
            (&mut item.post, true),
            (&mut item.delete, false),
            (&mut item.patch, true),
        ] {
            let Some(op) = op else { continue };
            if keyed {
                op.security = Some(vec![SecurityRequirement::new::<_, _, &str>("api_key", [])]);
            }
            // (status, when it applies, what it means)
            for (status, applies, description) in [
                ("401", keyed, "No key, or an unknown one"),
                ("403", keyed, "This key's role may not do this"),
                ("413", takes_body, "The body is over the limit"),
                (
                    "429",
                    keyed,
                    "Over this key's rate limit, or too many wrong keys from this address: see Retry-After",
                ),
                (
                    "503",
                    keyed,
                    "Not answered within interfaces.web.request_timeout_seconds, or the store's reads are busy (see Retry-After)",
                ),
                (
                    "500",
                    true,
                    "Medic failed (details are in its log, not here)",
                ),
            ] {
                if applies {
                    op.responses
                        .responses
                        .entry(status.into())
                        .or_insert_with(|| error(description));
                }
            }
        }
    }
    doc
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "engine", security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object)))]
pub async fn document() -> Json<Document> {
    static DOC: OnceLock<Document> = OnceLock::new();
    Json(DOC.get_or_init(super::openapi_document).clone())
}
