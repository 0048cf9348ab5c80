//! Watch-event deltas, applied in one transaction per request, each change recorded in the
//! change feed. Replays are harmless: an event whose object is not newer than the stored one
//! (same uid, resourceVersion not greater) is skipped, and a deleted uid is tombstoned, so a
//! late or replayed ADDED/MODIFIED of it never brings it back.
//!
//! A request is applied set-wise: one statement looks up what is stored for [`BATCH`] events,
//! the events are replayed in order in memory, and the outcome is written with multi-row
//! statements. So a request costs a few statements per [`BATCH`] events rather than two per
//! event: on a remote libSQL each statement is a round trip made while holding the write lock.

use super::authz::WriteScope;
use super::change_log::{self, Change, ChangeType, Incarnation, Retention};
use super::garbage::{self, SessionState};
use super::heartbeat::{touch, Activity};
use super::object::{normalize, StoredObject};
use super::{check_resource_type, parse_body, record_cluster, record_type, value_rows};
use crate::error::{ApiError, ApiResult};
use crate::live_rows::live_as;
use crate::store::{transaction, SqlValue, Store};
use edgepedia_api::ingest::{EventType, EventsApplied, WatchEvents};
use edgepedia_api::raw_object::ObjectOrOther;
use edgepedia_api::{ClusterName, ResourceType};
use std::collections::{HashMap, HashSet};

/// Events per lookup, and rows per multi-row write: far below SQLite's parameter limit.
const BATCH: usize = 64;

pub fn events(
    store: &dyn Store,
    scope: &WriteScope,
    cluster: &ClusterName,
    body: &[u8],
    retention: Retention,
    now: i64,
) -> ApiResult<EventsApplied> {
    let batch: WatchEvents<ObjectOrOther> = parse_body(body)?;
    let parsed = batch
        .events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let o = normalize(&event.object, cluster, |api_version, kind, has_ns| {
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
        // First, so an expired session's claims no longer shape where deltas are written.
        garbage::expire(tx, now)?;
        let stored = lookup(tx, cluster, &parsed)?;
        let outcome = replay(&parsed, stored);
        outcome.write(tx, cluster, now)?;
        for t in &outcome.touched {
            record_type(tx, cluster, t, now)?;
        }
        change_log::record(tx, cluster, &outcome.changes, now)?;
        change_log::prune(tx, retention, now)?;
        record_cluster(tx, cluster, None, now)?;
        touch(tx, cluster, Activity::Delta, now)?;
        garbage::remove_a_batch(tx)?;
        Ok(EventsApplied {
            applied: outcome.applied,
            skipped: parsed.len() as u64 - outcome.applied,
        })
    })
}

/// What the store held for one event when the request began.
struct Stored {
    /// The event's uid was deleted earlier.
    tombstoned: bool,
    /// The object stored under the event's name.
    current: Option<Incarnation>,
    placement: Placement,
}

/// Where a delta writes under a name, so it changes the live row in place and leaves an open
/// snapshot session's claim on it (see [`crate::live_rows`]): the live row's generation (0
/// for a name with none), and the session that will replace it at commit, if any. A snapshot
/// being committed is the cluster's word on what exists, as it always was.
#[derive(Debug, Clone, Copy)]
struct Placement {
    gen: i64,
    dead_gen: Option<i64>,
}

/// One row per event, in order: its tombstone and what is stored under its name (`+p.gen`:
/// one seek to the name, not one per open snapshot session).
fn lookup(
    tx: &dyn Store,
    cluster: &ClusterName,
    parsed: &[(EventType, StoredObject)],
) -> ApiResult<Vec<Stored>> {
    let mut stored = Vec::with_capacity(parsed.len());
    for batch in parsed.chunks(BATCH) {
        let sql = format!(
            "WITH k (i, api_group, resource, namespace, name, uid) AS (VALUES {}) \
             SELECT EXISTS (SELECT 1 FROM tombstones t WHERE t.cluster = ? AND t.uid = k.uid), \
             o.uid, o.resource_version, o.gen, coalesce(o.dead_gen, \
               (SELECT max(p.gen) FROM objects p WHERE p.api_group = k.api_group \
                AND p.resource = k.resource AND p.cluster = ? AND p.namespace = k.namespace \
                AND p.name = k.name AND +p.gen IN (SELECT gen FROM snapshot_sessions WHERE state = {open}))) \
             FROM k LEFT JOIN objects o ON o.api_group = k.api_group \
             AND o.resource = k.resource AND o.cluster = ? AND o.namespace = k.namespace \
             AND o.name = k.name AND {} ORDER BY k.i",
            value_rows(6, batch.len()),
            live_as("o"),
            open = SessionState::Open.code()
        );
        let mut params: Vec<SqlValue> = Vec::with_capacity(batch.len() * 6 + 3);
        for (i, (_, o)) in batch.iter().enumerate() {
            let t = &o.resource_type;
            params.extend([
                (i as i64).into(),
                t.group.as_str().into(),
                t.resource.as_str().into(),
                o.namespace.as_str().into(),
                o.name.as_str().into(),
                o.uid.as_str().into(),
            ]);
        }
        params.extend([
            cluster.as_str().into(),
            cluster.as_str().into(),
            cluster.as_str().into(),
        ]);
        let rows = tx.query(&sql, &params)?;
        if rows.len() != batch.len() {
            return Err(ApiError::internal());
        }
        stored.extend(rows.into_iter().map(|row| {
            let mut cells = row.into_iter();
            let tombstoned = cells.next().and_then(|v| v.as_i64()) == Some(1);
            let uid = cells.next().and_then(SqlValue::into_string);
            let resource_version = cells.next().and_then(SqlValue::into_string);
            let gen = cells.next().and_then(|v| v.as_i64()).unwrap_or(0);
            let dead_gen = cells.next().and_then(|v| v.as_i64());
            Stored {
                tombstoned,
                current: uid.map(|uid| Incarnation {
                    uid,
                    resource_version,
                }),
                placement: Placement { gen, dead_gen },
            }
        }));
    }
    Ok(stored)
}

/// resourceVersions are decimal strings in practice: compare by length, then text. Unknown
/// on either side counts as newer (nothing to order by).
fn is_newer(incoming: Option<&str>, stored: Option<&str>) -> bool {
    match (incoming, stored) {
        (Some(i), Some(s)) => (i.len(), i) > (s.len(), s),
        _ => true,
    }
}

/// An object's name within the request's cluster: group, resource, namespace, name.
type Name<'o> = (&'o str, &'o str, &'o str, &'o str);

fn name_of(o: &StoredObject) -> Name<'_> {
    let t = &o.resource_type;
    (&t.group, &t.resource, &o.namespace, &o.name)
}

/// One name's state while the events are replayed.
struct Slot<'o> {
    current: Option<Incarnation>,
    placement: Placement,
    /// What the request leaves under the name, once an event changed it: the object to
    /// store, or nothing (deleted).
    outcome: Option<Option<&'o StoredObject>>,
}

/// What a request does, worked out before anything is written.
#[derive(Default)]
struct Outcome<'o> {
    changes: Vec<Change<'o>>,
    applied: u64,
    touched: Vec<ResourceType>,
    /// Names in the order they were first changed, with what the request leaves there.
    rows: Vec<(Name<'o>, Placement, Option<&'o StoredObject>)>,
    /// Deleted uids, each with its last resourceVersion, in order.
    tombstones: Vec<Incarnation>,
}

/// Replays the events in order against what was stored: the result is what applying them
/// one by one would leave, and the changes it would record.
fn replay<'o>(parsed: &'o [(EventType, StoredObject)], stored: Vec<Stored>) -> Outcome<'o> {
    let mut slots: HashMap<Name<'o>, Slot<'o>> = HashMap::new();
    let mut order: Vec<Name<'o>> = Vec::new();
    let mut deleted_uids: HashSet<String> = HashSet::new();
    let mut outcome = Outcome::default();
    for ((event_type, o), stored) in parsed.iter().zip(stored) {
        let name = name_of(o);
        let slot = slots.entry(name).or_insert_with(|| {
            order.push(name);
            Slot {
                current: stored.current,
                placement: stored.placement,
                outcome: None,
            }
        });
        let before = outcome.changes.len();
        match event_type {
            EventType::Added | EventType::Modified => {
                let tombstoned = stored.tombstoned || deleted_uids.contains(&o.uid);
                let change_type = match &slot.current {
                    _ if tombstoned => None,
                    None => Some(ChangeType::Added),
                    Some(old) if old.uid != o.uid => {
                        deleted_uids.insert(old.uid.clone());
                        outcome.tombstones.push(old.clone());
                        outcome.changes.push(Change {
                            change_type: ChangeType::Deleted,
                            object: o,
                            replaced: Some(old.clone()),
                        });
                        Some(ChangeType::Added)
                    }
                    Some(old)
                        if is_newer(
                            o.resource_version.as_deref(),
                            old.resource_version.as_deref(),
                        ) =>
                    {
                        Some(ChangeType::Modified)
                    }
                    Some(_) => None,
                };
                if let Some(change_type) = change_type {
                    slot.current = Some(Incarnation {
                        uid: o.uid.clone(),
                        resource_version: o.resource_version.clone(),
                    });
                    slot.outcome = Some(Some(o));
                    outcome.changes.push(Change {
                        change_type,
                        object: o,
                        replaced: None,
                    });
                }
            }
            EventType::Deleted => {
                if slot.current.as_ref().is_some_and(|c| c.uid == o.uid) {
                    slot.current = None;
                    slot.outcome = Some(None);
                    outcome.changes.push(Change {
                        change_type: ChangeType::Deleted,
                        object: o,
                        replaced: None,
                    });
                }
                // Even an unknown uid is tombstoned: its ADDED may still be on its way.
                deleted_uids.insert(o.uid.clone());
                outcome.tombstones.push(Incarnation {
                    uid: o.uid.clone(),
                    resource_version: o.resource_version.clone(),
                });
            }
        }
        if outcome.changes.len() > before {
            outcome.applied += 1;
            if !outcome.touched.contains(&o.resource_type) {
                outcome.touched.push(o.resource_type.clone());
            }
        }
    }
    outcome.rows = order
        .into_iter()
        .filter_map(|name| {
            let slot = slots.remove(&name)?;
            slot.outcome.map(|row| (name, slot.placement, row))
        })
        .collect();
    outcome
}

impl Outcome<'_> {
    fn write(&self, tx: &dyn Store, cluster: &ClusterName, now: i64) -> ApiResult<()> {
        let deleted: Vec<(Name<'_>, Placement)> = self
            .rows
            .iter()
            .filter(|(_, _, row)| row.is_none())
            .map(|(name, placement, _)| (*name, *placement))
            .collect();
        for batch in deleted.chunks(BATCH) {
            let mut params = Vec::with_capacity(batch.len() * 6);
            for ((group, resource, namespace, name), placement) in batch {
                params.extend([
                    (*group).into(),
                    (*resource).into(),
                    cluster.as_str().into(),
                    (*namespace).into(),
                    (*name).into(),
                    placement.gen.into(),
                ]);
            }
            tx.execute(
                &format!(
                    "DELETE FROM objects WHERE (api_group, resource, cluster, namespace, name, gen) IN (VALUES {})",
                    value_rows(6, batch.len())
                ),
                &params,
            )?;
        }
        let written: Vec<(&StoredObject, Placement)> = self
            .rows
            .iter()
            .filter_map(|(_, placement, row)| row.map(|o| (o, *placement)))
            .collect();
        for batch in written.chunks(BATCH) {
            let mut params = Vec::with_capacity(batch.len() * 15);
            for (o, placement) in batch {
                let t = &o.resource_type;
                params.extend([
                    t.group.as_str().into(),
                    t.resource.as_str().into(),
                    cluster.as_str().into(),
                    o.namespace.as_str().into(),
                    o.name.as_str().into(),
                    t.version.as_str().into(),
                    t.kind.as_str().into(),
                    o.uid.as_str().into(),
                    o.owner_uid.clone().into(),
                    o.resource_version.clone().into(),
                    o.created_at.clone().into(),
                    now.into(),
                    o.json.as_str().into(),
                    placement.gen.into(),
                    placement.dead_gen.into(),
                ]);
            }
            tx.execute_owned(
                &format!(
                    "INSERT OR REPLACE INTO objects (api_group, resource, cluster, namespace, name, version, kind, \
                     uid, owner_uid, resource_version, created_at, synced_at, object, gen, dead_gen) VALUES {}",
                    value_rows(15, batch.len())
                ),
                params,
            )?;
        }
        change_log::tombstone(tx, cluster, &self.tombstones, now)
    }
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
