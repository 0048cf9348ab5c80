//! ConfigMaps, Secrets and Namespaces: small tables of counts and a status.

use super::*;

pub(super) const CONFIG_MAP: &[Column] = &[
    CLUSTER,
    NAME,
    int("Data", "Keys in data and binaryData.", |o, _| {
        Value::from(keys(&o["data"]) + keys(&o["binaryData"]))
    }),
    AGE,
];

pub(super) const SECRET: &[Column] = &[
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

pub(super) const NAMESPACE: &[Column] = &[
    CLUSTER,
    NAME,
    col("Status", "The status of the namespace.", |o, _| {
        text_or(&o["status"]["phase"], "Active")
    }),
    AGE,
];

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

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
}
