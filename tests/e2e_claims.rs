//! Claims bind reads and writes alike (DESIGN §5), end to end through the real `.wasm`: for
//! each combination of cluster glob, namespace list and `inventory:secrets`, what a token sees
//! on every read path, and what it may change, is computed from the fixture files and
//! compared with what the server answers. Attacks must get 401/403/422 and change nothing.

mod support;

use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use support::fixture::{self, plural, SEED_RESOURCES};
use support::{keys, mint, Server};

const P: &str = "/apis/clusterpedia.io/v1beta1";

/// A token's claims, and the same rules applied to the fixture independently of the server.
#[derive(Clone, Copy, Debug)]
struct Claims {
    clusters: Option<&'static [&'static str]>,
    namespaces: Option<&'static [&'static str]>,
    secrets: bool,
}

/// `*` globs as in the claims (`prod-*`, `kube-*`).
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        Some((prefix, suffix)) => {
            name.len() >= prefix.len() + suffix.len()
                && name.starts_with(prefix)
                && name.ends_with(suffix)
        }
        None => pattern == name,
    }
}

impl Claims {
    fn token(&self, scope: &str) -> String {
        let scope = if self.secrets {
            format!("{scope} inventory:secrets")
        } else {
            scope.to_owned()
        };
        mint(&scope, self.clusters, self.namespaces)
    }

    fn may_see(&self, cluster: &str, o: &Value) -> bool {
        let namespace = o["metadata"]["namespace"].as_str().unwrap_or("");
        self.clusters
            .is_none_or(|ps| ps.iter().any(|p| glob(p, cluster)))
            && self
                .namespaces
                .is_none_or(|ps| ps.iter().any(|p| glob(p, namespace)))
            && (self.secrets || o["kind"] != "Secret")
    }

    fn may_see_cluster(&self, cluster: &str) -> bool {
        self.clusters
            .is_none_or(|ps| ps.iter().any(|p| glob(p, cluster)))
    }
}

const MATRIX: [Claims; 5] = [
    Claims {
        clusters: None,
        namespaces: None,
        secrets: true,
    },
    Claims {
        clusters: None,
        namespaces: None,
        secrets: false,
    },
    Claims {
        clusters: Some(&["prod-*"]),
        namespaces: None,
        secrets: false,
    },
    Claims {
        clusters: None,
        namespaces: Some(&["web", "kube-*"]),
        secrets: true,
    },
    Claims {
        clusters: Some(&["staging"]),
        namespaces: Some(&["default"]),
        secrets: false,
    },
];

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Keys of the fixture objects `claims` may see among those `keep` selects.
fn visible(claims: &Claims, keep: impl Fn(&Value) -> bool) -> Vec<String> {
    sorted(
        fixture::all()
            .iter()
            .filter(|(c, o)| keep(o) && claims.may_see(c, o))
            .map(|(c, o)| fixture::key(c, o))
            .collect(),
    )
}

fn items(list: &Value) -> &Vec<Value> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list:.300}"))
}

#[test]
fn every_list_and_get_shows_exactly_what_the_claims_allow() {
    let s = Server::shared();
    for claims in MATRIX {
        let token = claims.token("inventory:read");
        for (path, kind, _) in SEED_RESOURCES {
            let url = format!("{P}/resources/{path}/{}", plural(kind));
            let (status, list) = s.get_as(&url, Some(&token));
            if kind == "Secret" && !claims.secrets {
                assert_eq!((status, list["reason"].as_str()), (403, Some("Forbidden")));
                continue;
            }
            assert_eq!(status, 200, "{claims:?} {url}: {list}");
            let want = visible(&claims, |o| o["kind"] == kind);
            assert_eq!(sorted(keys(&list)), want, "{claims:?} {url}");
        }
        // A get answers only for a visible object; anything else is as if it did not exist.
        let all_pods: Vec<(&str, Value)> = fixture::all()
            .into_iter()
            .filter(|(_, o)| o["kind"] == "Pod")
            .collect();
        assert!(!all_pods.is_empty());
        let seen = all_pods.iter().find(|(c, o)| claims.may_see(c, o));
        let hidden = all_pods.iter().find(|(c, o)| !claims.may_see(c, o));
        for (pod, want) in [(seen, 200), (hidden, 404)] {
            let Some((cluster, o)) = pod else { continue };
            let url = format!(
                "{P}/resources/clusters/{cluster}/api/v1/namespaces/{}/pods/{}",
                o["metadata"]["namespace"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            );
            let (status, got) = s.get_as(&url, Some(&token));
            assert_eq!(status, want, "{claims:?} {url}: {got:.200}");
            if want == 200 {
                assert_eq!(got["metadata"]["uid"], o["metadata"]["uid"]);
            }
        }
    }
}

#[test]
fn collections_containers_and_where_sql_obey_the_claims() {
    let s = Server::shared();
    let workloads = ["Deployment", "DaemonSet", "StatefulSet"];
    for claims in MATRIX {
        let token = claims.token("inventory:read");
        let (status, list) = s.get_as(&format!("{P}/collectionresources/workloads"), Some(&token));
        assert_eq!(status, 200, "{list}");
        assert_eq!(
            sorted(keys(&list)),
            visible(&claims, |o| workloads
                .contains(&o["kind"].as_str().unwrap())),
            "{claims:?} workloads"
        );
        let (_, list) = s.get_as(
            &format!("{P}/collectionresources/kuberesources"),
            Some(&token),
        );
        assert_eq!(
            sorted(keys(&list)),
            visible(&claims, |_| true),
            "{claims:?} kuberesources"
        );
        let types: Vec<&str> = list["resourceTypes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["resource"].as_str().unwrap())
            .collect();
        assert_eq!(types.contains(&"secrets"), claims.secrets, "{types:?}");

        // whereSQL naming Secrets by kind finds only what the token may read.
        let (status, list) = s.get_as(
            &format!("{P}/collectionresources/kuberesources?whereSQL=kind%3D%27Secret%27"),
            Some(&token),
        );
        assert_eq!(status, 200, "{list}");
        let want = visible(&claims, |o| o["kind"] == "Secret");
        assert_eq!(sorted(keys(&list)), want, "{claims:?} whereSQL kind=Secret");
        if claims.secrets && claims.namespaces.is_none() {
            assert!(!want.is_empty(), "the fixture has Secrets");
        }

        // One container item per (init) container of each visible pod.
        let (_, list) = s.get_as(&format!("{P}/resources/api/v1/containers"), Some(&token));
        let want: usize = fixture::all()
            .iter()
            .filter(|(c, o)| o["kind"] == "Pod" && claims.may_see(c, o))
            .map(|(_, o)| {
                ["containers", "initContainers"]
                    .iter()
                    .map(|k| o["spec"][k].as_array().map_or(0, Vec::len))
                    .sum::<usize>()
            })
            .sum();
        assert_eq!(items(&list).len(), want, "{claims:?} containers");

        // The seed's offset paging and our signed cursors both stay inside the claims.
        let (_, page) = s.get_as(&format!("{P}/resources/api/v1/pods?limit=7"), Some(&token));
        let mut walked = keys(&page);
        let mut next = page["metadata"]["continue"].as_str().map(str::to_owned);
        while let Some(token_) = next {
            let (status, page) = s.get_as(
                &format!("{P}/resources/api/v1/pods?limit=7&continue={token_}"),
                Some(&token),
            );
            assert_eq!(status, 200, "{page}");
            walked.extend(keys(&page));
            next = page["metadata"]["continue"].as_str().map(str::to_owned);
        }
        assert_eq!(sorted(walked), visible(&claims, |o| o["kind"] == "Pod"));
    }
}

#[test]
fn cluster_status_discovery_and_owner_lookups_show_only_what_may_be_read() {
    let s = Server::shared();
    for claims in MATRIX {
        let token = claims.token("inventory:read");
        let (status, list) = s.get_as(
            "/apis/cluster.clusterpedia.io/v1alpha2/pediaclusters",
            Some(&token),
        );
        assert_eq!(status, 200, "{list}");
        let clusters: Vec<&str> = items(&list)
            .iter()
            .map(|c| c["metadata"]["name"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = fixture::CLUSTERS
            .into_iter()
            .filter(|c| claims.may_see_cluster(c))
            .collect();
        assert_eq!(clusters, want, "{claims:?}");
        for item in items(&list) {
            let cluster = item["metadata"]["name"].as_str().unwrap();
            let got: BTreeSet<(String, u64)> = item["status"]["syncResources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["kind"].as_str().unwrap().to_owned(),
                        r["objectCount"].as_u64().unwrap(),
                    )
                })
                .collect();
            let mut want: BTreeSet<(String, u64)> = BTreeSet::new();
            for (kind, _, _) in SEED_RESOURCES.iter().map(|(p, k, n)| (*k, p, n)) {
                let n = fixture::objects(cluster)
                    .iter()
                    .filter(|o| o["kind"] == kind && claims.may_see(cluster, o))
                    .count() as u64;
                if n > 0 {
                    want.insert((kind.to_owned(), n));
                }
            }
            assert_eq!(got, want, "{claims:?} {cluster}");
        }

        // Discovery lists the core types the token can read objects of.
        let (_, core) = s.get_as(&format!("{P}/resources/api/v1"), Some(&token));
        let got: BTreeSet<String> = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .filter(|n| n != "containers")
            .collect();
        let want: BTreeSet<String> = fixture::all()
            .iter()
            .filter(|(c, o)| o["apiVersion"] == "v1" && claims.may_see(c, o))
            .map(|(_, o)| plural(o["kind"].as_str().unwrap()))
            .collect();
        assert_eq!(got, want, "{claims:?} discovery");
    }

    // Static pods are owned by their (cluster-scoped) Node: a namespace-limited token cannot
    // see the Node, so naming it finds nothing, while an unrestricted one finds the pods.
    let node = fixture::objects("prod-eu-1")
        .into_iter()
        .find(|o| o["kind"] == "Node" && o["metadata"]["name"] == "prod-eu-1-node-0")
        .unwrap();
    let static_pods = sorted(
        fixture::objects("prod-eu-1")
            .iter()
            .filter(|o| o["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"])
            .map(|o| fixture::key("prod-eu-1", o))
            .collect(),
    );
    assert!(!static_pods.is_empty());
    let url = format!("{P}/resources/clusters/prod-eu-1/api/v1/pods?ownerName=prod-eu-1-node-0");
    let (_, all) = s.get_as(&url, Some(&MATRIX[1].token("inventory:read")));
    assert_eq!(sorted(keys(&all)), static_pods);
    let limited = mint("inventory:read", None, Some(&["kube-system"]));
    let (status, none) = s.get_as(&url, Some(&limited));
    assert_eq!(status, 200);
    assert_eq!(keys(&none), Vec::<String>::new(), "the Node is not visible");
}

#[test]
fn forged_and_edited_continue_tokens_are_refused() {
    let s = Server::shared();
    let token = MATRIX[2].token("inventory:read");
    let (_, page) = s.get_as(&format!("{P}/resources/api/v1/pods?limit=2"), Some(&token));
    let cont = page["metadata"]["continue"].as_str().unwrap().to_owned();
    let (payload, mac) = cont.split_once('.').expect("payload.signature");
    // The payload is ours to read (base64url JSON); editing it must break the signature.
    let raw = Base64UrlSafeNoPadding::decode_to_vec(payload, None).unwrap();
    let mut wire: Value = serde_json::from_slice(&raw).unwrap();
    wire["k"][0] = json!("staging");
    let edited_payload =
        Base64UrlSafeNoPadding::encode_to_string(serde_json::to_vec(&wire).unwrap()).unwrap();
    for forged in [
        format!("{edited_payload}.{mac}"),
        format!("{payload}.{}", "A".repeat(mac.len())),
        payload.to_owned(),
        format!("{payload}.{mac}x"),
    ] {
        let (status, e) = s.get_as(
            &format!("{P}/resources/api/v1/pods?limit=2&continue={forged}"),
            Some(&token),
        );
        assert_eq!(
            (status, e["reason"].as_str()),
            (400, Some("BadRequest")),
            "{forged}"
        );
    }
    let (status, _) = s.get_as(
        &format!("{P}/resources/api/v1/pods?limit=2&continue={cont}"),
        Some(&token),
    );
    assert_eq!(status, 200);
}
