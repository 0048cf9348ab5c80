//! The multi-cluster fixture (tests/fixtures/<cluster>.json, `kubectl get -o json` Lists),
//! read independently of the server so tests compare the API against the files themselves.

use serde_json::Value;
use std::path::PathBuf;

pub const CLUSTERS: [&str; 3] = ["prod-eu-1", "prod-us-1", "staging"];

pub fn path(cluster: &str) -> PathBuf {
    super::repo()
        .join("tests/fixtures")
        .join(format!("{cluster}.json"))
}

/// Every object of a cluster's fixture file.
pub fn objects(cluster: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path(cluster)).unwrap();
    let list: Value = serde_json::from_str(&text).unwrap();
    list["items"].as_array().cloned().unwrap_or_default()
}

/// (cluster, object) for every cluster.
pub fn all() -> Vec<(&'static str, Value)> {
    CLUSTERS
        .iter()
        .flat_map(|c| objects(c).into_iter().map(move |o| (*c, o)))
        .collect()
}

pub fn key(cluster: &str, o: &Value) -> String {
    format!(
        "{cluster}/{}/{}",
        o["metadata"]["namespace"].as_str().unwrap_or(""),
        o["metadata"]["name"].as_str().unwrap_or("")
    )
}

/// Keys of the objects matching `keep`, in the API's default order (cluster, namespace, name;
/// byte order, as SQLite's BINARY collation).
pub fn expected(keep: impl Fn(&str, &Value) -> bool) -> Vec<String> {
    let mut keys: Vec<String> = all()
        .iter()
        .filter(|(c, o)| keep(c, o))
        .map(|(c, o)| key(c, o))
        .collect();
    keys.sort();
    keys
}

pub fn kind_is(kind: &'static str) -> impl Fn(&str, &Value) -> bool {
    move |_, o| o["kind"] == kind
}

/// The seed's resources: (URL path after the cluster part, kind, namespaced).
pub const SEED_RESOURCES: [(&str, &str, bool); 12] = [
    ("api/v1", "Pod", true),
    ("api/v1", "Service", true),
    ("api/v1", "ConfigMap", true),
    ("api/v1", "Secret", true),
    ("api/v1", "Namespace", false),
    ("api/v1", "Node", false),
    ("apis/apps/v1", "Deployment", true),
    ("apis/apps/v1", "ReplicaSet", true),
    ("apis/apps/v1", "StatefulSet", true),
    ("apis/apps/v1", "DaemonSet", true),
    ("apis/batch/v1", "CronJob", true),
    ("apis/batch/v1", "Job", true),
];

/// `pods` for `Pod`, via the shared catalog.
pub fn plural(kind: &str) -> String {
    let group = match kind {
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => "apps",
        "CronJob" | "Job" => "batch",
        _ => "",
    };
    edgepedia_api::catalog::lookup_kind(group, kind)
        .unwrap()
        .resource
        .to_owned()
}
