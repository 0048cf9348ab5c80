//! One pushed object → the row we store. Checks what readers rely on (apiVersion, kind,
//! metadata.name, metadata.uid, namespace matching the type's scope, bounded size and
//! nesting everywhere in the object), drops `metadata.managedFields`, and adds the
//! `shadow.clusterpedia.io/cluster-name` annotation once here so reads can serve the stored
//! text as is. Whatever passes here can be read back by every query: SQLite's JSON functions
//! and clients' parsers never meet an object they cannot handle.

use edgepedia_api::ingest::{MAX_OBJECT_BYTES, MAX_OBJECT_DEPTH};
use edgepedia_api::raw_object::ObjectOrOther;
use edgepedia_api::{ClusterName, ResourceType};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const CLUSTER_ANNOTATION: &str = "shadow.clusterpedia.io/cluster-name";

/// A validated object, ready to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    pub resource_type: ResourceType,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub owner_uid: Option<String>,
    pub resource_version: Option<String>,
    pub created_at: Option<String>,
    pub json: String,
}

/// Validates and normalizes a pushed item, read straight out of the request body: the body
/// is parsed once, and only `metadata` is parsed again. An item that is not an object is
/// refused on its own (422 naming it), not as a malformed body. `type_of` maps (apiVersion,
/// kind, has namespace) to the type it must belong to, or explains why it cannot be
/// accepted. Errors name the field.
pub fn normalize(
    object: &ObjectOrOther<'_>,
    cluster: &ClusterName,
    type_of: impl FnOnce(&str, &str, bool) -> Result<ResourceType, String>,
) -> Result<StoredObject, String> {
    let members = object.0.as_ref().ok_or("not a JSON object")?;
    // A member sent twice counts as its last value, as a JSON parser's map keeps it.
    let top: BTreeMap<&str, &RawValue> = members.0.iter().map(|(k, v)| (&**k, *v)).collect();
    let len = members_len(&top);
    check_bounds(len, &top).map_err(|e| match identify(&top) {
        Some(id) => format!("{id}: {e}"),
        None => e,
    })?;
    let field = |name: &str| {
        top.get(name)
            .and_then(|v| serde_json::from_str::<Value>(v.get()).ok())
    };
    let header: Map<String, Value> = ["apiVersion", "kind"]
        .into_iter()
        .filter_map(|name| field(name).map(|v| (name.to_owned(), v)))
        .collect();
    let api_version = required_str(&header, "apiVersion")?.to_owned();
    let kind = required_str(&header, "kind")?.to_owned();
    let mut metadata_value =
        field("metadata").ok_or("metadata is required and must be an object")?;
    let metadata = metadata_value
        .as_object_mut()
        .ok_or("metadata is required and must be an object")?;
    let name = required_str(metadata, "name")
        .map_err(|e| format!("metadata.{e}"))?
        .to_owned();
    let uid = required_str(metadata, "uid")
        .map_err(|e| format!("metadata.{e}"))?
        .to_owned();
    let namespace = optional_str(metadata, "namespace")?.unwrap_or_default();
    let resource_type = type_of(&api_version, &kind, !namespace.is_empty())?;
    if resource_type.namespaced && namespace.is_empty() {
        return Err(format!(
            "metadata.namespace is required: {kind} is namespaced"
        ));
    }
    if !resource_type.namespaced && !namespace.is_empty() {
        return Err(format!(
            "metadata.namespace must be empty: {kind} is cluster-scoped"
        ));
    }
    let resource_version = optional_str(metadata, "resourceVersion")?;
    let created_at = optional_str(metadata, "creationTimestamp")?;
    let owner_uid = controller_owner_uid(metadata)?;
    metadata.remove("managedFields");
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if annotations.is_null() {
        *annotations = Value::Object(Map::new());
    }
    annotations
        .as_object_mut()
        .ok_or("metadata.annotations must be an object")?
        .insert(CLUSTER_ANNOTATION.to_owned(), Value::from(cluster.as_str()));
    let metadata_json = json_text(&metadata_value)?;
    // Room for the annotation (and an `annotations` member to hold it), so the text is never
    // reallocated: growing it was a tenth of this function's time.
    let room = CLUSTER_ANNOTATION.len() + cluster.as_str().len() + 32;
    let mut json = String::with_capacity(len + room);
    json.push('{');
    for (i, (&key, value)) in top.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&json_text(&key)?);
        json.push(':');
        json.push_str(if key == "metadata" {
            &metadata_json
        } else {
            value.get()
        });
    }
    json.push('}');
    Ok(StoredObject {
        resource_type,
        namespace,
        name,
        uid,
        owner_uid,
        resource_version,
        created_at,
        json,
    })
}

/// JSON text by serde_json's own writer, not `Display` (`to_string`), whose `fmt` plumbing
/// cost about as much as parsing the object.
fn json_text(value: &impl serde::Serialize) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| e.to_string())
}

/// The length of an object's text as its members make it up (`{"key":value,…}`): what is
/// stored, give or take whitespace between members and the annotation added.
fn members_len(top: &BTreeMap<&str, &RawValue>) -> usize {
    1 + top
        .iter()
        .map(|(key, value)| key.len() + 4 + value.get().len())
        .sum::<usize>()
}

/// Size and depth limits (`len` is [`members_len`]), checked before any member is parsed:
/// serde_json would stop at depth 128 with a vaguer message, and raw members would carry any
/// depth through to SQLite.
fn check_bounds(len: usize, top: &BTreeMap<&str, &RawValue>) -> Result<(), String> {
    if len > MAX_OBJECT_BYTES {
        return Err(format!(
            "the object is {len} bytes, larger than the limit of {MAX_OBJECT_BYTES} bytes"
        ));
    }
    let depth = 1 + top
        .values()
        .map(|value| nesting_depth(value.get()))
        .max()
        .unwrap_or(0);
    if depth > MAX_OBJECT_DEPTH {
        return Err(format!(
            "the object nests {depth} levels deep, deeper than the limit of {MAX_OBJECT_DEPTH}"
        ));
    }
    Ok(())
}

/// `namespace/name` of an object refused before its metadata was checked, when it has them,
/// so the error names the object.
fn identify(top: &BTreeMap<&str, &RawValue>) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Metadata {
        name: String,
        #[serde(default)]
        namespace: String,
    }
    let m = serde_json::from_str::<Metadata>(top.get("metadata")?.get()).ok()?;
    Some(if m.namespace.is_empty() {
        m.name
    } else {
        format!("{}/{}", m.namespace, m.name)
    })
}

/// The deepest nesting of arrays and objects in JSON text (brackets inside strings do not
/// count). One pass over the bytes, jumping through strings (most of an object's text) to
/// their next quote or backslash: cheap next to parsing.
fn nesting_depth(json: &str) -> usize {
    let bytes = json.as_bytes();
    let (mut i, mut depth, mut max) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                loop {
                    let Some(at) = bytes
                        .get(i..)
                        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                    else {
                        return max;
                    };
                    if bytes[i + at] == b'"' {
                        i += at + 1;
                        break;
                    }
                    i += at + 2;
                }
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

fn required_str<'a>(map: &'a Map<String, Value>, field: &str) -> Result<&'a str, String> {
    match map.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(format!("{field} must be a non-empty string")),
        None => Err(format!("{field} is required")),
    }
}

fn optional_str(map: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("metadata.{field} must be a string")),
    }
}

/// The owner that manages the object: the `controller: true` reference, else the first one.
fn controller_owner_uid(metadata: &Map<String, Value>) -> Result<Option<String>, String> {
    let Some(refs) = metadata.get("ownerReferences") else {
        return Ok(None);
    };
    let refs = refs
        .as_array()
        .ok_or("metadata.ownerReferences must be an array")?;
    let chosen = refs
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .or_else(|| refs.first());
    Ok(chosen
        .and_then(|r| r.get("uid"))
        .and_then(Value::as_str)
        .map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> ClusterName {
        ClusterName::parse("c1").unwrap()
    }

    fn pushed(raw: &str) -> ObjectOrOther<'_> {
        serde_json::from_str(raw).unwrap()
    }

    fn by_catalog(api_version: &str, kind: &str, has_ns: bool) -> Result<ResourceType, String> {
        Ok(ResourceType::for_object(api_version, kind, has_ns))
    }

    #[test]
    fn normalizes_a_pod() {
        let raw = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","uid":"u1",
            "resourceVersion":"42","creationTimestamp":"2024-01-02T03:04:05Z","managedFields":[{"manager":"x"}],
            "ownerReferences":[{"uid":"other"},{"uid":"rs-1","controller":true}]},"spec":{}}"#;
        let o = normalize(&pushed(raw), &cluster(), by_catalog).unwrap();
        assert_eq!(
            (o.namespace.as_str(), o.name.as_str(), o.uid.as_str()),
            ("default", "p", "u1")
        );
        assert_eq!(o.owner_uid.as_deref(), Some("rs-1"));
        assert_eq!(o.resource_version.as_deref(), Some("42"));
        assert_eq!(o.resource_type.resource, "pods");
        let v: Value = serde_json::from_str(&o.json).unwrap();
        assert!(v["metadata"].get("managedFields").is_none());
        assert_eq!(v["metadata"]["annotations"][CLUSTER_ANNOTATION], "c1");
    }

    fn nested(depth: usize) -> String {
        let spec = format!("{}1{}", "[".repeat(depth - 2), "]".repeat(depth - 2));
        format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p","namespace":"d","uid":"u"}},"spec":{{"x":{spec}}}}}"#
        )
    }

    #[test]
    fn bounds_depth_everywhere_and_size() {
        assert_eq!(nesting_depth(&nested(MAX_OBJECT_DEPTH)), MAX_OBJECT_DEPTH);
        assert!(normalize(&pushed(&nested(MAX_OBJECT_DEPTH)), &cluster(), by_catalog).is_ok());
        let err = normalize(
            &pushed(&nested(MAX_OBJECT_DEPTH + 1)),
            &cluster(),
            by_catalog,
        )
        .unwrap_err();
        assert!(
            err.starts_with("d/p: ") && err.contains("65 levels deep"),
            "{err}"
        );
        let err = normalize(&pushed(&nested(999)), &cluster(), by_catalog).unwrap_err();
        assert!(err.contains("999 levels deep"), "{err}");
        // Brackets in strings, escaped quotes included, are text.
        let text = format!(r#"{{"a":"{}\"{}"}}"#, "[".repeat(200), "{".repeat(200));
        assert_eq!(nesting_depth(&text), 1);
        // An escaped backslash ends before the quote, which then closes the string.
        assert_eq!(nesting_depth(r#"{"a":"x\\","b":[[1]]}"#), 3);
        assert_eq!(nesting_depth(r#"{"a":"\\\"[[[","b":[1]}"#), 2);
        // Text cut off inside a string or right after a backslash counts what came before.
        assert_eq!(nesting_depth(r#"[[{"a":"[[[["#), 3);
        assert_eq!(nesting_depth(r#"[[{"a":"\"#), 3);
        let big = format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p","namespace":"d","uid":"u"}},"data":"{}"}}"#,
            "x".repeat(MAX_OBJECT_BYTES)
        );
        assert!(normalize(&pushed(&big), &cluster(), by_catalog)
            .unwrap_err()
            .contains("larger than the limit"));
    }

    #[test]
    fn names_what_is_wrong() {
        let cases = [
            ("[1, {\"a\": [2]}]", "not a JSON object"),
            ("\"text\"", "not a JSON object"),
            ("null", "not a JSON object"),
            (r#"{"kind":"Pod","metadata":{}}"#, "apiVersion is required"),
            (
                r#"{"apiVersion":"v1","kind":"Pod","metadata":{"uid":"u","namespace":"d"}}"#,
                "metadata.name is required",
            ),
            (
                r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"d"}}"#,
                "metadata.uid is required",
            ),
            (
                r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","uid":"u"}}"#,
                "metadata.namespace is required",
            ),
            (
                r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n","uid":"u","namespace":"x"}}"#,
                "must be empty",
            ),
            (
                r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","uid":"u","namespace":"d","annotations":[]}}"#,
                "annotations must be an object",
            ),
        ];
        for (raw, expected) in cases {
            let err = normalize(&pushed(raw), &cluster(), by_catalog).unwrap_err();
            assert!(err.contains(expected), "{raw}: {err}");
        }
    }
}
