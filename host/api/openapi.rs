//! The OpenAPI 3.1 document, made from the code: every route is registered
//! through `utoipa-axum` from its handler's `#[utoipa::path]`, so the router
//! and the document cannot disagree. Served at `/api/v1/openapi.json`
//! (without a key: it describes, it does not reveal) and written by
//! `medic openapi`.

use std::sync::OnceLock;

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::schema::{ArrayItems, Object, Schema};
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
/// requirement on every route that checks one, the answers every such
/// route can give (401, 403, 429, 500) so no operation leaves them out, and
/// the rules kill validation enforces ([`state_kill_rules`]).
pub fn finish(doc: Document) -> Document {
    state_kill_rules(keyed(doc))
}

/// States in the kill report's schema every rule the server's validation
/// (`ingest::validate`) enforces, from its own limits, so a client that
/// keeps to the schema is not refused: the names' form, the timestamp's
/// window (in words: JSON Schema has no relative time), the limits on each
/// list's items and on `metadata`, and a batch's size. A test checks that
/// each is stated.
fn state_kill_rules(mut doc: Document) -> Document {
    use crate::config::NAME_PATTERN;
    use crate::ingest::validate::{
        MAX_AGE, MAX_FUTURE, MAX_ID, MAX_METADATA_BYTES, MAX_METADATA_KEYS, MAX_TEXT,
    };
    let Some(schemas) = doc.components.as_mut().map(|c| &mut c.schemas) else {
        return doc;
    };
    if let Some(RefOr::T(Schema::Object(kill))) = schemas.get_mut("KillReport") {
        let properties = &mut kill.properties;
        let mut field = |name: &str, edit: &dyn Fn(&mut Schema)| {
            if let Some(RefOr::T(schema)) = properties.get_mut(name) {
                edit(schema);
            }
        };
        for name in ["kill_id", "target_module", "target_instance_id"] {
            field(name, &|s| {
                if let Schema::Object(o) = s {
                    o.pattern = Some(NAME_PATTERN.into());
                }
            });
        }
        field("timestamp", &|s| {
            if let Schema::Object(o) = s {
                o.description = Some(format!(
                    "When Smith killed it (RFC 3339). Refused when more than {} minutes ahead \
                     of Medic's clock (clock skew) or more than {} days old.",
                    MAX_FUTURE.num_minutes(),
                    MAX_AGE.num_days()
                ));
            }
        });
        field("source_agent", &|s| {
            if let Schema::Object(o) = s {
                o.max_length = Some(MAX_ID);
            }
        });
        field("metadata", &|s| {
            if let Schema::Object(o) = s {
                o.max_properties = Some(MAX_METADATA_KEYS);
                o.description = Some(format!(
                    "Free-form context: at most {MAX_METADATA_KEYS} keys and \
                     {MAX_METADATA_BYTES} bytes as JSON."
                ));
            }
        });
        field("evidence", &|s| list(s, &|o| o.max_length = Some(MAX_TEXT)));
        field("dependencies", &|s| {
            list(s, &|o| o.pattern = Some(NAME_PATTERN.into()))
        });
    }
    if let Some(RefOr::T(Schema::OneOf(body))) = schemas.get_mut("KillsBody") {
        for variant in &mut body.items {
            if let RefOr::T(Schema::Array(batch)) = variant {
                batch.max_items = Some(super::kills::MAX_BATCH);
            }
        }
    }
    doc
}

/// A list of the kill report: how many items it may have
/// (`ingest::validate::MAX_LIST`), and `item` states what each may be.
fn list(schema: &mut Schema, item: &dyn Fn(&mut Object)) {
    if let Schema::Array(a) = schema {
        a.max_items = Some(crate::ingest::validate::MAX_LIST);
        if let ArrayItems::RefOrSchema(boxed) = &mut a.items
            && let RefOr::T(Schema::Object(o)) = boxed.as_mut()
        {
            item(o);
        }
    }
}

/// The key scheme, the key requirement and the answers every keyed route
/// can give.
fn keyed(mut doc: Document) -> Document {
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
