//! What never leaves the cluster: `metadata.managedFields` (noise), and by default a Secret's
//! `data`, `stringData` and the `kubectl.kubernetes.io/last-applied-configuration` annotation,
//! which holds the same data in clear.
//!
//! Objects are split at the top level and in `metadata` only; everything else (spec, status)
//! is copied as raw text with insignificant whitespace removed, which is much cheaper than
//! building a value tree and keeps the stored objects compact whatever the input's indentation.

use edgepedia_api::raw_object::RawObject;
use serde_json::value::RawValue;

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What the agent needs to know about an object: its type and identity.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub uid: Option<String>,
}

impl Header {
    /// `Pod web/frontend-x` for messages.
    pub fn describe(&self) -> String {
        let kind = self.kind.as_deref().unwrap_or("object");
        match (self.namespace.as_deref(), self.name.as_deref()) {
            (_, None) => format!("{kind} without a name"),
            (Some(ns), Some(name)) => format!("{kind} {ns}/{name}"),
            (None, Some(name)) => format!("{kind} {name}"),
        }
    }
}

/// Parses `item` (one JSON object), writes it stripped and compact to `out`, and returns its
/// header. Fails on invalid JSON or a value that is not an object.
pub fn strip_into(
    item: &[u8],
    keep_secret_data: bool,
    out: &mut Vec<u8>,
) -> Result<Header, serde_json::Error> {
    let top: RawObject = serde_json::from_slice(item)?;
    let text = |v: Option<&RawValue>| {
        v.and_then(|v| serde_json::from_str::<String>(v.get()).ok())
            .filter(|s| !s.is_empty())
    };
    let metadata: Option<RawObject> = match top.get("metadata") {
        Some(raw) if raw.get().starts_with('{') => Some(serde_json::from_str(raw.get())?),
        _ => None,
    };
    let field = |key: &str| text(metadata.as_ref().and_then(|m| m.get(key)));
    let header = Header {
        api_version: text(top.get("apiVersion")),
        kind: text(top.get("kind")),
        name: field("name"),
        namespace: field("namespace"),
        uid: field("uid"),
    };
    let hide = !keep_secret_data
        && header.api_version.as_deref() == Some("v1")
        && header.kind.as_deref() == Some("Secret");

    out.push(b'{');
    let mut first = true;
    for (key, value) in &top.0 {
        if hide && (key == "data" || key == "stringData") {
            continue;
        }
        write_key(out, key, &mut first);
        match (&**key, &metadata) {
            ("metadata", Some(metadata)) => {
                out.push(b'{');
                let mut first = true;
                for (key, value) in &metadata.0 {
                    if key == "managedFields" {
                        continue;
                    }
                    write_key(out, key, &mut first);
                    if hide && key == "annotations" && value.get().starts_with('{') {
                        let annotations: RawObject = serde_json::from_str(value.get())?;
                        out.push(b'{');
                        let mut first = true;
                        for (key, value) in annotations.0.iter().filter(|(k, _)| *k != LAST_APPLIED)
                        {
                            write_key(out, key, &mut first);
                            minify(value.get().as_bytes(), out);
                        }
                        out.push(b'}');
                    } else {
                        minify(value.get().as_bytes(), out);
                    }
                }
                out.push(b'}');
            }
            _ => minify(value.get().as_bytes(), out),
        }
    }
    out.push(b'}');
    Ok(header)
}

/// `,"key":` (no comma before the first).
fn write_key(out: &mut Vec<u8>, key: &str, first: &mut bool) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    // A string always serializes; the io::Write of a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, key);
    out.push(b':');
}

/// Copies valid JSON text without whitespace outside strings.
fn minify(json: &[u8], out: &mut Vec<u8>) {
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        } else if b == b'"' {
            in_string = true;
        }
        out.push(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn strip(object: &Value, keep: bool) -> (Value, Header) {
        let mut out = Vec::new();
        let header = strip_into(object.to_string().as_bytes(), keep, &mut out).unwrap();
        (serde_json::from_slice(&out).unwrap(), header)
    }

    fn secret() -> Value {
        json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"d","uid":"u","managedFields":[{}],
            "annotations":{LAST_APPLIED:"{\"data\":{\"password\":\"aHVudGVyMg==\"}}","keep":"me"}},
            "data":{"password":"aHVudGVyMg=="},"stringData":{"token":"t"},"type":"Opaque"})
    }

    #[test]
    fn drops_secret_data_and_managed_fields() {
        let (s, header) = strip(&secret(), false);
        assert!(s.get("data").is_none() && s.get("stringData").is_none());
        assert!(s["metadata"].get("managedFields").is_none());
        assert!(s["metadata"]["annotations"].get(LAST_APPLIED).is_none());
        assert_eq!(s["metadata"]["annotations"]["keep"], "me");
        assert_eq!(s["type"], "Opaque");
        assert_eq!(
            header,
            Header {
                api_version: Some("v1".into()),
                kind: Some("Secret".into()),
                name: Some("s".into()),
                namespace: Some("d".into()),
                uid: Some("u".into()),
            }
        );
        assert_eq!(header.describe(), "Secret d/s");
    }

    #[test]
    fn keep_secret_data_keeps_it_and_other_kinds_keep_their_data() {
        let (s, _) = strip(&secret(), true);
        assert_eq!(s["data"]["password"], "aHVudGVyMg==");
        assert_eq!(s["stringData"]["token"], "t");
        assert!(s["metadata"]["annotations"].get(LAST_APPLIED).is_some());
        assert!(s["metadata"].get("managedFields").is_none());
        let cm = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","managedFields":[],
            "annotations":{LAST_APPLIED:"{}"}},"data":{"a":"b"}});
        let (cm, _) = strip(&cm, false);
        assert_eq!(cm["data"]["a"], "b");
        assert!(cm["metadata"].get("managedFields").is_none());
        assert_eq!(cm["metadata"]["annotations"][LAST_APPLIED], "{}");
        // Only core v1 Secrets are Secrets.
        let other = json!({"apiVersion":"example.com/v1","kind":"Secret","metadata":{"name":"x"},"data":{"a":"b"}});
        assert_eq!(strip(&other, false).0["data"]["a"], "b");
    }

    #[test]
    fn output_is_compact_and_otherwise_unchanged() {
        let text = "{ \"apiVersion\" : \"v1\",\n  \"kind\": \"Pod\",\n  \"metadata\": {\n    \"name\": \"p\",\n    \"managedFields\": [ {\"a\": 1} ],\n    \"labels\": { \"a b\": \"c  d\", \"e\\\"f\": \"\\\\\" }\n  },\n  \"spec\": { \"x\": [ 1, 2.5e3, true, null, \"  \" ] }\n}";
        let mut out = Vec::new();
        let header = strip_into(text.as_bytes(), false, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a b":"c  d","e\"f":"\\"}},"spec":{"x":[1,2.5e3,true,null,"  "]}}"#
        );
        assert_eq!(header.name.as_deref(), Some("p"));
        assert!(header.namespace.is_none() && header.uid.is_none());
    }

    #[test]
    fn odd_shapes_are_reported_or_passed_through() {
        let mut out = Vec::new();
        assert!(strip_into(b"[1]", false, &mut out).is_err());
        assert!(strip_into(br#"{"a":1,}"#, false, &mut out).is_err());
        out.clear();
        // A metadata that is not an object stays as it is; the header has no name.
        let h = strip_into(br#"{"kind":"Pod","metadata":7}"#, false, &mut out).unwrap();
        assert!(h.name.is_none());
        assert_eq!(out, br#"{"kind":"Pod","metadata":7}"#);
        // Non-string identity fields count as missing.
        let h = strip_into(
            br#"{"apiVersion":1,"kind":"","metadata":{"name":["x"]}}"#,
            false,
            &mut out,
        )
        .unwrap();
        assert_eq!(h, Header::default());
    }
}
