//! Snapshot sessions: begin (cluster, types) → chunks staged out of readers' sight → commit,
//! which atomically replaces what the session's types hold in the cluster — within the
//! namespaces the session's writer may write, never beyond — or abort.

use super::authz::{namespace_filter, WriteScope};
use super::change_log::{self, Retention};
use super::heartbeat::{touch, Activity};
use super::object::{normalize, StoredObject};
use super::{check_resource_type, count, parse_body, record_cluster, record_type, value_rows};
use crate::auth::NamePattern;
use crate::error::{ApiError, ApiResult};
use crate::store::{transaction, SqlValue, Store};
use edgepedia_api::catalog;
use edgepedia_api::ingest::{
    BeginSnapshot, Chunk, ChunkAccepted, CommitResult, SnapshotSession, TypeCount,
    SESSION_TTL_SECONDS,
};
use edgepedia_api::{ClusterName, ResourceType};

/// Rows per multi-row INSERT: fewer host calls, far below SQLite's parameter limit.
const INSERT_BATCH: usize = 64;

pub fn begin(
    store: &dyn Store,
    scope: &WriteScope,
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
        scope.check_type(t)?;
    }
    let types = serde_json::to_string(&begin.resource_types).map_err(|_| ApiError::internal())?;
    let namespaces = scope
        .namespaces()
        .map(|ps| serde_json::to_string(&ps.iter().map(NamePattern::as_str).collect::<Vec<_>>()))
        .transpose()
        .map_err(|_| ApiError::internal())?;
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
            "INSERT INTO snapshot_sessions (id, cluster, resource_types, agent_version, expires_at, namespaces) \
             VALUES (?, ?, ?, ?, ?, ?)",
            &[
                id.as_str().into(),
                cluster.as_str().into(),
                types.into(),
                begin.agent_version.clone().into(),
                expires_at.into(),
                namespaces.into(),
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
    /// What may be written through it: the namespaces claim of the token that began it.
    scope: WriteScope,
}

/// The open session `id` of `cluster`: 404 if unknown, 410 once expired, 403 if the caller
/// may not write everything it may replace.
fn load_session(
    store: &dyn Store,
    scope: &WriteScope,
    cluster: &ClusterName,
    id: &str,
    now: i64,
) -> ApiResult<Session> {
    let rows = store.query(
        "SELECT resource_types, agent_version, expires_at, namespaces FROM snapshot_sessions WHERE id = ? AND cluster = ?",
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
    let namespaces = cells.next().and_then(SqlValue::into_string);
    if expires_at < now {
        return Err(ApiError::expired(format!(
            "snapshot session {id:?} expired; begin a new snapshot"
        )));
    }
    let types: Vec<ResourceType> =
        serde_json::from_str(&types).map_err(|_| ApiError::internal())?;
    let namespaces = namespaces
        .map(|text| {
            serde_json::from_str::<Vec<String>>(&text)
                .ok()
                .and_then(|ps| ps.iter().map(|p| NamePattern::parse(p)).collect())
                .ok_or_else(ApiError::internal)
        })
        .transpose()?;
    let scope = scope.for_session(namespaces)?;
    for t in &types {
        scope.check_type(t)?;
    }
    Ok(Session {
        types,
        agent_version,
        scope,
    })
}

pub fn chunk(
    store: &dyn Store,
    scope: &WriteScope,
    cluster: &ClusterName,
    id: &str,
    body: &[u8],
    now: i64,
) -> ApiResult<ChunkAccepted> {
    let session = load_session(store, scope, cluster, id, now)?;
    let chunk: Chunk = parse_body(body)?;
    let objects = chunk
        .items
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let o = normalize(raw.get(), cluster, |api_version, kind, _| {
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
            .map_err(|e| ApiError::invalid(format!("items[{i}]: {e}")))?;
            session.scope.check_object(&o)?;
            Ok(o)
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
    let sql = format!(
        "INSERT OR REPLACE INTO snapshot_objects (session, api_group, version, resource, kind, namespace, name, uid, \
         owner_uid, resource_version, created_at, object) VALUES {}",
        value_rows(12, batch.len())
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

/// Replaces, per type, the stored objects the session may replace (its namespaces, or the
/// whole cluster × type) with the staged ones, as a diff: only rows that changed are written,
/// and each change is recorded in the change feed. Every staged object was checked against
/// the same namespaces when its chunk came in.
pub fn commit(
    store: &dyn Store,
    scope: &WriteScope,
    cluster: &ClusterName,
    id: &str,
    retention: Retention,
    now: i64,
) -> ApiResult<CommitResult> {
    transaction(store, |tx| {
        let session = load_session(tx, scope, cluster, id, now)?;
        let replaceable = namespace_filter(session.scope.namespaces());
        let commit_mark = change_log::mark(tx)?;
        let mut replaced = Vec::new();
        for t in &session.types {
            // The rows this session may replace: cluster × type, within its namespaces.
            let mut params: Vec<SqlValue> = vec![
                cluster.as_str().into(),
                t.group.as_str().into(),
                t.resource.as_str().into(),
            ];
            params.extend_from_slice(replaceable.params());
            let rows = format!(
                "FROM objects WHERE cluster = ? AND api_group = ? AND resource = ? AND {}",
                replaceable.where_sql()
            );
            apply_diff(tx, cluster, id, t, &rows, &params, now)?;
            let total = record_type(tx, cluster, t, now)?;
            // A namespace-limited writer learns only the count of what it may see.
            let visible = match session.scope.namespaces() {
                None => total,
                Some(_) => count(tx, &format!("SELECT count(*) {rows}"), &params)?,
            };
            replaced.push(TypeCount {
                resource_type: t.clone(),
                count: visible,
            });
        }
        change_log::settle_tombstones_since(tx, cluster, commit_mark, now)?;
        change_log::prune(tx, retention, now)?;
        tx.execute(
            "DELETE FROM snapshot_objects WHERE session = ?",
            &[id.into()],
        )?;
        tx.execute("DELETE FROM snapshot_sessions WHERE id = ?", &[id.into()])?;
        record_cluster(tx, cluster, session.agent_version.as_deref(), now)?;
        touch(tx, cluster, Activity::Snapshot, now)?;
        Ok(CommitResult { replaced })
    })
}

/// One type of a commit, as set operations in SQL (no per-object round trips): the stored
/// rows (`rows`, bound by `params`) that the session does not hold with the same uid are
/// recorded DELETED and deleted; staged rows that are new, re-created or differ (by
/// resourceVersion; by content where either has none) are recorded ADDED or MODIFIED and
/// written. A resourceVersion changes with every change in Kubernetes, while the text of an
/// unchanged object may not be byte-identical across pushes (key order of another client). An identical
/// re-push writes and records nothing.
fn apply_diff(
    tx: &dyn Store,
    cluster: &ClusterName,
    session: &str,
    t: &ResourceType,
    rows: &str,
    params: &[SqlValue],
    now: i64,
) -> ApiResult<()> {
    let mark = change_log::mark(tx)?;
    let mut deleted: Vec<SqlValue> = vec![now.into()];
    deleted.extend_from_slice(params);
    deleted.push(session.into());
    tx.execute(
        &format!(
            "INSERT INTO changes (changed_at, type, api_group, version, resource, kind, cluster, namespace, name, \
             uid, resource_version) \
             SELECT ?, 'DELETED', api_group, version, resource, kind, cluster, namespace, name, uid, resource_version \
             {rows} AND NOT EXISTS (SELECT 1 FROM snapshot_objects s WHERE s.session = ? \
             AND s.api_group = objects.api_group AND s.resource = objects.resource \
             AND s.namespace = objects.namespace AND s.name = objects.name AND s.uid = objects.uid) \
             ORDER BY namespace, name"
        ),
        &deleted,
    )?;
    let this_type: [SqlValue; 4] = [
        mark.into(),
        cluster.as_str().into(),
        t.group.as_str().into(),
        t.resource.as_str().into(),
    ];
    tx.execute(
        "DELETE FROM objects WHERE (api_group, resource, cluster, namespace, name) IN \
         (SELECT api_group, resource, cluster, namespace, name FROM changes \
          WHERE seq > ? AND type = 'DELETED' AND cluster = ? AND api_group = ? AND resource = ?)",
        &this_type,
    )?;
    tx.execute(
        "INSERT INTO changes (changed_at, type, api_group, version, resource, kind, cluster, namespace, name, \
         uid, resource_version) \
         SELECT ?, CASE WHEN o.uid IS NULL THEN 'ADDED' ELSE 'MODIFIED' END, s.api_group, s.version, \
         s.resource, s.kind, ?, s.namespace, s.name, s.uid, s.resource_version \
         FROM snapshot_objects s LEFT JOIN objects o ON o.api_group = s.api_group AND o.resource = s.resource \
         AND o.cluster = ? AND o.namespace = s.namespace AND o.name = s.name \
         WHERE s.session = ? AND s.api_group = ? AND s.resource = ? \
         AND (o.uid IS NULL OR CASE WHEN o.resource_version IS NULL OR s.resource_version IS NULL \
         THEN o.object <> s.object ELSE o.resource_version <> s.resource_version END) \
         ORDER BY s.namespace, s.name",
        &[
            now.into(),
            cluster.as_str().into(),
            cluster.as_str().into(),
            session.into(),
            t.group.as_str().into(),
            t.resource.as_str().into(),
        ],
    )?;
    let mut written: Vec<SqlValue> = vec![
        cluster.as_str().into(),
        now.into(),
        session.into(),
        t.group.as_str().into(),
        t.resource.as_str().into(),
    ];
    written.extend(this_type);
    tx.execute(
        "INSERT OR REPLACE INTO objects (api_group, version, resource, kind, cluster, namespace, name, uid, \
         owner_uid, resource_version, created_at, synced_at, object) \
         SELECT api_group, version, resource, kind, ?, namespace, name, uid, owner_uid, resource_version, \
         created_at, ?, object FROM snapshot_objects WHERE session = ? AND api_group = ? AND resource = ? \
         AND (namespace, name) IN (SELECT namespace, name FROM changes \
          WHERE seq > ? AND type <> 'DELETED' AND cluster = ? AND api_group = ? AND resource = ?)",
        &written,
    )?;
    Ok(())
}

pub fn abort(
    store: &dyn Store,
    scope: &WriteScope,
    cluster: &ClusterName,
    id: &str,
    now: i64,
) -> ApiResult<()> {
    transaction(store, |tx| {
        load_session(tx, scope, cluster, id, now)?;
        tx.execute(
            "DELETE FROM snapshot_objects WHERE session = ?",
            &[id.into()],
        )?;
        tx.execute("DELETE FROM snapshot_sessions WHERE id = ?", &[id.into()])?;
        Ok(())
    })
}
