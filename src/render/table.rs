//! Kubernetes `Table` output (`meta.k8s.io/v1`), what kubectl asks for with
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. The first column is `Cluster`, then
//! the columns the API server's table convertors (`pkg/printers/internalversion/printers.go`)
//! show for the kind, `-o wide` ones at priority 1, so `kubectl get` reads as it does against a
//! single cluster, plus the cluster. Written piecewise like [`crate::render::list::ListWriter`]
//! so a long list streams. NAMESPACE is no column: kubectl adds it for `-A` from each row's
//! embedded object metadata.

use crate::error::{ApiError, ApiResult};
use crate::ingest::object::CLUSTER_ANNOTATION;
use crate::render::list::ListMeta;
use chrono::DateTime;
use serde_json::{json, Value};

/// What each row embeds (`includeObject`). kubectl needs `Metadata`, the Kubernetes default, to
/// print NAMESPACE with `-A` and labels with `--show-labels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    None,
    #[default]
    Metadata,
    Object,
}

impl IncludeObject {
    /// The `includeObject` query parameter, spelled as Kubernetes spells it.
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

/// A column's declared type. kubectl prints any cell, but clients that sort or align by type
/// rely on it; these are the ones the API server's printers declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CellType {
    String,
    Integer,
    Boolean,
}

impl CellType {
    fn as_str(self) -> &'static str {
        match self {
            CellType::String => "string",
            CellType::Integer => "integer",
            CellType::Boolean => "boolean",
        }
    }
}

/// Computes one cell from the stored object and "now" (unix seconds, for ages).
type Cell = fn(&Value, i64) -> Value;

/// One column: its definition and how to fill it.
struct Column {
    name: &'static str,
    ty: CellType,
    /// 0: always shown; 1: only with `-o wide`.
    priority: u8,
    description: &'static str,
    cell: Cell,
}

const fn col(name: &'static str, description: &'static str, cell: Cell) -> Column {
    Column {
        name,
        ty: CellType::String,
        priority: 0,
        description,
        cell,
    }
}

const fn int(name: &'static str, description: &'static str, cell: Cell) -> Column {
    Column {
        ty: CellType::Integer,
        ..col(name, description, cell)
    }
}

const fn wide(name: &'static str, description: &'static str, cell: Cell) -> Column {
    Column {
        priority: 1,
        ..col(name, description, cell)
    }
}

/// A kind's table: its columns, and the row conditions the API server attaches (pods only).
struct Printer {
    columns: &'static [Column],
    conditions: fn(&Value) -> Option<Value>,
}

// Columns every kind shares.

const CLUSTER: Column = col(
    "Cluster",
    "The cluster the object was synchronized from.",
    |o, _| {
        text_or(
            &o["metadata"]["annotations"][CLUSTER_ANNOTATION],
            "<unknown>",
        )
    },
);
const NAME: Column = col("Name", "Name must be unique within a namespace.", |o, _| {
    text_or(&o["metadata"]["name"], "<unknown>")
});
const AGE: Column = col(
    "Age",
    "Time since the object was created (creationTimestamp).",
    |o, now| Value::from(age(&o["metadata"]["creationTimestamp"], now)),
);

// The wide columns of every workload, read from its pod template (a CronJob's job template's).

const CONTAINERS: Column = wide(
    "Containers",
    "Names of each container in the template.",
    |o, _| Value::from(join_field(&pod_template(o)["containers"], "name")),
);
const IMAGES: Column = wide(
    "Images",
    "Images referenced by each container in the template.",
    |o, _| Value::from(join_field(&pod_template(o)["containers"], "image")),
);
const SELECTOR: Column = wide(
    "Selector",
    "The label query over pods that the workload manages.",
    |o, _| Value::from(format_label_selector(&workload_spec(o)["selector"])),
);

// Per-kind tables, in the order `printers.go` registers their columns.

const POD: &[Column] = &[
    CLUSTER,
    NAME,
    col(
        "Ready",
        "The aggregate readiness state of this pod for accepting traffic.",
        |o, now| Value::from(pod_summary(o, now).ready),
    ),
    col(
        "Status",
        "The aggregate status of the containers in this pod.",
        |o, now| Value::from(pod_summary(o, now).status),
    ),
    col(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the last \
         container in this pod has restarted.",
        |o, now| Value::from(pod_summary(o, now).restarts),
    ),
    AGE,
    wide("IP", "IP address allocated to the pod.", |o, _| {
        Value::from(pod_ip(o))
    }),
    wide("Node", "The node the pod is scheduled onto.", |o, _| {
        text_or(&o["spec"]["nodeName"], "<none>")
    }),
    wide(
        "Nominated Node",
        "The node the scheduler nominated for preemption.",
        |o, _| text_or(&o["status"]["nominatedNodeName"], "<none>"),
    ),
    wide(
        "Readiness Gates",
        "Readiness gates that hold, of all the pod's readiness gates.",
        |o, _| Value::from(readiness_gates(o)),
    ),
];

const DEPLOYMENT: &[Column] = &[
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

const REPLICA_SET: &[Column] = &[
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

const STATEFUL_SET: &[Column] = &[
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

const DAEMON_SET: &[Column] = &[
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

const JOB: &[Column] = &[
    CLUSTER,
    NAME,
    col("Status", "Status of the job.", |o, _| {
        Value::from(job_status(o))
    }),
    col(
        "Completions",
        "Succeeded pods of the desired completions.",
        |o, _| Value::from(job_completions(o)),
    ),
    col(
        "Duration",
        "Time required to complete the job.",
        |o, now| Value::from(job_duration(o, now)),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const CRON_JOB: &[Column] = &[
    CLUSTER,
    NAME,
    col("Schedule", "The schedule in Cron format.", |o, _| {
        text_or(&o["spec"]["schedule"], "")
    }),
    col("Timezone", "The time zone of the schedule.", |o, _| {
        text_or(&o["spec"]["timeZone"], "<none>")
    }),
    // Declared boolean but filled with "True"/"False", as the API server does.
    Column {
        ty: CellType::Boolean,
        ..col(
            "Suspend",
            "Whether subsequent executions are suspended.",
            |o, _| Value::from(suspended(o)),
        )
    },
    int("Active", "Currently running jobs.", |o, _| {
        Value::from(items(&o["status"]["active"]).len())
    }),
    col(
        "Last Schedule",
        "Time since the job was last scheduled.",
        |o, now| {
            let last = &o["status"]["lastScheduleTime"];
            Value::from(if last.is_null() {
                "<none>".to_owned()
            } else {
                age(last, now)
            })
        },
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const SERVICE: &[Column] = &[
    CLUSTER,
    NAME,
    col(
        "Type",
        "ClusterIP, NodePort, LoadBalancer or ExternalName.",
        |o, _| Value::from(service_type(o)),
    ),
    col("Cluster-IP", "The IP address of the service.", |o, _| {
        Value::from(service_cluster_ip(o))
    }),
    col(
        "External-IP",
        "External addresses: load balancer ingress and externalIPs.",
        |o, _| Value::from(service_external_ip(o)),
    ),
    col("Port(s)", "The ports the service exposes.", |o, _| {
        Value::from(service_ports(o))
    }),
    AGE,
    wide(
        "Selector",
        "Pods with labels matching this selector receive the traffic.",
        |o, _| Value::from(format_labels(&o["spec"]["selector"])),
    ),
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
        text_or(&o["type"], "Opaque")
    }),
    int("Data", "Keys in data.", |o, _| {
        Value::from(keys(&o["data"]))
    }),
    AGE,
];

const NAMESPACE: &[Column] = &[
    CLUSTER,
    NAME,
    col("Status", "The status of the namespace.", |o, _| {
        text_or(&o["status"]["phase"], "Active")
    }),
    AGE,
];

const NODE: &[Column] = &[
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

/// Kinds without a printer: name and age, as kubectl shows custom resources.
const DEFAULT: &[Column] = &[CLUSTER, NAME, AGE];

/// The printer for a kind; the group keeps look-alike custom kinds on the default table.
fn printer(group: &str, kind: &str) -> Printer {
    let plain = |columns| Printer {
        columns,
        conditions: |_| None,
    };
    match (group, kind) {
        ("", "Pod") => Printer {
            columns: POD,
            conditions: pod_conditions,
        },
        ("", "Service") => plain(SERVICE),
        ("", "ConfigMap") => plain(CONFIG_MAP),
        ("", "Secret") => plain(SECRET),
        ("", "Namespace") => plain(NAMESPACE),
        ("", "Node") => plain(NODE),
        ("apps" | "extensions", "Deployment") => plain(DEPLOYMENT),
        ("apps" | "extensions", "ReplicaSet") => plain(REPLICA_SET),
        ("apps" | "extensions", "DaemonSet") => plain(DAEMON_SET),
        ("apps", "StatefulSet") => plain(STATEFUL_SET),
        ("batch", "Job") => plain(JOB),
        ("batch", "CronJob") => plain(CRON_JOB),
        _ => plain(DEFAULT),
    }
}

/// Writes a Table piecewise: [`TableWriter::head`], a [`TableWriter::row`] per object, then
/// [`TableWriter::tail`]. The list metadata goes first when known up front, else last.
pub struct TableWriter {
    printer: Printer,
    include: IncludeObject,
    now: i64,
    first_row: bool,
    metadata_written: bool,
}

impl TableWriter {
    /// Writes `{"kind":"Table","apiVersion":"meta.k8s.io/v1",["metadata":…,]` then
    /// `"columnDefinitions":[…],"rows":[` for objects of `kind` in `group`; `now` (unix
    /// seconds) is what ages count from.
    pub fn head(
        group: &str,
        kind: &str,
        include: IncludeObject,
        now: i64,
        metadata: Option<&ListMeta>,
    ) -> (Self, Vec<u8>) {
        let printer = printer(group, kind);
        let mut out = br#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","#.to_vec();
        ListMeta::write_head(metadata, &mut out);
        out.extend_from_slice(b"\"columnDefinitions\":");
        write_json(&mut out, &column_definitions(printer.columns));
        out.extend_from_slice(b",\"rows\":[");
        let writer = Self {
            printer,
            include,
            now,
            first_row: true,
            metadata_written: metadata.is_some(),
        };
        (writer, out)
    }

    /// Appends the row of one stored object (its JSON text). Text that is not a JSON object
    /// still gets a row, of defaults, and no embedded object: a list never fails on one row.
    pub fn row(&mut self, out: &mut Vec<u8>, object_json: &str) {
        let parsed = serde_json::from_str::<Value>(object_json)
            .ok()
            .filter(Value::is_object);
        let null = Value::Null;
        let object = parsed.as_ref().unwrap_or(&null);
        if !self.first_row {
            out.push(b',');
        }
        self.first_row = false;
        out.extend_from_slice(b"{\"cells\":");
        let cells: Vec<Value> = self
            .printer
            .columns
            .iter()
            .map(|c| (c.cell)(object, self.now))
            .collect();
        write_json(out, &Value::Array(cells));
        if let Some(conditions) = (self.printer.conditions)(object) {
            out.extend_from_slice(b",\"conditions\":");
            write_json(out, &conditions);
        }
        if let Some(object) = &parsed {
            self.write_object(out, object_json, object);
        }
        out.push(b'}');
    }

    /// Closes the rows, writing the metadata now if the head did not.
    pub fn tail(self, out: &mut Vec<u8>, metadata: &ListMeta) {
        metadata.write_tail(self.metadata_written, out);
    }

    /// `,"object":…` as `includeObject` asks: nothing, the metadata as a
    /// `PartialObjectMetadata`, or the stored text as is.
    fn write_object(&self, out: &mut Vec<u8>, raw: &str, object: &Value) {
        match self.include {
            IncludeObject::None => {}
            IncludeObject::Metadata => {
                out.extend_from_slice(
                    br#","object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":"#,
                );
                let metadata = &object["metadata"];
                if metadata.is_object() {
                    write_json(out, metadata);
                } else {
                    out.extend_from_slice(b"{}");
                }
                out.push(b'}');
            }
            IncludeObject::Object => {
                out.extend_from_slice(b",\"object\":");
                out.extend_from_slice(raw.trim().as_bytes());
            }
        }
    }
}

/// `columnDefinitions`: the Kubernetes fields, `format: "name"` marking the object name.
fn column_definitions(columns: &[Column]) -> Value {
    columns
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.ty.as_str(),
                "format": if c.name == "Name" { "name" } else { "" },
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect()
}

/// Appends a value's JSON (serializing a `Value` to memory cannot fail).
fn write_json(out: &mut Vec<u8>, value: &Value) {
    out.extend(serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec()));
}

// Reading values the way the printers read decoded objects: absent is zero, empty or "<none>",
// except fields the API server defaults on decode (replicas 1, type ClusterIP, phase Active…).

/// The elements of an array field; none when absent.
fn items(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// A non-empty string field.
fn non_empty(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// A string cell, or `default` when the field is absent or empty.
fn text_or(v: &Value, default: &str) -> Value {
    Value::from(non_empty(v).unwrap_or(default))
}

/// An integer cell; absent counts are zero.
fn count(v: &Value) -> Value {
    Value::from(v.as_i64().unwrap_or(0))
}

fn keys(v: &Value) -> usize {
    v.as_object().map_or(0, |m| m.len())
}

/// `ready/desired`.
fn ratio(have: &Value, want: i64) -> String {
    format!("{}/{want}", have.as_i64().unwrap_or(0))
}

/// `spec.replicas`, which the API server defaults to 1.
fn desired_replicas(o: &Value) -> i64 {
    o["spec"]["replicas"].as_i64().unwrap_or(1)
}

/// `printBool` of `spec.suspend`, which the API server defaults to false.
fn suspended(o: &Value) -> &'static str {
    if o["spec"]["suspend"] == true {
        "True"
    } else {
        "False"
    }
}

/// `field` of each element, comma-joined (container names, images).
fn join_field(list: &Value, field: &str) -> String {
    items(list)
        .iter()
        .map(|i| i[field].as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether a condition of `kind` holds (`status: "True"`).
fn condition_true(conditions: &Value, kind: &str) -> bool {
    items(conditions)
        .iter()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

/// The spec holding a workload's `template` and `selector`: its own, or a CronJob's job template's.
fn workload_spec(o: &Value) -> &Value {
    let spec = &o["spec"];
    match spec.get("jobTemplate") {
        Some(job_template) => &job_template["spec"],
        None => spec,
    }
}

/// The pod spec of a workload's template.
fn pod_template(o: &Value) -> &Value {
    &workload_spec(o)["template"]["spec"]
}

/// `labels.FormatLabels`: `k=v,k2=v2` sorted by key, or `<none>`.
fn format_labels(map: &Value) -> String {
    match map.as_object() {
        Some(m) if !m.is_empty() => {
            let mut pairs: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            pairs.sort();
            pairs.join(",")
        }
        _ => "<none>".to_owned(),
    }
}

/// `metav1.FormatLabelSelector`: matchLabels and matchExpressions as selector text, sorted by
/// key (`app=web,tier in (a,b),!canary`), `<none>` when empty, `<error>` for an unknown operator.
fn format_label_selector(selector: &Value) -> String {
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

// Time.

/// An RFC 3339 timestamp field as unix seconds.
fn timestamp(v: &Value) -> Option<i64> {
    let text = v.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

/// `translateTimestampSince`: the human age of a timestamp field, `<unknown>` without one.
fn age(v: &Value, now: i64) -> String {
    timestamp(v).map_or_else(|| "<unknown>".to_owned(), |t| human_duration(now - t))
}

/// kubectl's `duration.HumanDuration`: precise while short (`90s`, `5m30s`, `4h2m`, `3d1h`),
/// coarser as it grows (`400d`, `2y45d`, `8y`). Two seconds of clock skew still read `0s`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    let s = seconds.max(0);
    let (minutes, hours) = (s / 60, s / 3600);
    let (days, years) = (hours / 24, hours / 24 / 365);
    // `major` then `minor` units, the minor one left out when zero.
    let two = |major: i64, unit: &str, minor: i64, minor_unit: &str| {
        if minor == 0 {
            format!("{major}{unit}")
        } else {
            format!("{major}{unit}{minor}{minor_unit}")
        }
    };
    if s < 120 {
        format!("{s}s")
    } else if minutes < 10 {
        two(minutes, "m", s % 60, "s")
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        two(hours, "h", minutes % 60, "m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        two(days, "d", hours % 24, "h")
    } else if hours < 24 * 365 * 2 {
        format!("{days}d")
    } else if hours < 24 * 365 * 8 {
        two(years, "y", days % 365, "d")
    } else {
        format!("{years}y")
    }
}

// Pods.

/// READY, STATUS and RESTARTS of a pod. `printPod` computes them in one walk because they
/// depend on each other (an initializing pod counts only its sidecars as ready, and only their
/// restarts once initialized), so each column takes its part of the same summary.
struct PodSummary {
    ready: String,
    status: String,
    restarts: String,
}

/// Restarts of some containers and when the latest of them ended.
#[derive(Debug, Default, Clone, Copy)]
struct Restarts {
    count: i64,
    last: Option<i64>,
}

impl Restarts {
    fn add(&mut self, container_status: &Value) {
        self.count += container_status["restartCount"].as_i64().unwrap_or(0);
        let finished = timestamp(&container_status["lastState"]["terminated"]["finishedAt"]);
        self.last = self.last.max(finished);
    }

    /// `3`, or `3 (5m ago)` when the last termination is known.
    fn render(self, now: i64) -> String {
        match self.last {
            Some(t) if self.count != 0 => {
                format!("{} ({} ago)", self.count, human_duration(now - t))
            }
            _ => self.count.to_string(),
        }
    }
}

/// A container state's `terminated` or `waiting` part, when it is set.
fn state<'a>(container_status: &'a Value, which: &str) -> Option<&'a Value> {
    Some(&container_status["state"][which]).filter(|s| s.is_object())
}

fn exit_code(terminated: &Value) -> i64 {
    terminated["exitCode"].as_i64().unwrap_or(0)
}

/// Why a container terminated: its reason, else `Signal:N`, else `ExitCode:N`.
fn terminated_reason(terminated: &Value) -> String {
    if let Some(reason) = non_empty(&terminated["reason"]) {
        return reason.to_owned();
    }
    match terminated["signal"].as_i64() {
        Some(signal) if signal != 0 => format!("Signal:{signal}"),
        _ => format!("ExitCode:{}", exit_code(terminated)),
    }
}

/// `printPod`'s readiness, status reason and restarts (Kubernetes 1.3x, sidecars included).
fn pod_summary(o: &Value, now: i64) -> PodSummary {
    let (spec, status) = (&o["spec"], &o["status"]);
    let phase = status["phase"].as_str().unwrap_or_default();
    let mut reason = non_empty(&status["reason"]).unwrap_or(phase).to_owned();
    if items(&status["conditions"])
        .iter()
        .any(|c| c["type"] == "PodScheduled" && c["reason"] == "SchedulingGated")
    {
        reason = "SchedulingGated".to_owned();
    }
    let init_specs = items(&spec["initContainers"]);
    let is_sidecar = |c: &Value| c["restartPolicy"] == "Always";
    let sidecar_named = |name: &Value| {
        init_specs
            .iter()
            .any(|c| &c["name"] == name && is_sidecar(c))
    };
    let total =
        items(&spec["containers"]).len() + init_specs.iter().filter(|c| is_sidecar(c)).count();
    let mut ready = 0;
    let mut restarts = Restarts::default();
    let mut sidecar_restarts = Restarts::default();
    let mut initializing = false;
    for (i, c) in items(&status["initContainerStatuses"]).iter().enumerate() {
        restarts.add(c);
        let sidecar = sidecar_named(&c["name"]);
        if sidecar {
            sidecar_restarts.add(c);
        }
        let terminated = state(c, "terminated");
        if terminated.is_some_and(|t| exit_code(t) == 0) {
            continue;
        }
        if sidecar && c["started"] == true {
            ready += usize::from(c["ready"] == true);
            continue;
        }
        reason = match (
            terminated,
            state(c, "waiting").and_then(|w| non_empty(&w["reason"])),
        ) {
            (Some(t), _) => format!("Init:{}", terminated_reason(t)),
            (None, Some(waiting)) if waiting != "PodInitializing" => format!("Init:{waiting}"),
            _ => format!("Init:{i}/{}", init_specs.len()),
        };
        initializing = true;
        break;
    }
    if !initializing || condition_true(&status["conditions"], "Initialized") {
        restarts = sidecar_restarts;
        let mut has_running = false;
        let mut error_reason = None;
        for c in items(&status["containerStatuses"]).iter().rev() {
            restarts.add(c);
            if let Some(waiting) = state(c, "waiting").and_then(|w| non_empty(&w["reason"])) {
                reason = waiting.to_owned();
            } else if let Some(t) = state(c, "terminated") {
                reason = terminated_reason(t);
                if exit_code(t) != 0 {
                    error_reason = Some(reason.clone());
                }
            } else if c["ready"] == true && state(c, "running").is_some() {
                has_running = true;
                ready += 1;
            }
        }
        // A finished container next to running ones: the pod is still up.
        if reason == "Completed" {
            if has_running && condition_true(&status["conditions"], "Ready") {
                reason = "Running".to_owned();
            } else if let Some(error) = error_reason {
                reason = error;
            } else if has_running {
                reason = "NotReady".to_owned();
            }
        }
    }
    if !o["metadata"]["deletionTimestamp"].is_null() {
        if status["reason"] == "NodeLost" {
            reason = "Unknown".to_owned();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_owned();
        }
    }
    PodSummary {
        ready: format!("{ready}/{total}"),
        status: reason,
        restarts: restarts.render(now),
    }
}

/// The row conditions `printPod` attaches to finished pods (clients may hide completed rows).
fn pod_conditions(o: &Value) -> Option<Value> {
    let (reason, message) = match o["status"]["phase"].as_str()? {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

/// The first pod IP.
fn pod_ip(o: &Value) -> String {
    let status = &o["status"];
    non_empty(&status["podIPs"][0]["ip"])
        .or_else(|| non_empty(&status["podIP"]))
        .unwrap_or("<none>")
        .to_owned()
}

/// `met/total` readiness gates whose pod condition holds, or `<none>`.
fn readiness_gates(o: &Value) -> String {
    let gates = items(&o["spec"]["readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_owned();
    }
    let conditions = items(&o["status"]["conditions"]);
    let met = gates
        .iter()
        .filter(|gate| {
            conditions
                .iter()
                .find(|c| c["type"] == gate["conditionType"])
                .is_some_and(|c| c["status"] == "True")
        })
        .count();
    format!("{met}/{}", gates.len())
}

// Jobs.

/// `Complete`, `Failed`, `Terminating`, `Suspended`, `FailureTarget`, `SuccessCriteriaMet` or
/// `Running`, in the API server's order of precedence.
fn job_status(o: &Value) -> &'static str {
    let holds = |kind: &str| condition_true(&o["status"]["conditions"], kind);
    if holds("Complete") {
        "Complete"
    } else if holds("Failed") {
        "Failed"
    } else if !o["metadata"]["deletionTimestamp"].is_null() {
        "Terminating"
    } else if holds("Suspended") {
        "Suspended"
    } else if holds("FailureTarget") {
        "FailureTarget"
    } else if holds("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    }
}

/// `succeeded/completions`; without completions, `succeeded/1` (`of N` when parallel).
fn job_completions(o: &Value) -> String {
    let succeeded = o["status"]["succeeded"].as_i64().unwrap_or(0);
    if let Some(completions) = o["spec"]["completions"].as_i64() {
        return format!("{succeeded}/{completions}");
    }
    match o["spec"]["parallelism"].as_i64() {
        Some(parallelism) if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
        _ => format!("{succeeded}/1"),
    }
}

/// How long the job ran: to its completion, or until now; empty before it started.
fn job_duration(o: &Value, now: i64) -> String {
    let Some(start) = timestamp(&o["status"]["startTime"]) else {
        return String::new();
    };
    let end = timestamp(&o["status"]["completionTime"]).unwrap_or(now);
    human_duration(end - start)
}

// Services.

/// `spec.type`, which the API server defaults to ClusterIP.
fn service_type(o: &Value) -> &str {
    o["spec"]["type"].as_str().unwrap_or("ClusterIP")
}

fn service_cluster_ip(o: &Value) -> String {
    let spec = &o["spec"];
    non_empty(&spec["clusterIPs"][0])
        .or_else(|| non_empty(&spec["clusterIP"]))
        .unwrap_or("<none>")
        .to_owned()
}

/// `getServiceExternalIP`: load balancer addresses (sorted, deduplicated) then externalIPs;
/// `<pending>` for a load balancer without any, the external name for ExternalName.
fn service_external_ip(o: &Value) -> String {
    let spec = &o["spec"];
    let external: Vec<&str> = items(&spec["externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match service_type(o) {
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".to_owned(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            let mut addresses: Vec<&str> = items(&o["status"]["loadBalancer"]["ingress"])
                .iter()
                .filter_map(|i| non_empty(&i["ip"]).or_else(|| non_empty(&i["hostname"])))
                .collect();
            addresses.sort_unstable();
            addresses.dedup();
            addresses.extend(external);
            if addresses.is_empty() {
                "<pending>".to_owned()
            } else {
                addresses.join(",")
            }
        }
        "ExternalName" => spec["externalName"].as_str().unwrap_or_default().to_owned(),
        _ => "<unknown>".to_owned(),
    }
}

/// `makePortString`: `80/TCP,443:30443/TCP`, or `<none>`.
fn service_ports(o: &Value) -> String {
    let ports: Vec<String> = items(&o["spec"]["ports"])
        .iter()
        .map(|p| {
            let port = p["port"].as_i64().unwrap_or(0);
            let protocol = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64() {
                Some(node_port) if node_port > 0 => format!("{port}:{node_port}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    if ports.is_empty() {
        "<none>".to_owned()
    } else {
        ports.join(",")
    }
}

// Nodes.

/// `Ready` or `NotReady` from the Ready condition (`Unknown` without one), then
/// `,SchedulingDisabled` for a cordoned node.
fn node_status(o: &Value) -> String {
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
fn node_roles(o: &Value) -> String {
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
    if roles.is_empty() {
        "<none>".to_owned()
    } else {
        roles.join(",")
    }
}

/// The node's first address of `kind` (`InternalIP`, `ExternalIP`), or `<none>`.
fn node_address(o: &Value, kind: &str) -> String {
    items(&o["status"]["addresses"])
        .iter()
        .find(|a| a["type"] == kind)
        .and_then(|a| a["address"].as_str())
        .unwrap_or("<none>")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-06-15T15:06:40Z.
    const NOW: i64 = 1_750_000_000;
    /// Three hours before [`NOW`].
    const CREATED: &str = "2025-06-15T12:06:40Z";

    fn meta(name: &str) -> Value {
        json!({"name": name, "namespace": "web", "uid": format!("uid-{name}"),
               "creationTimestamp": CREATED, "labels": {"app": name},
               "annotations": {CLUSTER_ANNOTATION: "prod-eu-1"}})
    }

    /// The whole Table for some objects, parsed back (so every output is checked to be JSON).
    fn render(group: &str, kind: &str, include: IncludeObject, objects: &[Value]) -> Value {
        let meta = ListMeta {
            continue_token: Some("next".into()),
            ..Default::default()
        };
        let (mut w, mut out) = TableWriter::head(group, kind, include, NOW, None);
        for o in objects {
            w.row(&mut out, &o.to_string());
        }
        w.tail(&mut out, &meta);
        serde_json::from_slice(&out).unwrap()
    }

    fn one(group: &str, kind: &str, object: Value) -> Value {
        render(group, kind, IncludeObject::None, &[object])
    }

    fn names(table: &Value) -> Vec<&str> {
        table["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect()
    }

    fn cells(table: &Value) -> &[Value] {
        table["rows"][0]["cells"].as_array().unwrap()
    }

    /// The cell under the column named `column` in the first row.
    fn cell<'a>(table: &'a Value, column: &str) -> &'a Value {
        let i = names(table).iter().position(|n| *n == column).unwrap();
        &cells(table)[i]
    }

    fn pod(spec: Value, status: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta("api-0"), "spec": spec, "status": status})
    }

    fn pod_status(spec: Value, status: Value) -> String {
        pod_summary(&pod(spec, status), NOW).status
    }

    fn running(name: &str, ready: bool, restarts: i64) -> Value {
        json!({"name": name, "ready": ready, "restartCount": restarts, "started": true,
               "state": {"running": {"startedAt": CREATED}}})
    }

    #[test]
    fn pods_show_kubectls_columns_and_cells() {
        let mut crashed = running("a", true, 3);
        crashed["lastState"] =
            json!({"terminated": {"exitCode": 1, "finishedAt": "2025-06-15T15:01:40Z"}});
        let p = pod(
            json!({"nodeName": "node-1", "containers": [{"name": "a"}, {"name": "b"}]}),
            json!({"phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}],
                   "containerStatuses": [crashed, running("b", false, 0)]}),
        );
        let t = render("", "Pod", IncludeObject::Metadata, &[p]);
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
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
            [
                json!("prod-eu-1"),
                json!("api-0"),
                json!("1/2"),
                json!("Running"),
                json!("3 (5m ago)"),
                json!("3h"),
                json!("10.0.0.1"),
                json!("node-1"),
                json!("<none>"),
                json!("<none>")
            ]
        );
        let priorities: Vec<u64> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["priority"].as_u64().unwrap())
            .collect();
        assert_eq!(priorities, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
        assert!(t["rows"][0].get("conditions").is_none());

        // Restarts without a known last termination are a bare count.
        let p = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Running", "containerStatuses": [running("a", true, 3)]}),
        );
        assert_eq!(pod_summary(&p, NOW).restarts, "3");
    }

    #[test]
    fn pod_status_follows_the_api_server() {
        let one_container = json!({"containers": [{"name": "a"}]});
        let waiting = |reason: &str| json!({"name": "a", "ready": false, "restartCount": 7, "state": {"waiting": {"reason": reason}}});
        assert_eq!(
            pod_status(
                one_container.clone(),
                json!({"phase": "Running", "containerStatuses": [waiting("CrashLoopBackOff")]})
            ),
            "CrashLoopBackOff"
        );
        // A finished job pod.
        let completed = json!({"name": "a", "ready": false, "restartCount": 0,
                               "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
        let p = pod(
            one_container.clone(),
            json!({"phase": "Succeeded", "containerStatuses": [completed]}),
        );
        assert_eq!(pod_summary(&p, NOW).status, "Completed");
        assert_eq!(pod_summary(&p, NOW).ready, "0/1");
        let t = render("", "Pod", IncludeObject::None, &[p]);
        assert_eq!(t["rows"][0]["conditions"][0]["type"], "Completed");
        assert_eq!(t["rows"][0]["conditions"][0]["reason"], "Succeeded");
        // Errors without a reason.
        let killed = json!({"name": "a", "state": {"terminated": {"exitCode": 137, "signal": 9}}});
        assert_eq!(
            pod_status(
                one_container.clone(),
                json!({"phase": "Failed", "containerStatuses": [killed]})
            ),
            "Signal:9"
        );
        let failed = json!({"name": "a", "state": {"terminated": {"exitCode": 2}}});
        assert_eq!(
            pod_status(
                one_container.clone(),
                json!({"phase": "Failed", "containerStatuses": [failed]})
            ),
            "ExitCode:2"
        );
        // Init containers.
        let init = json!({"initContainers": [{"name": "init"}], "containers": [{"name": "a"}]});
        let init_waiting = |reason: &str| {
            json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "init", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": reason}}}]})
        };
        assert_eq!(
            pod_status(init.clone(), init_waiting("PodInitializing")),
            "Init:0/1"
        );
        assert_eq!(
            pod_status(init.clone(), init_waiting("ImagePullBackOff")),
            "Init:ImagePullBackOff"
        );
        let init_failed = json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "init", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]});
        assert_eq!(pod_status(init.clone(), init_failed), "Init:Error");
        let init_running = json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "init", "state": {"running": {}}}],
            "containerStatuses": [{"name": "a", "ready": false, "state": {"waiting": {"reason": "PodInitializing"}}}]});
        let p = pod(init.clone(), init_running);
        assert_eq!(pod_summary(&p, NOW).status, "Init:0/1");
        assert_eq!(pod_summary(&p, NOW).ready, "0/1");
        // A ready sidecar (restartable init container) counts among the containers.
        let sidecar = json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "a"}]});
        let p = pod(
            sidecar,
            json!({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
                   "initContainerStatuses": [running("proxy", true, 1)],
                   "containerStatuses": [running("a", true, 0)]}),
        );
        let summary = pod_summary(&p, NOW);
        assert_eq!(
            (
                summary.ready.as_str(),
                summary.status.as_str(),
                summary.restarts.as_str()
            ),
            ("2/2", "Running", "1")
        );
        // A completed container next to a running, unready one.
        let p = pod(
            json!({"containers": [{"name": "a"}, {"name": "b"}]}),
            json!({"phase": "Running", "containerStatuses": [
                running("a", true, 0),
                {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        );
        assert_eq!(pod_summary(&p, NOW).status, "NotReady");
        // Deleting, scheduling gates, the pod's own reason.
        let mut p = pod(
            one_container.clone(),
            json!({"phase": "Running", "containerStatuses": [running("a", true, 0)]}),
        );
        p["metadata"]["deletionTimestamp"] = json!(CREATED);
        assert_eq!(pod_summary(&p, NOW).status, "Terminating");
        assert_eq!(
            pod_status(
                one_container.clone(),
                json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]})
            ),
            "SchedulingGated"
        );
        assert_eq!(
            pod_status(
                one_container,
                json!({"phase": "Failed", "reason": "Evicted"})
            ),
            "Evicted"
        );
    }

    #[test]
    fn pod_wide_columns() {
        let p = pod(
            json!({"containers": [{"name": "a"}], "readinessGates": [{"conditionType": "lb/ready"}, {"conditionType": "other"}]}),
            json!({"phase": "Pending", "nominatedNodeName": "node-9", "conditions": [
                {"type": "lb/ready", "status": "True"}, {"type": "other", "status": "False"}]}),
        );
        let t = one("", "Pod", p);
        assert_eq!(cell(&t, "IP"), "<none>");
        assert_eq!(cell(&t, "Node"), "<none>");
        assert_eq!(cell(&t, "Nominated Node"), "node-9");
        assert_eq!(cell(&t, "Readiness Gates"), "1/2");
        assert_eq!(cell(&t, "Ready"), "0/1");
        assert_eq!(cell(&t, "Status"), "Pending");
        assert_eq!(cell(&t, "Restarts"), "0");
    }

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

    #[test]
    fn jobs_and_cron_jobs() {
        let job = |spec: Value, status: Value| {
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("backup-29170"),
                   "spec": spec, "status": status})
        };
        let done = job(
            json!({"completions": 1, "parallelism": 1, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
                   "template": {"spec": {"containers": [{"name": "backup", "image": "restic:0.16"}]}}}),
            json!({"succeeded": 1, "startTime": "2025-06-15T12:00:00Z", "completionTime": "2025-06-15T12:01:30Z",
                   "conditions": [{"type": "Complete", "status": "True"}]}),
        );
        let t = one("batch", "Job", done);
        assert_eq!(
            names(&t),
            [
                "Cluster",
                "Name",
                "Status",
                "Completions",
                "Duration",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            cells(&t)[2..],
            [
                json!("Complete"),
                json!("1/1"),
                json!("90s"),
                json!("3h"),
                json!("backup"),
                json!("restic:0.16"),
                json!("batch.kubernetes.io/controller-uid=u1")
            ]
        );
        let running = job(
            json!({"parallelism": 3}),
            json!({"active": 3, "startTime": "2025-06-15T15:00:00Z"}),
        );
        let t = one("batch", "Job", running);
        assert_eq!(
            cells(&t)[2..5],
            [json!("Running"), json!("0/1 of 3"), json!("6m40s")]
        );
        let failed = job(
            json!({"completions": 2}),
            json!({"failed": 6, "conditions": [{"type": "Failed", "status": "True"}]}),
        );
        assert_eq!(
            cells(&one("batch", "Job", failed))[2..5],
            [json!("Failed"), json!("0/2"), json!("")]
        );
        let suspended = job(
            json!({"suspend": true}),
            json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
        );
        assert_eq!(cell(&one("batch", "Job", suspended), "Status"), "Suspended");

        let cj = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("backup"),
            "spec": {"schedule": "0 2 * * *", "suspend": false,
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "backup", "image": "restic:0.16"}]}}}}},
            "status": {"active": [{"name": "backup-29170"}], "lastScheduleTime": "2025-06-15T14:06:40Z"}});
        let t = one("batch", "CronJob", cj);
        assert_eq!(
            names(&t),
            [
                "Cluster",
                "Name",
                "Schedule",
                "Timezone",
                "Suspend",
                "Active",
                "Last Schedule",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            cells(&t)[2..],
            [
                json!("0 2 * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("60m"),
                json!("3h"),
                json!("backup"),
                json!("restic:0.16"),
                json!("<none>")
            ]
        );
        assert_eq!(t["columnDefinitions"][4]["type"], "boolean");
        let idle = json!({"metadata": meta("idle"), "spec": {"schedule": "@daily", "timeZone": "Europe/Paris"}, "status": {}});
        assert_eq!(
            cells(&one("batch", "CronJob", idle))[2..7],
            [
                json!("@daily"),
                json!("Europe/Paris"),
                json!("False"),
                json!(0),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn services() {
        let svc = |spec: Value, status: Value| {
            one(
                "",
                "Service",
                json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("api"), "spec": spec, "status": status}),
            )
        };
        let t = svc(
            json!({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "selector": {"tier": "api", "app": "web"},
                   "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}, {"port": 53, "protocol": "UDP"}]}),
            json!({}),
        );
        assert_eq!(
            names(&t),
            [
                "Cluster",
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
                "Selector"
            ]
        );
        assert_eq!(
            cells(&t)[2..],
            [
                json!("ClusterIP"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80/TCP,53/UDP"),
                json!("3h"),
                json!("app=web,tier=api")
            ]
        );
        let t = svc(
            json!({"type": "LoadBalancer", "clusterIP": "10.96.0.9", "externalIPs": ["192.0.2.7"],
                   "ports": [{"port": 443, "nodePort": 30443, "protocol": "TCP"}]}),
            json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}, {"hostname": "lb.example.com"}]}}),
        );
        assert_eq!(
            cells(&t)[2..6],
            [
                json!("LoadBalancer"),
                json!("10.96.0.9"),
                json!("203.0.113.10,lb.example.com,192.0.2.7"),
                json!("443:30443/TCP")
            ]
        );
        assert_eq!(cell(&t, "Selector"), "<none>");
        let pending = svc(
            json!({"type": "LoadBalancer", "clusterIP": "10.96.0.8"}),
            json!({}),
        );
        assert_eq!(cell(&pending, "External-IP"), "<pending>");
        assert_eq!(cell(&pending, "Port(s)"), "<none>");
        let external = svc(
            json!({"type": "ExternalName", "externalName": "db.example.com"}),
            json!({}),
        );
        assert_eq!(
            cells(&external)[2..5],
            [
                json!("ExternalName"),
                json!("<none>"),
                json!("db.example.com")
            ]
        );
        let headless = svc(json!({"type": "ClusterIP", "clusterIP": "None"}), json!({}));
        assert_eq!(cell(&headless, "Cluster-IP"), "None");
    }

    #[test]
    fn config_maps_secrets_and_namespaces() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("settings"),
                        "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        let t = one("", "ConfigMap", cm);
        assert_eq!(names(&t), ["Cluster", "Name", "Data", "Age"]);
        assert_eq!(
            cells(&t),
            [json!("prod-eu-1"), json!("settings"), json!(3), json!("3h")]
        );

        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("tls"),
                            "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
        let t = one("", "Secret", secret);
        assert_eq!(names(&t), ["Cluster", "Name", "Type", "Data", "Age"]);
        assert_eq!(
            cells(&t)[2..],
            [json!("kubernetes.io/tls"), json!(2), json!("3h")]
        );
        // Fields the API server defaults read as defaulted.
        let bare = json!({"metadata": meta("bare")});
        assert_eq!(cell(&one("", "Secret", bare.clone()), "Type"), "Opaque");
        assert_eq!(
            cell(&one("", "Namespace", bare.clone()), "Status"),
            "Active"
        );
        assert_eq!(
            cell(&one("apps", "Deployment", bare.clone()), "Ready"),
            "0/1"
        );
        assert_eq!(cell(&one("", "Service", bare), "Type"), "ClusterIP");

        let mut ns_meta = meta("web");
        ns_meta.as_object_mut().unwrap().remove("namespace");
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": ns_meta, "status": {"phase": "Active"}});
        let t = one("", "Namespace", ns);
        assert_eq!(names(&t), ["Cluster", "Name", "Status", "Age"]);
        assert_eq!(
            cells(&t),
            [
                json!("prod-eu-1"),
                json!("web"),
                json!("Active"),
                json!("3h")
            ]
        );
    }

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

    #[test]
    fn other_kinds_get_name_and_age() {
        let widget =
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta("w")});
        let t = one("example.com", "Widget", widget.clone());
        assert_eq!(names(&t), ["Cluster", "Name", "Age"]);
        assert_eq!(cells(&t), [json!("prod-eu-1"), json!("w"), json!("3h")]);
        // A custom kind named like a built-in one keeps the default table.
        assert_eq!(
            names(&one("example.com", "Pod", widget)),
            ["Cluster", "Name", "Age"]
        );
    }

    #[test]
    fn include_object_variants() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("settings"), "data": {"a": "1"}});
        let none = render(
            "",
            "ConfigMap",
            IncludeObject::None,
            std::slice::from_ref(&cm),
        );
        assert!(none["rows"][0].get("object").is_none());
        let partial = render(
            "",
            "ConfigMap",
            IncludeObject::Metadata,
            std::slice::from_ref(&cm),
        );
        let object = &partial["rows"][0]["object"];
        assert_eq!(object["kind"], "PartialObjectMetadata");
        assert_eq!(object["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(object["metadata"], cm["metadata"]);
        assert!(object.get("data").is_none());
        let full = render(
            "",
            "ConfigMap",
            IncludeObject::Object,
            std::slice::from_ref(&cm),
        );
        assert_eq!(full["rows"][0]["object"], cm);

        assert_eq!(IncludeObject::default(), IncludeObject::Metadata);
        for (text, want) in [
            ("None", IncludeObject::None),
            ("Metadata", IncludeObject::Metadata),
            ("Object", IncludeObject::Object),
        ] {
            assert_eq!(IncludeObject::parse(text).unwrap(), want);
        }
        let err = IncludeObject::parse("object").unwrap_err();
        assert_eq!((err.code, err.reason), (400, "BadRequest"));
    }

    #[test]
    fn metadata_first_or_last_and_valid_json_throughout() {
        let list_meta = ListMeta {
            name: None,
            continue_token: Some("t".into()),
            remaining_item_count: Some(7),
        };
        let cm =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("a")}).to_string();
        for upfront in [true, false] {
            let (mut w, mut out) = TableWriter::head(
                "",
                "ConfigMap",
                IncludeObject::Metadata,
                NOW,
                upfront.then_some(&list_meta),
            );
            w.row(&mut out, &cm);
            w.row(&mut out, &cm);
            w.tail(&mut out, &list_meta);
            let text = String::from_utf8(out).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["kind"], "Table");
            assert_eq!(v["rows"].as_array().unwrap().len(), 2);
            assert_eq!(v["metadata"]["continue"], "t");
            assert_eq!(v["metadata"]["remainingItemCount"], 7);
            assert_eq!(
                text.find("\"metadata\":{\"continue\"").unwrap() < text.find("\"rows\"").unwrap(),
                upfront
            );
        }
        let (w, mut out) = TableWriter::head("", "Pod", IncludeObject::Metadata, NOW, None);
        w.tail(&mut out, &ListMeta::default());
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["rows"], json!([]));
        assert_eq!(v["metadata"], json!({}));
    }

    #[test]
    fn malformed_objects_get_a_row_of_defaults() {
        for kind in ["Pod", "Node", "Service", "ConfigMap", "Secret", "Namespace"] {
            for include in [
                IncludeObject::None,
                IncludeObject::Metadata,
                IncludeObject::Object,
            ] {
                let (mut w, mut out) = TableWriter::head("", kind, include, NOW, None);
                for text in [
                    "not json",
                    "[1,2]",
                    "{}",
                    r#"{"metadata": 5, "spec": "x", "status": []}"#,
                ] {
                    w.row(&mut out, text);
                }
                w.tail(&mut out, &ListMeta::default());
                let v: Value = serde_json::from_slice(&out).unwrap();
                let rows = v["rows"].as_array().unwrap();
                assert_eq!(rows.len(), 4);
                assert_eq!(rows[0]["cells"][0], "<unknown>");
                assert!(
                    rows[0].get("object").is_none(),
                    "no object for text that is none"
                );
                assert_eq!(
                    rows[0]["cells"].as_array().unwrap().len(),
                    v["columnDefinitions"].as_array().unwrap().len()
                );
            }
        }
        for (group, kind) in [
            ("apps", "Deployment"),
            ("apps", "DaemonSet"),
            ("batch", "CronJob"),
            ("batch", "Job"),
        ] {
            let t = render(
                group,
                kind,
                IncludeObject::Metadata,
                &[json!({"metadata": {"name": "x"}})],
            );
            assert_eq!(cell(&t, "Age"), "<unknown>");
        }
    }

    /// What kubectl's table printer accepts: every column typed as the API server types them,
    /// `format: name` on Name, the Cluster column first, one cell per column in every row, and
    /// every embedded object carrying kind and apiVersion (kubectl decodes it as unstructured).
    #[test]
    fn tables_are_what_kubectl_prints() {
        let kinds = [
            ("", "Pod"),
            ("", "Service"),
            ("", "ConfigMap"),
            ("", "Secret"),
            ("", "Namespace"),
            ("", "Node"),
            ("apps", "Deployment"),
            ("apps", "ReplicaSet"),
            ("apps", "StatefulSet"),
            ("apps", "DaemonSet"),
            ("batch", "Job"),
            ("batch", "CronJob"),
            ("example.com", "Widget"),
        ];
        for (group, kind) in kinds {
            let object = json!({"apiVersion": "v1", "kind": kind, "metadata": meta("x")});
            let t = render(group, kind, IncludeObject::Metadata, &[object]);
            let columns = t["columnDefinitions"].as_array().unwrap();
            assert_eq!(columns[0]["name"], "Cluster", "{kind}");
            assert_eq!(columns[1]["name"], "Name", "{kind}");
            for c in columns {
                let ty = c["type"].as_str().unwrap();
                assert!(
                    ["string", "integer", "number", "boolean", "date"].contains(&ty),
                    "{kind} {c}"
                );
                assert_eq!(c["format"], if c["name"] == "Name" { "name" } else { "" });
                assert!(c["description"].as_str().is_some_and(|d| !d.is_empty()));
                assert!(c["priority"] == 0 || c["priority"] == 1);
            }
            let row = &t["rows"][0];
            let cells = row["cells"].as_array().unwrap();
            assert_eq!(cells.len(), columns.len(), "{kind}");
            for (c, value) in columns.iter().zip(cells) {
                match c["type"].as_str().unwrap() {
                    "integer" => assert!(value.is_i64(), "{kind} {c}: {value}"),
                    _ => assert!(value.is_string(), "{kind} {c}: {value}"),
                }
            }
            assert_eq!(cells[0], "prod-eu-1");
            assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
            assert_eq!(row["object"]["metadata"]["namespace"], "web");
        }
    }

    #[test]
    fn ages_like_kubectl() {
        for (seconds, text) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (4 * 3600 + 120, "4h2m"),
            (30 * 3600, "30h"),
            (2 * 86_400, "2d"),
            (3 * 86_400 + 3600, "3d1h"),
            (8 * 86_400, "8d"),
            (400 * 86_400, "400d"),
            (730 * 86_400, "2y"),
            (800 * 86_400, "2y70d"),
            (3000 * 86_400, "8y"),
        ] {
            assert_eq!(human_duration(seconds), text, "{seconds}");
        }
        assert_eq!(age(&json!(CREATED), NOW), "3h");
        assert_eq!(age(&json!("2025-06-15T15:06:40+02:00"), NOW), "120m");
        assert_eq!(age(&Value::Null, NOW), "<unknown>");
        assert_eq!(age(&json!("yesterday"), NOW), "<unknown>");
    }
}
