//! What never leaves the cluster: `metadata.managedFields` (noise), and by default a Secret's
//! `data`, `stringData` and the `kubectl.kubernetes.io/last-applied-configuration` annotation,
//! which holds the same data in clear.

use serde_json::Value;

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

pub fn strip(object: &mut Value, keep_secret_data: bool) {
    let is_secret = object["apiVersion"] == "v1" && object["kind"] == "Secret";
    let Some(map) = object.as_object_mut() else {
        return;
    };
    if is_secret && !keep_secret_data {
        map.remove("data");
        map.remove("stringData");
    }
    if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
        if is_secret && !keep_secret_data {
            if let Some(annotations) = metadata
                .get_mut("annotations")
                .and_then(Value::as_object_mut)
            {
                annotations.remove(LAST_APPLIED);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret() -> Value {
        json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","managedFields":[{}],
            "annotations":{LAST_APPLIED:"{\"data\":{\"password\":\"aHVudGVyMg==\"}}","keep":"me"}},
            "data":{"password":"aHVudGVyMg=="},"stringData":{"token":"t"},"type":"Opaque"})
    }

    #[test]
    fn drops_secret_data_and_managed_fields() {
        let mut s = secret();
        strip(&mut s, false);
        assert!(s.get("data").is_none() && s.get("stringData").is_none());
        assert!(s["metadata"].get("managedFields").is_none());
        assert!(s["metadata"]["annotations"].get(LAST_APPLIED).is_none());
        assert_eq!(s["metadata"]["annotations"]["keep"], "me");
        assert_eq!(s["type"], "Opaque");
    }

    #[test]
    fn keep_secret_data_keeps_it_and_other_kinds_keep_their_data() {
        let mut s = secret();
        strip(&mut s, true);
        assert_eq!(s["data"]["password"], "aHVudGVyMg==");
        assert!(s["metadata"]["annotations"].get(LAST_APPLIED).is_some());
        assert!(s["metadata"].get("managedFields").is_none());
        let mut cm = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","managedFields":[]},"data":{"a":"b"}});
        strip(&mut cm, false);
        assert_eq!(cm["data"]["a"], "b");
        assert!(cm["metadata"].get("managedFields").is_none());
    }
}
