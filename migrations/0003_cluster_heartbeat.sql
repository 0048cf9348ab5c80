-- Per-cluster sync liveness (DESIGN §6, staleness): when the cluster's agent last committed a
-- snapshot, pushed deltas, or sent a heartbeat. A table of its own rather than new columns on
-- `clusters`, so re-running this file changes nothing.

CREATE TABLE IF NOT EXISTS cluster_sync (
    cluster           TEXT PRIMARY KEY,
    last_snapshot_at  INTEGER,
    last_delta_at     INTEGER,
    last_heartbeat_at INTEGER
) WITHOUT ROWID;
