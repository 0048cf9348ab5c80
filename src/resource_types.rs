//! Which resource a URL names: the built-in catalog first, then the types agents have pushed
//! (served generically). Anything else is a 404, as on a Kubernetes API server.

use crate::error::{ApiError, ApiResult};
use crate::route::Gvr;
use crate::store::{SqlValue, Store};
use edgepedia_api::catalog;
use edgepedia_api::ResourceType;

pub fn resolve(store: &dyn Store, gvr: &Gvr) -> ApiResult<ResourceType> {
    if let Some(info) = catalog::lookup_resource(&gvr.group, &gvr.resource) {
        if info.version == gvr.version {
            return Ok(info.resource_type(&gvr.version));
        }
    }
    let rows = store.query(
        "SELECT kind, namespaced FROM resource_types WHERE api_group = ? AND version = ? AND resource = ? LIMIT 1",
        &[
            gvr.group.as_str().into(),
            gvr.version.as_str().into(),
            gvr.resource.as_str().into(),
        ],
    )?;
    let row = rows.into_iter().next().ok_or_else(ApiError::no_such_path)?;
    let mut cells = row.into_iter();
    let kind = cells
        .next()
        .and_then(SqlValue::into_string)
        .unwrap_or_default();
    let namespaced = cells.next().and_then(|v| v.as_i64()).unwrap_or(1) != 0;
    Ok(ResourceType {
        group: gvr.group.clone(),
        version: gvr.version.clone(),
        resource: gvr.resource.clone(),
        kind,
        namespaced,
    })
}
