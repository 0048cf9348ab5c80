//! The ingest API (DESIGN §6): snapshot sessions that atomically replace a cluster's objects
//! of some types ([`session`]), and idempotent watch-event deltas ([`events`]), both
//! recording what they changed in the change feed ([`change_log`]). Every request is one
//! transaction: a failed one leaves the previous data, and the feed, exactly as they were.
//! Every write is checked against the caller's claims first ([`authz`]).

pub mod authz;
pub mod change_log;
pub mod events;
pub mod garbage;
pub mod heartbeat;
pub mod object;
pub mod session;

pub use authz::WriteScope;
pub use change_log::Retention;
pub use events::events;
pub use session::{abort, begin, chunk, commit};

use crate::error::{ApiError, ApiResult};
use crate::store::{SqlValue, Store};
use edgepedia_api::catalog;
use edgepedia_api::{ClusterName, ResourceType};
use serde::Deserialize;

/// Parses a request body; what `T` borrows (a chunk's objects) stays in `body`, uncopied.
fn parse_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

/// A pushed resource type must be well formed and agree with the catalog both ways: a
/// built-in resource keeps its kind and scope, and a built-in kind keeps its resource name
/// (so a Secret cannot be pushed as `secretz` and served past the Secret rules).
fn check_resource_type(t: &ResourceType) -> Result<(), String> {
    let label = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    };
    if !label(&t.resource) {
        return Err(format!(
            "resource {:?} is not a lowercase plural name",
            t.resource
        ));
    }
    if !(t.group.is_empty() || label(&t.group)) || !label(&t.version) {
        return Err(format!("group/version {:?} is invalid", t.api_version()));
    }
    if t.kind.is_empty() || !t.kind.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!("kind {:?} is invalid", t.kind));
    }
    let scope = |namespaced| {
        if namespaced {
            "namespaced"
        } else {
            "cluster-scoped"
        }
    };
    if let Some(info) = catalog::lookup_resource(&t.group, &t.resource) {
        if info.kind != t.kind || info.namespaced != t.namespaced {
            return Err(format!(
                "{} is kind {} ({}), not {} ({})",
                qualified(info.resource, info.group),
                info.kind,
                scope(info.namespaced),
                t.kind,
                scope(t.namespaced)
            ));
        }
    }
    if let Some(info) = catalog::lookup_kind(&t.group, &t.kind) {
        if info.resource != t.resource {
            return Err(format!(
                "kind {} is served as {}, not {}",
                t.kind,
                qualified(info.resource, info.group),
                qualified(&t.resource, &t.group)
            ));
        }
    }
    Ok(())
}

/// `deployments.apps`, or `pods` for the core group.
fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
}

/// `rows` parenthesized groups of `columns` placeholders, for a multi-row `VALUES`.
fn value_rows(columns: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

fn count(store: &dyn Store, sql: &str, params: &[SqlValue]) -> ApiResult<u64> {
    Ok(store
        .query(sql, params)?
        .first()
        .and_then(|r| r.first())
        .and_then(SqlValue::as_i64)
        .unwrap_or(0) as u64)
}

/// Refreshes the per-cluster type record (discovery and sync status) and returns its count.
fn record_type(
    tx: &dyn Store,
    cluster: &ClusterName,
    t: &ResourceType,
    now: i64,
) -> ApiResult<u64> {
    let n = count(
        tx,
        &crate::live_rows::count_live(
            "FROM objects WHERE cluster = ?1 AND api_group = ?2 AND resource = ?3",
        ),
        &[
            cluster.as_str().into(),
            t.group.as_str().into(),
            t.resource.as_str().into(),
        ],
    )?;
    tx.execute(
        "INSERT INTO resource_types (cluster, api_group, version, resource, kind, namespaced, object_count, synced_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (cluster, api_group, resource) DO UPDATE SET \
         version = excluded.version, kind = excluded.kind, namespaced = excluded.namespaced, \
         object_count = excluded.object_count, synced_at = excluded.synced_at",
        &[
            cluster.as_str().into(),
            t.group.as_str().into(),
            t.version.as_str().into(),
            t.resource.as_str().into(),
            t.kind.as_str().into(),
            i64::from(t.namespaced).into(),
            (n as i64).into(),
            now.into(),
        ],
    )?;
    Ok(n)
}

fn record_cluster(
    tx: &dyn Store,
    cluster: &ClusterName,
    agent_version: Option<&str>,
    now: i64,
) -> ApiResult<()> {
    tx.execute(
        "INSERT INTO clusters (name, agent_version, first_seen_at, last_sync_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET last_sync_at = excluded.last_sync_at, \
         agent_version = coalesce(excluded.agent_version, clusters.agent_version)",
        &[cluster.as_str().into(), agent_version.into(), now.into(), now.into()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(group: &str, resource: &str, kind: &str, namespaced: bool) -> ResourceType {
        ResourceType {
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            kind: kind.into(),
            namespaced,
        }
    }

    #[test]
    fn resource_types_agree_with_the_catalog_both_ways() {
        assert!(check_resource_type(&t("", "secrets", "Secret", true)).is_ok());
        assert!(check_resource_type(&t("example.io", "widgets", "Widget", true)).is_ok());
        let err = check_resource_type(&t("", "secretz", "Secret", true)).unwrap_err();
        assert!(err.contains("served as secrets"), "{err}");
        let err = check_resource_type(&t("", "secrets", "Widget", true)).unwrap_err();
        assert!(err.contains("secrets is kind Secret"), "{err}");
        let err = check_resource_type(&t("apps", "deployments", "Deployment", false)).unwrap_err();
        assert!(err.contains("namespaced"), "{err}");
        assert!(check_resource_type(&t("apps", "workloads", "Deployment", true)).is_err());
    }
}
