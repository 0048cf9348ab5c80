//! Watch-event deltas, applied in one transaction per request, each change recorded in the
//! change feed. Replays are harmless: an event whose object is not newer than the stored one
//! (same uid, resourceVersion not greater) is skipped, and a deleted uid is tombstoned, so a
//! late or replayed ADDED/MODIFIED of it never brings it back.

use super::authz::WriteScope;
use super::change_log::{self, Change, ChangeType, Incarnation, Retention};
use super::heartbeat::{touch, Activity};
use super::object::{normalize, StoredObject};
use super::{check_resource_type, parse_body, record_cluster, record_type};
use crate::error::{ApiError, ApiResult};
use crate::store::{transaction, SqlValue, Store};
use edgepedia_api::ingest::{EventType, EventsApplied, WatchEvents};
use edgepedia_api::{ClusterName, ResourceType};

pub fn events(
    store: &dyn Store,
    scope: &WriteScope,
    cluster: &ClusterName,
    body: &[u8],
    retention: Retention,
    now: i64,
) -> ApiResult<EventsApplied> {
    let batch: WatchEvents = parse_body(body)?;
    let parsed = batch
        .events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let o = normalize(event.object.get(), cluster, |api_version, kind, has_ns| {
                let t = ResourceType {
                    resource: event.resource.clone(),
                    ..ResourceType::for_object(api_version, kind, has_ns)
                };
                check_resource_type(&t)?;
                Ok(t)
            })
            .map_err(|e| ApiError::invalid(format!("events[{i}].object: {e}")))?;
            scope.check_object(&o)?;
            Ok((event.event_type, o))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    transaction(store, |tx| {
        let mut changes: Vec<Change<'_>> = Vec::new();
        let mut applied = 0;
        let mut touched: Vec<ResourceType> = Vec::new();
        for (event_type, o) in &parsed {
            let before = changes.len();
            match event_type {
                EventType::Added | EventType::Modified => {
                    upsert(tx, cluster, o, now, &mut changes)?
                }
                EventType::Deleted => delete(tx, cluster, o, now, &mut changes)?,
            }
            if changes.len() > before {
                applied += 1;
                if !touched.contains(&o.resource_type) {
                    touched.push(o.resource_type.clone());
                }
            }
        }
        for t in &touched {
            record_type(tx, cluster, t, now)?;
        }
        change_log::record(tx, cluster, &changes, now)?;
        change_log::prune(tx, retention, now)?;
        record_cluster(tx, cluster, None, now)?;
        touch(tx, cluster, Activity::Delta, now)?;
        Ok(EventsApplied {
            applied,
            skipped: parsed.len() as u64 - applied,
        })
    })
}

/// resourceVersions are decimal strings in practice: compare by length, then text. Unknown
/// on either side counts as newer (nothing to order by).
fn is_newer(incoming: Option<&str>, stored: Option<&str>) -> bool {
    match (incoming, stored) {
        (Some(i), Some(s)) => (i.len(), i) > (s.len(), s),
        _ => true,
    }
}

/// The object's key in `objects`, in the unique index's column order.
fn row_key(cluster: &ClusterName, o: &StoredObject) -> [SqlValue; 5] {
    let t = &o.resource_type;
    [
        t.group.as_str().into(),
        t.resource.as_str().into(),
        cluster.as_str().into(),
        o.namespace.as_str().into(),
        o.name.as_str().into(),
    ]
}

/// ADDED or MODIFIED: writes the object unless it is stale or its uid was deleted. A new uid
/// under a stored name is a re-created object: the old one is recorded DELETED first.
fn upsert<'o>(
    tx: &dyn Store,
    cluster: &ClusterName,
    o: &'o StoredObject,
    now: i64,
    changes: &mut Vec<Change<'o>>,
) -> ApiResult<()> {
    let t = &o.resource_type;
    let key = row_key(cluster, o);
    let mut params = vec![cluster.as_str().into(), o.uid.as_str().into()];
    params.extend(key.iter().cloned());
    let row = tx
        .query(
            "SELECT EXISTS (SELECT 1 FROM tombstones WHERE cluster = ? AND uid = ?), o.uid, o.resource_version \
             FROM (SELECT 1) LEFT JOIN objects o ON o.api_group = ? AND o.resource = ? AND o.cluster = ? \
             AND o.namespace = ? AND o.name = ?",
            &params,
        )?
        .into_iter()
        .next()
        .unwrap_or_default();
    let mut cells = row.into_iter();
    let tombstoned = cells.next().and_then(|v| v.as_i64()) == Some(1);
    let stored_uid = cells.next().and_then(SqlValue::into_string);
    let stored_rv = cells.next().and_then(SqlValue::into_string);
    if tombstoned {
        return Ok(());
    }
    let change_type = match &stored_uid {
        None => ChangeType::Added,
        Some(uid) if *uid != o.uid => {
            change_log::tombstone(tx, cluster, uid, stored_rv.as_deref(), now)?;
            changes.push(Change {
                change_type: ChangeType::Deleted,
                object: o,
                replaced: Some(Incarnation {
                    uid: uid.clone(),
                    resource_version: stored_rv.clone(),
                }),
            });
            ChangeType::Added
        }
        Some(_) if is_newer(o.resource_version.as_deref(), stored_rv.as_deref()) => {
            ChangeType::Modified
        }
        Some(_) => return Ok(()),
    };
    let mut params = key.to_vec();
    params.extend([
        t.version.as_str().into(),
        t.kind.as_str().into(),
        o.uid.as_str().into(),
        o.owner_uid.clone().into(),
        o.resource_version.clone().into(),
        o.created_at.clone().into(),
        now.into(),
        o.json.as_str().into(),
    ]);
    tx.execute(
        "INSERT OR REPLACE INTO objects (api_group, resource, cluster, namespace, name, version, kind, uid, \
         owner_uid, resource_version, created_at, synced_at, object) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &params,
    )?;
    changes.push(Change {
        change_type,
        object: o,
        replaced: None,
    });
    Ok(())
}

fn delete<'o>(
    tx: &dyn Store,
    cluster: &ClusterName,
    o: &'o StoredObject,
    now: i64,
    changes: &mut Vec<Change<'o>>,
) -> ApiResult<()> {
    let mut params = row_key(cluster, o).to_vec();
    params.push(o.uid.as_str().into());
    let rows = tx.query(
        "DELETE FROM objects WHERE api_group = ? AND resource = ? AND cluster = ? AND namespace = ? AND name = ? \
         AND uid = ? RETURNING 1",
        &params,
    )?;
    // Even an unknown uid is tombstoned: its ADDED may still be on its way.
    change_log::tombstone(tx, cluster, &o.uid, o.resource_version.as_deref(), now)?;
    if !rows.is_empty() {
        changes.push(Change {
            change_type: ChangeType::Deleted,
            object: o,
            replaced: None,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_newer;

    #[test]
    fn resource_versions_order_numerically() {
        assert!(is_newer(Some("10"), Some("9")));
        assert!(!is_newer(Some("9"), Some("10")));
        assert!(!is_newer(Some("10"), Some("10")));
        assert!(is_newer(None, Some("10")));
        assert!(is_newer(Some("1"), None));
    }
}
