-- Edgepedia schema, version 4: the change feed (DESIGN §3.1). Idempotent, like 0001.

-- One row per change an ingest made visible, in commit order: `seq` is the feed's cursor
-- (AUTOINCREMENT: never reused, even after retention deletes the oldest rows). The object
-- itself is not copied: the feed serves what a get returns now.
CREATE TABLE IF NOT EXISTS changes (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    changed_at       INTEGER NOT NULL,
    type             TEXT NOT NULL,
    api_group        TEXT NOT NULL,
    version          TEXT NOT NULL,
    resource         TEXT NOT NULL,
    kind             TEXT NOT NULL,
    cluster          TEXT NOT NULL,
    namespace        TEXT NOT NULL DEFAULT '',
    name             TEXT NOT NULL,
    uid              TEXT NOT NULL,
    resource_version TEXT
);
-- Retention pruning and `since=<time>`.
CREATE INDEX IF NOT EXISTS changes_by_time ON changes (changed_at);

-- Deleted objects by uid (a uid is one incarnation: once deleted it never comes back), so a
-- late or replayed ADDED/MODIFIED of a deleted object cannot resurrect it. Kept as long as
-- the change feed keeps its changes.
CREATE TABLE IF NOT EXISTS tombstones (
    cluster          TEXT NOT NULL,
    uid              TEXT NOT NULL,
    resource_version TEXT,
    deleted_at       INTEGER NOT NULL,
    PRIMARY KEY (cluster, uid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tombstones_by_time ON tombstones (deleted_at);

-- The feed's identity and how far retention has pruned it: a cursor at or past `pruned_seq`
-- (and a time at or after `pruned_before`) lost nothing; an older one is answered 410. The
-- epoch is in every cursor, so a cursor from another database (or one reset) is refused
-- rather than silently skipping changes.
CREATE TABLE IF NOT EXISTS change_feed (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    epoch         TEXT NOT NULL,
    pruned_seq    INTEGER NOT NULL DEFAULT 0,
    pruned_before INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO change_feed (id, epoch) VALUES (1, lower(hex(randomblob(4))));
