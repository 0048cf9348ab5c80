//! `pediaclusters`: what each cluster has pushed and when, so users can judge staleness.
//! Shaped like Clusterpedia's `PediaCluster` (cluster.clusterpedia.io/v1alpha2). Types and
//! counts are those the token may read (see [`crate::visible_types`]).

use crate::auth::{Principal, Scope};
use crate::error::{ApiError, ApiResult};
use crate::store::{SqlValue, Store};
use crate::visible_types::{visible_types, VisibleType};
use edgepedia_api::ClusterName;
use serde_json::{json, Value};

const API_VERSION: &str = "cluster.clusterpedia.io/v1alpha2";

pub fn handle(
    store: &dyn Store,
    principal: &Principal,
    name: Option<&ClusterName>,
) -> ApiResult<Vec<u8>> {
    principal.require(Scope::Read)?;
    let rows = store.query(
        "SELECT name, agent_version, first_seen_at, last_sync_at FROM clusters ORDER BY name",
        &[],
    )?;
    let types = visible_types(store, principal, name)?;
    let mut items = Vec::new();
    for row in rows {
        let mut cells = row.into_iter();
        let cluster = cells
            .next()
            .and_then(SqlValue::into_string)
            .unwrap_or_default();
        if !principal.may_see_cluster(&cluster) || name.is_some_and(|n| n.as_str() != cluster) {
            continue;
        }
        let agent_version = cells.next().and_then(SqlValue::into_string);
        let first_seen = cells.next().and_then(|v| v.as_i64()).unwrap_or(0);
        let last_sync = cells.next().and_then(|v| v.as_i64()).unwrap_or(0);
        items.push(json!({
            "apiVersion": API_VERSION,
            "kind": "PediaCluster",
            "metadata": { "name": cluster, "creationTimestamp": crate::clock::rfc3339(first_seen) },
            "spec": {},
            "status": {
                "lastSyncTime": crate::clock::rfc3339(last_sync),
                "agentVersion": agent_version,
                "syncResources": sync_resources(&types, &cluster),
            }
        }));
    }
    let body = match name {
        Some(n) => items.pop().ok_or_else(|| {
            ApiError::object_not_found("cluster.clusterpedia.io", "pediaclusters", n.as_str())
        })?,
        None => {
            json!({ "apiVersion": API_VERSION, "kind": "PediaClusterList", "metadata": {}, "items": items })
        }
    };
    serde_json::to_vec(&body).map_err(|_| ApiError::internal())
}

fn sync_resources(types: &[VisibleType], cluster: &str) -> Vec<Value> {
    types
        .iter()
        .filter(|v| v.cluster == cluster)
        .map(|v| {
            let t = &v.resource_type;
            json!({
                "group": t.group,
                "version": t.version,
                "resource": t.resource,
                "kind": t.kind,
                "namespaced": t.namespaced,
                "objectCount": v.count,
                "lastSyncTime": crate::clock::rfc3339(v.synced_at),
            })
        })
        .collect()
}
