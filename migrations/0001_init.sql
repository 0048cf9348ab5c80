-- Edgepedia schema, version 1. Applied by the component itself (src/migrations.rs), idempotent;
-- also usable with `spin up --sqlite @migrations/0001_init.sql`.

-- One row per stored Kubernetes object. `object` is the JSON served to readers, already
-- carrying the shadow.clusterpedia.io/cluster-name annotation.
CREATE TABLE IF NOT EXISTS objects (
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
    object           TEXT NOT NULL,
    PRIMARY KEY (api_group, resource, cluster, namespace, name)
) WITHOUT ROWID;

-- The primary key serves lists of one resource in the default order; these serve the rest.
CREATE INDEX IF NOT EXISTS objects_by_namespace ON objects (api_group, resource, namespace, name);
CREATE INDEX IF NOT EXISTS objects_by_name ON objects (api_group, resource, name);
CREATE INDEX IF NOT EXISTS objects_by_created ON objects (api_group, resource, created_at);
CREATE INDEX IF NOT EXISTS objects_by_owner ON objects (cluster, owner_uid);
CREATE INDEX IF NOT EXISTS objects_by_uid ON objects (cluster, uid);
CREATE INDEX IF NOT EXISTS objects_by_cluster ON objects (cluster, namespace, name);

-- Resource types each cluster has pushed: discovery, scope of generic types, sync status.
CREATE TABLE IF NOT EXISTS resource_types (
    cluster   TEXT NOT NULL,
    api_group TEXT NOT NULL,
    version   TEXT NOT NULL,
    resource  TEXT NOT NULL,
    kind      TEXT NOT NULL,
    namespaced INTEGER NOT NULL,
    object_count INTEGER NOT NULL DEFAULT 0,
    synced_at INTEGER NOT NULL,
    PRIMARY KEY (cluster, api_group, resource)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS clusters (
    name          TEXT PRIMARY KEY,
    agent_version TEXT,
    first_seen_at INTEGER NOT NULL,
    last_sync_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Open snapshot sessions and their staged objects; invisible to readers until commit.
CREATE TABLE IF NOT EXISTS snapshot_sessions (
    id             TEXT PRIMARY KEY,
    cluster        TEXT NOT NULL,
    resource_types TEXT NOT NULL,
    agent_version  TEXT,
    expires_at     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS snapshot_objects (
    session          TEXT NOT NULL,
    api_group        TEXT NOT NULL,
    version          TEXT NOT NULL,
    resource         TEXT NOT NULL,
    kind             TEXT NOT NULL,
    namespace        TEXT NOT NULL DEFAULT '',
    name             TEXT NOT NULL,
    uid              TEXT NOT NULL,
    owner_uid        TEXT,
    resource_version TEXT,
    created_at       TEXT,
    object           TEXT NOT NULL,
    PRIMARY KEY (session, api_group, resource, namespace, name)
) WITHOUT ROWID;
