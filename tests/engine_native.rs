//! The engine end to end, natively: requests through `engine::handle` on real SQLite (rusqlite),
//! with real HS256 tokens. The wasm end-to-end tests repeat the important paths through the
//! built component; these cover the engine's behaviour in detail and fast.

mod common;

use common::*;
use edgepedia::engine::{handle, Request, RequestBody};
use edgepedia::route::Method;
use serde_json::{json, Value};

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";

fn seeded() -> Harness {
    let h = Harness::new();
    for cluster in ["c1", "c2", "c3"] {
        let items: Vec<Value> = (0..10)
            .map(|i| {
                pod(
                    if i % 2 == 0 { "default" } else { "web" },
                    &format!("p{i:02}"),
                    100 + i,
                )
            })
            .collect();
        h.snapshot(cluster, pods_type(), &items, 4);
    }
    h
}

#[test]
fn snapshot_then_list_in_default_order_with_annotation() {
    let h = seeded();
    let (s, list) = h.get(PODS);
    assert_eq!(s, 200);
    assert_eq!(list["kind"], "PodList");
    assert_eq!(list["apiVersion"], "v1");
    let got = names(&list);
    assert_eq!(got.len(), 30);
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted, "default order is cluster, namespace, name");
    assert_eq!(list["items"][0]["kind"], "Pod");
}

#[test]
fn filters_by_cluster_path_params_namespace_and_names() {
    let h = seeded();
    let (_, l) =
        h.get("/apis/clusterpedia.io/v1beta1/resources/clusters/c2/api/v1/namespaces/web/pods");
    assert_eq!(
        names(&l),
        [
            "c2/web/p01",
            "c2/web/p03",
            "c2/web/p05",
            "c2/web/p07",
            "c2/web/p09"
        ]
    );
    let (_, l) = h.get(&format!(
        "{PODS}?clusters=c1,c3&namespaces=default&names=p00,p02"
    ));
    assert_eq!(
        names(&l),
        [
            "c1/default/p00",
            "c1/default/p02",
            "c3/default/p00",
            "c3/default/p02"
        ]
    );
    let (_, l) = h.get(&format!("{PODS}?clusters=nope"));
    assert_eq!(names(&l).len(), 0);
}

#[test]
fn paging_returns_every_object_exactly_once() {
    let h = seeded();
    let (_, all) = h.get(PODS);
    let mut seen = Vec::new();
    let mut next = String::new();
    loop {
        let (s, page) = h.get(&format!(
            "{PODS}?limit=7&withRemainingCount&continue={next}"
        ));
        assert_eq!(s, 200, "{page}");
        seen.extend(names(&page));
        let remaining = page["metadata"]["remainingItemCount"].as_u64().unwrap();
        assert_eq!(remaining as usize, 30 - seen.len());
        match page["metadata"]["continue"].as_str() {
            Some(t) => next = t.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, names(&all));
}

#[test]
fn numeric_offset_continue_like_the_seed() {
    let h = seeded();
    let (_, all) = h.get(PODS);
    let (_, page) = h.get(&format!("{PODS}?limit=10&continue=5"));
    assert_eq!(names(&page), names(&all)[5..15]);
    assert_eq!(page["metadata"]["continue"], "15");
    let (_, last) = h.get(&format!("{PODS}?limit=10&continue=25"));
    assert_eq!(names(&last), names(&all)[25..]);
    assert!(last["metadata"].get("continue").is_none());
}

#[test]
fn with_continue_false_hides_the_token_and_cursors_are_query_bound() {
    let h = seeded();
    let (_, page) = h.get(&format!("{PODS}?limit=1&withContinue=false"));
    assert!(page["metadata"].get("continue").is_none());
    let (_, page) = h.get(&format!("{PODS}?limit=1"));
    let token = page["metadata"]["continue"].as_str().unwrap().to_owned();
    let (s, err) = h.get(&format!("{PODS}?limit=1&namespaces=web&continue={token}"));
    assert_eq!((s, err["reason"].as_str()), (400, Some("BadRequest")));
}

#[test]
fn get_by_name_and_errors() {
    let h = seeded();
    let (s, p) =
        h.get("/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/web/pods/p01");
    assert_eq!(s, 200);
    assert_eq!(p["metadata"]["name"], "p01");
    assert_eq!(
        p["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"],
        "c1"
    );

    let (s, e) =
        h.get("/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/web/pods/x");
    assert_eq!(s, 404);
    assert_eq!(e["message"], "pods \"x\" not found");
    assert_eq!(e["details"], json!({"name":"x","kind":"pods"}));

    let (s, _) = h.get("/apis/clusterpedia.io/v1beta1/resources/api/v1/namespaces/web/pods/p01");
    assert_eq!(s, 400, "get without a cluster");
    let (s, _) = h.get(&format!("{PODS}?limit=ten"));
    assert_eq!(s, 400);
    let (s, _) = h.get(&format!("{PODS}?clusters=Not_A_Cluster"));
    assert_eq!(s, 400);
    let (s, e) = h.get("/apis/clusterpedia.io/v1beta1/resources/apis/example.com/v1/widgets");
    assert_eq!((s, e["reason"].as_str()), (404, Some("NotFound")));
}

#[test]
fn authentication_and_scopes() {
    let h = seeded();
    let (s, e) = h.call(Method::Get, PODS, None, Vec::new());
    assert_eq!(s, 401);
    assert_eq!(
        e,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})
    );
    let (s, _) = h.call(Method::Get, PODS, Some("garbage"), Vec::new());
    assert_eq!(s, 401);
    let reader = token("inventory:read", Some(vec!["c2"]));
    let (s, l) = h.call(Method::Get, PODS, Some(&reader), Vec::new());
    assert_eq!(s, 200);
    assert!(names(&l).iter().all(|n| n.starts_with("c2/")));
    assert_eq!(names(&l).len(), 10);
    let (s, e) = h.call(
        Method::Post,
        "/ingest/v1/clusters/c1/events",
        Some(&reader),
        b"{\"events\":[]}".to_vec(),
    );
    assert_eq!((s, e["reason"].as_str()), (403, Some("Forbidden")));
    let writer = token("inventory:write", Some(vec!["c1"]));
    let (s, _) = h.call(
        Method::Post,
        "/ingest/v1/clusters/c2/events",
        Some(&writer),
        b"{\"events\":[]}".to_vec(),
    );
    assert_eq!(s, 403, "a write token for c1 cannot push c2");
    let (s, _) = h.call(
        Method::Post,
        "/ingest/v1/clusters/c1/events",
        Some(&writer),
        b"{\"events\":[]}".to_vec(),
    );
    assert_eq!(s, 200);
    let (s, _) = h.call(Method::Get, "/healthz", None, Vec::new());
    assert_eq!(s, 200);
}

#[test]
fn snapshots_replace_atomically_and_abandoned_sessions_change_nothing() {
    let h = seeded();
    // A new snapshot of c1 with only two pods replaces all ten.
    h.snapshot(
        "c1",
        pods_type(),
        &[pod("default", "new1", 1), pod("default", "new2", 1)],
        10,
    );
    let (_, l) = h.get(&format!("{PODS}?clusters=c1"));
    assert_eq!(names(&l), ["c1/default/new1", "c1/default/new2"]);

    // Staged but never committed: invisible, and the old data stays.
    let (_, session) = h.post(
        "/ingest/v1/clusters/c2/snapshots",
        json!({"resourceTypes": pods_type()}),
    );
    let id = session["session"].as_str().unwrap();
    let (s, _) = h.post(
        &format!("/ingest/v1/clusters/c2/snapshots/{id}/chunks"),
        json!({"items":[pod("default","ghost",1)]}),
    );
    assert_eq!(s, 200);
    let (_, l) = h.get(&format!("{PODS}?clusters=c2"));
    assert_eq!(names(&l).len(), 10);
    // A malformed object fails the whole chunk with 422 naming it; nothing is staged from it.
    let bad = json!({"items":[pod("default","ok",1), {"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"x","uid":"u"}}]});
    let (s, e) = h.post(
        &format!("/ingest/v1/clusters/c2/snapshots/{id}/chunks"),
        bad,
    );
    assert_eq!(s, 422);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("items[1]: metadata.name is required"),
        "{e}"
    );
    // So does an item that is not an object at all (the body itself is well formed).
    let (s, e) = h.post(
        &format!("/ingest/v1/clusters/c2/snapshots/{id}/chunks"),
        json!({"items":[pod("default","ok",1), ["a", {"b": 1}]]}),
    );
    assert_eq!(s, 422);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("items[1]: not a JSON object"),
        "{e}"
    );
    let (s, _) = h.call(
        Method::Delete,
        &format!("/ingest/v1/clusters/c2/snapshots/{id}"),
        Some(&h.admin.clone()),
        Vec::new(),
    );
    assert_eq!(s, 200);
    let (s, _) = h.post(
        &format!("/ingest/v1/clusters/c2/snapshots/{id}/commit"),
        json!(null),
    );
    assert_eq!(s, 404, "an aborted session cannot be committed");
    let (_, l) = h.get(&format!("{PODS}?clusters=c2"));
    assert_eq!(names(&l).len(), 10);
    // A kind outside the session's types is rejected.
    let (_, session) = h.post(
        "/ingest/v1/clusters/c2/snapshots",
        json!({"resourceTypes": pods_type()}),
    );
    let id = session["session"].as_str().unwrap();
    let cm = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"d","uid":"u"}});
    let (s, _) = h.post(
        &format!("/ingest/v1/clusters/c2/snapshots/{id}/chunks"),
        json!({"items":[cm]}),
    );
    assert_eq!(s, 422);
    let (s, _) = h.post(
        &format!("/ingest/v1/clusters/c2/snapshots/{id}/chunks"),
        json!("not an object"),
    );
    assert_eq!(s, 400);
}

#[test]
fn watch_events_are_idempotent() {
    let h = seeded();
    let ev = |t: &str, o: Value| json!({"type": t, "resource": "pods", "object": o});
    let (s, r) = h.post("/ingest/v1/clusters/c1/events", json!({"events":[ev("ADDED", pod("default","w",5)), ev("MODIFIED", pod("default","p00",200))]}));
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["applied"].as_u64(), r["skipped"].as_u64()),
        (Some(2), Some(0))
    );
    // Replays and older versions change nothing.
    let (_, r) = h.post("/ingest/v1/clusters/c1/events", json!({"events":[ev("ADDED", pod("default","w",5)), ev("MODIFIED", pod("default","p00",150))]}));
    assert_eq!(
        (r["applied"].as_u64(), r["skipped"].as_u64()),
        (Some(0), Some(2))
    );
    let (_, p) = h.get(
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/default/pods/p00",
    );
    assert_eq!(p["metadata"]["resourceVersion"], "200");
    let (_, r) = h.post(
        "/ingest/v1/clusters/c1/events",
        json!({"events":[ev("DELETED", pod("default","w",6))]}),
    );
    assert_eq!(r["applied"].as_u64(), Some(1));
    let (_, r) = h.post(
        "/ingest/v1/clusters/c1/events",
        json!({"events":[ev("DELETED", pod("default","w",6))]}),
    );
    assert_eq!(r["skipped"].as_u64(), Some(1));
    let (s, _) = h.get(
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/default/pods/w",
    );
    assert_eq!(s, 404);
    // A bad event fails the whole batch.
    let (s, _) = h.post(
        "/ingest/v1/clusters/c1/events",
        json!({"events":[ev("ADDED", pod("default","z",1)), ev("ADDED", json!({"kind":"Pod"}))]}),
    );
    assert_eq!(s, 422);
    let (s, _) = h.get(
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/default/pods/z",
    );
    assert_eq!(s, 404, "nothing from a failed batch is visible");
}

#[test]
fn oversized_bodies_get_413_and_clusters_report_status() {
    let h = seeded();
    let auth = format!("Bearer {}", h.admin);
    let r = handle(
        &h.store,
        &Vars,
        Request {
            method: Method::Post,
            path: "/ingest/v1/clusters/c1/events",
            query: "",
            authorization: Some(&auth),
            accept: None,
            body: RequestBody::TooLarge,
        },
        NOW,
    );
    assert_eq!(r.status, 413);
    let r = handle(
        &h.store,
        &Vars,
        Request {
            method: Method::Post,
            path: "/ingest/v1/clusters/c1/events",
            query: "",
            authorization: Some(&auth),
            accept: None,
            body: RequestBody::Unreadable,
        },
        NOW,
    );
    assert_eq!(r.status, 400, "a body cut short is never taken as complete");
    let (s, l) = h.get("/apis/cluster.clusterpedia.io/v1alpha2/pediaclusters");
    assert_eq!(s, 200);
    assert_eq!(l["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        l["items"][0]["status"]["syncResources"][0]["objectCount"],
        10
    );
}

#[test]
fn discovery_lists_stored_types_for_kubectl() {
    let h = seeded();
    let deploy = json!([{"group":"apps","version":"v1","resource":"deployments","kind":"Deployment","namespaced":true}]);
    let d = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"default","uid":"du"}});
    h.snapshot("c1", deploy, &[d], 10);
    let (s, v) = h.get("/apis/clusterpedia.io/v1beta1/resources/version");
    assert_eq!((s, v["major"].as_str()), (200, Some("1")));
    let (_, api) = h.get("/apis/clusterpedia.io/v1beta1/resources/api");
    assert_eq!(api["versions"], json!(["v1"]));
    let (_, groups) = h.get("/apis/clusterpedia.io/v1beta1/resources/apis");
    assert_eq!(groups["kind"], "APIGroupList");
    assert_eq!(groups["groups"][0]["name"], "apps");
    let (_, core) = h.get("/apis/clusterpedia.io/v1beta1/resources/api/v1");
    let names: Vec<&str> = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pods", "containers"]);
    assert_eq!(core["resources"][0]["shortNames"], json!(["po"]));
    assert_eq!(core["resources"][0]["verbs"], json!(["get", "list"]));
    let (_, apps) = h.get("/apis/clusterpedia.io/v1beta1/resources/clusters/c1/apis/apps/v1");
    assert_eq!(apps["resources"][0]["name"], "deployments");
    let (s, _) = h.get("/apis/clusterpedia.io/v1beta1/resources/clusters/c2/apis/apps/v1");
    assert_eq!(s, 404, "c2 has no apps/v1 types");
    let (s, e) = h.call(
        Method::Delete,
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/default/pods/p00",
        Some(&h.admin.clone()),
        Vec::new(),
    );
    assert_eq!((s, e["reason"].as_str()), (405, Some("MethodNotAllowed")));
}
