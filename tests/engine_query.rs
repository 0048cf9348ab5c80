//! Clusterpedia's query language through the engine on real SQLite: selectors, owners,
//! time bounds, ordering, fuzzy names, onlyMetadata and search.clusterpedia.io terms.
//! Expected results are computed from the test data here, not from our SQL.

mod common;

use common::*;
use edgepedia::route::Method;
use edgepedia::store::Store;
use serde_json::{json, Value};

fn obj(
    (api_version, kind): (&str, &str),
    ns: &str,
    name: &str,
    owner: Option<&str>,
    created: &str,
    labels: Value,
    extra: Value,
) -> Value {
    let mut o = json!({"apiVersion":api_version,"kind":kind,"metadata":{"name":name,"namespace":ns,"uid":format!("uid-{name}"),
        "resourceVersion":"1","creationTimestamp":created,"labels":labels}});
    if let Some(owner) = owner {
        o["metadata"]["ownerReferences"] = json!([{"apiVersion":"apps/v1","kind":"X","name":owner,"uid":format!("uid-{owner}"),"controller":true}]);
    }
    if let (Some(o), Some(extra)) = (o.as_object_mut(), extra.as_object()) {
        o.extend(extra.clone());
    }
    o
}

fn t(group: &str, resource: &str, kind: &str) -> Value {
    json!([{"group":group,"version":"v1","resource":resource,"kind":kind,"namespaced":true}])
}

fn fixture() -> Harness {
    let h = Harness::new();
    for cluster in ["east", "west"] {
        h.snapshot(
            cluster,
            t("apps", "deployments", "Deployment"),
            &[obj(
                ("apps/v1", "Deployment"),
                "shop",
                "web",
                None,
                "2023-01-01T00:00:00Z",
                json!({"app":"web"}),
                json!({}),
            )],
            10,
        );
        h.snapshot(
            cluster,
            t("apps", "replicasets", "ReplicaSet"),
            &[
                obj(
                    ("apps/v1", "ReplicaSet"),
                    "shop",
                    "web-1",
                    Some("web"),
                    "2023-02-01T00:00:00Z",
                    json!({"app":"web"}),
                    json!({}),
                ),
                obj(
                    ("apps/v1", "ReplicaSet"),
                    "shop",
                    "web-2",
                    Some("web"),
                    "2023-03-01T00:00:00Z",
                    json!({"app":"web"}),
                    json!({}),
                ),
            ],
            10,
        );
        h.snapshot(
            cluster,
            t("batch", "cronjobs", "CronJob"),
            &[obj(
                ("batch/v1", "CronJob"),
                "shop",
                "nightly",
                None,
                "2022-01-01T00:00:00Z",
                json!({}),
                json!({}),
            )],
            10,
        );
        h.snapshot(
            cluster,
            t("batch", "jobs", "Job"),
            &[obj(
                ("batch/v1", "Job"),
                "shop",
                "nightly-1",
                Some("nightly"),
                "2024-01-01T00:00:00Z",
                json!({}),
                json!({}),
            )],
            10,
        );
        let pod = |name: &str, owner: &str, created: &str, app: &str, phase: &str, node: &str| {
            obj(
                ("v1", "Pod"),
                "shop",
                name,
                Some(owner),
                created,
                json!({"app": app, "tier": if app == "web" {"front"} else {"batch"}}),
                json!({"spec":{"nodeName":node,"hostNetwork":false},"status":{"phase":phase}}),
            )
        };
        h.snapshot(
            cluster,
            pods_type(),
            &[
                pod(
                    "web-1-a",
                    "web-1",
                    "2023-02-02T00:00:00Z",
                    "web",
                    "Running",
                    "n1",
                ),
                pod(
                    "web-2-a",
                    "web-2",
                    "2024-06-01T00:00:00Z",
                    "web",
                    "Running",
                    "n2",
                ),
                pod(
                    "web-2-b",
                    "web-2",
                    "2025-06-01T12:00:00Z",
                    "web",
                    "Pending",
                    "n1",
                ),
                pod(
                    "nightly-1-x",
                    "nightly-1",
                    "2024-01-01T00:05:00Z",
                    "nightly",
                    "Succeeded",
                    "n2",
                ),
                obj(
                    ("v1", "Pod"),
                    "other",
                    "lonely_pod",
                    None,
                    "2021-01-01T00:00:00Z",
                    json!({}),
                    json!({"status":{"phase":"Running"}}),
                ),
            ],
            2,
        );
    }
    h
}

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";
const EAST_PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/clusters/east/api/v1/pods";

fn pod_names(h: &Harness, url: &str) -> Vec<String> {
    let (s, l) = h.get(url);
    assert_eq!(s, 200, "{url}: {l}");
    item_names(&l)
}

/// `metadata.name` of each item of a list, in order.
fn item_names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

fn status(h: &Harness, url: &str) -> u16 {
    h.get(url).0
}

#[test]
fn label_selectors_follow_kubernetes_semantics() {
    let h = fixture();
    assert_eq!(
        pod_names(&h, &format!("{EAST_PODS}?labelSelector=app%3Dweb")),
        ["web-1-a", "web-2-a", "web-2-b"]
    );
    assert_eq!(
        pod_names(
            &h,
            &format!("{EAST_PODS}?labelSelector=app%3D%3Dweb,tier%3Dfront")
        ),
        ["web-1-a", "web-2-a", "web-2-b"]
    );
    assert_eq!(
        pod_names(&h, &format!("{EAST_PODS}?labelSelector=app!%3Dweb")),
        ["lonely_pod", "nightly-1-x"],
        "!= matches missing labels"
    );
    assert_eq!(
        pod_names(
            &h,
            &format!("{EAST_PODS}?labelSelector=app%20in%20(nightly,none)")
        ),
        ["nightly-1-x"]
    );
    assert_eq!(
        pod_names(
            &h,
            &format!("{EAST_PODS}?labelSelector=app%20notin%20(web)")
        ),
        ["lonely_pod", "nightly-1-x"]
    );
    assert_eq!(
        pod_names(&h, &format!("{EAST_PODS}?labelSelector=tier")).len(),
        4
    );
    assert_eq!(
        pod_names(&h, &format!("{EAST_PODS}?labelSelector=!tier")),
        ["lonely_pod"]
    );
    assert_eq!(
        status(&h, &format!("{EAST_PODS}?labelSelector=app%20in%20(a")),
        400
    );
}

#[test]
fn field_selectors_on_columns_and_json_paths() {
    let h = fixture();
    assert_eq!(
        pod_names(
            &h,
            &format!("{EAST_PODS}?fieldSelector=status.phase%3DRunning")
        ),
        ["lonely_pod", "web-1-a", "web-2-a"]
    );
    assert_eq!(
        pod_names(
            &h,
            &format!("{EAST_PODS}?fieldSelector=spec.nodeName%3Dn1,status.phase!%3DPending")
        ),
        ["web-1-a"]
    );
    assert_eq!(
        pod_names(
            &h,
            &format!("{EAST_PODS}?fieldSelector=status.phase%20in%20(Pending,Succeeded)")
        ),
        ["nightly-1-x", "web-2-b"]
    );
    assert_eq!(
        pod_names(
            &h,
            &format!("{EAST_PODS}?fieldSelector=metadata.namespace%3Dother")
        ),
        ["lonely_pod"]
    );
    assert_eq!(
        pod_names(
            &h,
            &format!("{EAST_PODS}?fieldSelector=metadata.name%20notin%20(web-1-a,web-2-a,web-2-b)")
        ),
        ["lonely_pod", "nightly-1-x"]
    );
    assert_eq!(
        pod_names(
            &h,
            &format!("{EAST_PODS}?fieldSelector=spec.hostNetwork%3Dfalse")
        )
        .len(),
        4
    );
    assert_eq!(
        status(&h, &format!("{EAST_PODS}?fieldSelector=status.phase")),
        400
    );
}

#[test]
fn owner_queries_walk_the_chain_in_one_cluster() {
    let h = fixture();
    let names = |q: &str| pod_names(&h, &format!("{EAST_PODS}?{q}"));
    assert_eq!(names("ownerUID=uid-web-2"), ["web-2-a", "web-2-b"]);
    assert_eq!(
        names("ownerName=web&ownerSeniority=1"),
        ["web-1-a", "web-2-a", "web-2-b"]
    );
    assert_eq!(
        names("ownerName=web&ownerGR=deployments.apps&ownerSeniority=1"),
        ["web-1-a", "web-2-a", "web-2-b"]
    );
    assert_eq!(
        names("ownerName=web&ownerGR=cronjobs.batch&ownerSeniority=1"),
        Vec::<String>::new()
    );
    assert_eq!(names("ownerName=nightly&ownerSeniority=1"), ["nightly-1-x"]);
    assert_eq!(
        names("ownerName=nightly"),
        Vec::<String>::new(),
        "seniority 0: pods are not direct children of a CronJob"
    );
    let (_, rs) = h.get("/apis/clusterpedia.io/v1beta1/resources/clusters/west/apis/apps/v1/replicasets?ownerName=web");
    assert_eq!(rs["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        pod_names(&h, &format!("{PODS}?clusters=west&ownerUID=uid-web-1")),
        ["web-1-a"]
    );
    assert_eq!(
        status(&h, &format!("{PODS}?ownerUID=uid-web-1")),
        400,
        "needs one cluster"
    );
    assert_eq!(
        status(&h, &format!("{PODS}?clusters=east,west&ownerUID=uid-web-1")),
        400
    );
}

/// Owner lists are driven from the owner index (`INDEXED BY`): every statement shape a list
/// can take with an owner must still plan and page in order.
#[test]
fn owner_queries_page_count_and_combine_with_every_list_shape() {
    let h = fixture();
    let grandchildren = ["web-1-a", "web-2-a", "web-2-b"];
    let (s, first) = h.get(&format!(
        "{EAST_PODS}?ownerName=web&ownerSeniority=1&limit=2&withRemainingCount=true"
    ));
    assert_eq!(s, 200, "{first}");
    assert_eq!(item_names(&first), grandchildren[..2]);
    assert_eq!(first["metadata"]["remainingItemCount"], 1);
    let token = first["metadata"]["continue"].as_str().unwrap();
    let (_, rest) = h.get(&format!(
        "{EAST_PODS}?ownerName=web&ownerSeniority=1&limit=2&continue={token}"
    ));
    assert_eq!(item_names(&rest), grandchildren[2..]);
    assert!(rest["metadata"].get("continue").is_none());

    // A collection names its one cluster with clusters=…, not in the path.
    let (s, any) = h.get(
        "/apis/clusterpedia.io/v1beta1/collectionresources/any?groups=apps&clusters=east&ownerName=web",
    );
    assert_eq!(s, 200, "{any}");
    assert_eq!(item_names(&any), ["web-1", "web-2"]);

    // Containers filter their pods by owner; the fixture's pods list none, so a pod with
    // containers is added under a replicaset of `web`.
    let mut pod = obj(
        ("v1", "Pod"),
        "shop",
        "web-1-c",
        Some("web-1"),
        "2023-02-03T00:00:00Z",
        json!({}),
        json!({"spec":{"containers":[{"name":"app","image":"web:1"}]}}),
    );
    pod["metadata"]["resourceVersion"] = json!("2");
    let (s, _) = h.post(
        "/ingest/v1/clusters/east/events",
        json!({"events":[{"type":"ADDED","resource":"pods","object":pod}]}),
    );
    assert_eq!(s, 200);
    let (s, containers) = h.get(
        "/apis/clusterpedia.io/v1beta1/resources/clusters/east/api/v1/namespaces/shop/containers?ownerName=web&ownerSeniority=1",
    );
    assert_eq!(s, 200, "{containers}");
    assert_eq!(item_names(&containers), ["app"]);
}

#[test]
fn time_bounds_order_and_fuzzy_names() {
    let h = fixture();
    assert_eq!(
        pod_names(
            &h,
            &format!("{EAST_PODS}?since=2024-01-01&before=2025-01-01")
        ),
        ["nightly-1-x", "web-2-a"]
    );
    assert_eq!(
        pod_names(&h, &format!("{EAST_PODS}?since=1717200000")),
        ["web-2-a", "web-2-b"]
    );
    assert_eq!(
        pod_names(&h, &format!("{EAST_PODS}?before=2023-02-02T00:00:01Z")),
        ["lonely_pod", "web-1-a"]
    );
    assert_eq!(
        pod_names(
            &h,
            &format!("{EAST_PODS}?orderby=created_at%20desc&limit=2")
        ),
        ["web-2-b", "web-2-a"]
    );
    let (_, l) = h.get(&format!(
        "{PODS}?orderby=namespace%20desc,name%20desc,cluster"
    ));
    let got: Vec<String> = l["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i["metadata"]["namespace"].as_str().unwrap(),
                i["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    let mut expected = got.clone();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(got, expected);
    assert_eq!(got.len(), 10);
    assert_eq!(
        pod_names(
            &h,
            &format!("{EAST_PODS}?internalstorage.clusterpedia.io%2Ffuzzy-name=2-")
        ),
        ["web-2-a", "web-2-b"]
    );
    assert_eq!(
        pod_names(
            &h,
            &format!("{EAST_PODS}?internalstorage.clusterpedia.io%2Ffuzzy-name=y_p")
        ),
        ["lonely_pod"],
        "_ is literal"
    );
    assert_eq!(
        pod_names(
            &h,
            &format!("{EAST_PODS}?internalstorage.clusterpedia.io%2Ffuzzy-name=%25")
        ),
        Vec::<String>::new(),
        "% is literal"
    );
}

#[test]
fn custom_order_pages_completely() {
    let h = fixture();
    let all = pod_names(&h, &format!("{PODS}?orderby=created_at%20desc"));
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let (_, page) = h.get(&format!(
            "{PODS}?orderby=created_at%20desc&limit=3&continue={token}"
        ));
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned()),
        );
        match page["metadata"]["continue"].as_str() {
            Some(t) => token = t.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, all);
    assert_eq!(seen.len(), 10);
}

#[test]
fn only_metadata_and_search_terms() {
    let h = fixture();
    let (_, l) = h.get(&format!("{EAST_PODS}?onlyMetadata=true&limit=1"));
    assert_eq!(l["kind"], "PartialObjectMetadataList");
    let item = &l["items"][0];
    assert_eq!(item["kind"], "Pod");
    assert_eq!(
        item["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"],
        "east"
    );
    assert!(item.get("spec").is_none() && item.get("status").is_none());
    let names = pod_names(&h, &format!("{PODS}?labelSelector=search.clusterpedia.io%2Fclusters%3Dwest,search.clusterpedia.io%2Fowner-name%3Dweb,search.clusterpedia.io%2Fowner-seniority%3D1"));
    assert_eq!(names, ["web-1-a", "web-2-a", "web-2-b"]);
}

#[test]
fn containers_are_derived_from_pods() {
    let h = Harness::new();
    let p = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"api-0","namespace":"shop","uid":"pod-uid","labels":{"app":"api"}},
        "spec":{"initContainers":[{"name":"migrate","image":"api:1"}],"containers":[{"name":"api","image":"api:1"},{"name":"sidecar","image":"envoy:1.30"}]},
        "status":{"phase":"Running","containerStatuses":[{"name":"api","ready":true,"restartCount":2},{"name":"sidecar","ready":false,"restartCount":0}],
                  "initContainerStatuses":[{"name":"migrate","ready":false,"restartCount":0,"state":{"terminated":{"reason":"Completed"}}}]}});
    let q = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0","namespace":"shop","uid":"pod-2","labels":{"app":"web"}},
        "spec":{"containers":[{"name":"api","image":"nginx:1.25"}]},"status":{"phase":"Pending"}});
    h.snapshot("c1", pods_type(), &[p, q], 10);
    let base =
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/shop/containers";
    let (s, l) = h.get(base);
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["kind"], "ContainerList");
    let items = l["items"].as_array().unwrap();
    let names: Vec<&str> = items
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["migrate", "api", "sidecar", "api"],
        "init containers first, pods in name order"
    );
    let api = &items[1];
    assert_eq!(api["kind"], "Container");
    assert_eq!(api["spec"]["image"], "api:1");
    assert_eq!(api["status"]["restartCount"], 2);
    assert_eq!(api["metadata"]["ownerReferences"][0]["name"], "api-0");
    assert_eq!(
        api["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"],
        "c1"
    );
    assert_eq!(
        items[0]["status"]["state"]["terminated"]["reason"],
        "Completed"
    );
    assert!(
        items[3]["status"].is_null(),
        "a pending pod has no status for its container"
    );
    // containers/{name}: every container of that name.
    let (_, by_name) = h.get(&format!("{base}/api"));
    let owners: Vec<&str> = by_name["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["metadata"]["ownerReferences"][0]["name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(owners, ["api-0", "web-0"]);
    // Selectors apply to the pods, and paging works on containers.
    let (_, sel) = h.get(&format!("{base}?labelSelector=app%3Dweb"));
    assert_eq!(sel["items"].as_array().unwrap().len(), 1);
    let (_, page) = h.get(&format!("{base}?limit=3"));
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let token = page["metadata"]["continue"].as_str().unwrap();
    let (_, rest) = h.get(&format!("{base}?limit=3&continue={token}"));
    assert_eq!(
        rest["items"][0]["metadata"]["ownerReferences"][0]["name"],
        "web-0"
    );
    assert!(rest["metadata"].get("continue").is_none());
}

#[test]
fn collections_list_several_types() {
    let h = fixture();
    let ds = json!([{"group":"apps","version":"v1","resource":"daemonsets","kind":"DaemonSet","namespaced":true}]);
    h.snapshot(
        "east",
        ds,
        &[obj(
            ("apps/v1", "DaemonSet"),
            "kube-system",
            "agent",
            None,
            "2023-01-01T00:00:00Z",
            json!({}),
            json!({}),
        )],
        10,
    );
    let (s, l) = h.get("/apis/clusterpedia.io/v1beta1/collectionresources");
    assert_eq!(s, 200);
    assert_eq!(l["kind"], "CollectionResourceList");
    assert_eq!(l["items"].as_array().unwrap().len(), 3);
    let (s, w) = h.get("/apis/clusterpedia.io/v1beta1/collectionresources/workloads");
    assert_eq!(s, 200, "{w}");
    assert_eq!(w["kind"], "CollectionResource");
    assert_eq!(w["metadata"]["name"], "workloads");
    assert_eq!(w["resourceTypes"].as_array().unwrap().len(), 3);
    let kinds: Vec<&str> = w["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["DaemonSet", "Deployment", "Deployment"],
        "east/kube-system/agent, east/shop/web, west/shop/web"
    );
    let (_, page) = h.get(
        "/apis/clusterpedia.io/v1beta1/collectionresources/workloads?onlyMetadata=true&limit=1",
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert!(page["items"][0].get("spec").is_none());
    assert!(page["metadata"]["continue"].is_string());
    let (_, any) = h.get("/apis/clusterpedia.io/v1beta1/collectionresources/any?groups=batch&resources=pods&clusters=west");
    let mut kinds: Vec<&str> = any["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, ["CronJob", "Job", "Pod"]);
    assert_eq!(
        h.get("/apis/clusterpedia.io/v1beta1/collectionresources/any")
            .0,
        400
    );
    assert_eq!(
        h.get("/apis/clusterpedia.io/v1beta1/collectionresources/nope")
            .0,
        404
    );
}

#[test]
fn where_sql_is_anded_with_authorization_and_never_escapes_it() {
    let h = fixture();
    let east_only = token("inventory:read", Some(vec!["east"]));
    for q in [
        "cluster%20%3D%20'west'%20OR%201%20%3D%201",
        "1%20%3D%201",
        "NOT%20(cluster%20%3D%20'east')%20OR%20cluster%20%3D%20'east'",
    ] {
        let (s, l) = h.call(
            edgepedia::route::Method::Get,
            &format!("{PODS}?whereSQL={q}"),
            Some(&east_only),
            Vec::new(),
        );
        assert_eq!(s, 200, "{l}");
        let clusters: Vec<&str> = l["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                i["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert!(
            !clusters.is_empty() && clusters.iter().all(|c| *c == "east"),
            "{q}: {clusters:?}"
        );
    }
    // The seed's example, composed with a label selector and paging.
    let (_, l) = h.get(&format!("{PODS}?whereSQL=(cluster%3D'west')%20OR%20(namespace%20IN%20('other'))&labelSelector=app%3Dweb&limit=2"));
    let got: Vec<String> = l["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ["web-1-a", "web-2-a"]);
    assert!(l["metadata"]["continue"].is_string());
    let (s, e) = h.get(&format!(
        "{PODS}?whereSQL=name%20%3D%20(SELECT%20name%20FROM%20clusters)"
    ));
    assert_eq!((s, e["reason"].as_str()), (400, Some("BadRequest")));
    assert!(e["message"].as_str().unwrap().starts_with("whereSQL: "));
}

/// Every index on `objects` costs each ingested object a B-tree insert, so each must be one a
/// query or write actually seeks: reads of each shape the indexes are for (a name, names and
/// namespaces across clusters, creation times, owners by uid and by name), then a re-sync
/// whose superseded row the next write collects. SQLite has no statistics here, as in
/// production (nothing runs ANALYZE), so it plans as it will there.
#[test]
fn every_index_on_objects_serves_a_plan() {
    let h = fixture();
    let store = Planning::new(&h.store);
    let call = |method: Method, target: &str, body: Value| {
        let body = serde_json::to_vec(&body).unwrap();
        let (status, body) = call_on(&store, method, target, Some(&h.admin), body);
        assert!((200..300).contains(&status), "{target}: {body}");
        body
    };
    let pod = call(
        Method::Get,
        "/apis/clusterpedia.io/v1beta1/resources/clusters/east/api/v1/namespaces/shop/pods/web-1-a",
        json!(null),
    );
    assert_eq!(pod["metadata"]["name"], "web-1-a");
    for (query, expected) in [
        (format!("{PODS}?names=web-1-a"), &["web-1-a", "web-1-a"][..]),
        (
            format!("{PODS}?namespaces=other"),
            &["lonely_pod", "lonely_pod"],
        ),
        (
            "/apis/clusterpedia.io/v1beta1/resources/api/v1/namespaces/other/pods".to_owned(),
            &["lonely_pod", "lonely_pod"],
        ),
        (format!("{PODS}?since=2025-01-01"), &["web-2-b", "web-2-b"]),
        (
            "/apis/clusterpedia.io/v1beta1/collectionresources/any?groups=apps&names=web"
                .to_owned(),
            &["web", "web"],
        ),
        (format!("{EAST_PODS}?ownerUID=uid-web-1"), &["web-1-a"]),
        (
            format!("{EAST_PODS}?ownerName=web&ownerSeniority=1"),
            &["web-1-a", "web-2-a", "web-2-b"],
        ),
    ] {
        assert_eq!(
            item_names(&call(Method::Get, &query, json!(null))),
            expected,
            "{query}"
        );
    }
    let session = call(
        Method::Post,
        "/ingest/v1/clusters/east/snapshots",
        json!({"resourceTypes": pods_type()}),
    );
    let id = session["session"].as_str().unwrap();
    let changed = obj(
        ("v1", "Pod"),
        "other",
        "lonely_pod",
        None,
        "2021-01-01T00:00:00Z",
        json!({"changed": "yes"}),
        json!({}),
    );
    call(
        Method::Post,
        &format!("/ingest/v1/clusters/east/snapshots/{id}/chunks"),
        json!({ "items": [changed] }),
    );
    call(
        Method::Post,
        &format!("/ingest/v1/clusters/east/snapshots/{id}/commit"),
        json!(null),
    );
    call(
        Method::Post,
        "/ingest/v1/clusters/east/heartbeat",
        json!({}),
    );

    let planned = store.planned.borrow();
    let used: std::collections::BTreeSet<&str> = planned
        .iter()
        .flat_map(|p| &p.plan)
        .filter_map(|line| line.split(" INDEX ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    let indexes = h
        .store
        .query(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'objects' \
             AND sql IS NOT NULL ORDER BY name",
            &[],
        )
        .unwrap();
    assert!(indexes.len() > 1, "{indexes:?}");
    let unused: Vec<String> = indexes
        .into_iter()
        .filter_map(|row| row[0].clone().into_string())
        .filter(|name| !used.contains(name.as_str()))
        .collect();
    assert_eq!(unused, [] as [String; 0], "used: {used:?}");
    // Names across clusters, and an owner named across namespaces, are seeks by name (both
    // were scans: of the type, of the cluster), per cluster (the index is cluster-led).
    let plan_of = |statement: &str| {
        planned
            .iter()
            .find(|p| p.sql.contains(statement))
            .map(|p| p.plan.join("\n"))
            .unwrap_or_else(|| panic!("no statement has {statement:?}"))
    };
    let by_names = plan_of("AND name IN (?)");
    assert!(
        by_names.contains("objects_by_name (cluster=? AND name=?)"),
        "{by_names}"
    );
    let owner = plan_of("WHERE cluster = ? AND name = ?");
    assert!(
        owner.contains("objects_by_name (cluster=? AND name=?)"),
        "{owner}"
    );
    // A creation window across clusters is a range per cluster, not the type in list order.
    let since = plan_of("AND created_at >= ?");
    assert!(
        since.contains(
            "objects_by_created (api_group=? AND resource=? AND cluster=? AND created_at>?)"
        ),
        "{since}"
    );
    // A namespace across clusters comes out of its index in list order: nothing is sorted.
    let namespace = plan_of("AND namespace = ? ORDER BY");
    assert!(
        namespace.contains("objects_by_namespace (api_group=? AND resource=? AND namespace=?)")
            && !namespace.contains("TEMP B-TREE"),
        "{namespace}"
    );
}

/// Every page of a walk from `base` with `limit=1`, following `metadata.continue` to the end;
/// `get` answers one target.
fn walk_one_at_a_time(base: &str, mut get: impl FnMut(&str) -> (u16, Value)) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut target = format!("{base}?limit=1");
    loop {
        let (status, page) = get(&target);
        assert_eq!(status, 200, "{target}: {page}");
        let next = page["metadata"]["continue"]
            .as_str()
            .map(|t| format!("{base}?limit=1&continue={t}"));
        pages.push(page);
        match next {
            Some(next) => target = next,
            None => return pages,
        }
    }
}

/// A walk with `limit=1` reads the continue-token key once per page: the first page to sign
/// its cursor, every later page to open the caller's and then sign the next with the same key.
/// Every pod comes once, in the default order.
#[test]
fn a_paged_walk_reads_the_signing_key_once_a_page() {
    let h = fixture();
    let all = pod_names(&h, PODS);
    assert!(all.len() > 2, "the fixture has pods to page through");
    let store = Planning::new(&h.store);
    let mut key_reads = Vec::new();
    let pages = walk_one_at_a_time(PODS, |target| {
        store.planned.borrow_mut().clear();
        let answer = call_on(&store, Method::Get, target, Some(&h.admin), Vec::new());
        let planned = store.planned.borrow();
        key_reads.push(
            planned
                .iter()
                .filter(|p| p.sql.contains("edge_keys"))
                .count(),
        );
        answer
    });
    assert_eq!(key_reads, vec![1; pages.len()]);
    let walked: Vec<String> = pages.iter().flat_map(item_names).collect();
    assert_eq!(walked, all);
}

/// Containers page one at a time through their keyset cursor, whose last key column is the
/// container's position in its pod (an integer, init containers first): a walk with `limit=1`
/// serves each container once, in order.
#[test]
fn containers_page_one_at_a_time() {
    let h = Harness::new();
    let p = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"odd","namespace":"shop","uid":"pod-odd"},
        "spec":{"initContainers":[{"name":"z","image":"a:1"}],"containers":[{"name":"y","image":"b:1"},{"name":"x","image":"c:1"}]}});
    h.snapshot("c1", pods_type(), &[p], 10);
    let base =
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/shop/containers";
    let images: Vec<String> = walk_one_at_a_time(base, |target| h.get(target))
        .iter()
        .flat_map(|page| page["items"].as_array().unwrap().clone())
        .map(|i| i["spec"]["image"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(images, ["a:1", "b:1", "c:1"]);
}

/// A change-feed page comes out of `changes` in `seq` order as SQLite reads it: nothing sorts
/// the page with its objects afterwards (a temp B-tree for ORDER BY would copy every
/// object of the page once more).
#[test]
fn the_change_feed_page_is_read_in_order_without_a_sort() {
    let h = fixture();
    let store = Planning::new(&h.store);
    let (status, feed) = call_on(
        &store,
        Method::Get,
        "/apis/clusterpedia.io/v1beta1/changes?limit=3",
        Some(&h.admin),
        Vec::new(),
    );
    assert_eq!(status, 200, "{feed}");
    assert_eq!(feed["items"].as_array().unwrap().len(), 3, "{feed}");
    let planned = store.planned.borrow();
    let page = planned
        .iter()
        .find(|p| p.sql.contains("FROM change_feed"))
        .expect("the feed's statement ran");
    assert!(
        !page.plan.iter().any(|line| line.contains("TEMP B-TREE")),
        "{:?}",
        page.plan
    );
}

/// A list's body and a change-feed page go out in chunks of at most `response::CHUNK_BYTES`
/// (a chunk holds one item however large), so the component never holds a page's objects and
/// its whole body at once; the chunks together are the page, every pod once and in order.
#[test]
fn pages_go_out_in_bounded_chunks() {
    use edgepedia::response::{Body, CHUNK_BYTES};
    let h = Harness::new();
    let padded = |name: &str, bytes: usize| {
        let mut p = pod("shop", name, 1);
        p["spec"]["pad"] = json!("x".repeat(bytes));
        p
    };
    let mut pods: Vec<Value> = (0..40)
        .map(|i| padded(&format!("p{i:02}"), 20_000))
        .collect();
    pods.push(padded("p20-huge", CHUNK_BYTES + 10_000));
    h.snapshot("c1", pods_type(), &pods, 10);
    let mut want: Vec<String> = pods
        .iter()
        .map(|p| format!("c1/shop/{}", p["metadata"]["name"].as_str().unwrap()))
        .collect();
    want.sort();
    let chunks_of = |target: &str| -> Value {
        let response = send(&h.store, Method::Get, target, Some(&h.admin), Vec::new());
        assert_eq!(response.status, 200);
        let Body::Stream(chunks) = response.body else {
            panic!("{target} is streamed");
        };
        let chunks: Vec<Vec<u8>> = chunks.map(Result::unwrap).collect();
        let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
        assert!(
            chunks.len() > 40 * 20_000 / CHUNK_BYTES,
            "{target}: {sizes:?}"
        );
        let huge: Vec<&Vec<u8>> = chunks.iter().filter(|c| c.len() > CHUNK_BYTES).collect();
        assert_eq!(
            huge.len(),
            1,
            "{target}: only the huge pod's chunk is larger: {sizes:?}"
        );
        assert_eq!(
            huge[0]
                .windows(12)
                .filter(|w| w == b"\"kind\":\"Pod\"")
                .count(),
            1,
            "{target}: it holds that pod alone"
        );
        serde_json::from_slice(&chunks.concat()).unwrap()
    };
    let list =
        chunks_of("/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/pods?limit=40");
    assert_eq!(names(&list), want[..40]);
    assert!(
        list["metadata"]["continue"].is_string(),
        "{}",
        list["metadata"]
    );
    let feed = chunks_of("/apis/clusterpedia.io/v1beta1/changes?limit=500");
    let mut fed: Vec<String> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "c1/shop/{}",
                i["object"]["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    fed.sort();
    assert_eq!(fed, want);
    assert!(
        feed["metadata"]["continue"].is_string(),
        "{}",
        feed["metadata"]
    );
}
