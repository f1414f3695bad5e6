//! Role checks as extractors: a route names the least role it needs in its
//! handler's signature (`_: Viewer`, `Admin(caller): Admin`), and the
//! request's key is checked before the handler's body runs, by
//! [`ApiKeys::check`] — the one place that decides what each role admits:
//! 401 without a key or with an unknown one, 403 for a role below the
//! route's, 429 over the key's rate limit. The wrong-key throttling
//! (`failures.rs`) sees these answers as it saw the handlers' own.
//!
//! axum runs a handler's extractors in the order of its arguments, the
//! body's last. A role extractor goes after the path's and the query's and
//! before the body's: a request with a bad key is answered 401/403 before
//! its body is read, whatever the body holds.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::auth::Caller;
use super::{ApiError, AppState};
use crate::config::raw::Role;

/// An extractor per role: the caller, when the request's key may act as
/// that role.
macro_rules! role {
    ($(#[$doc:meta])* $name:ident => $role:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name(pub Caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, Self::Rejection> {
                state.keys.check(&parts.headers, $role).map($name)
            }
        }
    };
}

role!(
    /// A viewer's key or above (approver, admin): reads.
    Viewer => Role::Viewer
);
role!(
    /// An ingest key or an admin's: reporting kills.
    Ingest => Role::Ingest
);
role!(
    /// An approver's key or an admin's: deciding queue items, rollbacks.
    Approver => Role::Approver
);
role!(
    /// An admin's key: changing configuration, mode, plugins, thresholds.
    Admin => Role::Admin
);
