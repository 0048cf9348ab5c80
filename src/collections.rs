//! Clusterpedia's collection resources: one list over several resource types
//! (`workloads`, `kuberesources`, `any` chosen by `groups`/`resources`).

use crate::auth::{Principal, Scope};
use crate::error::{ApiError, ApiResult};
use crate::list::ListShape;
use crate::params::ListOptions;
use crate::plan::{Column, ListPlan, Order, Predicate, Projection, Source};
use crate::read::{apply_list_options, list_response};
use crate::response::Response;
use crate::store::Store;
use crate::visible_types;
use edgepedia_api::catalog::{self, BUILTIN};
use edgepedia_api::ResourceType;
use serde_json::json;

const API_VERSION: &str = "clusterpedia.io/v1beta1";
const NAMES: [&str; 3] = ["any", "kuberesources", "workloads"];

/// `collectionresources`: the collections and what each holds.
pub fn list(store: &dyn Store, principal: &Principal) -> ApiResult<Vec<u8>> {
    principal.require(Scope::Read)?;
    let items = NAMES
        .iter()
        .map(|name| {
            let types = match *name {
                "any" => Vec::new(),
                _ => types_of(store, principal, name, &ListOptions::default())?,
            };
            Ok(json!({
                "apiVersion": API_VERSION,
                "kind": "CollectionResource",
                "metadata": { "name": name },
                "resourceTypes": resource_types_json(&types),
            }))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    serde_json::to_vec(&json!({
        "apiVersion": API_VERSION,
        "kind": "CollectionResourceList",
        "metadata": {},
        "items": items,
    }))
    .map_err(|_| ApiError::internal())
}

/// `collectionresources/{name}`: the objects of all its types, paged like any list.
pub fn get<'s>(
    store: &'s dyn Store,
    principal: &Principal,
    name: &str,
    query: &str,
    now: i64,
) -> ApiResult<Response<'s>> {
    principal.require(Scope::Read)?;
    let opts = ListOptions::parse(query)?;
    let types = types_of(store, principal, name, &opts)?;
    let mut filter = Predicate::default();
    filter.resource_types(&types);
    filter.authorized_for(principal);
    apply_list_options(&mut filter, principal, None, None, &opts, Column::Name)?;
    let plan = ListPlan {
        source: Source::Objects,
        filter,
        order: Order::with_keys(opts.order_by.clone(), Source::Objects),
        projection: if opts.only_metadata {
            Projection::Metadata
        } else {
            Projection::Object
        },
    };
    let mut shape = ListShape::new("CollectionResource", API_VERSION);
    shape.name = Some(name.to_owned());
    shape.preamble = format!("\"resourceTypes\":{},", resource_types_json(&types));
    list_response(store, plan, shape, &opts, now)
}

fn resource_types_json(types: &[ResourceType]) -> serde_json::Value {
    types
        .iter()
        .map(|t| json!({"group": t.group, "version": t.version, "resource": t.resource, "kind": t.kind}))
        .collect()
}

/// A collection's types, as far as the principal may read them (no Secrets without
/// `inventory:secrets`, no pushed type it has no object of).
fn types_of(
    store: &dyn Store,
    principal: &Principal,
    name: &str,
    opts: &ListOptions,
) -> ApiResult<Vec<ResourceType>> {
    match name {
        "workloads" => Ok(["deployments", "daemonsets", "statefulsets"]
            .iter()
            .filter_map(|r| catalog::lookup_resource("apps", r))
            .map(|info| info.resource_type(info.version))
            .collect()),
        "kuberesources" => Ok(builtin_types(principal)),
        "any" => any_types(store, principal, opts),
        _ => Err(ApiError::object_not_found(
            "clusterpedia.io",
            "collectionresources",
            name,
        )),
    }
}

/// The catalog's types the principal may read.
fn builtin_types(principal: &Principal) -> Vec<ResourceType> {
    let secrets = principal.require(Scope::Secrets).is_ok();
    BUILTIN
        .iter()
        .map(|info| info.resource_type(info.version))
        .filter(|t| secrets || !t.is_secret())
        .collect()
}

/// Built-in and pushed types chosen by `groups` (`apps`, `apps/v1`) and `resources`
/// (`pods`, `apps/deployments`).
fn any_types(
    store: &dyn Store,
    principal: &Principal,
    opts: &ListOptions,
) -> ApiResult<Vec<ResourceType>> {
    if opts.groups.is_empty() && opts.resources.is_empty() {
        return Err(ApiError::bad_request("collectionresources/any needs groups or resources, e.g. groups=apps&resources=batch/jobs"));
    }
    let mut candidates: Vec<ResourceType> = builtin_types(principal);
    for t in visible_types::distinct(visible_types::visible_types(store, principal, None)?) {
        if !candidates
            .iter()
            .any(|c| c.group == t.group && c.resource == t.resource)
        {
            candidates.push(t);
        }
    }
    let wanted = |t: &ResourceType| {
        opts.groups
            .iter()
            .any(|g| *g == t.group || *g == t.api_version())
            || opts.resources.iter().any(|r| match r.rsplit_once('/') {
                Some((group, resource)) => group == t.group && resource == t.resource,
                None => t.group.is_empty() && *r == t.resource,
            })
    };
    Ok(candidates.into_iter().filter(wanted).collect())
}
