//! The real kubectl (v1.32) against the real `.wasm`: the seed document's example URLs with
//! `kubectl get --raw`, and `kubectl get` through discovery and Table output with an
//! all-clusters and a per-cluster kubeconfig. Expectations come from the fixture files.

mod support;

use serde_json::Value;
use support::fixture::{self, expected, kind_is, plural, CLUSTERS, SEED_RESOURCES};
use support::{admin_token, keys, kubectl, Server};

const P: &str = "/apis/clusterpedia.io/v1beta1";

fn raw(s: &Server, url: &str) -> Value {
    let config = s.kubeconfig("raw", "", &admin_token());
    let (ok, out, err) = kubectl(&config, &["get", "--raw", url]);
    assert!(ok, "kubectl get --raw {url}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{url}: {e}: {out:.300}"))
}

fn uid(o: &Value) -> &str {
    o["metadata"]["uid"].as_str().unwrap()
}

fn owner_uid(o: &Value) -> Option<&str> {
    o["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)?["uid"]
        .as_str()
}

#[test]
fn seed_paging_examples() {
    let s = Server::shared();
    let deployments = expected(kind_is("Deployment"));
    let v = raw(
        s,
        &format!("{P}/collectionresources/workloads?onlyMetadata=true&limit=1"),
    );
    assert_eq!(v["kind"], "CollectionResource");
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert!(v["items"][0].get("spec").is_none());
    let v = raw(
        s,
        &format!("{P}/resources/apis/apps/v1/deployments?limit=10&continue=5"),
    );
    assert_eq!(keys(&v), deployments[5..15.min(deployments.len())]);
    let v = raw(
        s,
        &format!("{P}/resources/apis/apps/v1/deployments?withContinue=true&limit=1"),
    );
    assert_eq!(keys(&v), deployments[..1]);
    assert!(v["metadata"]["continue"].is_string());
    let v = raw(
        s,
        &format!("{P}/resources/apis/apps/v1/deployments?withRemainingCount&limit=1"),
    );
    assert_eq!(
        v["metadata"]["remainingItemCount"].as_u64().unwrap() as usize,
        deployments.len() - 1
    );
}

/// Keys of the pods owned by `middle` objects that `owner` owns, computed from the fixture.
fn grandchild_pods(objects: &[Value], cluster: &str, owner: &Value, middle: &str) -> Vec<String> {
    let middles: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == middle && owner_uid(o) == Some(uid(owner)))
        .map(uid)
        .collect();
    let mut pods: Vec<String> = objects
        .iter()
        .filter(|o| o["kind"] == "Pod" && owner_uid(o).is_some_and(|u| middles.contains(&u)))
        .map(|o| fixture::key(cluster, o))
        .collect();
    pods.sort();
    pods
}

#[test]
fn seed_owner_examples() {
    let s = Server::shared();
    let mut checked = 0;
    for cluster in CLUSTERS {
        let objects = fixture::objects(cluster);
        for d in objects.iter().filter(|o| o["kind"] == "Deployment") {
            let ns = d["metadata"]["namespace"].as_str().unwrap();
            let want = grandchild_pods(&objects, cluster, d, "ReplicaSet");
            let by_uid = raw(s, &format!("{P}/resources/clusters/{cluster}/api/v1/namespaces/{ns}/pods?ownerUID={}&ownerSeniority=1", uid(d)));
            assert_eq!(
                keys(&by_uid),
                want,
                "{cluster} {ns} deployment {}",
                d["metadata"]["name"]
            );
            let by_name = raw(s, &format!("{P}/resources/clusters/{cluster}/api/v1/namespaces/{ns}/pods?ownerName={}&ownerSeniority=1", d["metadata"]["name"].as_str().unwrap()));
            assert_eq!(keys(&by_name), want);
            checked += usize::from(!want.is_empty());
        }
        // CronJob → Jobs → Pods.
        for cj in objects.iter().filter(|o| o["kind"] == "CronJob") {
            let ns = cj["metadata"]["namespace"].as_str().unwrap();
            let want = grandchild_pods(&objects, cluster, cj, "Job");
            assert!(!want.is_empty(), "the fixture's cronjobs have job pods");
            let got = raw(s, &format!("{P}/resources/clusters/{cluster}/api/v1/namespaces/{ns}/pods?ownerName={}&ownerGR=cronjobs.batch&ownerSeniority=1", cj["metadata"]["name"].as_str().unwrap()));
            assert_eq!(keys(&got), want);
        }
    }
    assert!(
        checked >= 3,
        "the fixture has deployments with pods in every cluster"
    );
}

#[test]
fn seed_where_sql_example() {
    let s = Server::shared();
    let url = format!("{P}/resources/apis/apps/v1/deployments?whereSQL=(cluster='staging') OR (namespace IN ('kube-system','default'))");
    let v = raw(s, &url);
    assert_eq!(
        keys(&v),
        expected(|c, o| o["kind"] == "Deployment"
            && (c == "staging"
                || ["kube-system", "default"]
                    .contains(&o["metadata"]["namespace"].as_str().unwrap())))
    );
}

#[test]
fn every_seed_url_form_answers() {
    let s = Server::shared();
    for cluster in CLUSTERS {
        for (gv, kind, namespaced) in SEED_RESOURCES {
            let seed_gv = if gv == "apis/batch/v1" {
                "apis/apps/batch/v1"
            } else {
                gv
            };
            let objects: Vec<Value> = fixture::objects(cluster)
                .into_iter()
                .filter(|o| o["kind"] == kind)
                .collect();
            let o = &objects[0];
            let name = o["metadata"]["name"].as_str().unwrap();
            let r = plural(kind);
            let (list_url, get_url) = if namespaced {
                let ns = o["metadata"]["namespace"].as_str().unwrap();
                (
                    format!("{P}/resources/clusters/{cluster}/{seed_gv}/namespaces/{ns}/{r}"),
                    format!(
                        "{P}/resources/clusters/{cluster}/{seed_gv}/namespaces/{ns}/{r}/{name}"
                    ),
                )
            } else {
                (
                    format!("{P}/resources/clusters/{cluster}/{seed_gv}/{r}"),
                    format!("{P}/resources/clusters/{cluster}/{seed_gv}/{r}/{name}"),
                )
            };
            let list = raw(s, &list_url);
            assert!(
                keys(&list).contains(&fixture::key(cluster, o)),
                "{list_url}"
            );
            assert_eq!(
                raw(s, &get_url)["metadata"]["uid"],
                o["metadata"]["uid"],
                "{get_url}"
            );
        }
        // Containers: list and by name.
        let pod = fixture::objects(cluster)
            .into_iter()
            .find(|o| o["kind"] == "Pod")
            .unwrap();
        let ns = pod["metadata"]["namespace"].as_str().unwrap();
        let container = pod["spec"]["containers"][0]["name"].as_str().unwrap();
        let list = raw(
            s,
            &format!("{P}/resources/clusters/{cluster}/api/v1/namespaces/{ns}/containers"),
        );
        let want: usize = fixture::objects(cluster)
            .iter()
            .filter(|o| o["kind"] == "Pod" && o["metadata"]["namespace"] == ns)
            .map(|o| {
                o["spec"]["containers"].as_array().map_or(0, Vec::len)
                    + o["spec"]["initContainers"].as_array().map_or(0, Vec::len)
            })
            .sum();
        assert_eq!(list["items"].as_array().unwrap().len(), want);
        let by_name = raw(
            s,
            &format!(
                "{P}/resources/clusters/{cluster}/api/v1/namespaces/{ns}/containers/{container}"
            ),
        );
        assert!(by_name["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["metadata"]["name"] == container));
    }
}

/// Rows of `kubectl get` output (no header).
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[test]
fn kubectl_get_every_kind_with_cluster_column() {
    let s = Server::shared();
    let all = s.kubeconfig("all", &format!("{P}/resources"), &admin_token());
    for (_, kind, namespaced) in SEED_RESOURCES {
        let r = plural(kind);
        let args: Vec<&str> = if namespaced {
            vec!["get", &r, "-A"]
        } else {
            vec!["get", &r]
        };
        let (ok, out, err) = kubectl(&all, &args);
        assert!(ok, "kubectl {args:?}: {err}");
        let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
        let cluster_col = header
            .iter()
            .position(|h| *h == "CLUSTER")
            .unwrap_or_else(|| panic!("{kind}: no CLUSTER column in {header:?}"));
        let name_col = header.iter().position(|h| *h == "NAME").unwrap();
        let mut got: Vec<String> = rows(&out)
            .iter()
            .map(|row| {
                let ns = if namespaced { row[0].as_str() } else { "" };
                format!("{}/{ns}/{}", row[cluster_col], row[name_col])
            })
            .collect();
        got.sort();
        assert_eq!(got, expected(kind_is(kind)), "kubectl get {r}");
    }
}

#[test]
fn kubectl_filters_outputs_and_chunking() {
    let s = Server::shared();
    let all = s.kubeconfig("filters", &format!("{P}/resources"), &admin_token());
    let pods = expected(kind_is("Pod"));
    // --chunk-size=7: kubectl pages with limit/continue; nothing lost or duplicated.
    let (ok, out, err) = kubectl(&all, &["get", "pods", "-A", "--chunk-size=7", "-o", "json"]);
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let mut got = keys(&list);
    got.sort();
    assert_eq!(got, pods);
    // -n, -l, --field-selector, -o name/yaml/wide.
    let (ok, out, _) = kubectl(&all, &["get", "pods", "-n", "kube-system", "-o", "name"]);
    assert!(ok);
    assert_eq!(
        out.lines().count(),
        expected(|_, o| o["kind"] == "Pod" && o["metadata"]["namespace"] == "kube-system").len()
    );
    assert!(out.lines().all(|l| l.starts_with("pod/")));
    let label = fixture::all()
        .into_iter()
        .find_map(|(_, o)| {
            (o["kind"] == "Pod")
                .then(|| o["metadata"]["labels"]["app"].as_str().map(str::to_owned))
                .flatten()
        })
        .unwrap();
    let (ok, out, err) = kubectl(
        &all,
        &[
            "get",
            "pods",
            "-A",
            "-l",
            &format!("app={label}"),
            "-o",
            "json",
        ],
    );
    assert!(ok, "{err}");
    let mut got = keys(&serde_json::from_str(&out).unwrap());
    got.sort();
    assert_eq!(
        got,
        expected(|_, o| o["kind"] == "Pod" && o["metadata"]["labels"]["app"] == label.as_str())
    );
    let (ok, out, err) = kubectl(
        &all,
        &[
            "get",
            "pods",
            "-A",
            "--field-selector",
            "status.phase=Running",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{err}");
    let mut got = keys(&serde_json::from_str(&out).unwrap());
    got.sort();
    assert_eq!(
        got,
        expected(|_, o| o["kind"] == "Pod" && o["status"]["phase"] == "Running")
    );
    let (ok, out, err) = kubectl(&all, &["get", "deployments", "-A", "-o", "wide"]);
    assert!(ok, "{err}");
    assert!(out.lines().next().unwrap().contains("IMAGES"), "{out}");
    let (ok, out, _) = kubectl(&all, &["get", "nodes", "-o", "yaml"]);
    assert!(
        ok && (out.contains("kind: List") || out.contains("kind: NodeList")),
        "{out:.300}"
    );
}

#[test]
fn kubectl_per_cluster_get_and_refused_writes() {
    let s = Server::shared();
    for cluster in CLUSTERS {
        let config = s.kubeconfig(
            cluster,
            &format!("{P}/resources/clusters/{cluster}"),
            &admin_token(),
        );
        let pod = fixture::objects(cluster)
            .into_iter()
            .find(|o| o["kind"] == "Pod")
            .unwrap();
        let (name, ns) = (
            pod["metadata"]["name"].as_str().unwrap(),
            pod["metadata"]["namespace"].as_str().unwrap(),
        );
        let (ok, out, err) = kubectl(&config, &["get", "pod", name, "-n", ns]);
        assert!(ok, "{err}");
        assert_eq!(rows(&out).len(), 1);
        assert_eq!(rows(&out)[0][0], cluster, "CLUSTER column first");
        let (ok, out, _) = kubectl(&config, &["get", "pods", "-A", "-o", "name"]);
        assert!(ok);
        assert_eq!(
            out.lines().count(),
            expected(|c, o| c == cluster && o["kind"] == "Pod").len()
        );
        let (ok, _, err) = kubectl(&config, &["delete", "pod", name, "-n", ns]);
        assert!(!ok);
        assert!(
            err.contains("MethodNotAllowed") || err.contains("not allowed") || err.contains("405"),
            "{err}"
        );
        let (ok, _, err) = kubectl(&config, &["get", "pod", "no-such-pod", "-n", ns]);
        assert!(!ok && err.contains("not found"), "{err}");
    }
}
