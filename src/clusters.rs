//! `pediaclusters`: what each cluster has pushed and when, so users can judge staleness.
//! Shaped like Clusterpedia's `PediaCluster` (cluster.clusterpedia.io/v1alpha2).

use crate::auth::{Principal, Scope};
use crate::error::{ApiError, ApiResult};
use crate::store::{SqlValue, Store};
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
                "syncResources": sync_resources(store, &cluster)?,
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

fn sync_resources(store: &dyn Store, cluster: &str) -> ApiResult<Vec<Value>> {
    let rows = store.query(
        "SELECT api_group, version, resource, kind, namespaced, object_count, synced_at FROM resource_types \
         WHERE cluster = ? ORDER BY api_group, resource",
        &[cluster.into()],
    )?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let text = |i: usize| {
                r.get(i)
                    .and_then(SqlValue::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let int = |i: usize| r.get(i).and_then(SqlValue::as_i64).unwrap_or(0);
            json!({
                "group": text(0),
                "version": text(1),
                "resource": text(2),
                "kind": text(3),
                "namespaced": int(4) != 0,
                "objectCount": int(5),
                "lastSyncTime": crate::clock::rfc3339(int(6)),
            })
        })
        .collect())
}
