//! The resource types Edgepedia knows by name: what kubectl's discovery and RESTMapper need
//! (plural, kind, scope, short names, categories). Types outside the catalog are still stored
//! and served generically; [`guess_resource`] names them the way Kubernetes' own
//! `UnsafeGuessKindToResource` does.

use serde::{Deserialize, Serialize};

/// One group/version/resource with its kind and scope: the unit of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceType {
    /// API group; empty for the core group.
    #[serde(default)]
    pub group: String,
    pub version: String,
    /// Lowercase plural, as in URLs (`deployments`).
    pub resource: String,
    pub kind: String,
    pub namespaced: bool,
}

impl ResourceType {
    /// `apps/v1`, or `v1` for the core group: the objects' own `apiVersion`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether objects of this type are Kubernetes Secrets. Decided by group and kind, never by
    /// the resource name, which the pusher chose.
    pub fn is_secret(&self) -> bool {
        self.group.is_empty() && self.kind == "Secret"
    }

    /// The type of an object with this `apiVersion` and `kind`: the catalog's entry when there
    /// is one, else a guessed plural (assumed namespaced unless the object has no namespace).
    pub fn for_object(api_version: &str, kind: &str, has_namespace: bool) -> Self {
        let (group, version) = split_api_version(api_version);
        match lookup_kind(group, kind) {
            Some(info) => info.resource_type(version),
            None => ResourceType {
                group: group.to_owned(),
                version: version.to_owned(),
                resource: guess_resource(kind),
                kind: kind.to_owned(),
                namespaced: has_namespace,
            },
        }
    }
}

/// Static facts about a well-known resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceInfo {
    pub group: &'static str,
    pub version: &'static str,
    pub resource: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
}

impl ResourceInfo {
    pub fn resource_type(&self, version: &str) -> ResourceType {
        ResourceType {
            group: self.group.to_owned(),
            version: version.to_owned(),
            resource: self.resource.to_owned(),
            kind: self.kind.to_owned(),
            namespaced: self.namespaced,
        }
    }
}

const ALL: &[&str] = &["all"];

macro_rules! info {
    ($group:literal, $version:literal, $resource:literal, $singular:literal, $kind:literal, $namespaced:literal, [$($short:literal),*], $categories:expr) => {
        ResourceInfo {
            group: $group,
            version: $version,
            resource: $resource,
            singular: $singular,
            kind: $kind,
            namespaced: $namespaced,
            short_names: &[$($short),*],
            categories: $categories,
        }
    };
}

/// Every resource type with first-class support (the seed's list plus common neighbours).
pub const BUILTIN: &[ResourceInfo] = &[
    info!("", "v1", "pods", "pod", "Pod", true, ["po"], ALL),
    info!(
        "",
        "v1",
        "services",
        "service",
        "Service",
        true,
        ["svc"],
        ALL
    ),
    info!(
        "",
        "v1",
        "configmaps",
        "configmap",
        "ConfigMap",
        true,
        ["cm"],
        &[]
    ),
    info!("", "v1", "secrets", "secret", "Secret", true, [], &[]),
    info!(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        false,
        ["ns"],
        &[]
    ),
    info!("", "v1", "nodes", "node", "Node", false, ["no"], &[]),
    info!(
        "",
        "v1",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        true,
        ["sa"],
        &[]
    ),
    info!(
        "",
        "v1",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        true,
        ["pvc"],
        &[]
    ),
    info!(
        "",
        "v1",
        "persistentvolumes",
        "persistentvolume",
        "PersistentVolume",
        false,
        ["pv"],
        &[]
    ),
    info!(
        "apps",
        "v1",
        "deployments",
        "deployment",
        "Deployment",
        true,
        ["deploy"],
        ALL
    ),
    info!(
        "apps",
        "v1",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        true,
        ["rs"],
        ALL
    ),
    info!(
        "apps",
        "v1",
        "statefulsets",
        "statefulset",
        "StatefulSet",
        true,
        ["sts"],
        ALL
    ),
    info!(
        "apps",
        "v1",
        "daemonsets",
        "daemonset",
        "DaemonSet",
        true,
        ["ds"],
        ALL
    ),
    info!(
        "batch",
        "v1",
        "cronjobs",
        "cronjob",
        "CronJob",
        true,
        ["cj"],
        ALL
    ),
    info!("batch", "v1", "jobs", "job", "Job", true, [], ALL),
    info!(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "ingress",
        "Ingress",
        true,
        ["ing"],
        &[]
    ),
];

/// The catalog entry for a group and plural resource name.
pub fn lookup_resource(group: &str, resource: &str) -> Option<&'static ResourceInfo> {
    BUILTIN
        .iter()
        .find(|r| r.group == group && r.resource == resource)
}

/// The catalog entry for a group and kind.
pub fn lookup_kind(group: &str, kind: &str) -> Option<&'static ResourceInfo> {
    BUILTIN.iter().find(|r| r.group == group && r.kind == kind)
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// Kubernetes' plural guess for a kind without a catalog entry (`NetworkPolicy` → `networkpolicies`).
pub fn guess_resource(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.is_empty() {
        return lower;
    }
    if lower.ends_with('s')
        || lower.ends_with("ch")
        || lower.ends_with("sh")
        || lower.ends_with('x')
    {
        return format!("{lower}es");
    }
    if let Some(stem) = lower.strip_suffix('y') {
        if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) {
            return format!("{stem}ies");
        }
    }
    format!("{lower}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_plurals_like_kubernetes() {
        assert_eq!(guess_resource("NetworkPolicy"), "networkpolicies");
        assert_eq!(guess_resource("Ingress"), "ingresses");
        assert_eq!(guess_resource("Gateway"), "gateways");
        assert_eq!(guess_resource("Widget"), "widgets");
    }

    #[test]
    fn object_types_use_the_catalog_first() {
        let t = ResourceType::for_object("apps/v1", "Deployment", true);
        assert_eq!(
            (t.group.as_str(), t.resource.as_str()),
            ("apps", "deployments")
        );
        let n = ResourceType::for_object("v1", "Node", false);
        assert!(!n.namespaced);
        assert_eq!(n.api_version(), "v1");
        let g = ResourceType::for_object("example.com/v1alpha1", "Widget", true);
        assert_eq!(g.resource, "widgets");
        assert_eq!(g.api_version(), "example.com/v1alpha1");
    }

    #[test]
    fn catalog_has_unique_entries() {
        for (i, a) in BUILTIN.iter().enumerate() {
            for b in &BUILTIN[i + 1..] {
                assert!(
                    !(a.group == b.group && a.resource == b.resource),
                    "{}",
                    a.resource
                );
            }
        }
    }
}
