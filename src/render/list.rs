//! Kubernetes `List` JSON written piecewise, so a long list can be streamed page by page.
//! Items are the stored JSON text, copied verbatim.

use serde::Serialize;

/// `metadata` of a list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    /// Collections are named objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_item_count: Option<u64>,
}

impl ListMeta {
    /// `"metadata":{…}` (`leading_comma` before it, else a comma after it).
    fn write_field(&self, out: &mut Vec<u8>, leading_comma: bool) {
        if leading_comma {
            out.push(b',');
        }
        out.extend_from_slice(b"\"metadata\":");
        out.extend(serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec()));
        if !leading_comma {
            out.push(b',');
        }
    }

    /// Opens an envelope: the metadata when it is known up front.
    pub fn write_head(metadata: Option<&ListMeta>, out: &mut Vec<u8>) {
        if let Some(meta) = metadata {
            meta.write_field(out, false);
        }
    }

    /// Closes the item array and the envelope, writing the metadata now if the head did not.
    pub fn write_tail(&self, written_at_head: bool, out: &mut Vec<u8>) {
        out.push(b']');
        if !written_at_head {
            self.write_field(out, true);
        }
        out.push(b'}');
    }
}

/// Writes `{"kind":…,"apiVersion":…,["metadata":…,]"items":[` and remembers whether the
/// metadata still has to be written after the items (when it is only known at the end).
pub struct ListWriter {
    first_item: bool,
    metadata_written: bool,
}

impl ListWriter {
    /// `preamble`: extra top-level fields, each followed by a comma.
    pub fn head(
        kind: &str,
        api_version: &str,
        preamble: &str,
        metadata: Option<&ListMeta>,
    ) -> (Self, Vec<u8>) {
        let mut out = format!(
            "{{\"kind\":{},\"apiVersion\":{},",
            json_string(kind),
            json_string(api_version)
        )
        .into_bytes();
        ListMeta::write_head(metadata, &mut out);
        out.extend_from_slice(preamble.as_bytes());
        out.extend_from_slice(b"\"items\":[");
        (
            Self {
                first_item: true,
                metadata_written: metadata.is_some(),
            },
            out,
        )
    }

    pub fn item(&mut self, out: &mut Vec<u8>, object: &[u8]) {
        if !self.first_item {
            out.push(b',');
        }
        self.first_item = false;
        out.extend_from_slice(object);
    }

    pub fn tail(self, out: &mut Vec<u8>, metadata: &ListMeta) {
        metadata.write_tail(self.metadata_written, out);
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_lists_with_metadata_first_or_last() {
        let meta = ListMeta {
            name: None,
            continue_token: Some("t".into()),
            remaining_item_count: Some(3),
        };
        for upfront in [true, false] {
            let (mut w, mut out) = ListWriter::head("PodList", "v1", "", upfront.then_some(&meta));
            w.item(&mut out, br#"{"a":1}"#);
            w.item(&mut out, br#"{"b":2}"#);
            w.tail(&mut out, &meta);
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(v["kind"], "PodList");
            assert_eq!(v["items"].as_array().unwrap().len(), 2);
            assert_eq!(v["metadata"]["continue"], "t");
            assert_eq!(v["metadata"]["remainingItemCount"], 3);
        }
        let (w, mut out) = ListWriter::head("PodList", "v1", "", None);
        w.tail(&mut out, &ListMeta::default());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"kind":"PodList","apiVersion":"v1","items":[],"metadata":{}}"#
        );
    }
}
