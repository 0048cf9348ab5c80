//! Nodes: status, roles, version and the addresses and versions of `-o wide`.

use super::*;

pub(super) const NODE: &[Column] = &[
    CLUSTER,
    NAME,
    col("Status", "The status of the node.", |o, _| {
        Value::from(node_status(o))
    }),
    col("Roles", "The roles of the node.", |o, _| {
        Value::from(node_roles(o))
    }),
    AGE,
    col("Version", "Kubelet version.", |o, _| {
        text_or(&o["status"]["nodeInfo"]["kubeletVersion"], "")
    }),
    wide("Internal-IP", "The node's first InternalIP.", |o, _| {
        Value::from(node_address(o, "InternalIP"))
    }),
    wide("External-IP", "The node's first ExternalIP.", |o, _| {
        Value::from(node_address(o, "ExternalIP"))
    }),
    wide("OS-Image", "OS image reported by the node.", |o, _| {
        text_or(&o["status"]["nodeInfo"]["osImage"], "<unknown>")
    }),
    wide(
        "Kernel-Version",
        "Kernel version reported by the node.",
        |o, _| text_or(&o["status"]["nodeInfo"]["kernelVersion"], "<unknown>"),
    ),
    wide(
        "Container-Runtime",
        "Container runtime version reported by the node.",
        |o, _| {
            text_or(
                &o["status"]["nodeInfo"]["containerRuntimeVersion"],
                "<unknown>",
            )
        },
    ),
];

// Nodes.

/// `Ready` or `NotReady` from the Ready condition (`Unknown` without one), then
/// `,SchedulingDisabled` for a cordoned node.
pub(super) fn node_status(o: &Value) -> String {
    let ready = items(&o["status"]["conditions"])
        .iter()
        .find(|c| c["type"] == "Ready");
    let mut status = match ready {
        Some(c) if c["status"] == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }
    .to_owned();
    if o["spec"]["unschedulable"] == true {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// Roles from `node-role.kubernetes.io/<role>` labels and the older `kubernetes.io/role`,
/// sorted, or `<none>`.
pub(super) fn node_roles(o: &Value) -> String {
    let mut roles: Vec<&str> = o["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
            Some(role) => Some(role).filter(|r| !r.is_empty()),
            None if k == "kubernetes.io/role" => non_empty(v),
            None => None,
        })
        .collect();
    roles.sort_unstable();
    roles.dedup();
    join_or(&roles, "<none>")
}

/// The node's first address of `kind` (`InternalIP`, `ExternalIP`), or `<none>`.
pub(super) fn node_address(o: &Value, kind: &str) -> String {
    items(&o["status"]["addresses"])
        .iter()
        .find(|a| a["type"] == kind)
        .and_then(|a| a["address"].as_str())
        .unwrap_or("<none>")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn nodes() {
        let node = |labels: Value, unschedulable: bool, ready: &str| {
            json!({"apiVersion": "v1", "kind": "Node",
                   "metadata": {"name": "cp-0", "creationTimestamp": "2023-01-01T00:00:00Z", "labels": labels,
                                "annotations": {CLUSTER_ANNOTATION: "staging"}},
                   "spec": {"unschedulable": unschedulable},
                   "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": ready}],
                              "addresses": [{"type": "InternalIP", "address": "192.168.0.10"}, {"type": "Hostname", "address": "cp-0"}],
                              "nodeInfo": {"kubeletVersion": "v1.31.4", "osImage": "Ubuntu 24.04 LTS",
                                           "kernelVersion": "6.8.0-45-generic", "containerRuntimeVersion": "containerd://1.7.22"}}})
        };
        let t = one(
            "",
            "Node",
            node(
                json!({"node-role.kubernetes.io/control-plane": "", "kubernetes.io/os": "linux"}),
                false,
                "True",
            ),
        );
        assert_eq!(
            names(&t),
            [
                "Cluster",
                "Name",
                "Status",
                "Roles",
                "Age",
                "Version",
                "Internal-IP",
                "External-IP",
                "OS-Image",
                "Kernel-Version",
                "Container-Runtime"
            ]
        );
        assert_eq!(
            cells(&t),
            [
                json!("staging"),
                json!("cp-0"),
                json!("Ready"),
                json!("control-plane"),
                json!("2y166d"),
                json!("v1.31.4"),
                json!("192.168.0.10"),
                json!("<none>"),
                json!("Ubuntu 24.04 LTS"),
                json!("6.8.0-45-generic"),
                json!("containerd://1.7.22")
            ]
        );
        let t = one(
            "",
            "Node",
            node(json!({"kubernetes.io/role": "worker"}), true, "Unknown"),
        );
        assert_eq!(
            cells(&t)[2..4],
            [json!("NotReady,SchedulingDisabled"), json!("worker")]
        );
        let t = one("", "Node", node(json!({}), false, "False"));
        assert_eq!(cells(&t)[2..4], [json!("NotReady"), json!("<none>")]);
    }
}
