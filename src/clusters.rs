//! `pediaclusters`: what each cluster has pushed and when, so users can judge staleness.
//! Shaped like Clusterpedia's `PediaCluster` (cluster.clusterpedia.io/v1alpha2). Types and
//! counts are those the token may read (see [`crate::visible_types`]).
//!
//! `status.conditions` has `Ready`: `True` while the cluster's last snapshot, delta or agent
//! heartbeat (`cluster_sync`, see [`crate::ingest::heartbeat`]) is younger than the Spin
//! variable `cluster_stale_after_seconds` (default 300), else `False` with reason `Stale`.

use crate::auth::{Principal, Scope, Variables};
use crate::error::{ApiError, ApiResult};
use crate::store::{SqlValue, Store};
use crate::visible_types::{visible_types, VisibleType};
use edgepedia_api::ClusterName;
use serde_json::{json, Value};

const API_VERSION: &str = "cluster.clusterpedia.io/v1alpha2";

/// The Spin variable naming the staleness threshold, and its default.
pub const STALE_AFTER_VARIABLE: &str = "cluster_stale_after_seconds";
pub const DEFAULT_STALE_AFTER_SECONDS: i64 = 300;

/// `cluster_stale_after_seconds`, when it is a positive integer; else the default.
pub fn stale_after(vars: &dyn Variables) -> i64 {
    vars.get(STALE_AFTER_VARIABLE)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|&v| v > 0)
        .unwrap_or(DEFAULT_STALE_AFTER_SECONDS)
}

pub fn handle(
    store: &dyn Store,
    principal: &Principal,
    name: Option<&ClusterName>,
    stale_after_seconds: i64,
    now: i64,
) -> ApiResult<Vec<u8>> {
    principal.require(Scope::Read)?;
    let rows = store.query(
        "SELECT c.name, c.agent_version, c.first_seen_at, c.last_sync_at, \
         s.last_snapshot_at, s.last_delta_at, s.last_heartbeat_at \
         FROM clusters c LEFT JOIN cluster_sync s ON s.cluster = c.name ORDER BY c.name",
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
        let mut time = || cells.next().and_then(|v| v.as_i64()).filter(|&t| t > 0);
        let (snapshot, delta, heartbeat) = (time(), time(), time());
        let last_seen = [Some(last_sync), snapshot, delta, heartbeat]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0);
        let rfc = |t: Option<i64>| t.map(crate::clock::rfc3339);
        items.push(json!({
            "apiVersion": API_VERSION,
            "kind": "PediaCluster",
            "metadata": { "name": cluster, "creationTimestamp": crate::clock::rfc3339(first_seen) },
            "spec": {},
            "status": {
                "lastSyncTime": crate::clock::rfc3339(last_sync),
                "lastSnapshotTime": rfc(snapshot),
                "lastDeltaTime": rfc(delta),
                "lastHeartbeatTime": rfc(heartbeat),
                "agentVersion": agent_version,
                "conditions": [ready_condition(last_seen, stale_after_seconds, now)],
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

/// `Ready`: whether anything came from the cluster within `stale_after` seconds.
fn ready_condition(last_seen: i64, stale_after: i64, now: i64) -> Value {
    let age = (now - last_seen).max(0);
    let since = crate::clock::rfc3339(last_seen);
    if last_seen > 0 && age < stale_after {
        json!({
            "type": "Ready",
            "status": "True",
            "reason": "Synced",
            "message": format!("last heard from the cluster {age}s ago"),
            "lastTransitionTime": since,
        })
    } else {
        json!({
            "type": "Ready",
            "status": "False",
            "reason": "Stale",
            "message": format!(
                "no snapshot, delta or heartbeat for {age}s (stale after {stale_after}s)"
            ),
            "lastTransitionTime": crate::clock::rfc3339(last_seen + stale_after),
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Vars(Option<&'static str>);
    impl Variables for Vars {
        fn get(&self, _: &str) -> Option<String> {
            self.0.map(str::to_owned)
        }
    }

    #[test]
    fn stale_after_falls_back_to_the_default() {
        assert_eq!(stale_after(&Vars(None)), 300);
        assert_eq!(stale_after(&Vars(Some(" 2 "))), 2);
        assert_eq!(stale_after(&Vars(Some("0"))), 300);
        assert_eq!(stale_after(&Vars(Some("x"))), 300);
    }

    #[test]
    fn ready_turns_false_with_age() {
        let fresh = ready_condition(1000, 300, 1299);
        assert_eq!(fresh["status"], "True");
        let stale = ready_condition(1000, 300, 1300);
        assert_eq!(stale["status"], "False");
        assert_eq!(stale["reason"], "Stale");
        assert!(stale["message"].as_str().unwrap().contains("300s"));
        assert_eq!(ready_condition(0, 300, 10)["status"], "False");
    }
}
