//! Writes obey every claim reads obey (DESIGN §5), and ingest stores only what every read can
//! serve, end to end through the real `.wasm` and the real agent. Each attack of issue
//! "Step 5" is tried and must get its 403/422 with no change in stored data: the whole store
//! is compared before and after. Each test starts its own server, since it writes.

mod support;

use serde_json::{json, Value};
use std::path::Path;
use support::fixture;
use support::{admin_token, keys, mint, Server};

const P: &str = "/apis/clusterpedia.io/v1beta1";
const KUBERESOURCES: &str = "/apis/clusterpedia.io/v1beta1/collectionresources/kuberesources";

/// Every stored object, whole, as the admin reads it: the "no change" yardstick.
fn everything(s: &Server) -> Vec<Value> {
    let (status, list) = s.get(KUBERESOURCES);
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().unwrap().clone();
    assert!(!items.is_empty());
    items
}

fn write_list(dir: &Path, name: &str, items: Vec<Value>) -> std::path::PathBuf {
    let path = dir.join(name);
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(&path, serde_json::to_vec(&list).unwrap()).unwrap();
    path
}

fn post(s: &Server, token: &str, path: &str, body: &Value) -> (u16, Value) {
    s.request(
        "POST",
        path,
        Some(token),
        None,
        Some(&serde_json::to_vec(body).unwrap()),
    )
}

fn event(kind: &str, resource: &str, object: &Value) -> Value {
    json!({"events": [{"type": kind, "resource": resource, "object": object}]})
}

fn pod(namespace: &str, name: &str, uid: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": uid, "resourceVersion": "900000",
                     "labels": {"app": "probe"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
}

fn staging(kind: &str, namespace: &str) -> Vec<Value> {
    fixture::objects("staging")
        .into_iter()
        .filter(|o| o["kind"] == kind && o["metadata"]["namespace"] == namespace)
        .collect()
}

#[test]
fn a_namespace_limited_writer_replaces_only_its_namespaces() {
    let s = Server::with_fixtures();
    let dir = tempfile::tempdir().unwrap();
    let writer = mint("inventory:write", Some(&["staging"]), Some(&["default"]));
    let before = everything(&s);

    // A snapshot of staging's `default` pods, one pod dropped and one added.
    let mut pods = staging("Pod", "default");
    assert!(pods.len() > 1, "the fixture has pods in staging/default");
    let dropped = pods.pop().unwrap();
    pods.push(pod("default", "added-by-limited-writer", "u-limited-1"));
    let file = write_list(dir.path(), "default.json", pods.clone());
    let out = s.push_as(&writer, "staging", &file, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let after = everything(&s);
    let key = |o: &Value| {
        fixture::key(
            o["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"]
                .as_str()
                .unwrap_or(""),
            o,
        ) + "/"
            + o["kind"].as_str().unwrap()
    };
    let in_scope = |o: &Value| {
        o["kind"] == "Pod"
            && o["metadata"]["namespace"] == "default"
            && o["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"] == "staging"
    };
    // Outside staging/default pods, every object is byte-for-byte as before.
    let untouched =
        |v: &[Value]| -> Vec<Value> { v.iter().filter(|o| !in_scope(o)).cloned().collect() };
    assert_eq!(untouched(&after), untouched(&before));
    let mut want: Vec<String> = pods
        .iter()
        .map(|o| fixture::key("staging", o) + "/Pod")
        .collect();
    want.sort();
    let mut got: Vec<String> = after.iter().filter(|o| in_scope(o)).map(key).collect();
    got.sort();
    assert_eq!(got, want);
    assert!(!got.contains(&(fixture::key("staging", &dropped) + "/Pod")));

    // Anything outside its claims in a snapshot: refused with 403, nothing changes.
    let now = everything(&s);
    for (name, items) in [
        (
            "other-namespace",
            vec![pods[0].clone(), staging("Pod", "web")[0].clone()],
        ),
        (
            "cluster-scoped",
            fixture::objects("staging")
                .into_iter()
                .filter(|o| o["kind"] == "Node")
                .collect(),
        ),
        ("secret", staging("Secret", "default")),
    ] {
        assert!(!items.is_empty(), "{name}");
        let file = write_list(dir.path(), &format!("{name}.json"), items);
        let out = s.push_as(&writer, "staging", &file, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} must be refused");
        assert!(stderr.contains("403"), "{name}: {stderr}");
        assert_eq!(everything(&s), now, "{name}: nothing changed");
    }
    // Another cluster: 403 as well.
    let out = s.push_as(&writer, "prod-eu-1", &file, &[]);
    assert!(!out.status.success());
    assert_eq!(everything(&s), now);
}

#[test]
fn deltas_touch_only_the_writers_namespaces_and_secrets_need_their_scope() {
    let s = Server::with_fixtures();
    let events = "/ingest/v1/clusters/staging/events";
    let writer = mint("inventory:write", Some(&["staging"]), Some(&["default"]));
    let before = everything(&s);
    let web_pod = staging("Pod", "web")[0].clone();
    let secret = staging("Secret", "default")[0].clone();
    let node = fixture::objects("staging")
        .into_iter()
        .find(|o| o["kind"] == "Node")
        .unwrap();
    for (what, body) in [
        (
            "add in another namespace",
            event("ADDED", "pods", &pod("web", "x", "u-x")),
        ),
        (
            "delete in another namespace",
            event("DELETED", "pods", &web_pod),
        ),
        ("a cluster-scoped object", event("MODIFIED", "nodes", &node)),
        (
            "a Secret without inventory:secrets",
            event("MODIFIED", "secrets", &secret),
        ),
        (
            "one forbidden event among allowed ones",
            json!({"events": [
                {"type": "ADDED", "resource": "pods", "object": pod("default", "ok", "u-ok")},
                {"type": "DELETED", "resource": "pods", "object": web_pod},
            ]}),
        ),
    ] {
        let (status, e) = post(&s, &writer, events, &body);
        assert_eq!(
            (status, e["reason"].as_str()),
            (403, Some("Forbidden")),
            "{what}: {e}"
        );
        assert_eq!(everything(&s), before, "{what}: nothing changed");
    }
    // Another cluster, and a read-only token: 403.
    let (status, _) = post(
        &s,
        &writer,
        "/ingest/v1/clusters/prod-eu-1/events",
        &event("ADDED", "pods", &pod("default", "y", "u-y")),
    );
    assert_eq!(status, 403);
    let reader = mint("inventory:read inventory:secrets", None, None);
    let (status, _) = post(
        &s,
        &reader,
        events,
        &event("ADDED", "pods", &pod("default", "y", "u-y")),
    );
    assert_eq!(status, 403);
    assert_eq!(everything(&s), before);

    // Inside its claims the same writer adds, changes and deletes.
    let (status, r) = post(
        &s,
        &writer,
        events,
        &event("ADDED", "pods", &pod("default", "mine", "u-mine")),
    );
    assert_eq!((status, r["applied"].as_u64()), (200, Some(1)), "{r}");
    let (status, r) = post(
        &s,
        &writer,
        events,
        &event("DELETED", "pods", &pod("default", "mine", "u-mine")),
    );
    assert_eq!((status, r["applied"].as_u64()), (200, Some(1)), "{r}");
    // With inventory:secrets, Secrets too.
    let secret_writer = mint(
        "inventory:write inventory:secrets",
        Some(&["staging"]),
        Some(&["default"]),
    );
    let mut changed = secret.clone();
    changed["metadata"]["resourceVersion"] = json!("99999999");
    let (status, r) = post(
        &s,
        &secret_writer,
        events,
        &event("MODIFIED", "secrets", &changed),
    );
    assert_eq!((status, r["applied"].as_u64()), (200, Some(1)), "{r}");
}

#[test]
fn a_secret_under_another_resource_name_is_refused_and_never_served() {
    let s = Server::with_fixtures();
    let admin = admin_token();
    let before = everything(&s);
    let secretz = json!({"group": "", "version": "v1", "resource": "secretz", "kind": "Secret", "namespaced": true});
    let (status, e) = post(
        &s,
        &admin,
        "/ingest/v1/clusters/staging/snapshots",
        &json!({"resourceTypes": [secretz]}),
    );
    assert_eq!(
        (status, e["reason"].as_str()),
        (422, Some("Invalid")),
        "{e}"
    );
    assert!(
        e["message"].as_str().unwrap().contains("served as secrets"),
        "{e}"
    );
    let mut secret = staging("Secret", "default")[0].clone();
    secret["data"] = json!({"password": "aHVudGVyMg=="});
    let (status, e) = post(
        &s,
        &admin,
        "/ingest/v1/clusters/staging/events",
        &event("ADDED", "secretz", &secret),
    );
    assert_eq!(
        (status, e["reason"].as_str()),
        (422, Some("Invalid")),
        "{e}"
    );
    // A generic type may not take a built-in resource name with another kind either.
    let widget = json!({"apiVersion": "v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default", "uid": "u-w"}});
    let (status, _) = post(
        &s,
        &admin,
        "/ingest/v1/clusters/staging/events",
        &event("ADDED", "configmaps", &widget),
    );
    assert_eq!(status, 422);
    assert_eq!(everything(&s), before);
    let reader = mint("inventory:read", None, None);
    let (status, _) = s.get_as(&format!("{P}/resources/api/v1/secretz"), Some(&reader));
    assert_eq!(status, 404);
}

#[test]
fn poisoned_objects_are_refused_and_stored_ones_never_break_a_read() {
    let s = Server::with_fixtures();
    let admin = admin_token();
    let events = "/ingest/v1/clusters/staging/events";
    let before = everything(&s);
    let nested = |depth: usize| -> Value {
        // depth counts every array and object level of the whole pod.
        let mut v = json!(1);
        for _ in 0..depth - 2 {
            v = json!([v]);
        }
        let mut p = pod(
            "default",
            &format!("deep-{depth}"),
            &format!("u-deep-{depth}"),
        );
        p["spec"]["deep"] = v;
        p
    };
    // serde_json's own writer stops at 128 levels: build deep text by hand.
    let deep_text = |depth: usize| -> Vec<u8> {
        let p = pod("default", "deep-999", "u-deep-999");
        let spec = format!("{}1{}", "[".repeat(depth - 2), "]".repeat(depth - 2));
        let mut object = serde_json::to_string(&p).unwrap();
        object.insert_str(object.len() - 1, &format!(",\"status\":{{\"x\":{spec}}}"));
        format!(r#"{{"events":[{{"type":"ADDED","resource":"pods","object":{object}}}]}}"#)
            .into_bytes()
    };
    let (status, e) = s.request("POST", events, Some(&admin), None, Some(&deep_text(999)));
    assert_eq!(
        (status, e["reason"].as_str()),
        (422, Some("Invalid")),
        "{e}"
    );
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("default/deep-999") && message.contains("levels deep"),
        "{e}"
    );
    let (status, e) = post(&s, &admin, events, &event("ADDED", "pods", &nested(65)));
    assert_eq!(
        (status, e["reason"].as_str()),
        (422, Some("Invalid")),
        "{e}"
    );
    // In a snapshot chunk too.
    let (status, session) = post(
        &s,
        &admin,
        "/ingest/v1/clusters/staging/snapshots",
        &json!({"resourceTypes": [
        {"group": "", "version": "v1", "resource": "pods", "kind": "Pod", "namespaced": true}]}),
    );
    assert_eq!(status, 201, "{session}");
    let chunk = format!(
        "/ingest/v1/clusters/staging/snapshots/{}/chunks",
        session["session"].as_str().unwrap()
    );
    let (status, e) = post(&s, &admin, &chunk, &json!({"items": [nested(65)]}));
    assert_eq!(
        (status, e["reason"].as_str()),
        (422, Some("Invalid")),
        "{e}"
    );
    // Too big: larger than etcd would ever hold.
    let mut big = pod("default", "big", "u-big");
    big["spec"]["blob"] = json!("x".repeat(1600 * 1024));
    let (status, e) = post(&s, &admin, events, &event("ADDED", "pods", &big));
    assert_eq!(
        (status, e["reason"].as_str()),
        (422, Some("Invalid")),
        "{e}"
    );
    assert!(
        e["message"].as_str().unwrap().contains("default/big"),
        "{e}"
    );
    assert_eq!(everything(&s), before, "nothing was stored");

    // The deepest accepted object is readable by every read path.
    let (status, r) = post(&s, &admin, events, &event("ADDED", "pods", &nested(64)));
    assert_eq!((status, r["applied"].as_u64()), (200, Some(1)), "{r}");
    let reads = [
        format!("{P}/resources/api/v1/pods?labelSelector=app"),
        format!("{P}/resources/api/v1/pods?fieldSelector=status.phase!%3DRunning"),
        format!("{P}/resources/api/v1/pods?whereSQL=json_extract(object,%27$.spec.nodeName%27)%20IS%20NULL"),
        format!("{P}/resources/api/v1/pods?onlyMetadata=true"),
        format!("{P}/resources/api/v1/containers"),
        format!("{P}/collectionresources/kuberesources"),
        format!("{P}/resources/clusters/staging/api/v1/namespaces/default/pods/deep-64"),
    ];
    for url in reads {
        let (status, body) = s.get(&url);
        assert_eq!(status, 200, "{url}: {body:.300}");
    }
    // As kubectl reads it: a Table, whose cells come from the parsed object.
    let table = "application/json;as=Table;v=v1;g=meta.k8s.io";
    let url = format!("{P}/resources/clusters/staging/api/v1/namespaces/default/pods/deep-64");
    let (status, body) = s.request("GET", &url, Some(&admin), Some(table), None);
    assert_eq!(
        (status, body["kind"].as_str()),
        (200, Some("Table")),
        "{body:.300}"
    );
    let (_, list) = s.get(&format!(
        "{P}/resources/api/v1/pods?labelSelector=app%3Dprobe"
    ));
    assert_eq!(keys(&list), vec!["staging/default/deep-64".to_owned()]);
}

#[test]
fn pushed_types_of_hidden_clusters_stay_hidden() {
    let s = Server::with_fixtures();
    let widget = json!({"apiVersion": "example.io/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "dev", "uid": "u-w", "resourceVersion": "1"}});
    let (status, r) = post(
        &s,
        &admin_token(),
        "/ingest/v1/clusters/staging/events",
        &event("ADDED", "widgets", &widget),
    );
    assert_eq!(status, 200, "{r}");
    let prod = mint("inventory:read", Some(&["prod-*"]), None);
    let dev = mint("inventory:read", Some(&["staging"]), Some(&["dev"]));
    let other_ns = mint("inventory:read", Some(&["staging"]), Some(&["web"]));
    let any = format!("{P}/collectionresources/any?groups=example.io");
    for (token, sees) in [(&prod, false), (&dev, true), (&other_ns, false)] {
        let (_, c) = s.get_as(&any, Some(token));
        let types: Vec<&str> = c["resourceTypes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["resource"].as_str().unwrap())
            .collect();
        assert_eq!(types.contains(&"widgets"), sees, "{types:?}");
        let (_, groups) = s.get_as(&format!("{P}/resources/apis"), Some(token));
        let names: Vec<&str> = groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.contains(&"example.io"), sees, "{names:?}");
        let (_, clusters) = s.get_as(
            "/apis/cluster.clusterpedia.io/v1alpha2/pediaclusters",
            Some(token),
        );
        let widgets = clusters["items"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["status"]["syncResources"].as_array().unwrap().iter())
            .filter(|r| r["resource"] == "widgets")
            .count();
        assert_eq!(widgets, usize::from(sees));
    }
}
