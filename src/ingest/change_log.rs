//! The write side of the change feed (DESIGN §3.1): every ingest records, in its own
//! transaction, exactly the ADDED / MODIFIED / DELETED changes it made visible; deletes leave
//! tombstones; retention prunes both as ingest goes. `crate::changes` reads the feed.

use super::object::StoredObject;
use super::{count, value_rows};
use crate::auth::Variables;
use crate::error::ApiResult;
use crate::store::{SqlValue, Store};
use edgepedia_api::ClusterName;

/// The Spin variable naming how long changes (and tombstones) are kept, and its default.
pub const RETENTION_VARIABLE: &str = "changes_retention_seconds";
pub const DEFAULT_RETENTION_SECONDS: i64 = 7 * 24 * 3600;

/// Rows pruned per ingest request at most: retention keeps up with ingest without making any
/// one request's transaction long.
const PRUNE_BATCH: i64 = 10_000;

/// Rows per multi-row INSERT of changes.
const INSERT_BATCH: usize = 64;

/// How long the feed remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    seconds: i64,
}

impl Retention {
    /// `changes_retention_seconds` when it is a positive integer; else the default (7 days).
    pub fn from_variables(vars: &dyn Variables) -> Self {
        Self::seconds(
            vars.get(RETENTION_VARIABLE)
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|&v| v > 0)
                .unwrap_or(DEFAULT_RETENTION_SECONDS),
        )
    }

    pub fn seconds(seconds: i64) -> Self {
        Self { seconds }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One change of a delta, recorded when its transaction commits.
pub struct Change<'o> {
    pub change_type: ChangeType,
    /// The object the event carried: its type, namespace and name are the change's.
    pub object: &'o StoredObject,
    /// The earlier object under the same name that a re-created one replaced (its DELETED
    /// names the old uid and resourceVersion, not the new object's).
    pub replaced: Option<Incarnation>,
}

#[derive(Debug, Clone)]
pub struct Incarnation {
    pub uid: String,
    pub resource_version: Option<String>,
}

/// The newest seq recorded so far: the changes a statement records afterwards are `> mark`.
pub fn mark(tx: &dyn Store) -> ApiResult<i64> {
    Ok(count(tx, "SELECT coalesce(max(seq), 0) FROM changes", &[])? as i64)
}

/// Records a delta's changes, in order.
pub fn record(
    tx: &dyn Store,
    cluster: &ClusterName,
    changes: &[Change<'_>],
    now: i64,
) -> ApiResult<()> {
    for batch in changes.chunks(INSERT_BATCH) {
        let sql = format!(
            "INSERT INTO changes (changed_at, type, api_group, version, resource, kind, cluster, namespace, \
             name, uid, resource_version) VALUES {}",
            value_rows(11, batch.len())
        );
        let mut params: Vec<SqlValue> = Vec::with_capacity(batch.len() * 11);
        for c in batch {
            let o = c.object;
            let t = &o.resource_type;
            let (uid, resource_version) = match &c.replaced {
                Some(gone) => (gone.uid.as_str(), gone.resource_version.clone()),
                None => (o.uid.as_str(), o.resource_version.clone()),
            };
            params.extend([
                now.into(),
                c.change_type.as_str().into(),
                t.group.as_str().into(),
                t.version.as_str().into(),
                t.resource.as_str().into(),
                t.kind.as_str().into(),
                cluster.as_str().into(),
                o.namespace.as_str().into(),
                o.name.as_str().into(),
                uid.into(),
                resource_version.into(),
            ]);
        }
        tx.execute(&sql, &params)?;
    }
    Ok(())
}

/// Remembers that these uids were deleted, so no later event brings them back; a uid named
/// twice keeps its last resourceVersion.
pub fn tombstone(
    tx: &dyn Store,
    cluster: &ClusterName,
    deleted: &[Incarnation],
    now: i64,
) -> ApiResult<()> {
    for batch in deleted.chunks(INSERT_BATCH) {
        let mut params: Vec<SqlValue> = Vec::with_capacity(batch.len() * 4);
        for gone in batch {
            params.extend([
                cluster.as_str().into(),
                gone.uid.as_str().into(),
                gone.resource_version.clone().into(),
                now.into(),
            ]);
        }
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO tombstones (cluster, uid, resource_version, deleted_at) VALUES {}",
                value_rows(4, batch.len())
            ),
            &params,
        )?;
    }
    Ok(())
}

/// After a snapshot commit (its changes are those after `mark`): what it deleted is
/// tombstoned, and what it holds is not (a snapshot is the cluster's word on what exists).
pub fn settle_tombstones_since(
    tx: &dyn Store,
    cluster: &ClusterName,
    mark: i64,
    now: i64,
) -> ApiResult<()> {
    tx.execute(
        "INSERT OR REPLACE INTO tombstones (cluster, uid, resource_version, deleted_at) \
         SELECT cluster, uid, resource_version, ? FROM changes WHERE seq > ? AND type = 'DELETED' AND cluster = ?",
        &[now.into(), mark.into(), cluster.as_str().into()],
    )?;
    tx.execute(
        "DELETE FROM tombstones WHERE cluster = ? AND uid IN \
         (SELECT uid FROM changes WHERE seq > ? AND type <> 'DELETED' AND cluster = ?)",
        &[
            cluster.as_str().into(),
            mark.into(),
            cluster.as_str().into(),
        ],
    )?;
    Ok(())
}

/// Drops changes and tombstones older than the retention, at most [`PRUNE_BATCH`] of each,
/// and notes how far the feed was pruned (older cursors are then answered 410).
pub fn prune(tx: &dyn Store, retention: Retention, now: i64) -> ApiResult<()> {
    let cutoff = now - retention.seconds;
    let pruned_through = tx
        .query(
            "SELECT max(seq) FROM (SELECT seq FROM changes WHERE changed_at < ? ORDER BY changed_at LIMIT ?)",
            &[cutoff.into(), PRUNE_BATCH.into()],
        )?
        .first()
        .and_then(|r| r.first())
        .and_then(SqlValue::as_i64);
    if let Some(seq) = pruned_through {
        tx.execute(
            "DELETE FROM changes WHERE seq <= ? AND changed_at < ?",
            &[seq.into(), cutoff.into()],
        )?;
        tx.execute(
            "UPDATE change_feed SET pruned_seq = max(pruned_seq, ?), pruned_before = max(pruned_before, ?)",
            &[seq.into(), cutoff.into()],
        )?;
    }
    tx.execute(
        "DELETE FROM tombstones WHERE (cluster, uid) IN \
         (SELECT cluster, uid FROM tombstones WHERE deleted_at < ? LIMIT ?)",
        &[cutoff.into(), PRUNE_BATCH.into()],
    )?;
    Ok(())
}
