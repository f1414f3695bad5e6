//! The web console: a page, its script and its stylesheet, embedded in the
//! binary and served as they are (no build step). They need no key — they
//! hold no data; the script asks the API for everything with the key the
//! operator types. A strict Content-Security-Policy allows only these
//! files and calls to this origin: no inline script or style, no frames.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::AppState;

const INDEX_HTML: &str = include_str!("console/index.html");
const APP_JS: &str = include_str!("console/app.js");
const APP_CSS: &str = include_str!("console/app.css");

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
        .route("/console/app.js", get(script))
        .route("/console/app.css", get(stylesheet))
}

async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX_HTML)
}

async fn script() -> Response {
    file("text/javascript; charset=utf-8", APP_JS)
}

async fn stylesheet() -> Response {
    file("text/css; charset=utf-8", APP_CSS)
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
