//! Which stored resource types, per cluster, a principal may know about, and how many of
//! their objects it may read. Discovery, cluster status and collections answer from here, so
//! they never show more than a list would: no type, cluster or count past the token's claims.

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::plan::Predicate;
use crate::store::{SqlValue, Store};
use edgepedia_api::{ClusterName, ResourceType};

/// One resource type as stored for one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibleType {
    pub cluster: String,
    pub resource_type: ResourceType,
    /// Objects of this type in this cluster that the principal may read (> 0).
    pub count: i64,
    /// Unix seconds of the last snapshot or delta that touched this type.
    pub synced_at: i64,
}

/// The types with objects the principal may read, ordered by cluster, group, resource.
/// A principal without a namespaces claim reads every object of a visible type, so the
/// stored counts serve it; a namespace-limited one gets counts of its namespaces only.
pub fn visible_types(
    store: &dyn Store,
    principal: &Principal,
    cluster: Option<&ClusterName>,
) -> ApiResult<Vec<VisibleType>> {
    let mut types = Predicate::default();
    types.authorized_types(principal);
    let mut params: Vec<SqlValue> = types.params().to_vec();
    let count = match &principal.namespaces {
        None => "object_count".to_owned(),
        Some(_) => {
            // Correlated per (cluster, type): unqualified columns name the inner `objects`.
            let mut objects = Predicate::default();
            objects.authorized_for(principal);
            let sql = format!(
                "(SELECT count(*) FROM objects WHERE objects.cluster = t.cluster \
                 AND objects.api_group = t.api_group AND objects.resource = t.resource AND {} AND {})",
                objects.where_sql(),
                crate::live_rows::live()
            );
            params.splice(0..0, objects.params().iter().cloned());
            sql
        }
    };
    params.extend([
        cluster.map(ClusterName::as_str).into(),
        cluster.map(ClusterName::as_str).into(),
    ]);
    let sql = format!(
        "SELECT * FROM (SELECT cluster, api_group, version, resource, kind, namespaced, {count} AS n, synced_at \
         FROM resource_types AS t WHERE {} AND (? IS NULL OR cluster = ?)) WHERE n > 0 \
         ORDER BY cluster, api_group, resource",
        types.where_sql()
    );
    Ok(store
        .query(&sql, &params)?
        .into_iter()
        .map(|row| {
            let text = |i: usize| {
                row.get(i)
                    .and_then(SqlValue::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let int = |i: usize| row.get(i).and_then(SqlValue::as_i64).unwrap_or(0);
            VisibleType {
                cluster: text(0),
                resource_type: ResourceType {
                    group: text(1),
                    version: text(2),
                    resource: text(3),
                    kind: text(4),
                    namespaced: int(5) != 0,
                },
                count: int(6),
                synced_at: int(7),
            }
        })
        .collect())
}

/// The distinct types of [`visible_types`] in any cluster, by group, version, resource.
pub fn distinct(types: Vec<VisibleType>) -> Vec<ResourceType> {
    let mut out: Vec<ResourceType> = types.into_iter().map(|t| t.resource_type).collect();
    out.sort();
    out.dedup();
    out
}
