//! Deployments, ReplicaSets, StatefulSets and DaemonSets, and the wide columns every workload
//! (CronJobs and Jobs too) reads from its pod template.

use super::*;

// The wide columns of every workload, read from its pod template (a CronJob's job template's).

pub(super) const CONTAINERS: Column = wide(
    "Containers",
    "Names of each container in the template.",
    |o, _| Value::from(join_field(&pod_template(o)["containers"], "name")),
);
pub(super) const IMAGES: Column = wide(
    "Images",
    "Images referenced by each container in the template.",
    |o, _| Value::from(join_field(&pod_template(o)["containers"], "image")),
);
pub(super) const SELECTOR: Column = wide(
    "Selector",
    "The label query over pods that the workload manages.",
    |o, _| Value::from(format_label_selector(&workload_spec(o)["selector"])),
);

pub(super) const DEPLOYMENT: &[Column] = &[
    CLUSTER,
    NAME,
    col(
        "Ready",
        "Ready replicas of the desired replicas.",
        |o, _| Value::from(ratio(&o["status"]["readyReplicas"], desired_replicas(o))),
    ),
    int(
        "Up-to-date",
        "Replicas running the latest pod template.",
        |o, _| count(&o["status"]["updatedReplicas"]),
    ),
    int("Available", "Replicas available to users.", |o, _| {
        count(&o["status"]["availableReplicas"])
    }),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) const REPLICA_SET: &[Column] = &[
    CLUSTER,
    NAME,
    int("Desired", "Desired replicas.", |o, _| {
        Value::from(desired_replicas(o))
    }),
    int("Current", "The most recently observed replicas.", |o, _| {
        count(&o["status"]["replicas"])
    }),
    int("Ready", "Ready replicas.", |o, _| {
        count(&o["status"]["readyReplicas"])
    }),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) const STATEFUL_SET: &[Column] = &[
    CLUSTER,
    NAME,
    col(
        "Ready",
        "Ready replicas of the desired replicas.",
        |o, _| Value::from(ratio(&o["status"]["readyReplicas"], desired_replicas(o))),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
];

pub(super) const DAEMON_SET: &[Column] = &[
    CLUSTER,
    NAME,
    int(
        "Desired",
        "Nodes that should run the daemon pod.",
        |o, _| count(&o["status"]["desiredNumberScheduled"]),
    ),
    int(
        "Current",
        "Nodes running at least one daemon pod.",
        |o, _| count(&o["status"]["currentNumberScheduled"]),
    ),
    int("Ready", "Nodes with a ready daemon pod.", |o, _| {
        count(&o["status"]["numberReady"])
    }),
    int(
        "Up-to-date",
        "Nodes running the updated daemon pod.",
        |o, _| count(&o["status"]["updatedNumberScheduled"]),
    ),
    int(
        "Available",
        "Nodes with an available daemon pod.",
        |o, _| count(&o["status"]["numberAvailable"]),
    ),
    col(
        "Node Selector",
        "The node selector of the pod template.",
        |o, _| Value::from(format_labels(&pod_template(o)["nodeSelector"])),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

/// `ready/desired`.
pub(super) fn ratio(have: &Value, want: i64) -> String {
    format!("{}/{want}", have.as_i64().unwrap_or(0))
}

/// `spec.replicas`, which the API server defaults to 1.
pub(super) fn desired_replicas(o: &Value) -> i64 {
    o["spec"]["replicas"].as_i64().unwrap_or(1)
}

/// `field` of each element, comma-joined (container names, images).
pub(super) fn join_field(list: &Value, field: &str) -> String {
    items(list)
        .iter()
        .map(|i| i[field].as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(",")
}

/// The spec holding a workload's `template` and `selector`: its own, or a CronJob's job template's.
pub(super) fn workload_spec(o: &Value) -> &Value {
    let spec = &o["spec"];
    match spec.get("jobTemplate") {
        Some(job_template) => &job_template["spec"],
        None => spec,
    }
}

/// The pod spec of a workload's template.
pub(super) fn pod_template(o: &Value) -> &Value {
    &workload_spec(o)["template"]["spec"]
}

/// `metav1.FormatLabelSelector`: matchLabels and matchExpressions as selector text, sorted by
/// key (`app=web,tier in (a,b),!canary`), `<none>` when empty, `<error>` for an unknown operator.
pub(super) fn format_label_selector(selector: &Value) -> String {
    let mut requirements: Vec<(String, String)> = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())))
        .collect();
    for expression in items(&selector["matchExpressions"]) {
        let key = expression["key"].as_str().unwrap_or_default();
        let mut values: Vec<&str> = items(&expression["values"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let values = values.join(",");
        let text = match expression["operator"].as_str() {
            Some("In") => format!("{key} in ({values})"),
            Some("NotIn") => format!("{key} notin ({values})"),
            Some("Exists") => key.to_owned(),
            Some("DoesNotExist") => format!("!{key}"),
            _ => return "<error>".to_owned(),
        };
        requirements.push((key.to_owned(), text));
    }
    if requirements.is_empty() {
        return "<none>".to_owned();
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    let texts: Vec<String> = requirements.into_iter().map(|(_, text)| text).collect();
    texts.join(",")
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
               "containers": [{"name": "web", "image": "nginx:1.25"}, {"name": "envoy", "image": "envoy:1.30"}]}})
    }

    #[test]
    fn deployments_and_replica_sets() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web"),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template()},
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let t = one("apps", "Deployment", d);
        assert_eq!(
            names(&t),
            [
                "Cluster",
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            cells(&t),
            [
                json!("prod-eu-1"),
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("3h"),
                json!("web,envoy"),
                json!("nginx:1.25,envoy:1.30"),
                json!("app=web")
            ]
        );
        assert_eq!(t["columnDefinitions"][3]["type"], "integer");

        let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta("web-7d9f"),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7d9f"}}, "template": template()},
            "status": {"replicas": 2, "readyReplicas": 1}});
        let t = one("apps", "ReplicaSet", rs);
        assert_eq!(
            names(&t),
            [
                "Cluster",
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            cells(&t)[2..],
            [
                json!(2),
                json!(2),
                json!(1),
                json!("3h"),
                json!("web,envoy"),
                json!("nginx:1.25,envoy:1.30"),
                json!("app=web,pod-template-hash=7d9f")
            ]
        );
    }

    #[test]
    fn stateful_sets_and_daemon_sets() {
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta("db"),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "db"}}, "template": template()},
            "status": {"replicas": 3, "readyReplicas": 3}});
        let t = one("apps", "StatefulSet", sts);
        assert_eq!(
            names(&t),
            ["Cluster", "Name", "Ready", "Age", "Containers", "Images"]
        );
        assert_eq!(
            cells(&t)[2..],
            [
                json!("3/3"),
                json!("3h"),
                json!("web,envoy"),
                json!("nginx:1.25,envoy:1.30")
            ]
        );

        let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta("agent"),
            "spec": {"selector": {"matchLabels": {"app": "agent"},
                                  "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]},
                                                       {"key": "canary", "operator": "DoesNotExist"}]},
                     "template": template()},
            "status": {"desiredNumberScheduled": 4, "currentNumberScheduled": 4, "numberReady": 3,
                       "updatedNumberScheduled": 4, "numberAvailable": 3}});
        let t = one("apps", "DaemonSet", ds);
        assert_eq!(
            names(&t),
            [
                "Cluster",
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Up-to-date",
                "Available",
                "Node Selector",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            cells(&t)[2..],
            [
                json!(4),
                json!(4),
                json!(3),
                json!(4),
                json!(3),
                json!("kubernetes.io/os=linux"),
                json!("3h"),
                json!("web,envoy"),
                json!("nginx:1.25,envoy:1.30"),
                json!("app=agent,!canary,tier in (a,b)")
            ]
        );
    }
}
