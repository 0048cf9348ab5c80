//! What the per-kind tests share: a fixed clock, object metadata, and a Table rendered and
//! parsed back.

use super::*;
use crate::render::list::ListMeta;

/// 2025-06-15T15:06:40Z.
pub(super) const NOW: i64 = 1_750_000_000;
/// Three hours before [`NOW`].
pub(super) const CREATED: &str = "2025-06-15T12:06:40Z";

pub(super) fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "web", "uid": format!("uid-{name}"),
           "creationTimestamp": CREATED, "labels": {"app": name},
           "annotations": {CLUSTER_ANNOTATION: "prod-eu-1"}})
}

/// The whole Table for some objects, parsed back (so every output is checked to be JSON).
pub(super) fn render(group: &str, kind: &str, include: IncludeObject, objects: &[Value]) -> Value {
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

pub(super) fn one(group: &str, kind: &str, object: Value) -> Value {
    render(group, kind, IncludeObject::None, &[object])
}

pub(super) fn names(table: &Value) -> Vec<&str> {
    table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

pub(super) fn cells(table: &Value) -> &[Value] {
    table["rows"][0]["cells"].as_array().unwrap()
}

/// The cell under the column named `column` in the first row.
pub(super) fn cell<'a>(table: &'a Value, column: &str) -> &'a Value {
    let i = names(table).iter().position(|n| *n == column).unwrap();
    &cells(table)[i]
}
