-- Edgepedia schema, version 8 (step 8): secondary indexes led by the cluster. A snapshot
-- writes one cluster's objects; an index ordered by name or creation time across clusters
-- took one page write per object (the cluster's names fall between every other cluster's),
-- about a quarter of a first sync's WAL frames and page writes, and the checkpoint writes
-- each frame again. Led by the cluster (after the type, where the type leads), a snapshot
-- writes a few contiguous runs of them. Lists across clusters seek them once per cluster,
-- through `cluster IN (SELECT name FROM clusters)` (src/plan.rs, docs/DECISIONS.md,
-- "Cluster-led indexes").
--
-- Every cluster with objects has its row in `clusters` from its first commit or event on;
-- a file whose objects predate that gets the missing rows, as never synced.
INSERT OR IGNORE INTO clusters (name, agent_version, first_seen_at, last_sync_at)
    SELECT DISTINCT cluster, NULL, 0, 0 FROM objects;
DROP INDEX IF EXISTS objects_by_name;
CREATE INDEX objects_by_name ON objects (cluster, name, namespace);
DROP INDEX IF EXISTS objects_by_created;
CREATE INDEX objects_by_created ON objects (api_group, resource, cluster, created_at);
