//! Step 1 end to end: the fixture pushed with the real `sync-agent` into the real `.wasm`
//! running in `edgepedia-host`, then every URL form checked over real HTTP against what the
//! fixture files hold.

mod support;

use serde_json::{json, Value};
use support::fixture::{self, expected, kind_is, plural, CLUSTERS, SEED_RESOURCES};
use support::{keys, mint, Server};

const P: &str = "/apis/clusterpedia.io/v1beta1/resources";

#[test]
fn every_resource_lists_across_clusters_with_the_annotation() {
    let s = Server::shared();
    for (gv, kind, _) in SEED_RESOURCES {
        let (status, list) = s.get(&format!("{P}/{gv}/{}", plural(kind)));
        assert_eq!(status, 200, "{kind}: {list}");
        assert_eq!(list["kind"], format!("{kind}List"));
        let want = expected(kind_is(kind));
        assert!(!want.is_empty(), "the fixture has {kind} objects");
        assert_eq!(keys(&list), want, "{kind}");
        for item in list["items"].as_array().unwrap() {
            assert_eq!(item["kind"], kind);
            assert!(
                item["metadata"].get("managedFields").is_none(),
                "managedFields stripped"
            );
        }
    }
}

#[test]
fn per_cluster_and_per_namespace_lists_match_the_fixture() {
    let s = Server::shared();
    for cluster in CLUSTERS {
        for (gv, kind, namespaced) in SEED_RESOURCES {
            let r = plural(kind);
            let (_, list) = s.get(&format!("{P}/clusters/{cluster}/{gv}/{r}"));
            assert_eq!(
                keys(&list),
                expected(|c, o| c == cluster && o["kind"] == kind),
                "{cluster} {kind}"
            );
            if namespaced {
                for ns in ["default", "kube-system"] {
                    let (_, list) =
                        s.get(&format!("{P}/clusters/{cluster}/{gv}/namespaces/{ns}/{r}"));
                    let want = expected(|c, o| {
                        c == cluster && o["kind"] == kind && o["metadata"]["namespace"] == ns
                    });
                    assert_eq!(keys(&list), want, "{cluster} {ns} {kind}");
                }
                // All clusters, one namespace.
                let (_, list) = s.get(&format!("{P}/{gv}/namespaces/kube-system/{r}"));
                assert_eq!(
                    keys(&list),
                    expected(
                        |_, o| o["kind"] == kind && o["metadata"]["namespace"] == "kube-system"
                    )
                );
            }
        }
    }
}

#[test]
fn gets_return_the_object_and_batch_accepts_the_seed_alias() {
    let s = Server::shared();
    for (cluster, o) in fixture::all() {
        let kind = o["kind"].as_str().unwrap();
        let Some((gv, _, namespaced)) = SEED_RESOURCES.iter().find(|(_, k, _)| *k == kind) else {
            continue;
        };
        let name = o["metadata"]["name"].as_str().unwrap();
        let ns_part = if *namespaced {
            format!(
                "namespaces/{}/",
                o["metadata"]["namespace"].as_str().unwrap()
            )
        } else {
            String::new()
        };
        let seed_gv = if *gv == "apis/batch/v1" {
            "apis/apps/batch/v1"
        } else {
            gv
        };
        let (status, got) = s.get(&format!(
            "{P}/clusters/{cluster}/{seed_gv}/{ns_part}{}/{name}",
            plural(kind)
        ));
        assert_eq!(status, 200, "{cluster} {kind} {name}: {got}");
        assert_eq!(got["metadata"]["uid"], o["metadata"]["uid"]);
        assert_eq!(
            got["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"],
            cluster
        );
        if kind == "Pod" {
            assert_eq!(got["spec"], o["spec"], "objects are stored as pushed");
        }
    }
    let (_, cron) = s.get(&format!("{P}/apis/apps/batch/v1/cronjobs"));
    assert_eq!(keys(&cron), expected(kind_is("CronJob")));
}

#[test]
fn secret_data_never_arrives() {
    let s = Server::shared();
    let with_data = fixture::all()
        .iter()
        .filter(|(_, o)| {
            o["kind"] == "Secret" && (o.get("data").is_some() || o.get("stringData").is_some())
        })
        .count();
    assert!(with_data > 0, "the fixture has secrets with data");
    let (_, list) = s.get(&format!("{P}/api/v1/secrets"));
    for secret in list["items"].as_array().unwrap() {
        assert!(
            secret.get("data").is_none() && secret.get("stringData").is_none(),
            "{secret}"
        );
        let annotations = secret["metadata"]["annotations"].as_object().unwrap();
        assert!(!annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
    }
    // A reader without inventory:secrets cannot read Secrets at all.
    let reader = mint("inventory:read", None, None);
    let (status, body) = s.get_as(&format!("{P}/api/v1/secrets"), Some(&reader));
    assert_eq!((status, body["reason"].as_str()), (403, Some("Forbidden")));
}

#[test]
fn paging_with_limit_and_continue_is_complete() {
    let s = Server::shared();
    let want = expected(kind_is("Pod"));
    assert!(want.len() > 7 * 3, "enough pods for several pages");
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let (status, page) = s.get(&format!(
            "{P}/api/v1/pods?limit=7&withRemainingCount&continue={token}"
        ));
        assert_eq!(status, 200, "{page}");
        let got = keys(&page);
        assert!(got.len() <= 7);
        seen.extend(got);
        assert_eq!(
            page["metadata"]["remainingItemCount"].as_u64().unwrap() as usize,
            want.len() - seen.len()
        );
        match page["metadata"]["continue"].as_str() {
            Some(t) => token = t.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, want);
    // The seed's numeric offsets.
    let (_, page) = s.get(&format!("{P}/api/v1/pods?limit=10&continue=5"));
    assert_eq!(keys(&page), want[5..15]);
    assert_eq!(page["metadata"]["continue"], "15");
    // Filters: clusters, namespaces, names.
    let (_, page) = s.get(&format!(
        "{P}/api/v1/pods?clusters=staging,prod-us-1&namespaces=kube-system"
    ));
    assert_eq!(
        keys(&page),
        expected(|c, o| o["kind"] == "Pod"
            && c != "prod-eu-1"
            && o["metadata"]["namespace"] == "kube-system")
    );
    let first = fixture::objects("staging")
        .into_iter()
        .find(|o| o["kind"] == "Pod")
        .unwrap();
    let name = first["metadata"]["name"].as_str().unwrap();
    let (_, page) = s.get(&format!("{P}/api/v1/pods?names={name}"));
    assert_eq!(
        keys(&page),
        expected(|_, o| o["kind"] == "Pod" && o["metadata"]["name"] == name)
    );
}

#[test]
fn errors_are_kubernetes_status_objects() {
    let s = Server::shared();
    let (status, body) = s.get_as(&format!("{P}/api/v1/pods"), None);
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})
    );
    let (status, body) = s.get_as(&format!("{P}/api/v1/pods"), Some("not.a.jwt"));
    assert_eq!((status, body["code"].as_u64()), (401, Some(401)));
    let (status, body) = s.get(&format!(
        "{P}/clusters/staging/api/v1/namespaces/default/pods/x"
    ));
    assert_eq!(status, 404);
    assert_eq!(body["message"], "pods \"x\" not found");
    assert_eq!(body["details"], json!({"name":"x","kind":"pods"}));
    for (path, reason) in [
        (
            format!("{P}/api/v1/namespaces/default/pods/x"),
            "BadRequest",
        ),
        (format!("{P}/api/v1/pods?limit=abc"), "BadRequest"),
        (
            format!("{P}/api/v1/pods?clusters=NOT_A_CLUSTER"),
            "BadRequest",
        ),
        (format!("{P}/apis/example.com/v1/widgets"), "NotFound"),
        ("/nothing/here".to_owned(), "NotFound"),
    ] {
        let (status, body): (u16, Value) = s.get(&path);
        assert_eq!(body["reason"], reason, "{path}: {body}");
        assert_eq!(body["kind"], "Status");
        assert_eq!(u64::from(status), body["code"].as_u64().unwrap());
    }
    let (status, _) = s.get_as("/healthz", None);
    assert_eq!(status, 200);
}

#[test]
fn cluster_status_reports_what_was_pushed() {
    let s = Server::shared();
    let (status, list) = s.get("/apis/cluster.clusterpedia.io/v1alpha2/pediaclusters");
    assert_eq!(status, 200);
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, CLUSTERS);
    let (_, one) = s.get("/apis/cluster.clusterpedia.io/v1alpha2/pediaclusters/staging");
    let pods = one["status"]["syncResources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "pods")
        .unwrap()
        .clone();
    assert_eq!(
        pods["objectCount"].as_u64().unwrap() as usize,
        expected(|c, o| c == "staging" && o["kind"] == "Pod").len()
    );
}
