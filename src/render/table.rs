//! Kubernetes `Table` output (`meta.k8s.io/v1`), what kubectl asks for with
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. The first column is `Cluster`,
//! then the columns the API server's printers show for the kind (`wide` ones at priority 1),
//! so `kubectl get pods -A` reads like it does against a cluster, plus the cluster.

use crate::error::{ApiError, ApiResult};
use crate::render::list::ListMeta;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// What each row embeds (`includeObject`); kubectl needs `Metadata` to print namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    None,
    #[default]
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(value: &str) -> ApiResult<Self> {
        match value {
            "None" => Ok(Self::None),
            "Metadata" => Ok(Self::Metadata),
            "Object" => Ok(Self::Object),
            other => Err(ApiError::bad_request(format!(
                "includeObject: {other:?} is not one of None, Metadata, Object"
            ))),
        }
    }
}

/// One column: its definition and how to compute its cell from an object and "now".
struct Column {
    name: &'static str,
    integer: bool,
    priority: u8,
    description: &'static str,
    cell: fn(&Value, i64) -> Value,
}

const fn col(
    name: &'static str,
    description: &'static str,
    cell: fn(&Value, i64) -> Value,
) -> Column {
    Column {
        name,
        integer: false,
        priority: 0,
        description,
        cell,
    }
}

const fn int(
    name: &'static str,
    description: &'static str,
    cell: fn(&Value, i64) -> Value,
) -> Column {
    Column {
        name,
        integer: true,
        priority: 0,
        description,
        cell,
    }
}

const fn wide(
    name: &'static str,
    description: &'static str,
    cell: fn(&Value, i64) -> Value,
) -> Column {
    Column {
        name,
        integer: false,
        priority: 1,
        description,
        cell,
    }
}

const CLUSTER: Column = col("Cluster", "The cluster the object is in.", |o, _| {
    str_or(
        &o["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"],
        "<unknown>",
    )
});
const NAME: Column = Column {
    name: "Name",
    integer: false,
    priority: 0,
    description: "Name must be unique within a namespace.",
    cell: |o, _| str_or(&o["metadata"]["name"], "<unknown>"),
};
const AGE: Column = col("Age", "Time since the object was created.", |o, now| {
    Value::from(age(&o["metadata"]["creationTimestamp"], now))
});
const CONTAINERS: Column = wide(
    "Containers",
    "Names of the containers in the template.",
    |o, _| Value::from(join(&o["spec"]["template"]["spec"]["containers"], "name")),
);
const IMAGES: Column = wide(
    "Images",
    "Images of the containers in the template.",
    |o, _| Value::from(join(&o["spec"]["template"]["spec"]["containers"], "image")),
);
const SELECTOR: Column = wide("Selector", "The label selector of the workload.", |o, _| {
    let selector = &o["spec"]["selector"];
    Value::from(labels(if selector.get("matchLabels").is_some() {
        &selector["matchLabels"]
    } else {
        selector
    }))
});

const POD: &[Column] = &[
    CLUSTER,
    NAME,
    col("Ready", "Ready containers of all containers.", |o, _| {
        Value::from(pod_ready(o))
    }),
    col(
        "Status",
        "The aggregate status of the containers.",
        |o, _| Value::from(pod_status(o)),
    ),
    col("Restarts", "Container restarts.", |o, _| {
        Value::from(pod_restarts(o).to_string())
    }),
    AGE,
    wide("IP", "The pod IP.", |o, _| {
        str_or(&o["status"]["podIP"], "<none>")
    }),
    wide("Node", "The node the pod runs on.", |o, _| {
        str_or(&o["spec"]["nodeName"], "<none>")
    }),
    wide(
        "Nominated Node",
        "The node the scheduler nominated.",
        |o, _| str_or(&o["status"]["nominatedNodeName"], "<none>"),
    ),
    wide("Readiness Gates", "Readiness gates met of all.", |o, _| {
        let gates = o["spec"]["readinessGates"].as_array().map_or(0, Vec::len);
        Value::from(if gates == 0 {
            "<none>".to_owned()
        } else {
            format!("0/{gates}")
        })
    }),
];

const DEPLOYMENT: &[Column] = &[
    CLUSTER,
    NAME,
    col("Ready", "Ready replicas of desired.", |o, _| {
        Value::from(ratio(&o["status"]["readyReplicas"], &o["spec"]["replicas"]))
    }),
    int(
        "Up-to-date",
        "Replicas updated to the latest template.",
        |o, _| num(&o["status"]["updatedReplicas"]),
    ),
    int("Available", "Available replicas.", |o, _| {
        num(&o["status"]["availableReplicas"])
    }),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const REPLICA_SET: &[Column] = &[
    CLUSTER,
    NAME,
    int("Desired", "Desired replicas.", |o, _| {
        num(&o["spec"]["replicas"])
    }),
    int("Current", "Current replicas.", |o, _| {
        num(&o["status"]["replicas"])
    }),
    int("Ready", "Ready replicas.", |o, _| {
        num(&o["status"]["readyReplicas"])
    }),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const STATEFUL_SET: &[Column] = &[
    CLUSTER,
    NAME,
    col("Ready", "Ready replicas of desired.", |o, _| {
        Value::from(ratio(&o["status"]["readyReplicas"], &o["spec"]["replicas"]))
    }),
    AGE,
    CONTAINERS,
    IMAGES,
];

const DAEMON_SET: &[Column] = &[
    CLUSTER,
    NAME,
    int("Desired", "Nodes that should run the pod.", |o, _| {
        num(&o["status"]["desiredNumberScheduled"])
    }),
    int("Current", "Nodes running the pod.", |o, _| {
        num(&o["status"]["currentNumberScheduled"])
    }),
    int("Ready", "Nodes with the pod ready.", |o, _| {
        num(&o["status"]["numberReady"])
    }),
    int(
        "Up-to-date",
        "Nodes running the latest template.",
        |o, _| num(&o["status"]["updatedNumberScheduled"]),
    ),
    int("Available", "Nodes with the pod available.", |o, _| {
        num(&o["status"]["numberAvailable"])
    }),
    col(
        "Node Selector",
        "The node selector of the template.",
        |o, _| Value::from(labels(&o["spec"]["template"]["spec"]["nodeSelector"])),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const JOB: &[Column] = &[
    CLUSTER,
    NAME,
    col(
        "Status",
        "Complete, Failed, Suspended or Running.",
        |o, _| Value::from(job_status(o)),
    ),
    col(
        "Completions",
        "Succeeded pods of the desired completions.",
        |o, _| {
            let completions = o["spec"]["completions"]
                .as_i64()
                .map_or("1".to_owned(), |c| c.to_string());
            Value::from(format!(
                "{}/{completions}",
                o["status"]["succeeded"].as_i64().unwrap_or(0)
            ))
        },
    ),
    col("Duration", "How long the job ran.", |o, now| {
        let start = timestamp(&o["status"]["startTime"]);
        let end = timestamp(&o["status"]["completionTime"]).unwrap_or(now);
        Value::from(start.map_or(String::new(), |s| human_duration(end - s)))
    }),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const CRON_JOB: &[Column] = &[
    CLUSTER,
    NAME,
    col("Schedule", "The cron schedule.", |o, _| {
        str_or(&o["spec"]["schedule"], "")
    }),
    col("Timezone", "The time zone of the schedule.", |o, _| {
        str_or(&o["spec"]["timeZone"], "<none>")
    }),
    col("Suspend", "Whether scheduling is suspended.", |o, _| {
        Value::from(if o["spec"]["suspend"].as_bool() == Some(true) {
            "True"
        } else {
            "False"
        })
    }),
    int("Active", "Running jobs.", |o, _| {
        Value::from(o["status"]["active"].as_array().map_or(0, Vec::len))
    }),
    col(
        "Last Schedule",
        "Time since the last schedule.",
        |o, now| {
            Value::from(
                timestamp(&o["status"]["lastScheduleTime"])
                    .map_or("<none>".to_owned(), |t| human_duration(now - t)),
            )
        },
    ),
    AGE,
    wide(
        "Containers",
        "Names of the containers in the job template.",
        |o, _| {
            Value::from(join(
                &o["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"],
                "name",
            ))
        },
    ),
    wide(
        "Images",
        "Images of the containers in the job template.",
        |o, _| {
            Value::from(join(
                &o["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"],
                "image",
            ))
        },
    ),
    wide(
        "Selector",
        "The label selector of the job template.",
        |o, _| {
            Value::from(labels(
                &o["spec"]["jobTemplate"]["spec"]["selector"]["matchLabels"],
            ))
        },
    ),
];

const SERVICE: &[Column] = &[
    CLUSTER,
    NAME,
    col(
        "Type",
        "ClusterIP, NodePort, LoadBalancer or ExternalName.",
        |o, _| str_or(&o["spec"]["type"], "ClusterIP"),
    ),
    col("Cluster-IP", "The service's cluster IP.", |o, _| {
        str_or(&o["spec"]["clusterIP"], "<none>")
    }),
    col("External-IP", "External addresses.", |o, _| {
        Value::from(service_external_ip(o))
    }),
    col("Port(s)", "Ports the service serves.", |o, _| {
        Value::from(service_ports(o))
    }),
    AGE,
    wide("Selector", "The pods the service selects.", |o, _| {
        Value::from(labels(&o["spec"]["selector"]))
    }),
];

const CONFIG_MAP: &[Column] = &[
    CLUSTER,
    NAME,
    int("Data", "Keys in data and binaryData.", |o, _| {
        Value::from(keys(&o["data"]) + keys(&o["binaryData"]))
    }),
    AGE,
];

const SECRET: &[Column] = &[
    CLUSTER,
    NAME,
    col("Type", "The secret type.", |o, _| {
        str_or(&o["type"], "Opaque")
    }),
    int(
        "Data",
        "Keys in data (absent unless the agent kept secret data).",
        |o, _| Value::from(keys(&o["data"]) + keys(&o["stringData"])),
    ),
    AGE,
];

const NAMESPACE: &[Column] = &[
    CLUSTER,
    NAME,
    col("Status", "The namespace phase.", |o, _| {
        str_or(&o["status"]["phase"], "Active")
    }),
    AGE,
];

const NODE: &[Column] = &[
    CLUSTER,
    NAME,
    col(
        "Status",
        "Ready condition, and whether scheduling is disabled.",
        |o, _| Value::from(node_status(o)),
    ),
    col("Roles", "From node-role.kubernetes.io labels.", |o, _| {
        Value::from(node_roles(o))
    }),
    AGE,
    col("Version", "Kubelet version.", |o, _| {
        str_or(&o["status"]["nodeInfo"]["kubeletVersion"], "")
    }),
    wide("Internal-IP", "Internal address.", |o, _| {
        Value::from(node_address(o, "InternalIP"))
    }),
    wide("External-IP", "External address.", |o, _| {
        Value::from(node_address(o, "ExternalIP"))
    }),
    wide("OS-Image", "Operating system image.", |o, _| {
        str_or(&o["status"]["nodeInfo"]["osImage"], "<unknown>")
    }),
    wide("Kernel-Version", "Kernel version.", |o, _| {
        str_or(&o["status"]["nodeInfo"]["kernelVersion"], "<unknown>")
    }),
    wide("Container-Runtime", "Container runtime version.", |o, _| {
        str_or(
            &o["status"]["nodeInfo"]["containerRuntimeVersion"],
            "<unknown>",
        )
    }),
];

/// Kubernetes' default table for kinds without printers.
const DEFAULT: &[Column] = &[CLUSTER, NAME, AGE];

fn columns(group: &str, kind: &str) -> &'static [Column] {
    match (group, kind) {
        ("", "Pod") => POD,
        ("", "Service") => SERVICE,
        ("", "ConfigMap") => CONFIG_MAP,
        ("", "Secret") => SECRET,
        ("", "Namespace") => NAMESPACE,
        ("", "Node") => NODE,
        ("apps", "Deployment") => DEPLOYMENT,
        ("apps", "ReplicaSet") => REPLICA_SET,
        ("apps", "StatefulSet") => STATEFUL_SET,
        ("apps", "DaemonSet") => DAEMON_SET,
        ("batch", "Job") => JOB,
        ("batch", "CronJob") => CRON_JOB,
        _ => DEFAULT,
    }
}

/// Writes a Table piecewise, like [`crate::render::list::ListWriter`], so it streams.
pub struct TableWriter {
    columns: &'static [Column],
    include: IncludeObject,
    now: i64,
    first_row: bool,
    metadata_written: bool,
}

impl TableWriter {
    pub fn head(
        group: &str,
        kind: &str,
        include: IncludeObject,
        now: i64,
        metadata: Option<&ListMeta>,
    ) -> (Self, Vec<u8>) {
        let columns = columns(group, kind);
        let definitions: Vec<Value> = columns
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "type": if c.integer { "integer" } else { "string" },
                    "format": if c.name == "Name" { "name" } else { "" },
                    "description": c.description,
                    "priority": c.priority,
                })
            })
            .collect();
        let mut out = br#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","#.to_vec();
        ListMeta::write_head(metadata, &mut out);
        out.extend_from_slice(b"\"columnDefinitions\":");
        out.extend(serde_json::to_vec(&definitions).unwrap_or_else(|_| b"[]".to_vec()));
        out.extend_from_slice(b",\"rows\":[");
        (
            Self {
                columns,
                include,
                now,
                first_row: true,
                metadata_written: metadata.is_some(),
            },
            out,
        )
    }

    pub fn row(&mut self, out: &mut Vec<u8>, object_json: &str) {
        let object: Value = serde_json::from_str(object_json).unwrap_or(Value::Null);
        let cells: Vec<Value> = self
            .columns
            .iter()
            .map(|c| (c.cell)(&object, self.now))
            .collect();
        if !self.first_row {
            out.push(b',');
        }
        self.first_row = false;
        out.extend_from_slice(b"{\"cells\":");
        out.extend(serde_json::to_vec(&cells).unwrap_or_else(|_| b"[]".to_vec()));
        match self.include {
            IncludeObject::None => {}
            IncludeObject::Metadata => {
                let partial = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"]});
                out.extend_from_slice(b",\"object\":");
                out.extend(serde_json::to_vec(&partial).unwrap_or_else(|_| b"null".to_vec()));
            }
            IncludeObject::Object => {
                out.extend_from_slice(b",\"object\":");
                out.extend_from_slice(object_json.as_bytes());
            }
        }
        out.push(b'}');
    }

    pub fn tail(self, out: &mut Vec<u8>, metadata: &ListMeta) {
        metadata.write_tail(self.metadata_written, out);
    }
}

fn str_or(v: &Value, default: &str) -> Value {
    Value::from(v.as_str().filter(|s| !s.is_empty()).unwrap_or(default))
}

fn num(v: &Value) -> Value {
    Value::from(v.as_i64().unwrap_or(0))
}

fn ratio(have: &Value, want: &Value) -> String {
    format!(
        "{}/{}",
        have.as_i64().unwrap_or(0),
        want.as_i64().unwrap_or(0)
    )
}

fn keys(v: &Value) -> usize {
    v.as_object().map_or(0, |m| m.len())
}

/// `field` of each element, comma-joined (container names, images).
fn join(list: &Value, field: &str) -> String {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i[field].as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// `k=v,k2=v2` or `<none>`.
fn labels(map: &Value) -> String {
    match map.as_object() {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
        _ => "<none>".to_owned(),
    }
}

fn timestamp(v: &Value) -> Option<i64> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc).timestamp())
}

fn age(created: &Value, now: i64) -> String {
    timestamp(created).map_or("<unknown>".to_owned(), |t| human_duration(now - t))
}

/// kubectl's `duration.HumanDuration`: `45s`, `5m30s`, `3h`, `2d5h`, `400d`, `2y45d`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    let s = seconds.max(0);
    let with = |major: i64, unit: &str, minor: i64, minor_unit: &str| {
        if minor == 0 {
            format!("{major}{unit}")
        } else {
            format!("{major}{unit}{minor}{minor_unit}")
        }
    };
    let (minutes, hours, days) = (s / 60, s / 3600, s / 86_400);
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if minutes < 10 => with(minutes, "m", s % 60, "s"),
        _ if minutes < 180 => format!("{minutes}m"),
        _ if hours < 8 => with(hours, "h", minutes % 60, "m"),
        _ if hours < 48 => format!("{hours}h"),
        _ if hours < 24 * 8 => with(days, "d", hours % 24, "h"),
        _ if days < 365 * 2 => format!("{days}d"),
        _ if days < 365 * 8 => with(days / 365, "y", days % 365, "d"),
        _ => format!("{}y", days / 365),
    }
}

fn pod_ready(o: &Value) -> String {
    let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = o["status"]["containerStatuses"].as_array().map_or(0, |s| {
        s.iter()
            .filter(|c| c["ready"].as_bool() == Some(true))
            .count()
    });
    format!("{ready}/{total}")
}

fn pod_restarts(o: &Value) -> i64 {
    o["status"]["containerStatuses"].as_array().map_or(0, |s| {
        s.iter().filter_map(|c| c["restartCount"].as_i64()).sum()
    })
}

/// A container state's reason as kubectl prints it.
fn terminated_reason(t: &Value) -> String {
    match (t["reason"].as_str(), t["signal"].as_i64()) {
        (Some(r), _) if !r.is_empty() => r.to_owned(),
        (_, Some(signal)) if signal != 0 => format!("Signal:{signal}"),
        _ => format!("ExitCode:{}", t["exitCode"].as_i64().unwrap_or(0)),
    }
}

/// The STATUS column of `kubectl get pods`, following the API server's pod printer.
fn pod_status(o: &Value) -> String {
    let status = &o["status"];
    let mut reason = status["reason"]
        .as_str()
        .or(status["phase"].as_str())
        .unwrap_or("Unknown")
        .to_owned();
    let init = status["initContainerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let init_total = o["spec"]["initContainers"].as_array().map_or(0, Vec::len);
    let mut initializing = false;
    for (i, c) in init.iter().enumerate() {
        let state = &c["state"];
        if state["terminated"]["exitCode"].as_i64() == Some(0) {
            continue;
        }
        initializing = true;
        reason = if state.get("terminated").is_some() {
            format!("Init:{}", terminated_reason(&state["terminated"]))
        } else if let Some(r) = state["waiting"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            format!("Init:{r}")
        } else {
            format!("Init:{i}/{init_total}")
        };
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in status["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .rev()
        {
            let state = &c["state"];
            if let Some(r) = state["waiting"]["reason"]
                .as_str()
                .filter(|r| !r.is_empty())
            {
                reason = r.to_owned();
            } else if state.get("terminated").is_some() {
                reason = terminated_reason(&state["terminated"]);
            } else if state.get("running").is_some() && c["ready"].as_bool() == Some(true) {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".to_owned();
        }
    }
    if o["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|d| !d.is_null())
    {
        reason = if status["reason"] == "NodeLost" {
            "Unknown".to_owned()
        } else {
            "Terminating".to_owned()
        };
    }
    reason
}

fn job_status(o: &Value) -> String {
    let conditions = o["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let holds = |t: &str| {
        conditions
            .iter()
            .any(|c| c["type"] == t && c["status"] == "True")
    };
    if holds("Complete") {
        "Complete"
    } else if holds("Failed") {
        "Failed"
    } else if o["spec"]["suspend"].as_bool() == Some(true) {
        "Suspended"
    } else {
        "Running"
    }
    .to_owned()
}

fn service_external_ip(o: &Value) -> String {
    let spec = &o["spec"];
    let mut ips: Vec<String> = spec["externalIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    match spec["type"].as_str().unwrap_or("ClusterIP") {
        "LoadBalancer" => {
            ips.extend(
                o["status"]["loadBalancer"]["ingress"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| {
                        i["ip"]
                            .as_str()
                            .or(i["hostname"].as_str())
                            .map(str::to_owned)
                    }),
            );
            if ips.is_empty() {
                "<pending>".to_owned()
            } else {
                ips.join(",")
            }
        }
        "ExternalName" => spec["externalName"].as_str().unwrap_or("<none>").to_owned(),
        _ if ips.is_empty() => "<none>".to_owned(),
        _ => ips.join(","),
    }
}

fn service_ports(o: &Value) -> String {
    let ports: Vec<String> = o["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let protocol = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64() {
                Some(node) => format!("{}:{node}/{protocol}", p["port"].as_i64().unwrap_or(0)),
                None => format!("{}/{protocol}", p["port"].as_i64().unwrap_or(0)),
            }
        })
        .collect();
    if ports.is_empty() {
        "<none>".to_owned()
    } else {
        ports.join(",")
    }
}

fn node_status(o: &Value) -> String {
    let ready = o["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready");
    let mut status = match ready.map(|c| c["status"].as_str().unwrap_or_default()) {
        Some("True") => "Ready".to_owned(),
        Some("False") => "NotReady".to_owned(),
        _ => "Unknown".to_owned(),
    };
    if o["spec"]["unschedulable"].as_bool() == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

fn node_roles(o: &Value) -> String {
    let mut roles: Vec<String> = o["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
            Some(role) if !role.is_empty() => Some(role.to_owned()),
            _ if k == "kubernetes.io/role" => v.as_str().map(str::to_owned),
            _ => None,
        })
        .collect();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        "<none>".to_owned()
    } else {
        roles.join(",")
    }
}

fn node_address(o: &Value, kind: &str) -> String {
    o["status"]["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["type"] == kind)
        .and_then(|a| a["address"].as_str())
        .unwrap_or("<none>")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_750_000_000; // 2025-06-15T15:06:40Z

    fn render(group: &str, kind: &str, include: IncludeObject, objects: &[Value]) -> Value {
        let (mut w, mut out) = TableWriter::head(group, kind, include, NOW, None);
        for o in objects {
            w.row(&mut out, &o.to_string());
        }
        w.tail(
            &mut out,
            &ListMeta {
                continue_token: Some("next".into()),
                ..Default::default()
            },
        );
        serde_json::from_slice(&out).unwrap()
    }

    fn names(table: &Value) -> Vec<String> {
        table["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    }

    fn cells(table: &Value) -> Vec<Value> {
        table["rows"][0]["cells"].as_array().unwrap().clone()
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "namespace": "web", "creationTimestamp": "2025-06-15T12:06:40Z",
               "annotations": {"shadow.clusterpedia.io/cluster-name": "prod-eu-1"}})
    }

    #[test]
    fn pods_read_like_kubectl() {
        let running = json!({"metadata": meta("api-0"), "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 3, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 0, "state": {"running": {}}}]}});
        let t = render("", "Pod", IncludeObject::Metadata, &[running]);
        assert_eq!(t["kind"], "Table");
        assert_eq!(
            names(&t),
            [
                "Cluster",
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        assert_eq!(
            cells(&t),
            vec![
                json!("prod-eu-1"),
                json!("api-0"),
                json!("1/2"),
                json!("Running"),
                json!("3"),
                json!("3h"),
                json!("10.0.0.1"),
                json!("n1"),
                json!("<none>"),
                json!("<none>")
            ]
        );
        assert_eq!(t["columnDefinitions"][6]["priority"], 1);
        assert_eq!(t["columnDefinitions"][1]["format"], "name");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "web");
        assert_eq!(t["metadata"]["continue"], "next");

        let status = |pod: Value| pod_status(&pod);
        assert_eq!(
            status(
                json!({"status": {"phase": "Running", "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}})
            ),
            "CrashLoopBackOff"
        );
        assert_eq!(
            status(
                json!({"status": {"phase": "Succeeded", "containerStatuses": [{"state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}})
            ),
            "Completed"
        );
        assert_eq!(
            status(
                json!({"spec": {"initContainers": [{}]}, "status": {"phase": "Pending", "initContainerStatuses": [{"state": {"waiting": {"reason": "PodInitializing"}}}]}})
            ),
            "Init:0/1"
        );
        assert_eq!(
            status(
                json!({"status": {"phase": "Pending", "initContainerStatuses": [{"state": {"waiting": {"reason": "ImagePullBackOff"}}}]}})
            ),
            "Init:ImagePullBackOff"
        );
        assert_eq!(
            status(
                json!({"metadata": {"deletionTimestamp": "2025-01-01T00:00:00Z"}, "status": {"phase": "Running"}})
            ),
            "Terminating"
        );
    }

    #[test]
    fn workloads_and_their_wide_columns() {
        let template = json!({"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}, {"name": "envoy", "image": "envoy:1"}]}});
        let d = json!({"metadata": meta("web"), "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template},
                       "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let t = render("apps", "Deployment", IncludeObject::None, &[d]);
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
            cells(&t)[2..],
            [
                json!("2/3"),
                json!(3),
                json!(2),
                json!("3h"),
                json!("web,envoy"),
                json!("nginx:1.25,envoy:1"),
                json!("app=web")
            ]
        );
        assert!(t["rows"][0].get("object").is_none());
        assert_eq!(t["columnDefinitions"][3]["type"], "integer");
        let job = json!({"metadata": meta("j"), "spec": {"completions": 1}, "status": {"succeeded": 1, "startTime": "2025-06-15T12:00:00Z",
                          "completionTime": "2025-06-15T12:01:30Z", "conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(
            cells(&render("batch", "Job", IncludeObject::None, &[job]))[2..5],
            [json!("Complete"), json!("1/1"), json!("90s")]
        );
        let cj = json!({"metadata": meta("c"), "spec": {"schedule": "0 2 * * *"}, "status": {"active": [{}], "lastScheduleTime": "2025-06-15T14:06:40Z"}});
        assert_eq!(
            cells(&render("batch", "CronJob", IncludeObject::None, &[cj]))[2..7],
            [
                json!("0 2 * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("60m")
            ]
        );
    }

    #[test]
    fn services_nodes_and_the_rest() {
        let svc = json!({"metadata": meta("lb"), "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.9", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]},
                         "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}});
        assert_eq!(
            cells(&render("", "Service", IncludeObject::None, &[svc]))[2..6],
            [
                json!("LoadBalancer"),
                json!("10.96.0.9"),
                json!("203.0.113.10"),
                json!("80:30080/TCP")
            ]
        );
        let node = json!({"metadata": {"name": "n0", "creationTimestamp": "2023-01-01T00:00:00Z", "labels": {"node-role.kubernetes.io/control-plane": ""}},
                          "spec": {"unschedulable": true}, "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.31.4"},
                          "addresses": [{"type": "InternalIP", "address": "192.168.0.10"}]}});
        let t = render("", "Node", IncludeObject::Object, &[node]);
        assert_eq!(
            cells(&t)[2..7],
            [
                json!("Ready,SchedulingDisabled"),
                json!("control-plane"),
                json!("2y166d"),
                json!("v1.31.4"),
                json!("192.168.0.10")
            ]
        );
        assert_eq!(
            t["rows"][0]["object"]["metadata"]["name"], "n0",
            "includeObject=Object embeds the object"
        );
        let widget = json!({"metadata": meta("w")});
        assert_eq!(
            names(&render(
                "example.com",
                "Widget",
                IncludeObject::None,
                &[widget]
            )),
            ["Cluster", "Name", "Age"]
        );
        // Malformed stored text never panics.
        let (mut w, mut out) = TableWriter::head(
            "",
            "Pod",
            IncludeObject::Metadata,
            NOW,
            Some(&ListMeta::default()),
        );
        w.row(&mut out, "not json");
        w.tail(&mut out, &ListMeta::default());
        assert!(serde_json::from_slice::<Value>(&out).is_ok());
        assert_eq!(IncludeObject::parse("Bogus").unwrap_err().code, 400);
    }

    #[test]
    fn ages_like_kubectl() {
        for (seconds, text) in [
            (-5, "<invalid>"),
            (0, "0s"),
            (119, "119s"),
            (150, "2m30s"),
            (600, "10m"),
            (4 * 3600 + 120, "4h2m"),
            (30 * 3600, "30h"),
            (3 * 86_400 + 3600, "3d1h"),
            (400 * 86_400, "400d"),
            (800 * 86_400, "2y70d"),
            (3000 * 86_400, "8y"),
        ] {
            assert_eq!(human_duration(seconds), text, "{seconds}");
        }
    }
}
