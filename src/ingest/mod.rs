//! The ingest API (DESIGN §6): snapshot sessions that atomically replace a cluster's objects
//! of some types, and idempotent watch-event deltas. Every request is one transaction: a
//! failed one leaves the previous data exactly as it was.

pub mod object;

use crate::error::{ApiError, ApiResult};
use crate::store::{transaction, SqlValue, Store};
use edgepedia_api::catalog;
use edgepedia_api::ingest::{
    BeginSnapshot, Chunk, ChunkAccepted, CommitResult, EventType, EventsApplied, SnapshotSession,
    TypeCount, WatchEvents, SESSION_TTL_SECONDS,
};
use edgepedia_api::{ClusterName, ResourceType};
use object::{normalize, StoredObject};
use serde::de::DeserializeOwned;

/// Rows per multi-row INSERT: fewer host calls, far below SQLite's parameter limit.
const INSERT_BATCH: usize = 64;

fn parse_body<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

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
    if let Some(info) = catalog::lookup_resource(&t.group, &t.resource) {
        if info.kind != t.kind || info.namespaced != t.namespaced {
            return Err(format!(
                "{}.{} is kind {} ({}), not {}",
                t.resource,
                t.group,
                info.kind,
                if info.namespaced {
                    "namespaced"
                } else {
                    "cluster-scoped"
                },
                t.kind
            ));
        }
    }
    Ok(())
}

pub fn begin(
    store: &dyn Store,
    cluster: &ClusterName,
    body: &[u8],
    now: i64,
) -> ApiResult<SnapshotSession> {
    let begin: BeginSnapshot = parse_body(body)?;
    if begin.resource_types.is_empty() {
        return Err(ApiError::invalid(
            "resourceTypes: at least one resource type is required",
        ));
    }
    for (i, t) in begin.resource_types.iter().enumerate() {
        check_resource_type(t)
            .map_err(|e| ApiError::invalid(format!("resourceTypes[{i}]: {e}")))?;
    }
    let types = serde_json::to_string(&begin.resource_types).map_err(|_| ApiError::internal())?;
    let expires_at = now + SESSION_TTL_SECONDS;
    transaction(store, |tx| {
        // Abandoned sessions expire: their staged rows go, nothing they staged was visible.
        tx.execute(
            "DELETE FROM snapshot_objects WHERE session IN (SELECT id FROM snapshot_sessions WHERE expires_at < ?)",
            &[now.into()],
        )?;
        tx.execute(
            "DELETE FROM snapshot_sessions WHERE expires_at < ?",
            &[now.into()],
        )?;
        let id = tx
            .query("SELECT lower(hex(randomblob(16)))", &[])?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .and_then(SqlValue::into_string)
            .ok_or_else(ApiError::internal)?;
        tx.execute(
            "INSERT INTO snapshot_sessions (id, cluster, resource_types, agent_version, expires_at) VALUES (?, ?, ?, ?, ?)",
            &[
                id.as_str().into(),
                cluster.as_str().into(),
                types.into(),
                begin.agent_version.clone().into(),
                expires_at.into(),
            ],
        )?;
        Ok(SnapshotSession {
            session: id,
            expires_at,
        })
    })
}

struct Session {
    types: Vec<ResourceType>,
    agent_version: Option<String>,
}

/// The open session `id` of `cluster`: 404 if unknown, 410 once expired.
fn load_session(
    store: &dyn Store,
    cluster: &ClusterName,
    id: &str,
    now: i64,
) -> ApiResult<Session> {
    let rows = store.query(
        "SELECT resource_types, agent_version, expires_at FROM snapshot_sessions WHERE id = ? AND cluster = ?",
        &[id.into(), cluster.as_str().into()],
    )?;
    let row = rows.into_iter().next().ok_or_else(|| {
        ApiError::not_found(format!(
            "snapshot session {id:?} not found for cluster {cluster}"
        ))
    })?;
    let mut cells = row.into_iter();
    let types = cells
        .next()
        .and_then(SqlValue::into_string)
        .unwrap_or_default();
    let agent_version = cells.next().and_then(SqlValue::into_string);
    let expires_at = cells.next().and_then(|v| v.as_i64()).unwrap_or(0);
    if expires_at < now {
        return Err(ApiError::expired(format!(
            "snapshot session {id:?} expired; begin a new snapshot"
        )));
    }
    let types = serde_json::from_str(&types).map_err(|_| ApiError::internal())?;
    Ok(Session {
        types,
        agent_version,
    })
}

pub fn chunk(
    store: &dyn Store,
    cluster: &ClusterName,
    id: &str,
    body: &[u8],
    now: i64,
) -> ApiResult<ChunkAccepted> {
    let session = load_session(store, cluster, id, now)?;
    let chunk: Chunk = parse_body(body)?;
    let objects = chunk
        .items
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            normalize(raw.get(), cluster, |api_version, kind, _| {
                let (group, version) = catalog::split_api_version(api_version);
                session
                    .types
                    .iter()
                    .find(|t| t.group == group && t.version == version && t.kind == kind)
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "{api_version} {kind} is not a resource type of this snapshot session"
                        )
                    })
            })
            .map_err(|e| ApiError::invalid(format!("items[{i}]: {e}")))
        })
        .collect::<ApiResult<Vec<StoredObject>>>()?;
    transaction(store, |tx| {
        for batch in objects.chunks(INSERT_BATCH) {
            stage(tx, id, batch)?;
        }
        tx.execute(
            "UPDATE snapshot_sessions SET expires_at = ? WHERE id = ?",
            &[(now + SESSION_TTL_SECONDS).into(), id.into()],
        )?;
        let staged = count(
            tx,
            "SELECT count(*) FROM snapshot_objects WHERE session = ?",
            &[id.into()],
        )?;
        Ok(ChunkAccepted {
            accepted: objects.len() as u64,
            staged,
        })
    })
}

fn stage(tx: &dyn Store, session: &str, batch: &[StoredObject]) -> ApiResult<()> {
    let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let sql = format!(
        "INSERT OR REPLACE INTO snapshot_objects (session, api_group, version, resource, kind, namespace, name, uid, \
         owner_uid, resource_version, created_at, object) VALUES {}",
        vec![row; batch.len()].join(", ")
    );
    let mut params = Vec::with_capacity(batch.len() * 12);
    for o in batch {
        let t = &o.resource_type;
        params.extend([
            session.into(),
            t.group.as_str().into(),
            t.version.as_str().into(),
            t.resource.as_str().into(),
            t.kind.as_str().into(),
            o.namespace.as_str().into(),
            o.name.as_str().into(),
            o.uid.as_str().into(),
            o.owner_uid.clone().into(),
            o.resource_version.clone().into(),
            o.created_at.clone().into(),
            o.json.as_str().into(),
        ]);
    }
    tx.execute(&sql, &params)?;
    Ok(())
}

fn count(store: &dyn Store, sql: &str, params: &[SqlValue]) -> ApiResult<u64> {
    Ok(store
        .query(sql, params)?
        .first()
        .and_then(|r| r.first())
        .and_then(SqlValue::as_i64)
        .unwrap_or(0) as u64)
}

pub fn commit(
    store: &dyn Store,
    cluster: &ClusterName,
    id: &str,
    now: i64,
) -> ApiResult<CommitResult> {
    transaction(store, |tx| {
        let session = load_session(tx, cluster, id, now)?;
        let mut replaced = Vec::new();
        for t in &session.types {
            let key: [SqlValue; 3] = [
                cluster.as_str().into(),
                t.group.as_str().into(),
                t.resource.as_str().into(),
            ];
            tx.execute(
                "DELETE FROM objects WHERE cluster = ? AND api_group = ? AND resource = ?",
                &key,
            )?;
            tx.execute(
                "INSERT INTO objects (api_group, version, resource, kind, cluster, namespace, name, uid, owner_uid, \
                 resource_version, created_at, synced_at, object) \
                 SELECT api_group, version, resource, kind, ?, namespace, name, uid, owner_uid, resource_version, \
                 created_at, ?, object FROM snapshot_objects WHERE session = ? AND api_group = ? AND resource = ?",
                &[
                    cluster.as_str().into(),
                    now.into(),
                    id.into(),
                    t.group.as_str().into(),
                    t.resource.as_str().into(),
                ],
            )?;
            let n = record_type(tx, cluster, t, now)?;
            replaced.push(TypeCount {
                resource_type: t.clone(),
                count: n,
            });
        }
        tx.execute(
            "DELETE FROM snapshot_objects WHERE session = ?",
            &[id.into()],
        )?;
        tx.execute("DELETE FROM snapshot_sessions WHERE id = ?", &[id.into()])?;
        record_cluster(tx, cluster, session.agent_version.as_deref(), now)?;
        Ok(CommitResult { replaced })
    })
}

pub fn abort(store: &dyn Store, cluster: &ClusterName, id: &str, now: i64) -> ApiResult<()> {
    transaction(store, |tx| {
        load_session(tx, cluster, id, now)?;
        tx.execute(
            "DELETE FROM snapshot_objects WHERE session = ?",
            &[id.into()],
        )?;
        tx.execute("DELETE FROM snapshot_sessions WHERE id = ?", &[id.into()])?;
        Ok(())
    })
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
        "SELECT count(*) FROM objects WHERE cluster = ? AND api_group = ? AND resource = ?",
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

/// Applies watch events in one transaction. Replays are harmless: an event whose object is
/// not newer than the stored one (same uid, resourceVersion not greater) is skipped.
pub fn events(
    store: &dyn Store,
    cluster: &ClusterName,
    body: &[u8],
    now: i64,
) -> ApiResult<EventsApplied> {
    let batch: WatchEvents = parse_body(body)?;
    let parsed = batch
        .events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            normalize(event.object.get(), cluster, |api_version, kind, has_ns| {
                let t = ResourceType::for_object(api_version, kind, has_ns);
                if catalog::lookup_kind(&t.group, kind).is_some() && t.resource != event.resource {
                    return Err(format!(
                        "resource {:?} does not match kind {kind}",
                        event.resource
                    ));
                }
                let t = ResourceType {
                    resource: event.resource.clone(),
                    ..t
                };
                check_resource_type(&t)?;
                Ok(t)
            })
            .map(|o| (event.event_type, o))
            .map_err(|e| ApiError::invalid(format!("events[{i}].object: {e}")))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    transaction(store, |tx| {
        let mut applied = 0;
        let mut touched: Vec<ResourceType> = Vec::new();
        for (event_type, o) in &parsed {
            let changed = match event_type {
                EventType::Added | EventType::Modified => upsert(tx, cluster, o, now)?,
                EventType::Deleted => delete(tx, cluster, o)?,
            };
            if changed {
                applied += 1;
                if !touched.contains(&o.resource_type) {
                    touched.push(o.resource_type.clone());
                }
            }
        }
        for t in &touched {
            record_type(tx, cluster, t, now)?;
        }
        record_cluster(tx, cluster, None, now)?;
        Ok(EventsApplied {
            applied,
            skipped: parsed.len() as u64 - applied,
        })
    })
}

fn upsert(tx: &dyn Store, cluster: &ClusterName, o: &StoredObject, now: i64) -> ApiResult<bool> {
    let t = &o.resource_type;
    // resourceVersions are decimal strings in practice: compare by length, then text.
    let rows = tx.query(
        "INSERT INTO objects (api_group, version, resource, kind, cluster, namespace, name, uid, owner_uid, \
         resource_version, created_at, synced_at, object) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (api_group, resource, cluster, namespace, name) DO UPDATE SET \
         version = excluded.version, kind = excluded.kind, uid = excluded.uid, owner_uid = excluded.owner_uid, \
         resource_version = excluded.resource_version, created_at = excluded.created_at, \
         synced_at = excluded.synced_at, object = excluded.object \
         WHERE objects.uid <> excluded.uid OR objects.resource_version IS NULL OR excluded.resource_version IS NULL \
         OR length(excluded.resource_version) > length(objects.resource_version) \
         OR (length(excluded.resource_version) = length(objects.resource_version) \
             AND excluded.resource_version > objects.resource_version) \
         RETURNING 1",
        &[
            t.group.as_str().into(),
            t.version.as_str().into(),
            t.resource.as_str().into(),
            t.kind.as_str().into(),
            cluster.as_str().into(),
            o.namespace.as_str().into(),
            o.name.as_str().into(),
            o.uid.as_str().into(),
            o.owner_uid.clone().into(),
            o.resource_version.clone().into(),
            o.created_at.clone().into(),
            now.into(),
            o.json.as_str().into(),
        ],
    )?;
    Ok(!rows.is_empty())
}

fn delete(tx: &dyn Store, cluster: &ClusterName, o: &StoredObject) -> ApiResult<bool> {
    let t = &o.resource_type;
    let rows = tx.query(
        "DELETE FROM objects WHERE api_group = ? AND resource = ? AND cluster = ? AND namespace = ? AND name = ? \
         AND uid = ? RETURNING 1",
        &[
            t.group.as_str().into(),
            t.resource.as_str().into(),
            cluster.as_str().into(),
            o.namespace.as_str().into(),
            o.name.as_str().into(),
            o.uid.as_str().into(),
        ],
    )?;
    Ok(!rows.is_empty())
}
