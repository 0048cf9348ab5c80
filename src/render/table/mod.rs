//! Kubernetes `Table` output (`meta.k8s.io/v1`), what kubectl asks for with
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. The first column is `Cluster`, then
//! the columns the API server's table convertors (`pkg/printers/internalversion/printers.go`)
//! show for the kind, `-o wide` ones at priority 1, so `kubectl get` reads as it does against a
//! single cluster, plus the cluster. Written piecewise like [`crate::render::list::ListWriter`]
//! so a long list streams. NAMESPACE is no column: kubectl adds it for `-A` from each row's
//! embedded object metadata.
//!
//! This module holds the writer and what every kind shares (column types, the Cluster, Name and
//! Age columns, value readers, ages); each kind's printer lives in a module of its own:
//! [`pod`], [`workloads`] (Deployment, ReplicaSet, StatefulSet, DaemonSet), [`batch`] (Job,
//! CronJob), [`service`], [`node`] and [`config`] (ConfigMap, Secret, Namespace).

mod batch;
mod config;
mod node;
mod pod;
mod service;
#[cfg(test)]
mod testing;
mod workloads;

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
            columns: pod::POD,
            conditions: pod::pod_conditions,
        },
        ("", "Service") => plain(service::SERVICE),
        ("", "ConfigMap") => plain(config::CONFIG_MAP),
        ("", "Secret") => plain(config::SECRET),
        ("", "Namespace") => plain(config::NAMESPACE),
        ("", "Node") => plain(node::NODE),
        ("apps" | "extensions", "Deployment") => plain(workloads::DEPLOYMENT),
        ("apps" | "extensions", "ReplicaSet") => plain(workloads::REPLICA_SET),
        ("apps" | "extensions", "DaemonSet") => plain(workloads::DAEMON_SET),
        ("apps", "StatefulSet") => plain(workloads::STATEFUL_SET),
        ("batch", "Job") => plain(batch::JOB),
        ("batch", "CronJob") => plain(batch::CRON_JOB),
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

/// Whether a condition of `kind` holds (`status: "True"`).
fn condition_true(conditions: &Value, kind: &str) -> bool {
    items(conditions)
        .iter()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

/// The parts comma-joined, or `empty` when there are none (`<none>`, `<pending>`).
fn join_or<S: AsRef<str>>(parts: &[S], empty: &str) -> String {
    if parts.is_empty() {
        return empty.to_owned();
    }
    let parts: Vec<&str> = parts.iter().map(AsRef::as_ref).collect();
    parts.join(",")
}

/// `labels.FormatLabels`: `k=v,k2=v2` sorted by key, or `<none>`.
fn format_labels(map: &Value) -> String {
    let mut pairs: Vec<String> = map
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    join_or(&pairs, "<none>")
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

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

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
