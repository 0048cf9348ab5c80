//! Kubernetes discovery under the resources prefix, so kubectl and client libraries can use
//! `…/resources` or `…/resources/clusters/{c}` as their server URL. Only types actually
//! stored with objects the caller may read are listed, with verbs get and list.

use crate::auth::{Principal, Scope};
use crate::error::{ApiError, ApiResult};
use crate::store::Store;
use crate::visible_types;
use edgepedia_api::catalog;
use edgepedia_api::{ClusterName, ResourceType};
use serde_json::{json, Value};

/// What is being discovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryPath {
    /// `/api`: the core group's versions.
    CoreVersions,
    /// `/apis`: the named groups.
    Groups,
    /// `/api/v1` (group "") or `/apis/{group}/{version}`.
    Resources { group: String, version: String },
}

/// Kubernetes version we claim: the API surface we mirror (kubectl warns on large skew).
const KUBE_MINOR: &str = "32";

pub fn handle(
    store: &dyn Store,
    principal: &Principal,
    cluster: Option<&ClusterName>,
    path: &DiscoveryPath,
) -> ApiResult<Vec<u8>> {
    principal.require(Scope::Read)?;
    let body = match path {
        DiscoveryPath::CoreVersions => json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
        }),
        DiscoveryPath::Groups => groups(&stored_types(store, principal, cluster)?),
        DiscoveryPath::Resources { group, version } => {
            let types: Vec<ResourceType> = stored_types(store, principal, cluster)?
                .into_iter()
                .filter(|t| t.group == *group && t.version == *version)
                .collect();
            if types.is_empty() && !(group.is_empty() && version == "v1") {
                return Err(ApiError::no_such_path());
            }
            resource_list(&types)
        }
    };
    serde_json::to_vec(&body).map_err(|_| ApiError::internal())
}

/// `/version`: public, as on a Kubernetes API server (kubectl asks before authenticating).
pub fn version() -> Vec<u8> {
    json!({
        "major": "1",
        "minor": KUBE_MINOR,
        "gitVersion": format!("v1.{KUBE_MINOR}.0+edgepedia.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "wasm32-wasip2",
        "platform": "spin/wasm32",
    })
    .to_string()
    .into_bytes()
}

/// Distinct types with objects the caller may read (in the route's cluster, if any).
fn stored_types(
    store: &dyn Store,
    principal: &Principal,
    cluster: Option<&ClusterName>,
) -> ApiResult<Vec<ResourceType>> {
    Ok(visible_types::distinct(visible_types::visible_types(
        store, principal, cluster,
    )?))
}

fn groups(types: &[ResourceType]) -> Value {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for t in types.iter().filter(|t| !t.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == t.group) {
            Some((_, versions)) if !versions.contains(&t.version.as_str()) => {
                versions.push(&t.version)
            }
            Some(_) => {}
            None => groups.push((&t.group, vec![&t.version])),
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(name, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
                .collect();
            json!({"name": name, "versions": versions, "preferredVersion": versions[0]})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(types: &[ResourceType]) -> Value {
    let mut resources: Vec<Value> = types.iter().map(api_resource).collect();
    let (group_version, has_pods) = match types.first() {
        Some(t) => (
            t.api_version(),
            types
                .iter()
                .any(|t| t.group.is_empty() && t.resource == "pods"),
        ),
        None => ("v1".to_owned(), false),
    };
    if has_pods {
        resources.push(json!({
            "name": "containers", "singularName": "container", "namespaced": true, "kind": "Container",
            "verbs": ["get", "list"],
        }));
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

fn api_resource(t: &ResourceType) -> Value {
    let info = catalog::lookup_resource(&t.group, &t.resource);
    let mut r = json!({
        "name": t.resource,
        "singularName": info.map_or_else(|| t.kind.to_ascii_lowercase(), |i| i.singular.to_owned()),
        "namespaced": t.namespaced,
        "kind": t.kind,
        "verbs": ["get", "list"],
    });
    if let Some(info) = info {
        if !info.short_names.is_empty() {
            r["shortNames"] = json!(info.short_names);
        }
        if !info.categories.is_empty() {
            r["categories"] = json!(info.categories);
        }
    }
    r
}
