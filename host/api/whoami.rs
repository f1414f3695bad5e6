//! `GET /api/v1/whoami` (viewers and up): the name and role behind the
//! presented key, so a client (the console) shows only what the role may do.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::envelope::Envelope;
use super::role::Viewer;
use crate::config::raw::Role;

/// The key's name and role.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    pub name: String,
    pub role: Role,
}

#[utoipa::path(get, path = "/api/v1/whoami", tag = "engine",
    responses((status = 200, description = "Who the key is", body = Envelope<WhoAmI>)))]
pub async fn whoami(Viewer(caller): Viewer) -> Json<Envelope<WhoAmI>> {
    Json(Envelope::new(WhoAmI {
        name: caller.name,
        role: caller.role,
    }))
}
