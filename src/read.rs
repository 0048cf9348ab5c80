//! Reads: lists of one resource type (filters, paging, streaming), gets by name, and the
//! virtual `containers` resource derived from stored pods.

use crate::auth::{Principal, Scope};
use crate::error::{ApiError, ApiResult};
use crate::list::{self, ListRequest, ListShape, TableSpec};
use crate::params::ListOptions;
use crate::plan::{self, Column, ListPlan, Order, Predicate, Projection, Source};
use crate::render::list::ListMeta;
use crate::render::table::{IncludeObject, TableWriter};
use crate::resource_types;
use crate::response::Response;
use crate::route::ResourceRoute;
use crate::store::{SqlValue, Store};
use edgepedia_api::catalog;
use edgepedia_api::{ClusterName, ResourceType};

/// Whether the client asked for a `meta.k8s.io/v1` Table (kubectl does, for `get`).
pub fn wants_table(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|option| {
            let params: Vec<&str> = option.split(';').map(str::trim).collect();
            params.contains(&"as=Table")
                && params.contains(&"g=meta.k8s.io")
                && params.iter().any(|p| p.starts_with("v=v1"))
        })
    })
}

pub fn handle<'s>(
    store: &'s dyn Store,
    principal: &Principal,
    route: &ResourceRoute,
    query: &str,
    accept: Option<&str>,
    now: i64,
) -> ApiResult<Response<'s>> {
    principal.require(Scope::Read)?;
    let opts = ListOptions::parse(query)?;
    let table = |group: &str, kind: &str| -> ApiResult<Option<TableSpec>> {
        if !wants_table(accept) {
            return Ok(None);
        }
        let include = opts
            .include_object
            .as_deref()
            .map(IncludeObject::parse)
            .transpose()?
            .unwrap_or_default();
        Ok(Some(TableSpec {
            group: group.to_owned(),
            kind: kind.to_owned(),
            include,
        }))
    };
    if route.gvr.group.is_empty() && route.gvr.version == "v1" && route.gvr.resource == "containers"
    {
        let mut shape = ListShape::new("ContainerList", "v1");
        shape.table = table("", "Container")?;
        return containers(store, principal, route, &opts, shape, now);
    }
    let rtype = resource_types::resolve(store, &route.gvr)?;
    if rtype.is_secret() {
        principal.require(Scope::Secrets)?;
    }
    if !rtype.namespaced && route.namespace.is_some() {
        return Err(ApiError::not_found(format!(
            "{} is cluster-scoped: drop namespaces/{{namespace}} from the path",
            rtype.resource
        )));
    }
    let mut filter = Predicate::default();
    filter.resource_type(&rtype);
    filter.authorized_for(principal);
    let table = table(&rtype.group, &rtype.kind)?;
    if let Some(name) = &route.name {
        return get(store, &rtype, route, filter, name, table, now);
    }
    apply_list_options(
        &mut filter,
        principal,
        route.cluster.as_ref(),
        route.namespace.as_deref(),
        &opts,
        Column::Name,
    )?;
    // Table rows need whole objects, so a Table ignores onlyMetadata.
    let only_metadata = opts.only_metadata && table.is_none();
    let mut shape = if only_metadata {
        ListShape::new("PartialObjectMetadataList", "meta.k8s.io/v1")
    } else {
        ListShape::new(format!("{}List", rtype.kind), rtype.api_version())
    };
    shape.table = table;
    let plan = ListPlan {
        source: Source::Objects,
        filter,
        order: Order::with_keys(opts.order_by.clone(), Source::Objects),
        projection: if only_metadata {
            Projection::Metadata
        } else {
            Projection::Object
        },
    };
    list_response(store, plan, shape, &opts, now)
}

/// Runs a list plan with the request's paging options.
pub fn list_response<'s>(
    store: &'s dyn Store,
    plan: ListPlan,
    shape: ListShape,
    opts: &ListOptions,
    now: i64,
) -> ApiResult<Response<'s>> {
    let request = ListRequest {
        plan,
        shape,
        limit: opts.limit,
        continue_from: opts.continue_from.clone(),
        with_continue: opts.with_continue,
        with_remaining_count: opts.with_remaining_count,
        now,
    };
    Ok(Response::ok(200, list::run(store, request)?))
}

/// Every list filter of DESIGN §3 that is not about the resource type: the route's cluster
/// and namespace, then the query's options. `names` and fuzzy names apply to `name_column`
/// (the container name for `containers`). Shared by resource lists, containers and collections.
pub fn apply_list_options(
    filter: &mut Predicate,
    principal: &Principal,
    route_cluster: Option<&ClusterName>,
    route_namespace: Option<&str>,
    opts: &ListOptions,
    name_column: Column,
) -> ApiResult<()> {
    if let Some(cluster) = route_cluster {
        filter.column_is(Column::Cluster, cluster.as_str());
    }
    filter.any_of(Column::Cluster, opts.clusters.iter().map(|c| c.as_str()));
    if let Some(ns) = route_namespace {
        filter.column_is(Column::Namespace, ns);
    }
    filter.any_of(
        Column::Namespace,
        opts.namespaces.iter().map(String::as_str),
    );
    filter.names(name_column, opts.names.iter().map(String::as_str));
    filter.name_contains(name_column, &opts.fuzzy_names);
    filter.created_between(opts.since.as_deref(), opts.before.as_deref());
    for r in &opts.labels.requirements {
        filter.label(r);
    }
    for r in &opts.fields.requirements {
        filter.field(r);
    }
    if let Some(where_sql) = &opts.where_sql {
        let mut params = Vec::new();
        let sql = where_sql.to_sql(&mut params);
        filter.push_clause(sql, params);
    }
    if let Some(owner) = &opts.owner {
        let cluster = match (route_cluster, opts.clusters.as_slice()) {
            (Some(c), _) => c,
            (None, [c]) => c,
            _ => {
                return Err(ApiError::bad_request(
                    "owner queries (ownerUID, ownerName) need exactly one cluster: use /resources/clusters/{cluster}/… or clusters=<one>",
                ))
            }
        };
        filter.owned_by(cluster.as_str(), owner, route_namespace, principal);
    }
    Ok(())
}

fn get<'s>(
    store: &'s dyn Store,
    rtype: &ResourceType,
    route: &ResourceRoute,
    mut filter: Predicate,
    name: &str,
    table: Option<TableSpec>,
    now: i64,
) -> ApiResult<Response<'s>> {
    let cluster = route.cluster.as_ref().ok_or_else(|| {
        ApiError::bad_request(format!(
            "a get by name needs a cluster: use /apis/clusterpedia.io/v1beta1/resources/clusters/{{cluster}}/… \
             or list with names={name}"
        ))
    })?;
    if rtype.namespaced && route.namespace.is_none() {
        return Err(ApiError::not_found(format!(
            "{} is namespaced: get it under namespaces/{{namespace}}/{}/{name}",
            rtype.resource, rtype.resource
        )));
    }
    filter.column_is(Column::Cluster, cluster.as_str());
    filter.column_is(Column::Namespace, route.namespace.as_deref().unwrap_or(""));
    filter.column_is(Column::Name, name);
    let sql = plan::get_object(&filter);
    let object = store
        .query(&sql.sql, &sql.params)?
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next())
        .and_then(SqlValue::into_string)
        .ok_or_else(|| ApiError::object_not_found(&rtype.group, &rtype.resource, name))?;
    let body = match table {
        None => object.into_bytes(),
        Some(t) => {
            let meta = ListMeta::default();
            let (mut writer, mut out) =
                TableWriter::head(&t.group, &t.kind, t.include, now, Some(&meta));
            writer.row(&mut out, &object);
            writer.tail(&mut out, &meta);
            out
        }
    };
    Ok(Response::json(200, body))
}

/// `containers` and `containers/{name}`: one item per (init) container of the matching pods;
/// selectors and owner filters apply to the pods, `names` to the containers. Container names
/// are not unique, so `containers/{name}` is a list too.
fn containers<'s>(
    store: &'s dyn Store,
    principal: &Principal,
    route: &ResourceRoute,
    opts: &ListOptions,
    shape: ListShape,
    now: i64,
) -> ApiResult<Response<'s>> {
    let pods = catalog::lookup_resource("", "pods")
        .map(|p| p.resource_type("v1"))
        .ok_or_else(ApiError::internal)?;
    let mut filter = Predicate::default();
    filter.resource_type(&pods);
    filter.authorized_for(principal);
    apply_list_options(
        &mut filter,
        principal,
        route.cluster.as_ref(),
        route.namespace.as_deref(),
        opts,
        Column::ContainerName,
    )?;
    if let Some(name) = &route.name {
        filter.column_is(Column::ContainerName, name.as_str());
    }
    let plan = ListPlan {
        source: Source::Containers,
        filter,
        order: Order::with_keys(opts.order_by.clone(), Source::Containers),
        projection: Projection::Container,
    };
    list_response(store, plan, shape, opts, now)
}
