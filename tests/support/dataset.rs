//! A deterministic, realistic multi-cluster dataset for load tests (the shape of
//! benches/latency.rs's `dataset`): per group a Deployment → ReplicaSet → 6 Pods owner chain
//! (every tenth group a StatefulSet owning its pods), a Service and a ConfigMap; a DaemonSet per
//! namespace. Pods are ≈3.5 KB (20 env vars), as in the benchmarks.
//!
//! Each cluster has a version 0 and a version 1 (a rollout: every third Deployment gets a new
//! ReplicaSet, image and pods, one replica fewer; pods of other groups change status; some
//! ConfigMaps are replaced), so a test can push A and B alternately and know both exactly.
//! The truth ([`Obj`]) is read back from the generated JSON, so it is what the files hold.

use serde_json::{json, Value};
use std::path::Path;

pub const PODS_PER_GROUP: usize = 6;
pub const NAMESPACES: usize = 10;
pub const NODES: usize = 16;

/// What a test needs to know of one generated object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Obj {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
    pub owner_uid: Option<String>,
    /// `app` label.
    pub app: Option<String>,
    /// `tier` label.
    pub tier: Option<String>,
    /// `pod-template-hash` label.
    pub hash: Option<String>,
    /// `spec.nodeName` (pods).
    pub node: Option<String>,
    /// `status.phase` (pods).
    pub phase: Option<String>,
}

/// (kind, resource, URL prefix after the cluster part, `changes` resource form).
pub const TYPES: [(&str, &str, &str, &str); 7] = [
    ("Pod", "pods", "api/v1", "v1/pods"),
    ("Service", "services", "api/v1", "v1/services"),
    ("ConfigMap", "configmaps", "api/v1", "v1/configmaps"),
    (
        "Deployment",
        "deployments",
        "apis/apps/v1",
        "apps/v1/deployments",
    ),
    (
        "ReplicaSet",
        "replicasets",
        "apis/apps/v1",
        "apps/v1/replicasets",
    ),
    (
        "StatefulSet",
        "statefulsets",
        "apis/apps/v1",
        "apps/v1/statefulsets",
    ),
    (
        "DaemonSet",
        "daemonsets",
        "apis/apps/v1",
        "apps/v1/daemonsets",
    ),
];

/// The `&'static str` kind for a kind name, if the dataset has it.
pub fn kind_of(kind: &str) -> Option<&'static str> {
    TYPES.iter().find(|t| t.0 == kind).map(|t| t.0)
}

pub fn resource_of(kind: &str) -> &'static str {
    TYPES.iter().find(|t| t.0 == kind).unwrap().1
}

pub fn prefix_of(kind: &str) -> &'static str {
    TYPES.iter().find(|t| t.0 == kind).unwrap().2
}

pub fn is_workload(kind: &str) -> bool {
    matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet")
}

pub fn cluster_name(c: usize) -> String {
    format!("load-{c:02}")
}

/// The ReplicaSet hash of a Deployment group in a version.
pub fn rs_hash(group: usize, version: u8) -> &'static str {
    if version == 1 && rolled(group) {
        "5c4b7f9d8"
    } else {
        "7d9f8c6b5"
    }
}

/// Whether version 1 rolls this group's Deployment out (new ReplicaSet and pods).
pub fn rolled(group: usize) -> bool {
    group.is_multiple_of(3)
}

/// Whether a group is a StatefulSet (`db-<group>`) rather than a Deployment (`app-<group>`).
pub fn statefulset(group: usize) -> bool {
    group % 10 == 9
}

/// The `app` label (and the workload's name) of a group.
pub fn app_name(group: usize) -> String {
    if statefulset(group) {
        format!("db-{group}")
    } else {
        format!("app-{group}")
    }
}

fn pod(cluster: usize, version: u8, group: usize, k: usize, owner: (&str, &str, &str)) -> Value {
    let (owner_kind, owner_name, owner_uid) = owner;
    let ns = format!("ns-{}", group % NAMESPACES);
    let i = group * PODS_PER_GROUP + k;
    let sts = statefulset(group);
    let hash = rs_hash(group, version);
    let (name, uid) = if sts {
        (
            format!("db-{group}-{k}"),
            format!("pod-{cluster}-{group}-{k}"),
        )
    } else if hash == rs_hash(group, 0) {
        (
            format!("app-{group}-{hash}-{i:05}"),
            format!("pod-{cluster}-{group}-{k}"),
        )
    } else {
        (
            format!("app-{group}-{hash}-{i:05}"),
            format!("pod-{cluster}-{group}-{k}-v1"),
        )
    };
    // Version 1 changes the status of the pods it does not replace.
    let restarts = i % 3 + usize::from(version == 1);
    let rv = 1000 + i * 2 + usize::from(version == 1);
    let phase = if i.is_multiple_of(13) {
        "Pending"
    } else {
        "Running"
    };
    let app = app_name(group);
    let image = format!(
        "registry.example.com/team/{app}:1.{}.{}",
        i % 5,
        u8::from(version == 1 && rolled(group))
    );
    let env: Vec<Value> = (0..20)
        .map(|e| json!({"name": format!("ENV_VAR_{e}"), "value": format!("value-{e}-{}", "x".repeat(40))}))
        .collect();
    let mut labels =
        json!({"app": app, "tier": if group.is_multiple_of(2) {"web"} else {"worker"}});
    if !sts {
        labels["pod-template-hash"] = json!(hash);
    }
    json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":name,"namespace":ns,
        "uid":uid,"resourceVersion":rv.to_string(),
        "creationTimestamp":format!("2025-{:02}-{:02}T10:00:00Z", 1 + i % 12, 1 + i % 28),
        "labels":labels,
        "ownerReferences":[{"apiVersion":"apps/v1","kind":owner_kind,"name":owner_name,"uid":owner_uid,"controller":true}]},
        "spec":{"nodeName":format!("node-{}", i % NODES),"containers":[{"name":"app","image":image,
            "ports":[{"containerPort":8080,"protocol":"TCP"}],"env":env,"resources":{"requests":{"cpu":"100m","memory":"128Mi"}}}]},
        "status":{"phase":phase,"podIP":format!("10.{}.{}.{}", cluster % 250, i / 250 % 250, i % 250),
            "conditions":[{"type":"Ready","status":"True"}],
            "containerStatuses":[{"name":"app","ready":true,"restartCount":restarts,"image":"app","state":{"running":{"startedAt":"2025-01-01T00:00:00Z"}}}]}})
}

/// Number of groups for about `per_cluster` objects (10 objects a group; at least one).
pub fn groups_for(per_cluster: usize) -> usize {
    (per_cluster / 10).max(1)
}

/// Every object of `cluster` in `version` (0 or 1), about `per_cluster` of them.
pub fn objects(cluster: usize, per_cluster: usize, version: u8) -> Vec<Value> {
    let mut items = Vec::new();
    let groups = groups_for(per_cluster);
    for d in 0..groups {
        let ns = format!("ns-{}", d % NAMESPACES);
        let created = format!("2024-{:02}-01T00:00:00Z", 1 + d % 12);
        let tier = if d.is_multiple_of(2) { "web" } else { "worker" };
        if statefulset(d) {
            let name = format!("db-{d}");
            let uid = format!("sts-{cluster}-{d}");
            items.push(json!({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":name,"namespace":ns,"uid":uid,
                "resourceVersion":(100 + d).to_string(),"creationTimestamp":created,"labels":{"app":name,"tier":tier}},
                "spec":{"replicas":PODS_PER_GROUP,"serviceName":name},"status":{"replicas":PODS_PER_GROUP}}));
            for k in 0..PODS_PER_GROUP {
                items.push(pod(cluster, version, d, k, ("StatefulSet", &name, &uid)));
            }
        } else {
            let rolled_now = version == 1 && rolled(d);
            let replicas = PODS_PER_GROUP - usize::from(rolled_now);
            let uid = format!("deploy-{cluster}-{d}");
            let hash = rs_hash(d, version);
            let rs_name = format!("app-{d}-{hash}");
            let rs_uid = if rolled_now {
                format!("rs-{cluster}-{d}-v1")
            } else {
                format!("rs-{cluster}-{d}")
            };
            let deploy_rv = 100 + d * 2 + usize::from(rolled_now);
            items.push(json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":format!("app-{d}"),"namespace":ns,"uid":uid,
                "resourceVersion":deploy_rv.to_string(),"creationTimestamp":created,"labels":{"app":format!("app-{d}"),"tier":tier}},
                "spec":{"replicas":replicas},"status":{"replicas":replicas,"readyReplicas":replicas}}));
            items.push(json!({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":rs_name,"namespace":ns,"uid":rs_uid,
                "resourceVersion":(100 + d * 2).to_string(),"creationTimestamp":created,
                "labels":{"app":format!("app-{d}"),"tier":tier,"pod-template-hash":hash},
                "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":format!("app-{d}"),"uid":uid,"controller":true}]},
                "spec":{"replicas":replicas}}));
            for k in 0..replicas {
                items.push(pod(
                    cluster,
                    version,
                    d,
                    k,
                    ("ReplicaSet", &rs_name, &rs_uid),
                ));
            }
        }
        let app = app_name(d);
        items.push(json!({"apiVersion":"v1","kind":"Service","metadata":{"name":app,"namespace":ns,"uid":format!("svc-{cluster}-{d}"),
            "resourceVersion":(100 + d).to_string(),"creationTimestamp":created,"labels":{"app":app,"tier":tier}},
            "spec":{"type":"ClusterIP","clusterIP":format!("10.96.{}.{}", d / 250 % 250, d % 250),"ports":[{"port":80}]}}));
        // Version 1 replaces every fifth ConfigMap by one of another name.
        let (cm_name, cm_uid) = if version == 1 && d.is_multiple_of(5) {
            (format!("{app}-config-v2"), format!("cm-{cluster}-{d}-v2"))
        } else {
            (format!("{app}-config"), format!("cm-{cluster}-{d}"))
        };
        items.push(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":cm_name,"namespace":ns,"uid":cm_uid,
            "resourceVersion":(100 + d).to_string(),"creationTimestamp":created,"labels":{"app":app}},
            "data":{"config.yaml":"x".repeat(500)}}));
    }
    for n in 0..groups.min(NAMESPACES) {
        items.push(json!({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"node-agent","namespace":format!("ns-{n}"),
            "uid":format!("ds-{cluster}-{n}"),"resourceVersion":"50","creationTimestamp":"2024-01-01T00:00:00Z",
            "labels":{"app":"node-agent"}},"spec":{"template":{"spec":{"containers":[{"name":"agent","image":"registry.example.com/agent:2"}]}}}}));
    }
    items
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

impl Obj {
    /// The truth of one generated object, read from its JSON.
    pub fn of(o: &Value) -> Obj {
        let m = &o["metadata"];
        Obj {
            kind: kind_of(o["kind"].as_str().unwrap()).unwrap(),
            namespace: text(&m["namespace"]).unwrap_or_default(),
            name: text(&m["name"]).unwrap(),
            uid: text(&m["uid"]).unwrap(),
            resource_version: text(&m["resourceVersion"]).unwrap(),
            owner_uid: text(&m["ownerReferences"][0]["uid"]),
            app: text(&m["labels"]["app"]),
            tier: text(&m["labels"]["tier"]),
            hash: text(&m["labels"]["pod-template-hash"]),
            node: text(&o["spec"]["nodeName"]),
            phase: text(&o["status"]["phase"]),
        }
    }
}

/// Writes `items` as a `kubectl get -o json` List; returns the truth of each.
pub fn write_list(path: &Path, items: &[Value]) -> Vec<Obj> {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(path, serde_json::to_vec(&list).unwrap()).unwrap();
    items.iter().map(Obj::of).collect()
}

/// The host's process id, to read its `/proc/<pid>/status` (peak RSS).
impl super::Server {
    pub fn host_pid(&self) -> u32 {
        self.child.id()
    }
}

/// A field of `/proc/<pid>/status` in KiB (`VmHWM`: peak resident set; `VmRSS`: now).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
