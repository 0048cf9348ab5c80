//! Step 3 end to end: the query language through the real `.wasm` on the fixture, each answer
//! compared with what the test computes from the fixture files themselves.

mod support;

use serde_json::Value;
use support::fixture::{self, expected};
use support::{keys, Server};

const P: &str = "/apis/clusterpedia.io/v1beta1";

fn ns(o: &Value) -> &str {
    o["metadata"]["namespace"].as_str().unwrap_or("")
}

fn created(o: &Value) -> &str {
    o["metadata"]["creationTimestamp"].as_str().unwrap()
}

#[test]
fn time_bounds_in_every_accepted_form() {
    let s = Server::shared();
    let want = expected(|_, o| {
        o["kind"] == "Pod"
            && created(o) >= "2025-01-01T00:00:00Z"
            && created(o) < "2026-01-01T00:00:00Z"
    });
    assert!(!want.is_empty());
    for (since, before) in [
        ("2025-01-01", "2026-01-01"),
        ("2025-01-01T00:00:00Z", "2026-01-01T01:00:00%2B01:00"),
        ("1735689600", "1767225600000"),
    ] {
        let (status, list) = s.get(&format!(
            "{P}/resources/api/v1/pods?since={since}&before={before}"
        ));
        assert_eq!(status, 200, "{list}");
        assert_eq!(keys(&list), want, "since={since} before={before}");
    }
    assert_eq!(
        s.get(&format!("{P}/resources/api/v1/pods?since=yesterday"))
            .0,
        400
    );
}

#[test]
fn orderby_and_fuzzy_names() {
    let s = Server::shared();
    let (_, list) = s.get(&format!(
        "{P}/resources/apis/apps/v1/deployments?orderby=namespace%20desc,name%20desc,cluster"
    ));
    let mut want: Vec<(String, String, String)> = fixture::all()
        .into_iter()
        .filter(|(_, o)| o["kind"] == "Deployment")
        .map(|(c, o)| {
            (
                ns(&o).to_owned(),
                o["metadata"]["name"].as_str().unwrap().to_owned(),
                c.to_owned(),
            )
        })
        .collect();
    want.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let want: Vec<String> = want
        .into_iter()
        .map(|(n, name, c)| format!("{c}/{n}/{name}"))
        .collect();
    assert_eq!(keys(&list), want);
    let (_, list) = s.get(&format!(
        "{P}/resources/api/v1/pods?internalstorage.clusterpedia.io%2Ffuzzy-name=report"
    ));
    assert_eq!(
        keys(&list),
        expected(
            |_, o| o["kind"] == "Pod" && o["metadata"]["name"].as_str().unwrap().contains("report")
        )
    );
    // The same through Clusterpedia's label-selector terms.
    let (_, list) = s.get(&format!(
        "{P}/resources/api/v1/pods?labelSelector=search.clusterpedia.io%2Fclusters%20in%20(staging,prod-us-1),search.clusterpedia.io%2Fnamespaces%3Dweb,app%3Dapi"
    ));
    assert_eq!(
        keys(&list),
        expected(|c, o| o["kind"] == "Pod"
            && c != "prod-eu-1"
            && ns(o) == "web"
            && o["metadata"]["labels"]["app"] == "api")
    );
}

#[test]
fn only_metadata_collections_and_containers() {
    let s = Server::shared();
    let (_, list) = s.get(&format!("{P}/resources/api/v1/services?onlyMetadata=true"));
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert_eq!(keys(&list), expected(|_, o| o["kind"] == "Service"));
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i.get("spec").is_none() && i["kind"] == "Service"));

    let workload = |o: &Value| {
        ["Deployment", "DaemonSet", "StatefulSet"].contains(&o["kind"].as_str().unwrap())
    };
    let mut got = Vec::new();
    let mut token = String::new();
    loop {
        let (status, page) = s.get(&format!(
            "{P}/collectionresources/workloads?limit=4&continue={token}"
        ));
        assert_eq!(status, 200, "{page}");
        got.extend(keys(&page));
        match page["metadata"]["continue"].as_str() {
            Some(t) => token = t.to_owned(),
            None => break,
        }
    }
    let mut sorted = got.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(got.len(), sorted.len(), "no duplicates across pages");
    assert_eq!(sorted, expected(|_, o| workload(o)));
    let (_, any) = s.get(&format!(
        "{P}/collectionresources/any?resources=batch/jobs,pods&clusters=staging"
    ));
    let mut got = keys(&any);
    got.sort();
    assert_eq!(
        got,
        expected(|c, o| c == "staging" && (o["kind"] == "Job" || o["kind"] == "Pod"))
    );
    let (_, kube) = s.get(&format!(
        "{P}/collectionresources/kuberesources?clusters=prod-eu-1&onlyMetadata=true"
    ));
    assert_eq!(
        kube["items"].as_array().unwrap().len(),
        fixture::objects("prod-eu-1").len()
    );

    // Containers of every pod of one deployment, selected by the pods' labels.
    let (_, c) = s.get(&format!(
        "{P}/resources/api/v1/containers?labelSelector=app%3Dapi"
    ));
    let want: usize = fixture::all()
        .iter()
        .filter(|(_, o)| o["kind"] == "Pod" && o["metadata"]["labels"]["app"] == "api")
        .map(|(_, o)| {
            o["spec"]["containers"].as_array().unwrap().len()
                + o["spec"]["initContainers"].as_array().map_or(0, Vec::len)
        })
        .sum();
    assert_eq!(c["items"].as_array().unwrap().len(), want);
    let (_, envoy) = s.get(&format!("{P}/resources/api/v1/containers?names=envoy"));
    assert!(envoy["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["spec"]["image"]
            .as_str()
            .unwrap()
            .starts_with("envoyproxy/")));
}

#[test]
fn table_output_honours_include_object() {
    let s = Server::shared();
    let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let (status, t) = s.request(
        "GET",
        &format!("{P}/resources/api/v1/pods?includeObject=Object&limit=3"),
        Some(&support::admin_token()),
        Some(table),
        None,
    );
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["columnDefinitions"][0]["name"], "Cluster");
    assert_eq!(t["rows"].as_array().unwrap().len(), 3);
    assert_eq!(t["rows"][0]["object"]["kind"], "Pod");
    assert!(t["metadata"]["continue"].is_string());
    let (_, t) = s.request(
        "GET",
        &format!("{P}/resources/clusters/staging/apis/apps/v1/namespaces/web/deployments/frontend"),
        Some(&support::admin_token()),
        Some(table),
        None,
    );
    let d = fixture::objects("staging")
        .into_iter()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "frontend")
        .unwrap();
    let cells = t["rows"][0]["cells"].as_array().unwrap();
    assert_eq!(cells[0], "staging");
    assert_eq!(cells[1], "frontend");
    assert_eq!(
        cells[2],
        format!("{}/{}", d["status"]["readyReplicas"], d["spec"]["replicas"])
    );
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}
