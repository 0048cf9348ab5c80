//! Watch-event deltas, applied in one transaction per request. Replays are harmless: an
//! event whose object is not newer than the stored one (same uid, resourceVersion not
//! greater) is skipped.

use super::authz::WriteScope;
use super::object::{normalize, StoredObject};
use super::{check_resource_type, parse_body, record_cluster, record_type};
use crate::error::{ApiError, ApiResult};
use crate::store::{transaction, Store};
use edgepedia_api::ingest::{EventType, EventsApplied, WatchEvents};
use edgepedia_api::{ClusterName, ResourceType};

pub fn events(
    store: &dyn Store,
    scope: &WriteScope,
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
