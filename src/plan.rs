//! (route, options, principal) → SQL. The only place SQL text is assembled: column names and
//! operators come from this file, every user value is a bound parameter.

use crate::auth::{NamePattern, Principal, Scope};
use crate::live_rows;
use crate::params::{OwnerQuery, OwnerTarget};
use crate::selector::field::FieldRequirement;
use crate::selector::{Operator, Requirement};
use crate::store::SqlValue;
use edgepedia_api::ResourceType;

/// The stored columns a query may filter or sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Cluster,
    Namespace,
    Name,
    Group,
    Resource,
    CreatedAt,
    ResourceVersion,
    /// The virtual `containers` resource: the container's name and its position in the pod
    /// (init containers first).
    ContainerName,
    ContainerIndex,
}

impl Column {
    /// The SQL expression, NULL-free so keyset comparisons never meet NULL.
    pub fn sql(self) -> &'static str {
        match self {
            Column::Cluster => "cluster",
            Column::Namespace => "namespace",
            Column::Name => "name",
            Column::Group => "api_group",
            Column::Resource => "resource",
            Column::CreatedAt => "coalesce(created_at, '')",
            Column::ResourceVersion => "CAST(coalesce(resource_version, '0') AS INTEGER)",
            Column::ContainerName => "container.value ->> '$.name'",
            Column::ContainerIndex => "(spec_part.key = 'containers') * 100000 + container.key",
        }
    }
}

/// AND-ed clauses with their parameters, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Predicate {
    clauses: Vec<String>,
    params: Vec<SqlValue>,
    /// The index a list must be driven from, where SQLite's planner would pick a worse one.
    driving_index: Option<&'static str>,
    /// Rows of more than one type (a collection): read from `objects_key` unless
    /// `driving_index` says otherwise. SQLite unions each type's rows (MULTI-INDEX OR) from
    /// whichever index led by (api_group, resource) it meets first; only `objects_key` visits
    /// them in the order agents push them, which is the rows' order in the table. Another
    /// index made the bench's `workloads` page ~3× slower (18 against 7 ms on its file).
    several_types: bool,
    /// A clause names the cluster(s): `cluster = ?`, `cluster IN (…)`. Without one, a list
    /// driven from a cluster-led index seeks it once per cluster ([`EVERY_CLUSTER`]).
    cluster_pinned: bool,
}

/// Every cluster with objects: each one is in `clusters` from its first commit or event on
/// (migration 0008 added those of older files). Lets a list across clusters seek an index led
/// by `cluster` once per cluster. Those indexes are cluster-led so that a snapshot writes a
/// few contiguous runs of their pages instead of one page per object (migration 0008).
const EVERY_CLUSTER: &str = "cluster IN (SELECT name FROM clusters)";

/// Indexes with `cluster` as the first column after the type, if the type leads at all.
const CLUSTER_LED: [&str; 2] = ["objects_by_name", "objects_by_created"];

impl Predicate {
    pub fn column_is(&mut self, column: Column, value: impl Into<SqlValue>) {
        self.clauses.push(format!("{} = ?", column.sql()));
        self.params.push(value.into());
        self.cluster_pinned |= column == Column::Cluster;
    }

    pub fn any_of<V: Into<SqlValue>>(
        &mut self,
        column: Column,
        values: impl IntoIterator<Item = V>,
    ) {
        let before = self.params.len();
        self.params.extend(values.into_iter().map(Into::into));
        let n = self.params.len() - before;
        if n > 0 {
            self.clauses
                .push(format!("{} IN ({})", column.sql(), vec!["?"; n].join(", ")));
            self.cluster_pinned |= column == Column::Cluster;
        }
    }

    /// `names=`: `column IN (…)`. A list of objects by name is driven from `objects_by_name`
    /// (cluster, name, namespace): without statistics SQLite prefers `objects_key` on the type
    /// alone, which saves sorting the few matches by reading every object of the type. An
    /// owner's index, when the list also has one, drives instead (both are selective).
    pub fn names<'a>(&mut self, column: Column, names: impl IntoIterator<Item = &'a str>) {
        let before = self.params.len();
        self.any_of(column, names);
        if column == Column::Name && self.params.len() > before && self.driving_index.is_none() {
            self.driving_index = Some("objects_by_name");
        }
    }

    /// `column GLOB p1 OR …`; no patterns matches nothing.
    pub fn globs(&mut self, column: Column, patterns: &[NamePattern]) {
        let alternatives = vec![format!("{} GLOB ?", column.sql()); patterns.len()];
        self.clauses.push(if alternatives.is_empty() {
            "0".to_owned()
        } else {
            format!("({})", alternatives.join(" OR "))
        });
        self.params
            .extend(patterns.iter().map(|p| SqlValue::from(p.as_str())));
    }

    /// A clause rendered elsewhere from a validated AST (whereSQL, selectors): its SQL names
    /// only allowlisted columns and functions and carries every user value in `params`.
    pub fn push_clause(&mut self, sql: String, params: Vec<SqlValue>) {
        self.clauses.push(format!("({sql})"));
        self.params.extend(params);
    }

    /// Objects of any of several types (collections).
    pub fn resource_types(&mut self, types: &[ResourceType]) {
        if types.is_empty() {
            self.clauses.push("0".to_owned());
            return;
        }
        self.several_types = types.len() > 1;
        let alternatives = vec!["(api_group = ? AND resource = ? AND version = ?)"; types.len()];
        self.clauses
            .push(format!("({})", alternatives.join(" OR ")));
        for t in types {
            self.params.extend([
                t.group.as_str().into(),
                t.resource.as_str().into(),
                t.version.as_str().into(),
            ]);
        }
    }

    /// Rows of any of several (group, resource) pairs, whatever their version.
    pub fn group_resources(&mut self, pairs: &[(String, String)]) {
        if pairs.is_empty() {
            self.clauses.push("0".to_owned());
            return;
        }
        let alternatives = vec!["(api_group = ? AND resource = ?)"; pairs.len()];
        self.clauses
            .push(format!("({})", alternatives.join(" OR ")));
        for (group, resource) in pairs {
            self.params
                .extend([group.as_str().into(), resource.as_str().into()]);
        }
    }

    /// `name LIKE %s%` for each substring (all must match), with LIKE's wildcards escaped.
    pub fn name_contains(&mut self, column: Column, substrings: &[String]) {
        for s in substrings {
            let escaped = s
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            self.clauses
                .push(format!("{} LIKE ? ESCAPE '\\'", column.sql()));
            self.params.push(format!("%{escaped}%").into());
        }
    }

    /// Creation time within [since, before), driven from `objects_by_created` (type, cluster,
    /// created_at) unless names or an owner drive: a window is read per cluster, and only its
    /// rows are sorted. Without statistics SQLite would read the whole type in list order to
    /// skip that sort, which costs a full scan whenever the window holds less than a page.
    pub fn created_between(&mut self, since: Option<&str>, before: Option<&str>) {
        if let Some(since) = since {
            self.clauses.push("created_at >= ?".to_owned());
            self.params.push(since.into());
        }
        if let Some(before) = before {
            self.clauses.push("created_at < ?".to_owned());
            self.params.push(before.into());
        }
        if (since.is_some() || before.is_some()) && self.driving_index.is_none() {
            self.driving_index = Some("objects_by_created");
        }
    }

    /// A label requirement, evaluated on `metadata.labels` inside the stored object.
    /// As in Kubernetes, `!=` and `notin` also match objects without the label.
    pub fn label(&mut self, r: &Requirement) {
        let value = "json_extract(object, ?)".to_owned();
        let path = SqlValue::from(format!("$.metadata.labels.\"{}\"", r.key));
        self.compare(&value, vec![path], r.operator, &r.values);
    }

    /// A field requirement: `metadata.name`/`metadata.namespace` use their columns, other
    /// paths read the stored object, compared as text (`true`, `3`, `Running`).
    pub fn field(&mut self, r: &FieldRequirement) {
        match r.path.dotted().as_str() {
            "metadata.name" => self.compare("name", vec![], r.operator, &r.values),
            "metadata.namespace" => self.compare("namespace", vec![], r.operator, &r.values),
            _ => {
                let path = SqlValue::from(r.path.json_path());
                let text =
                    "CASE json_type(object, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
                            ELSE CAST(json_extract(object, ?) AS TEXT) END";
                self.compare(text, vec![path.clone(), path], r.operator, &r.values);
            }
        }
    }

    /// `expr OP values`; `expr_params` bind the expression's own placeholders, repeated
    /// wherever the expression is.
    fn compare(
        &mut self,
        expr: &str,
        expr_params: Vec<SqlValue>,
        operator: Operator,
        values: &[String],
    ) {
        let marks = vec!["?"; values.len()].join(", ");
        let (clause, uses) = match operator {
            Operator::Equals => (format!("{expr} = ?"), 1),
            Operator::In => (format!("{expr} IN ({marks})"), 1),
            Operator::NotEquals => (format!("({expr} IS NULL OR {expr} != ?)"), 2),
            Operator::NotIn => (format!("({expr} IS NULL OR {expr} NOT IN ({marks}))"), 2),
            Operator::Exists => (format!("{expr} IS NOT NULL"), 1),
            Operator::DoesNotExist => (format!("{expr} IS NULL"), 1),
        };
        self.clauses.push(clause);
        for use_index in 0..uses {
            self.params.extend(expr_params.iter().cloned());
            if use_index == uses - 1 {
                self.params
                    .extend(values.iter().map(|v| SqlValue::from(v.as_str())));
            }
        }
    }

    /// Children (seniority 0), grandchildren (1), … of an owner in one cluster, as nested
    /// uncorrelated `IN (SELECT …)`: each level is one indexed lookup on (cluster, owner_uid),
    /// evaluated once, not per row. An owner named by name is looked up only among the
    /// objects the principal may see, so the lookup reveals nothing a list would not.
    ///
    /// The list itself is driven from `objects_by_owner` too. Without statistics SQLite guesses
    /// an `IN (SELECT …)` at 25 rows a level and prefers `objects_key` on type, cluster and
    /// namespace, which reads every object of the namespace to keep its owner's few (300 pods
    /// read for 6 in the bench). An owner's children are few, so sorting them costs less than
    /// that; the clause pins `cluster` itself so the index is always usable.
    pub fn owned_by(
        &mut self,
        cluster: &str,
        owner: &OwnerQuery,
        namespace: Option<&str>,
        principal: &Principal,
    ) {
        let (mut inner, mut params): (String, Vec<SqlValue>) = match &owner.target {
            OwnerTarget::Uid(uid) => ("?".to_owned(), vec![uid.as_str().into()]),
            OwnerTarget::Name {
                name,
                group_resource,
            } => {
                let mut sql = format!(
                    "SELECT uid FROM objects WHERE cluster = ? AND name = ? AND {}",
                    live_rows::live()
                );
                let mut params: Vec<SqlValue> = vec![cluster.into(), name.as_str().into()];
                if let Some((group, resource)) = group_resource {
                    sql.push_str(" AND api_group = ? AND resource = ?");
                    params.extend([group.as_str().into(), resource.as_str().into()]);
                }
                if let Some(ns) = namespace {
                    sql.push_str(" AND namespace IN (?, '')");
                    params.push(ns.into());
                }
                let mut visible = Predicate::default();
                visible.authorized_for(principal);
                sql.push_str(&format!(" AND {}", visible.where_sql()));
                params.extend(visible.params);
                (sql, params)
            }
        };
        for _ in 0..owner.seniority {
            inner = format!(
                "SELECT uid FROM objects WHERE cluster = ? AND owner_uid IN ({inner}) AND {}",
                live_rows::live()
            );
            params.insert(0, cluster.into());
        }
        self.clauses
            .push(format!("cluster = ? AND owner_uid IN ({inner})"));
        self.params.push(cluster.into());
        self.params.extend(params);
        self.driving_index = Some("objects_by_owner");
        self.cluster_pinned = true;
    }

    /// Restricts rows to the objects of one resource type.
    pub fn resource_type(&mut self, t: &ResourceType) {
        self.column_is(Column::Group, t.group.as_str());
        self.column_is(Column::Resource, t.resource.as_str());
        self.clauses.push("version = ?".to_owned());
        self.params.push(t.version.as_str().into());
    }

    /// What the principal may see: its cluster and namespace patterns (a namespace-limited
    /// principal sees no cluster-scoped objects) and Secrets only with `inventory:secrets`.
    pub fn authorized_for(&mut self, principal: &Principal) {
        self.authorized_types(principal);
        if let Some(namespaces) = &principal.namespaces {
            self.globs(Column::Namespace, namespaces);
        }
    }

    /// The part of [`Self::authorized_for`] that also applies to per-type records
    /// (`resource_types`): clusters, and Secrets by group and kind, never by resource name.
    pub fn authorized_types(&mut self, principal: &Principal) {
        if let Some(clusters) = &principal.clusters {
            self.globs(Column::Cluster, clusters);
        }
        if principal.require(Scope::Secrets).is_err() {
            self.clauses
                .push("NOT (api_group = '' AND kind = 'Secret')".to_owned());
        }
    }

    /// The clauses, plus [`EVERY_CLUSTER`] when a cluster-led index drives and no clause names
    /// the cluster (it binds nothing, so the parameters stay as they are).
    pub fn where_sql(&self) -> String {
        let every_cluster = !self.cluster_pinned
            && self
                .driving_index
                .is_some_and(|index| CLUSTER_LED.contains(&index));
        let clauses: Vec<&str> = self
            .clauses
            .iter()
            .map(String::as_str)
            .chain(every_cluster.then_some(EVERY_CLUSTER))
            .collect();
        if clauses.is_empty() {
            "1".to_owned()
        } else {
            clauses.join(" AND ")
        }
    }

    pub fn params(&self) -> &[SqlValue] {
        &self.params
    }

    /// `objects`, or `objects INDEXED BY …` when the predicate needs a driving index.
    fn objects_table(&self) -> String {
        let key = self.several_types.then_some("objects_key");
        match self.driving_index.or(key) {
            Some(index) => format!("objects INDEXED BY {index}"),
            None => "objects".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// A total order: the requested keys, then enough columns to make every row's key unique.
#[derive(Debug, Clone, PartialEq)]
pub struct Order(Vec<(Column, Direction)>);

impl Order {
    /// Clusterpedia's default: cluster, namespace, name (then what makes rows unique).
    pub fn default_order(source: Source) -> Self {
        Self::with_keys(Vec::new(), source)
    }

    /// The requested keys, then the source's unique key as tie-breakers.
    pub fn with_keys(mut keys: Vec<(Column, Direction)>, source: Source) -> Self {
        for &column in source.unique_key() {
            if !keys.iter().any(|(c, _)| *c == column) {
                keys.push((column, Direction::Asc));
            }
        }
        Self(keys)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn order_by(&self) -> String {
        self.0
            .iter()
            .map(|(c, d)| match d {
                Direction::Asc => c.sql().to_owned(),
                Direction::Desc => format!("{} DESC", c.sql()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn columns(&self) -> String {
        self.0
            .iter()
            .map(|(c, _)| c.sql())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The sort key as one JSON array cell ([`decode_key`] reads it back). A page needs only
    /// its last row's key, so each row carries one value besides the object instead of one
    /// per key column: on Spin every value is copied into the component on its own.
    fn key_sql(&self) -> String {
        format!("json_array({})", self.columns())
    }

    /// Rows strictly after `key` in this order. All-ascending keys use one row-value
    /// comparison (index friendly); mixed directions expand to the equivalent OR chain.
    fn after(&self, key: &[SqlValue]) -> (String, Vec<SqlValue>) {
        if self.0.iter().all(|(_, d)| *d == Direction::Asc) {
            let marks = vec!["?"; key.len()].join(", ");
            return (format!("({}) > ({marks})", self.columns()), key.to_vec());
        }
        let mut alternatives = Vec::new();
        let mut params = Vec::new();
        for (i, (column, direction)) in self.0.iter().enumerate() {
            let mut parts: Vec<String> = self.0[..i]
                .iter()
                .map(|(c, _)| format!("{} = ?", c.sql()))
                .collect();
            params.extend_from_slice(&key[..i]);
            let op = if *direction == Direction::Asc {
                ">"
            } else {
                "<"
            };
            parts.push(format!("{} {op} ?", column.sql()));
            params.push(key[i].clone());
            alternatives.push(format!("({})", parts.join(" AND ")));
        }
        (format!("({})", alternatives.join(" OR ")), params)
    }
}

/// What rows a list reads: stored objects, or one row per container of the stored pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Objects,
    Containers,
}

impl Source {
    /// The FROM list, `objects` being named as the predicate needs it.
    fn tables_sql(self, filter: &Predicate) -> String {
        let objects = filter.objects_table();
        match self {
            Source::Objects => objects,
            Source::Containers => format!(
                "{objects}, json_each(objects.object, '$.spec') AS spec_part, json_each(spec_part.value) AS container"
            ),
        }
    }

    /// Live rows only (see [`crate::live_rows`]), and for containers, the container lists.
    fn own_filter(self) -> String {
        match self {
            Source::Objects => live_rows::live(),
            Source::Containers => format!(
                "spec_part.key IN ('initContainers', 'containers') AND {}",
                live_rows::live()
            ),
        }
    }

    fn unique_key(self) -> &'static [Column] {
        match self {
            Source::Objects => &[
                Column::Cluster,
                Column::Namespace,
                Column::Name,
                Column::Group,
                Column::Resource,
            ],
            Source::Containers => &[
                Column::Cluster,
                Column::Namespace,
                Column::Name,
                Column::ContainerIndex,
            ],
        }
    }
}

/// What each row of a list carries besides its sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    Object,
    /// `apiVersion`, `kind` and `metadata` only (`onlyMetadata=true`).
    Metadata,
    /// A `Container` item built from the pod row and its container (DESIGN §3).
    Container,
}

impl Projection {
    fn sql(self) -> &'static str {
        match self {
            Projection::Object => "object",
            Projection::Metadata => {
                "json_object('apiVersion', object ->> '$.apiVersion', 'kind', object ->> '$.kind', \
                 'metadata', object -> '$.metadata')"
            }
            Projection::Container => {
                "json_object('apiVersion', 'v1', 'kind', 'Container', 'metadata', json_object(\
                 'name', container.value ->> '$.name', 'namespace', namespace, \
                 'annotations', json_object('shadow.clusterpedia.io/cluster-name', cluster), \
                 'ownerReferences', json_array(json_object('apiVersion', 'v1', 'kind', 'Pod', 'name', name, \
                 'uid', uid, 'controller', json('true')))), \
                 'spec', json(container.value), \
                 'status', json((SELECT status.value FROM json_each(objects.object, \
                 CASE spec_part.key WHEN 'containers' THEN '$.status.containerStatuses' \
                 ELSE '$.status.initContainerStatuses' END) AS status \
                 WHERE status.value ->> '$.name' = container.value ->> '$.name')))"
            }
        }
    }
}

/// A list query before paging is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPlan {
    pub source: Source,
    pub filter: Predicate,
    pub order: Order,
    pub projection: Projection,
}

/// A statement and its parameters, ready for [`crate::store::Store::query`].
#[derive(Debug, Clone, PartialEq)]
pub struct SqlPlan {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

impl ListPlan {
    /// Identifies the query for continue tokens: same filter and order, same fingerprint.
    pub fn fingerprint(&self) -> u64 {
        let params = format!("{:?}", self.filter.params());
        crate::paging::fingerprint(&[&self.filter.where_sql(), &params, &self.order.order_by()])
    }

    fn where_after(&self, after: Option<&[SqlValue]>) -> (String, Vec<SqlValue>) {
        let mut sql = format!(
            "{} AND {}",
            self.source.own_filter(),
            self.filter.where_sql()
        );
        let mut params = self.filter.params().to_vec();
        if let Some(key) = after {
            let (clause, key_params) = self.order.after(key);
            sql = format!("{sql} AND {clause}");
            params.extend(key_params);
        }
        (sql, params)
    }

    /// Rows after `after` (or skipping `offset`): the sort key (one JSON array, see
    /// [`decode_key`]), then the projection.
    pub fn page(&self, after: Option<&[SqlValue]>, offset: u64, limit: u64) -> SqlPlan {
        let (filter, mut params) = self.where_after(after);
        params.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        params.push(SqlValue::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
        SqlPlan {
            sql: format!(
                "SELECT {}, {} FROM {} WHERE {filter} ORDER BY {} LIMIT ? OFFSET ?",
                self.order.key_sql(),
                self.projection.sql(),
                self.source.tables_sql(&self.filter),
                self.order.order_by()
            ),
            params,
        }
    }

    /// How many rows come after `after`: `remainingItemCount`.
    pub fn count_after(&self, after: Option<&[SqlValue]>) -> SqlPlan {
        let (filter, params) = self.where_after(after);
        SqlPlan {
            sql: format!(
                "SELECT count(*) FROM {} WHERE {filter}",
                self.source.tables_sql(&self.filter)
            ),
            params,
        }
    }
}

/// The sort key of a [`ListPlan::page`] row, from its JSON array cell: key columns are text,
/// integers or NULL, which JSON carries exactly.
pub fn decode_key(cell: &SqlValue) -> Option<Vec<SqlValue>> {
    let values: Vec<serde_json::Value> = serde_json::from_str(cell.as_str()?).ok()?;
    key_from_json(values)
}

/// Key values from JSON (a page's key cell, a continue token's payload).
pub fn key_from_json(values: Vec<serde_json::Value>) -> Option<Vec<SqlValue>> {
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::Null => Some(SqlValue::Null),
            serde_json::Value::String(s) => Some(SqlValue::Text(s)),
            serde_json::Value::Number(n) => n.as_i64().map(SqlValue::Integer),
            _ => None,
        })
        .collect()
}

/// One object by its full key (the predicate pins type, cluster, namespace and name).
pub fn get_object(filter: &Predicate) -> SqlPlan {
    SqlPlan {
        sql: format!(
            "SELECT object FROM objects WHERE {} AND {} LIMIT 1",
            filter.where_sql(),
            live_rows::live()
        ),
        params: filter.params().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rusqlite_store::RusqliteStore;
    use crate::store::Store;

    fn store_with(rows: &[(&str, &str, &str)]) -> RusqliteStore {
        let store = RusqliteStore::open_in_memory().unwrap();
        crate::migrations::ensure_schema(&store).unwrap();
        for (c, ns, n) in rows {
            store
                .execute(
                    "INSERT INTO objects (api_group, version, resource, kind, cluster, namespace, name, uid, synced_at, object)
                     VALUES ('', 'v1', 'pods', 'Pod', ?, ?, ?, ?, 0, '{}')",
                    &[(*c).into(), (*ns).into(), (*n).into(), format!("{c}/{ns}/{n}").into()],
                )
                .unwrap();
            // As ingest does: a cluster with objects has its row (see EVERY_CLUSTER).
            store
                .execute(
                    "INSERT OR IGNORE INTO clusters (name, first_seen_at, last_sync_at) VALUES (?, 0, 0)",
                    &[(*c).into()],
                )
                .unwrap();
        }
        store
    }

    fn names(store: &RusqliteStore, plan: &SqlPlan) -> Vec<String> {
        store
            .query(&plan.sql, &plan.params)
            .unwrap()
            .into_iter()
            .map(|r| {
                let key = decode_key(&r[0]).unwrap();
                let text: Vec<&str> = key[..3].iter().map(|v| v.as_str().unwrap()).collect();
                text.join("/")
            })
            .collect()
    }

    /// A page's key cell carries each key column with its SQL type (integer resourceVersions,
    /// text names), so the next page's row-value comparison binds what the column holds.
    #[test]
    fn page_keys_decode_with_their_column_types() {
        let store = store_with(&[("c1", "ns", "a"), ("c1", "ns", "b"), ("c2", "ns", "c")]);
        for (name, rv) in [("a", "17"), ("b", "9"), ("c", "200")] {
            store
                .execute(
                    "UPDATE objects SET resource_version = ? WHERE name = ?",
                    &[rv.into(), name.into()],
                )
                .unwrap();
        }
        let order = Order::with_keys(
            vec![(Column::ResourceVersion, Direction::Desc)],
            Source::Objects,
        );
        let plan = ListPlan {
            source: Source::Objects,
            filter: Predicate::default(),
            order: order.clone(),
            projection: Projection::Object,
        };
        let mut after: Option<Vec<SqlValue>> = None;
        let mut versions = Vec::new();
        loop {
            let page = plan.page(after.as_deref(), 0, 2);
            let rows = store.query(&page.sql, &page.params).unwrap();
            let Some(last) = rows.last() else { break };
            for row in &rows {
                let key = decode_key(&row[0]).unwrap();
                assert_eq!(key.len(), order.len());
                versions.push(key[0].as_i64().expect("an integer resourceVersion"));
                assert!(key[1..].iter().all(|v| v.as_str().is_some()), "{key:?}");
            }
            after = decode_key(&last[0]);
        }
        assert_eq!(versions, vec![200, 17, 9]);
        assert_eq!(decode_key(&SqlValue::Text("[1.5]".into())), None);
        assert_eq!(decode_key(&SqlValue::Integer(1)), None);
    }

    #[test]
    fn keyset_pages_cover_every_row_once_in_any_direction() {
        let rows: Vec<(String, String, String)> = (0..5)
            .flat_map(|c| {
                (0..3).flat_map(move |ns| {
                    (0..4).map(move |n| (format!("c{c}"), format!("ns{ns}"), format!("n{n}")))
                })
            })
            .collect();
        let refs: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        let store = store_with(&refs);
        for order in [
            Order::default_order(Source::Objects),
            Order::with_keys(
                vec![
                    (Column::Namespace, Direction::Desc),
                    (Column::Cluster, Direction::Asc),
                ],
                Source::Objects,
            ),
            Order::with_keys(vec![(Column::Name, Direction::Desc)], Source::Objects),
        ] {
            let plan = ListPlan {
                source: Source::Objects,
                filter: Predicate::default(),
                order: order.clone(),
                projection: Projection::Object,
            };
            let all = names(&store, &plan.page(None, 0, 1000));
            assert_eq!(all.len(), rows.len());
            let mut paged = Vec::new();
            let mut after: Option<Vec<SqlValue>> = None;
            loop {
                let page = store
                    .query(
                        &plan.page(after.as_deref(), 0, 7).sql,
                        &plan.page(after.as_deref(), 0, 7).params,
                    )
                    .unwrap();
                if page.is_empty() {
                    break;
                }
                let last = decode_key(&page.last().unwrap()[0]).unwrap();
                assert_eq!(last.len(), order.len());
                after = Some(last);
                paged.extend(page.iter().map(|r| r[0].as_str().unwrap().to_owned()));
            }
            let mut expected = paged.clone();
            expected.dedup();
            assert_eq!(paged.len(), rows.len(), "{order:?}");
            assert_eq!(expected.len(), rows.len());
            let _ = all;
        }
    }

    #[test]
    fn filters_bind_values_and_authorization_narrows() {
        let store = store_with(&[
            ("prod-a", "x", "p1"),
            ("prod-b", "y", "p2"),
            ("dev", "x", "p3"),
        ]);
        let mut filter = Predicate::default();
        filter.any_of(Column::Namespace, ["x", "y'; DROP TABLE objects; --"]);
        let principal = Principal {
            clusters: Some(vec![NamePattern::parse("prod-*").unwrap()]),
            ..Principal::unrestricted()
        };
        filter.authorized_for(&principal);
        assert!(!filter.where_sql().contains("DROP"));
        let plan = object_list(filter);
        assert_eq!(names(&store, &plan.page(None, 0, 10)), vec!["prod-a/x/p1"]);
        let count = store
            .query(&plan.count_after(None).sql, &plan.count_after(None).params)
            .unwrap();
        assert_eq!(count[0][0], SqlValue::Integer(1));
    }

    /// A list of objects in the default order.
    fn object_list(filter: Predicate) -> ListPlan {
        ListPlan {
            source: Source::Objects,
            filter,
            order: Order::default_order(Source::Objects),
            projection: Projection::Object,
        }
    }

    fn pods() -> ResourceType {
        ResourceType {
            group: String::new(),
            version: "v1".into(),
            resource: "pods".into(),
            kind: "Pod".into(),
            namespaced: true,
        }
    }

    /// SQLite's plan for the statement, a line per step.
    fn plan_steps(store: &RusqliteStore, plan: &SqlPlan) -> Vec<String> {
        store
            .query(&format!("EXPLAIN QUERY PLAN {}", plan.sql), &plan.params)
            .unwrap()
            .into_iter()
            .map(|step| step[3].as_str().unwrap().to_owned())
            .collect()
    }

    /// What SQLite's planner chose first for the statement.
    fn driving_step(store: &RusqliteStore, plan: &SqlPlan) -> String {
        plan_steps(store, plan).swap_remove(0)
    }

    #[test]
    fn owner_lists_are_driven_from_the_owner_index() {
        let store = store_with(&[("c1", "ns", "p1")]);
        for target in [
            OwnerTarget::Uid("rs-uid".into()),
            OwnerTarget::Name {
                name: "web".into(),
                group_resource: None,
            },
        ] {
            let mut filter = Predicate::default();
            filter.resource_type(&pods());
            filter.column_is(Column::Cluster, "c1");
            filter.column_is(Column::Namespace, "ns");
            let owner = OwnerQuery {
                target,
                seniority: 1,
            };
            filter.owned_by("c1", &owner, Some("ns"), &Principal::unrestricted());
            let plan = object_list(filter);
            for statement in [plan.page(None, 0, 10), plan.count_after(None)] {
                let step = driving_step(&store, &statement);
                assert!(step.contains("objects_by_owner"), "{step}");
            }
        }
        let mut unowned = Predicate::default();
        unowned.column_is(Column::Cluster, "c1");
        let plan = object_list(unowned);
        assert!(!plan.page(None, 0, 10).sql.contains("INDEXED BY"));
    }

    #[test]
    fn name_lists_are_driven_from_the_name_index() {
        let store = store_with(&[("c1", "ns", "p1"), ("c2", "ns", "p1"), ("c2", "ns", "p2")]);
        let mut named = Predicate::default();
        named.resource_type(&pods());
        named.names(Column::Name, ["p1"]);
        let named = object_list(named);
        for statement in [named.page(None, 0, 10), named.count_after(None)] {
            let step = driving_step(&store, &statement);
            assert!(
                step.contains("objects_by_name (cluster=? AND name=?)"),
                "{step}"
            );
            assert!(statement.sql.contains(EVERY_CLUSTER), "{}", statement.sql);
        }
        assert_eq!(
            names(&store, &named.page(None, 0, 10)),
            ["c1/ns/p1", "c2/ns/p1"]
        );
        // A named cluster is the seek's own: no list of every cluster.
        let mut in_c2 = Predicate::default();
        in_c2.resource_type(&pods());
        in_c2.any_of(Column::Cluster, ["c2"]);
        in_c2.names(Column::Name, ["p1", "p2"]);
        let in_c2 = object_list(in_c2).page(None, 0, 10);
        assert!(!in_c2.sql.contains(EVERY_CLUSTER), "{}", in_c2.sql);
        assert!(driving_step(&store, &in_c2).contains("objects_by_name (cluster=? AND name=?)"));
        assert_eq!(names(&store, &in_c2), ["c2/ns/p1", "c2/ns/p2"]);
        // No names, or names of containers: nothing is forced.
        for column in [Column::Name, Column::ContainerName] {
            let mut filter = Predicate::default();
            filter.resource_type(&pods());
            filter.names(
                column,
                if column == Column::Name {
                    vec![]
                } else {
                    vec!["app"]
                },
            );
            assert!(!object_list(filter)
                .page(None, 0, 10)
                .sql
                .contains("INDEXED BY"));
        }
    }

    #[test]
    fn creation_windows_are_read_per_cluster_from_the_created_index() {
        let store = store_with(&[
            ("c1", "ns", "old"),
            ("c2", "ns", "new"),
            ("c1", "ns", "new"),
        ]);
        store
            .execute(
                "UPDATE objects SET created_at = CASE name WHEN 'old' THEN '2024-01-01T00:00:00Z' \
                 ELSE '2025-06-01T00:00:00Z' END",
                &[],
            )
            .unwrap();
        let mut since = Predicate::default();
        since.resource_type(&pods());
        since.created_between(Some("2025-01-01T00:00:00Z"), None);
        let since = object_list(since);
        for statement in [since.page(None, 0, 10), since.count_after(None)] {
            let step = driving_step(&store, &statement);
            assert!(
                step.contains("objects_by_created (api_group=? AND resource=? AND cluster=? AND created_at>?)"),
                "{step}"
            );
        }
        assert_eq!(
            names(&store, &since.page(None, 0, 10)),
            ["c1/ns/new", "c2/ns/new"]
        );
        let mut before = Predicate::default();
        before.resource_type(&pods());
        before.column_is(Column::Cluster, "c1");
        before.created_between(None, Some("2025-01-01T00:00:00Z"));
        let before = object_list(before).page(None, 0, 10);
        assert!(!before.sql.contains(EVERY_CLUSTER), "{}", before.sql);
        assert_eq!(names(&store, &before), ["c1/ns/old"]);
    }

    #[test]
    fn collections_are_driven_from_the_key_unless_names_or_owners_drive() {
        let store = store_with(&[("c1", "ns", "p1")]);
        let types: Vec<ResourceType> = ["deployments", "statefulsets"]
            .map(|resource| ResourceType {
                group: "apps".into(),
                version: "v1".into(),
                resource: resource.into(),
                kind: "X".into(),
                namespaced: true,
            })
            .into();
        let mut collection = Predicate::default();
        collection.resource_types(&types);
        let collection = object_list(collection);
        for statement in [collection.page(None, 0, 10), collection.count_after(None)] {
            let seeks: Vec<String> = plan_steps(&store, &statement)
                .into_iter()
                .filter(|l| l.contains(" INDEX "))
                .collect();
            assert!(
                !seeks.is_empty() && seeks.iter().all(|l| l.contains("objects_key")),
                "{seeks:?}"
            );
        }
        let mut named = Predicate::default();
        named.resource_types(&types);
        named.names(Column::Name, ["p1"]);
        let step = driving_step(&store, &object_list(named).page(None, 0, 10));
        assert!(step.contains("objects_by_name"), "{step}");
        let mut one = Predicate::default();
        one.resource_types(&types[..1]);
        assert!(!object_list(one)
            .page(None, 0, 10)
            .sql
            .contains("INDEXED BY"));
    }
}
