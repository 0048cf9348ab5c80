//! Liveness of a cluster's agent (DESIGN §6, staleness): `POST clusters/{c}/heartbeat` from
//! `sync-agent run` every ~30 s, and the times of the last committed snapshot and the last
//! applied delta (recorded inside their own transactions), kept in `cluster_sync` (migration 0003). `pediaclusters` turns them into the
//! `Ready` condition.

use super::{garbage, parse_body};
use crate::error::ApiResult;
use crate::store::{transaction, Store};
use edgepedia_api::ClusterName;
use serde::{Deserialize, Serialize};

/// Longest accepted agent version string.
const MAX_AGENT_VERSION: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeartbeatBody {
    #[serde(default)]
    agent_version: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatAccepted {
    pub cluster: String,
    /// RFC 3339.
    pub received_at: String,
}

/// Records a heartbeat (and the agent's version). The body may be empty.
pub fn heartbeat(
    store: &dyn Store,
    cluster: &ClusterName,
    body: &[u8],
    now: i64,
) -> ApiResult<HeartbeatAccepted> {
    let agent_version = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        parse_body::<HeartbeatBody>(body)?.agent_version
    };
    let agent_version = agent_version
        .map(|v| v.chars().take(MAX_AGENT_VERSION).collect::<String>())
        .filter(|v| !v.is_empty());
    transaction(store, |tx| {
        // A cluster known only by its heartbeats is listed too (with no types yet).
        tx.execute(
            "INSERT INTO clusters (name, agent_version, first_seen_at, last_sync_at) VALUES (?, ?, ?, 0) \
             ON CONFLICT (name) DO UPDATE SET \
             agent_version = coalesce(excluded.agent_version, clusters.agent_version)",
            &[cluster.as_str().into(), agent_version.as_deref().into(), now.into()],
        )?;
        touch(tx, cluster, Activity::Heartbeat, now)?;
        // An idle agent's heartbeats keep removing what its last snapshot superseded.
        garbage::collect(tx, now)
    })?;
    Ok(HeartbeatAccepted {
        cluster: cluster.as_str().to_owned(),
        received_at: crate::clock::rfc3339(now),
    })
}

/// What kept the cluster alive: a committed snapshot, applied deltas, or a heartbeat.
#[derive(Debug, Clone, Copy)]
pub(super) enum Activity {
    Snapshot,
    Delta,
    Heartbeat,
}

pub(super) fn touch(
    store: &dyn Store,
    cluster: &ClusterName,
    activity: Activity,
    now: i64,
) -> ApiResult<()> {
    // Column names come from code only.
    let column = match activity {
        Activity::Snapshot => "last_snapshot_at",
        Activity::Delta => "last_delta_at",
        Activity::Heartbeat => "last_heartbeat_at",
    };
    store.execute(
        &format!(
            "INSERT INTO cluster_sync (cluster, {column}) VALUES (?, ?) \
             ON CONFLICT (cluster) DO UPDATE SET {column} = max(coalesce(cluster_sync.{column}, 0), excluded.{column})"
        ),
        &[cluster.as_str().into(), now.into()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rusqlite_store::RusqliteStore;
    use crate::store::SqlValue;

    #[test]
    fn heartbeats_and_successes_are_recorded_per_kind() {
        let store = RusqliteStore::open_in_memory().unwrap();
        crate::migrations::ensure_schema(&store).unwrap();
        let c = ClusterName::parse("c1").unwrap();
        heartbeat(&store, &c, br#"{"agentVersion":"1.2.3"}"#, 100).unwrap();
        heartbeat(&store, &c, b"", 110).unwrap();
        touch(&store, &c, Activity::Delta, 120).unwrap();
        touch(&store, &c, Activity::Snapshot, 130).unwrap();
        touch(&store, &c, Activity::Snapshot, 125).unwrap();
        let rows = store
            .query(
                "SELECT last_snapshot_at, last_delta_at, last_heartbeat_at FROM cluster_sync",
                &[],
            )
            .unwrap();
        assert_eq!(
            rows,
            vec![vec![
                SqlValue::Integer(130),
                SqlValue::Integer(120),
                SqlValue::Integer(110)
            ]]
        );
        let rows = store
            .query("SELECT agent_version FROM clusters", &[])
            .unwrap();
        assert_eq!(rows, vec![vec![SqlValue::Text("1.2.3".into())]]);
        assert!(heartbeat(&store, &c, b"{", 140).is_err());
    }
}
