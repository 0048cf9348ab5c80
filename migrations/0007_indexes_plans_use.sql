-- Edgepedia schema, version 7 (step 8): only indexes a plan seeks, in the order lists read
-- them. Every index costs each ingested object one more B-tree insert, and
-- `tests/engine_query.rs` checks that each one left serves a query or a write
-- (docs/DECISIONS.md, "Indexes: only what a plan seeks").
--
-- `objects_by_uid` served nothing: owners are found by name and children by `owner_uid`.
-- `objects_by_name` was (api_group, resource, name), which SQLite passed over for `names=`
-- (it drove those lists from `objects_key` to skip a sort, reading every object of the type),
-- and which cannot find an owner by name without its type; it becomes (name, cluster,
-- namespace), driven with INDEXED BY for `names=`, and takes over the owner lookup from
-- `objects_by_cluster` (cluster, namespace, name), which found an owner named across
-- namespaces by reading every object of the cluster, and goes.
-- `objects_by_namespace` was (api_group, resource, namespace, name): a namespace across
-- clusters (`kubectl get -n` on the aggregate path) came out of it in the wrong order, so
-- SQLite drove those lists from `objects_key` and sorted; with `cluster` before `name` it
-- yields them in list order, and a page reads only its rows.
DROP INDEX IF EXISTS objects_by_uid;
DROP INDEX IF EXISTS objects_by_cluster;
DROP INDEX IF EXISTS objects_by_name;
CREATE INDEX objects_by_name ON objects (name, cluster, namespace);
DROP INDEX IF EXISTS objects_by_namespace;
CREATE INDEX objects_by_namespace ON objects (api_group, resource, namespace, cluster, name);
