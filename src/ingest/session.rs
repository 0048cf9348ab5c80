//! Snapshot sessions (DESIGN §6, §9.1): begin (cluster, types) → chunks → commit, which
//! atomically replaces what the session's types hold in the cluster — within the namespaces
//! the session's writer may write, never beyond — or abort.
//!
//! Rows are written once. A chunk writes the objects that are new or changed straight into
//! `objects` under the session's generation, hidden until the commit, marks the rows they
//! replace, and notes the unchanged ones by name only ([`crate::live_rows`]). The commit marks
//! what the snapshot no longer holds, records the session's changes in the feed, and makes
//! all of it visible at once by deleting the session's row. Nothing is copied, so a chunk's
//! transaction is bounded by the chunk and a commit's writes by its changes (small rows);
//! what was superseded is removed afterwards, in bounded batches ([`super::garbage`]).
//!
//! One session per cluster, type and namespaces claim is open at a time: a newer begin
//! supersedes an older one (an agent that restarted), whose requests then get 409. Sessions of
//! different claims whose objects overlap are refused where they meet: 409 as well.

use super::authz::{namespace_filter, WriteScope};
use super::change_log::{self, Retention};
use super::garbage::{self, end_sessions, SessionState};
use super::heartbeat::{touch, Activity};
use super::object::{normalize, StoredObject};
use super::{check_resource_type, count, parse_body, record_cluster, record_type, value_rows};
use crate::auth::NamePattern;
use crate::error::{ApiError, ApiResult};
use crate::live_rows::{live, live_as};
use crate::store::{transaction, SqlValue, Store};
use edgepedia_api::catalog;
use edgepedia_api::ingest::{
    BeginSnapshot, Chunk, ChunkAccepted, CommitResult, SnapshotSession, TypeCount,
    SESSION_TTL_SECONDS,
};
use edgepedia_api::raw_object::ObjectOrOther;
use edgepedia_api::{ClusterName, ResourceType};
use std::collections::HashMap;

/// Objects per lookup and rows per multi-row write. Each statement is a round trip through
/// the runtime while the chunk holds the write lock, so fewer and larger ones shorten it
/// (docs/DECISIONS.md, "16 KiB pages, 512-row statements"); 512 rows of 14 values stay far
/// below SQLite's parameter limit (32,766).
const BATCH: usize = 512;

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
        garbage::collect(tx, now)?;
        for gen in superseded(tx, cluster, namespaces.as_deref(), &begin.resource_types)? {
            end_sessions(tx, "gen = ?", &[gen.into()], SessionState::Superseded)?;
        }
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

/// The open sessions a new one replaces: same cluster, same namespaces claim, a type in common.
fn superseded(
    tx: &dyn Store,
    cluster: &ClusterName,
    namespaces: Option<&str>,
    types: &[ResourceType],
) -> ApiResult<Vec<i64>> {
    let rows = tx.query(
        "SELECT gen, resource_types FROM snapshot_sessions WHERE cluster = ? AND state = ? AND namespaces IS ?",
        &[
            cluster.as_str().into(),
            SessionState::Open.code().into(),
            namespaces.into(),
        ],
    )?;
    let mut gens = Vec::new();
    for row in rows {
        let mut cells = row.into_iter();
        let gen = cells.next().and_then(|v| v.as_i64());
        let theirs: Vec<ResourceType> = cells
            .next()
            .and_then(SqlValue::into_string)
            .and_then(|text| serde_json::from_str(&text).ok())
            .ok_or_else(ApiError::internal)?;
        let shared = theirs.iter().any(|a| {
            types
                .iter()
                .any(|b| a.group == b.group && a.resource == b.resource)
        });
        if let (Some(gen), true) = (gen, shared) {
            gens.push(gen);
        }
    }
    Ok(gens)
}

struct Session {
    /// The generation its rows are written under.
    gen: i64,
    types: Vec<ResourceType>,
    agent_version: Option<String>,
    /// What may be written through it: the namespaces claim of the token that began it.
    scope: WriteScope,
}

/// The open session `id` of `cluster`: 404 if unknown or aborted, 410 once expired, 409 once
/// superseded, 403 if the caller may not write everything it may replace.
fn load_session(
    store: &dyn Store,
    scope: &WriteScope,
    cluster: &ClusterName,
    id: &str,
    now: i64,
) -> ApiResult<Session> {
    let rows = store.query(
        "SELECT gen, resource_types, agent_version, expires_at, namespaces, state FROM snapshot_sessions \
         WHERE id = ? AND cluster = ?",
        &[id.into(), cluster.as_str().into()],
    )?;
    let not_found = || {
        ApiError::not_found(format!(
            "snapshot session {id:?} not found for cluster {cluster}"
        ))
    };
    let row = rows.into_iter().next().ok_or_else(not_found)?;
    let mut cells = row.into_iter();
    let gen = cells.next().and_then(|v| v.as_i64()).unwrap_or(0);
    let types = cells
        .next()
        .and_then(SqlValue::into_string)
        .unwrap_or_default();
    let agent_version = cells.next().and_then(SqlValue::into_string);
    let expires_at = cells.next().and_then(|v| v.as_i64()).unwrap_or(0);
    let namespaces = cells.next().and_then(SqlValue::into_string);
    let state = cells.next().and_then(|v| v.as_i64()).unwrap_or(0);
    if state == SessionState::Superseded.code() {
        return Err(ApiError::conflict(format!(
            "snapshot session {id:?} was superseded by a newer snapshot of the same types in cluster {cluster}"
        )));
    }
    if expires_at < now {
        return Err(ApiError::expired(format!(
            "snapshot session {id:?} expired; begin a new snapshot"
        )));
    }
    if state != SessionState::Open.code() {
        return Err(not_found());
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
        gen,
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
    let chunk: Chunk<ObjectOrOther> = parse_body(body)?;
    let objects = chunk
        .items
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let o = normalize(raw, cluster, |api_version, kind, _| {
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
    let last_sends = last_send_of_each_name(&objects);
    transaction(store, |tx| {
        // First, so a session that expired meanwhile is ended before this one meets its rows.
        garbage::expire(tx, now)?;
        // Again inside the transaction: a session ended meanwhile must not gain rows.
        let session = load_session(tx, scope, cluster, id, now)?;
        // Once per chunk: its own batches add only rows of the session, so what this finds
        // holds for each of them.
        let fresh = nothing_under(tx, cluster, session.gen, &last_sends)?;
        for batch in last_sends.chunks(BATCH) {
            stage(tx, cluster, session.gen, batch, fresh, now)?;
        }
        tx.execute(
            "UPDATE snapshot_sessions SET expires_at = ? WHERE gen = ?",
            &[(now + SESSION_TTL_SECONDS).into(), session.gen.into()],
        )?;
        let staged = count(
            tx,
            "SELECT (SELECT count(*) FROM snapshot_seen WHERE session = ?1) \
             + (SELECT count(*) FROM snapshot_written WHERE session = ?1)",
            &[session.gen.into()],
        )?;
        garbage::remove_a_batch(tx)?;
        Ok(ChunkAccepted {
            accepted: objects.len() as u64,
            staged,
        })
    })
}

/// A name sent twice in one chunk ends as its last send says, as across chunks: only that
/// send is staged (in the order of the last sends).
fn last_send_of_each_name(objects: &[StoredObject]) -> Vec<&StoredObject> {
    fn key(o: &StoredObject) -> (&str, &str, &str, &str) {
        let t = &o.resource_type;
        (&t.group, &t.resource, &o.namespace, &o.name)
    }
    let last: HashMap<_, usize> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| (key(o), i))
        .collect();
    objects
        .iter()
        .enumerate()
        .filter(|(i, o)| last.get(&key(o)) == Some(i))
        .map(|(_, o)| o)
        .collect()
}

/// What is live under a staged object's name, as the chunk found it.
struct Live {
    rowid: i64,
    uid: String,
    resource_version: Option<String>,
    /// Only when either side has no resourceVersion (then content decides).
    object: Option<String>,
    /// Another open session will replace this row.
    claimed: bool,
}

/// One staged object's name as the chunk found it (by default: nothing under it).
#[derive(Default)]
struct Found {
    live: Option<Live>,
    /// An earlier chunk of this session wrote this name.
    written: bool,
    /// An earlier chunk of this session held this name unchanged.
    seen: bool,
    /// Another open session has written this name.
    written_elsewhere: bool,
}

/// Stages up to [`BATCH`] objects (one per name) under generation `gen`: one lookup (none
/// when `fresh`, as [`nothing_under`] found), then multi-row writes of what is new or
/// changed; an unchanged object costs one small row. A name sent again (a retried chunk)
/// ends as the last send says.
fn stage(
    tx: &dyn Store,
    cluster: &ClusterName,
    gen: i64,
    batch: &[&StoredObject],
    fresh: bool,
    now: i64,
) -> ApiResult<()> {
    let found = if fresh {
        batch.iter().map(|_| Found::default()).collect()
    } else {
        lookup(tx, cluster, gen, batch)?
    };
    let mut written = Vec::new();
    let mut replaced = Vec::new();
    let mut seen = Vec::new();
    let mut unwritten = Vec::new();
    let mut unseen = Vec::new();
    for (&o, found) in batch.iter().zip(&found) {
        let unchanged = found.live.as_ref().is_some_and(|live| {
            live.uid == o.uid
                && match (&live.resource_version, &o.resource_version) {
                    (Some(a), Some(b)) => a == b,
                    _ => live.object.as_deref() == Some(o.json.as_str()),
                }
        });
        if unchanged {
            if !found.seen {
                seen.push(o);
            }
            if found.written {
                unwritten.push((o, found.live.as_ref().map(|l| l.rowid)));
            }
            continue;
        }
        if found.written_elsewhere || found.live.as_ref().is_some_and(|l| l.claimed) {
            return Err(ApiError::conflict(format!(
                "{} {}/{} is being replaced by another open snapshot session of cluster {cluster}",
                o.resource_type.kind, o.namespace, o.name
            )));
        }
        if let Some(live) = &found.live {
            replaced.push(live.rowid);
        }
        written.push(o);
        if found.seen {
            unseen.push(o);
        }
    }
    write_objects(tx, cluster, gen, &written, now)?;
    if !replaced.is_empty() {
        let mut params: Vec<SqlValue> = vec![gen.into()];
        params.extend(replaced.iter().map(|&rowid| SqlValue::from(rowid)));
        tx.execute(
            &format!(
                "UPDATE objects SET dead_gen = ? WHERE rowid IN ({})",
                vec!["?"; replaced.len()].join(", ")
            ),
            &params,
        )?;
    }
    note_names(tx, "snapshot_written", gen, &written)?;
    note_names(tx, "snapshot_seen", gen, &seen)?;
    forget_names(tx, "snapshot_seen", gen, &unseen)?;
    for (o, live_rowid) in unwritten {
        let t = &o.resource_type;
        let key: Vec<SqlValue> = vec![
            t.group.as_str().into(),
            t.resource.as_str().into(),
            cluster.as_str().into(),
            o.namespace.as_str().into(),
            o.name.as_str().into(),
            gen.into(),
        ];
        tx.execute(
            "DELETE FROM objects WHERE api_group = ? AND resource = ? AND cluster = ? AND namespace = ? \
             AND name = ? AND gen = ?",
            &key,
        )?;
        forget_names(tx, "snapshot_written", gen, &[o])?;
        if let Some(rowid) = live_rowid {
            tx.execute(
                "UPDATE objects SET dead_gen = NULL WHERE rowid = ? AND dead_gen = ?",
                &[rowid.into(), gen.into()],
            )?;
        }
    }
    Ok(())
}

/// How many of a type's rows in the cluster [`nothing_under`] reads, at most, to find that
/// they are all the session's own. A first sync's chunks skip the lookup until a type holds
/// more than this many of the session's objects (an index entry read costs about 0.25 µs, a
/// lookup 5–10 µs an object); past it the lookup comes back, so no chunk reads more than
/// about 1 ms here.
pub const OWN_ROWS_READ: usize = 4096;

/// Whether [`lookup`] could only find nothing that changes how `objects` are written: every
/// row of their types in the cluster (none, in a first sync's first chunk) is one this
/// session wrote, and the session holds none of their names unchanged. A name the session
/// wrote before is then simply written again (its row is replaced; the lookup's `written`
/// only matters for an object found unchanged, which needs a live row). That is every chunk
/// of a first sync of up to [`OWN_ROWS_READ`] objects per type: one statement of two reads
/// per type stands in for four seeks per object.
fn nothing_under(
    tx: &dyn Store,
    cluster: &ClusterName,
    gen: i64,
    objects: &[&StoredObject],
) -> ApiResult<bool> {
    let mut types: Vec<(&str, &str)> = objects
        .iter()
        .map(|o| {
            (
                o.resource_type.group.as_str(),
                o.resource_type.resource.as_str(),
            )
        })
        .collect();
    types.sort_unstable();
    types.dedup();
    let only_own = |n: usize| {
        let (g, r) = (2 * n + 3, 2 * n + 4);
        format!(
            "(SELECT count(*) <= {OWN_ROWS_READ} AND coalesce(min(gen = ?2), 1) FROM \
               (SELECT gen FROM objects INDEXED BY objects_key \
                WHERE api_group = ?{g} AND resource = ?{r} AND cluster = ?1 LIMIT {})) \
             AND NOT EXISTS (SELECT 1 FROM snapshot_seen WHERE session = ?2 AND api_group = ?{g} AND resource = ?{r})",
            OWN_ROWS_READ + 1
        )
    };
    let sql = format!(
        "SELECT {}",
        (0..types.len())
            .map(only_own)
            .collect::<Vec<_>>()
            .join(" AND ")
    );
    let mut params: Vec<SqlValue> = vec![cluster.as_str().into(), gen.into()];
    for (group, resource) in types {
        params.extend([group.into(), resource.into()]);
    }
    Ok(count(tx, &sql, &params)? == 1)
}

/// One row per object, in order: what is live under its name, and what this session and
/// others did with the name before. Sessions count as open by state: expired ones were ended
/// by [`garbage::expire`] at the start of the request. The unary `+` on `w.gen` keeps SQLite
/// from seeking `objects_key` once per open session (a fleet re-syncing at once has one per
/// cluster and type): one seek to the name, then its few rows.
fn lookup(
    tx: &dyn Store,
    cluster: &ClusterName,
    gen: i64,
    batch: &[&StoredObject],
) -> ApiResult<Vec<Found>> {
    let sql = format!(
        "WITH k (i, api_group, resource, namespace, name, resource_version) AS (VALUES {}) \
         SELECT o.rowid, o.uid, o.resource_version, \
           CASE WHEN o.resource_version IS NULL OR k.resource_version IS NULL THEN o.object END, \
           o.dead_gen <> ?1 AND o.dead_gen IN (SELECT gen FROM snapshot_sessions WHERE state = ?2), \
           EXISTS (SELECT 1 FROM snapshot_written w WHERE w.session = ?1 AND w.api_group = k.api_group \
             AND w.resource = k.resource AND w.namespace = k.namespace AND w.name = k.name), \
           EXISTS (SELECT 1 FROM snapshot_seen s WHERE s.session = ?1 AND s.api_group = k.api_group \
             AND s.resource = k.resource AND s.namespace = k.namespace AND s.name = k.name), \
           EXISTS (SELECT 1 FROM objects w WHERE w.api_group = k.api_group AND w.resource = k.resource \
             AND w.cluster = ?3 AND w.namespace = k.namespace AND w.name = k.name AND w.gen <> ?1 \
             AND +w.gen IN (SELECT gen FROM snapshot_sessions WHERE state = ?2)) \
         FROM k LEFT JOIN objects o ON o.api_group = k.api_group AND o.resource = k.resource \
           AND o.cluster = ?3 AND o.namespace = k.namespace AND o.name = k.name AND {} \
         ORDER BY k.i",
        numbered_rows(4, 6, batch.len()),
        live_as("o")
    );
    let mut params: Vec<SqlValue> = vec![
        gen.into(),
        SessionState::Open.code().into(),
        cluster.as_str().into(),
    ];
    for (i, o) in batch.iter().enumerate() {
        let t = &o.resource_type;
        params.extend([
            (i as i64).into(),
            t.group.as_str().into(),
            t.resource.as_str().into(),
            o.namespace.as_str().into(),
            o.name.as_str().into(),
            o.resource_version.clone().into(),
        ]);
    }
    let rows = tx.query(&sql, &params)?;
    if rows.len() != batch.len() {
        return Err(ApiError::internal());
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut cells = row.into_iter();
            let rowid = cells.next().and_then(|v| v.as_i64());
            let uid = cells.next().and_then(SqlValue::into_string);
            let resource_version = cells.next().and_then(SqlValue::into_string);
            let object = cells.next().and_then(SqlValue::into_string);
            let mut flag = || cells.next().and_then(|v| v.as_i64()) == Some(1);
            let (claimed, written, seen, written_elsewhere) = (flag(), flag(), flag(), flag());
            let live = match (rowid, uid) {
                (Some(rowid), Some(uid)) => Some(Live {
                    rowid,
                    uid,
                    resource_version,
                    object,
                    claimed,
                }),
                _ => None,
            };
            Found {
                live,
                written,
                seen,
                written_elsewhere,
            }
        })
        .collect())
}

/// `rows` groups of `columns` placeholders numbered from `?first` on, for a `VALUES` that
/// follows numbered parameters (SQLite numbers a bare `?` after the largest one used).
fn numbered_rows(first: usize, columns: usize, rows: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (0..columns)
                .map(|c| format!("?{}", first + r * columns + c))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_objects(
    tx: &dyn Store,
    cluster: &ClusterName,
    gen: i64,
    objects: &[&StoredObject],
    now: i64,
) -> ApiResult<()> {
    if objects.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT OR REPLACE INTO objects (api_group, version, resource, kind, cluster, namespace, name, uid, \
         owner_uid, resource_version, created_at, synced_at, object, gen) VALUES {}",
        value_rows(14, objects.len())
    );
    let mut params = Vec::with_capacity(objects.len() * 14);
    for o in objects {
        let t = &o.resource_type;
        params.extend([
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
            gen.into(),
        ]);
    }
    tx.execute_owned(&sql, params)?;
    Ok(())
}

/// Notes the names of `objects` under session `gen` in `table` (`snapshot_written`,
/// `snapshot_seen`).
fn note_names(tx: &dyn Store, table: &str, gen: i64, objects: &[&StoredObject]) -> ApiResult<()> {
    if objects.is_empty() {
        return Ok(());
    }
    tx.execute(
        &format!(
            "INSERT OR IGNORE INTO {table} (session, api_group, resource, namespace, name) VALUES {}",
            value_rows(5, objects.len())
        ),
        &name_params(gen, objects),
    )?;
    Ok(())
}

/// Deletes the rows of `table` (`snapshot_written`, `snapshot_seen`) naming `objects` in `gen`.
fn forget_names(tx: &dyn Store, table: &str, gen: i64, objects: &[&StoredObject]) -> ApiResult<()> {
    if objects.is_empty() {
        return Ok(());
    }
    tx.execute(
        &format!(
            "DELETE FROM {table} WHERE (session, api_group, resource, namespace, name) IN (VALUES {})",
            value_rows(5, objects.len())
        ),
        &name_params(gen, objects),
    )?;
    Ok(())
}

fn name_params(gen: i64, objects: &[&StoredObject]) -> Vec<SqlValue> {
    let mut params = Vec::with_capacity(objects.len() * 5);
    for o in objects {
        let t = &o.resource_type;
        params.extend([
            gen.into(),
            t.group.as_str().into(),
            t.resource.as_str().into(),
            o.namespace.as_str().into(),
            o.name.as_str().into(),
        ]);
    }
    params
}

/// Replaces, per type, what the session may replace (its namespaces, or the whole cluster ×
/// type) with what it staged, and records the changes as they are at this moment (a delta
/// may have changed a live row since the chunk came): per type, first what went — live rows
/// it neither holds nor wrote, and earlier incarnations under names it wrote — then what
/// came or changed, each by name. Deleting the session's row makes it all visible at once.
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
        let gen = session.gen;
        let replaceable = namespace_filter(session.scope.namespaces());
        let commit_mark = change_log::mark(tx)?;
        let rows_of = |t: &ResourceType| {
            let mut params: Vec<SqlValue> = vec![
                cluster.as_str().into(),
                t.group.as_str().into(),
                t.resource.as_str().into(),
            ];
            params.extend_from_slice(replaceable.params());
            let rows = format!(
                "FROM objects WHERE cluster = ? AND api_group = ? AND resource = ? AND {} AND {}",
                replaceable.where_sql(),
                live()
            );
            (rows, params)
        };
        // Under a name the session wrote: its row (n) and the live row it replaces (o), if any.
        let written = format!(
            "FROM snapshot_written w \
             JOIN objects n ON n.api_group = w.api_group AND n.resource = w.resource AND n.cluster = ?2 \
               AND n.namespace = w.namespace AND n.name = w.name AND n.gen = w.session \
             LEFT JOIN objects o ON o.api_group = w.api_group AND o.resource = w.resource AND o.cluster = ?2 \
               AND o.namespace = w.namespace AND o.name = w.name AND o.dead_gen = w.session AND {} \
             WHERE w.session = ?3 AND w.api_group = ?4 AND w.resource = ?5",
            live_as("o")
        );
        let record =
            "INSERT INTO changes (changed_at, type, api_group, version, resource, kind, cluster, \
                      namespace, name, uid, resource_version)";
        for t in &session.types {
            let (rows, mut params) = rows_of(t);
            // Live rows it may replace that it does not hold. A row another open session is
            // replacing goes too: this commit is final, and that session's object, if it
            // commits, comes back as an addition.
            let gone = format!(
                "{rows} AND (dead_gen IS NULL OR dead_gen <> ?) \
                 AND NOT EXISTS (SELECT 1 FROM snapshot_seen s WHERE s.session = ? AND s.api_group = objects.api_group \
                 AND s.resource = objects.resource AND s.namespace = objects.namespace AND s.name = objects.name)"
            );
            params.extend([gen.into(), gen.into()]);
            let this: Vec<SqlValue> = vec![
                now.into(),
                cluster.as_str().into(),
                gen.into(),
                t.group.as_str().into(),
                t.resource.as_str().into(),
            ];
            let mut deleted = this.clone();
            deleted.extend_from_slice(&params);
            tx.execute(
                &format!(
                    "{record} SELECT ?1, 'DELETED', api_group, version, resource, kind, ?2, namespace, name, uid, \
                     resource_version FROM (\
                       SELECT o.api_group, o.version, o.resource, o.kind, o.namespace, o.name, o.uid, o.resource_version \
                       {written} AND o.uid <> n.uid \
                       UNION ALL SELECT api_group, version, resource, kind, namespace, name, uid, resource_version {gone}) \
                     ORDER BY namespace, name"
                ),
                &deleted,
            )?;
            let mut marked: Vec<SqlValue> = vec![gen.into()];
            marked.extend_from_slice(&params);
            tx.execute(
                &format!("UPDATE objects SET dead_gen = ? WHERE rowid IN (SELECT rowid {gone})"),
                &marked,
            )?;
            tx.execute(
                &format!(
                    "{record} SELECT ?1, CASE WHEN o.uid = n.uid THEN 'MODIFIED' ELSE 'ADDED' END, n.api_group, \
                     n.version, n.resource, n.kind, ?2, n.namespace, n.name, n.uid, n.resource_version {written} \
                     ORDER BY n.namespace, n.name"
                ),
                &this,
            )?;
        }
        // The flip: the session's generation is no longer pending.
        tx.execute(
            "INSERT INTO snapshot_garbage (gen, cluster, aborted) VALUES (?, ?, 0)",
            &[gen.into(), cluster.as_str().into()],
        )?;
        tx.execute("DELETE FROM snapshot_sessions WHERE gen = ?", &[gen.into()])?;
        let mut replaced = Vec::new();
        for t in &session.types {
            let total = record_type(tx, cluster, t, now)?;
            // A namespace-limited writer learns only the count of what it may see.
            let visible = match session.scope.namespaces() {
                None => total,
                Some(_) => {
                    let (rows, params) = rows_of(t);
                    count(tx, &format!("SELECT count(*) {rows}"), &params)?
                }
            };
            replaced.push(TypeCount {
                resource_type: t.clone(),
                count: visible,
            });
        }
        change_log::settle_tombstones_since(tx, cluster, commit_mark, now)?;
        change_log::prune(tx, retention, now)?;
        record_cluster(tx, cluster, session.agent_version.as_deref(), now)?;
        touch(tx, cluster, Activity::Snapshot, now)?;
        garbage::collect(tx, now)?;
        Ok(CommitResult { replaced })
    })
}

pub fn abort(
    store: &dyn Store,
    scope: &WriteScope,
    cluster: &ClusterName,
    id: &str,
    now: i64,
) -> ApiResult<()> {
    transaction(store, |tx| {
        let session = load_session(tx, scope, cluster, id, now)?;
        end_sessions(tx, "gen = ?", &[session.gen.into()], SessionState::Ended)?;
        garbage::collect(tx, now)
    })
}
