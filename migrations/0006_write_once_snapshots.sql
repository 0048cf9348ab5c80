-- Edgepedia schema, version 6 (step 8; DESIGN §9.1): snapshots are written once. A chunk
-- writes what changed straight into `objects` under its session's generation (`gen`), hidden
-- from readers while the session is open, and marks the row it replaces with `dead_gen`; a
-- commit makes all of it visible by deleting the session's row (one small statement), and
-- superseded rows are deleted afterwards in bounded batches. A row is live when its `gen` is
-- no open or aborted session's and its `dead_gen`, if any, still is (src/live_rows.rs).
-- Unchanged objects are not written again: the session only notes their names.
-- Not repeatable (the component's runner applies it once); sessions are transient, so a
-- session open across the upgrade is gone and its agent begins again.

DROP TABLE IF EXISTS snapshot_objects;
DROP TABLE IF EXISTS snapshot_sessions;

-- `gen` is never reused (AUTOINCREMENT), so a mark can only ever name its own session.
-- `state`: 0 open, 1 aborted or expired, 2 superseded by a newer session (src/ingest/garbage.rs).
CREATE TABLE snapshot_sessions (
    gen            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    cluster        TEXT NOT NULL,
    resource_types TEXT NOT NULL,
    agent_version  TEXT,
    expires_at     INTEGER NOT NULL,
    namespaces     TEXT,
    state          INTEGER NOT NULL DEFAULT 0
);

-- Names a session holds unchanged: what its commit must not delete.
CREATE TABLE snapshot_seen (
    session   INTEGER NOT NULL,
    api_group TEXT NOT NULL,
    resource  TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    PRIMARY KEY (session, api_group, resource, namespace, name)
) WITHOUT ROWID;

-- Names a session wrote an object under: what its commit records ADDED or MODIFIED (against
-- what is live then), and, for an ended session, where its rows are to be removed.
CREATE TABLE snapshot_written (
    session   INTEGER NOT NULL,
    api_group TEXT NOT NULL,
    resource  TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    PRIMARY KEY (session, api_group, resource, namespace, name)
) WITHOUT ROWID;

-- Generations whose leftovers are still to be removed: superseded rows of a committed one,
-- everything of an aborted one.
CREATE TABLE snapshot_garbage (
    gen     INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,
    aborted INTEGER NOT NULL
);

-- `gen` and `dead_gen` come before `object`: every read checks them, and SQLite reaches a
-- column after a large one only through that one's overflow pages.
DROP TABLE IF EXISTS objects_v6;
CREATE TABLE objects_v6 (
    api_group        TEXT NOT NULL,
    version          TEXT NOT NULL,
    resource         TEXT NOT NULL,
    kind             TEXT NOT NULL,
    cluster          TEXT NOT NULL,
    namespace        TEXT NOT NULL DEFAULT '',
    name             TEXT NOT NULL,
    uid              TEXT NOT NULL,
    owner_uid        TEXT,
    resource_version TEXT,
    created_at       TEXT,
    synced_at        INTEGER NOT NULL,
    gen              INTEGER NOT NULL DEFAULT 0,
    dead_gen         INTEGER,
    object           TEXT NOT NULL
);
INSERT INTO objects_v6 (api_group, version, resource, kind, cluster, namespace, name, uid, owner_uid,
    resource_version, created_at, synced_at, object)
    SELECT api_group, version, resource, kind, cluster, namespace, name, uid, owner_uid,
    resource_version, created_at, synced_at, object FROM objects ORDER BY api_group, resource, cluster, namespace, name;
DROP TABLE objects;
ALTER TABLE objects_v6 RENAME TO objects;
CREATE UNIQUE INDEX objects_key ON objects (api_group, resource, cluster, namespace, name, gen);
CREATE INDEX objects_by_namespace ON objects (api_group, resource, namespace, name);
CREATE INDEX objects_by_name ON objects (api_group, resource, name);
CREATE INDEX objects_by_created ON objects (api_group, resource, created_at);
CREATE INDEX objects_by_owner ON objects (cluster, owner_uid);
CREATE INDEX objects_by_uid ON objects (cluster, uid);
CREATE INDEX objects_by_cluster ON objects (cluster, namespace, name);
CREATE INDEX objects_dead ON objects (dead_gen) WHERE dead_gen IS NOT NULL;
