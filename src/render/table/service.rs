//! Services: type, cluster IP, external IPs and ports as `kubectl get services` shows them.

use super::*;

pub(super) const SERVICE: &[Column] = &[
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

// Services.

/// `spec.type`, which the API server defaults to ClusterIP.
pub(super) fn service_type(o: &Value) -> &str {
    o["spec"]["type"].as_str().unwrap_or("ClusterIP")
}

pub(super) fn service_cluster_ip(o: &Value) -> String {
    let spec = &o["spec"];
    non_empty(&spec["clusterIPs"][0])
        .or_else(|| non_empty(&spec["clusterIP"]))
        .unwrap_or("<none>")
        .to_owned()
}

/// `getServiceExternalIP`: load balancer addresses (sorted, deduplicated) then externalIPs;
/// `<pending>` for a load balancer without any, the external name for ExternalName.
pub(super) fn service_external_ip(o: &Value) -> String {
    let spec = &o["spec"];
    let external: Vec<&str> = items(&spec["externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match service_type(o) {
        "ClusterIP" | "NodePort" => join_or(&external, "<none>"),
        "LoadBalancer" => {
            let mut addresses: Vec<&str> = items(&o["status"]["loadBalancer"]["ingress"])
                .iter()
                .filter_map(|i| non_empty(&i["ip"]).or_else(|| non_empty(&i["hostname"])))
                .collect();
            addresses.sort_unstable();
            addresses.dedup();
            addresses.extend(external);
            join_or(&addresses, "<pending>")
        }
        "ExternalName" => spec["externalName"].as_str().unwrap_or_default().to_owned(),
        _ => "<unknown>".to_owned(),
    }
}

/// `makePortString`: `80/TCP,443:30443/TCP`, or `<none>`.
pub(super) fn service_ports(o: &Value) -> String {
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
    join_or(&ports, "<none>")
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

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
}
