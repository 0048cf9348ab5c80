-- Edgepedia schema, version 2 (DESIGN §5). Idempotent, like 0001.

-- Snapshot sessions now keep the namespaces claim they were begun under (JSON array of
-- globs; NULL when unrestricted): the commit replaces only those namespaces. Sessions are
-- transient staging, so the tables are rebuilt rather than altered (ALTER TABLE ADD COLUMN
-- cannot be repeated): a session open across the upgrade is gone and its agent begins again.
DROP TABLE IF EXISTS snapshot_objects;
DROP TABLE IF EXISTS snapshot_sessions;

CREATE TABLE snapshot_sessions (
    id             TEXT PRIMARY KEY,
    cluster        TEXT NOT NULL,
    resource_types TEXT NOT NULL,
    agent_version  TEXT,
    expires_at     INTEGER NOT NULL,
    namespaces     TEXT
) WITHOUT ROWID;

CREATE TABLE snapshot_objects (
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

-- Keys only the edge knows. `continue` signs continue tokens (HMAC-SHA256), so a forged or
-- edited token is refused; kept in the database so every instance sharing it agrees.
CREATE TABLE IF NOT EXISTS edge_keys (
    name TEXT PRIMARY KEY,
    key  BLOB NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO edge_keys (name, key) VALUES ('continue', randomblob(32));
