//! The web console: a page, its scripts (ES modules, one concern each) and
//! its stylesheet, embedded in the binary and served as they are (no build
//! step). They need no key — they
//! hold no data; the script asks the API for everything with the key the
//! operator types. A strict Content-Security-Policy allows only these
//! files and calls to this origin: no inline script or style, no frames.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::{ApiError, AppState};

const INDEX_HTML: &str = include_str!("console/index.html");

const JS: &str = "text/javascript; charset=utf-8";

/// The files under `/console/`: name, type, content. `app.js` starts the
/// page and imports the rest.
const FILES: &[(&str, &str, &str)] = &[
    ("app.js", JS, include_str!("console/app.js")),
    ("dom.js", JS, include_str!("console/dom.js")),
    ("session.js", JS, include_str!("console/session.js")),
    ("confirm.js", JS, include_str!("console/confirm.js")),
    ("overview.js", JS, include_str!("console/overview.js")),
    ("pages.js", JS, include_str!("console/pages.js")),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("console/app.css"),
    ),
];

/// What the console's files may load and do: scripts, styles and API calls
/// from this origin only; images only from here or `data:` (the favicon).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The console's routes: its files and `/` sending browsers to it. (The
/// `whoami` route it asks for the key's role is an API route.)
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(index))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .route("/console/{file}", get(asset))
}

async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX_HTML)
}

async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, content_type, body)| file(content_type, body))
        .ok_or_else(|| ApiError::NotFound(format!("no console file {name}")))
}

/// One embedded file with its type and the console's security headers.
fn file(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        // Small files, and a new binary may bring new ones: always revalidate.
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
