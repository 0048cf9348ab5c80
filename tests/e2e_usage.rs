//! docs/USAGE.md, "The seed's examples", "Filters, order and paging" and "Recipes": every ```sh
//! block there is run verbatim
//! under `sh` (with `EDGE` and `TOKEN` set) against the real `.wasm` in the local runtime, and its
//! output is checked against the fixture files. Each block names its check with a
//! `# expect: <id>` line; a block without a check, or a check without a block, fails the test.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use support::{admin_token, fixture, keys, Server};

const SECTIONS: [&str; 3] = [
    "## The seed's examples",
    "## Filters, order and paging",
    "## Recipes",
];

/// (expect id, shell command) of every ```sh block in the tested sections.
fn examples() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(support::repo().join("docs/USAGE.md")).unwrap();
    let mut out = Vec::new();
    for heading in SECTIONS {
        let start = doc
            .find(&format!("\n{heading}\n"))
            .unwrap_or_else(|| panic!("docs/USAGE.md has no section {heading:?}"));
        let rest = &doc[start + heading.len() + 2..];
        let section = match rest.find("\n## ") {
            Some(end) => &rest[..end],
            None => rest,
        };
        let mut blocks = section.split("```sh\n").skip(1);
        for block in blocks.by_ref() {
            let body = block.split("```").next().unwrap();
            let id = body
                .lines()
                .find_map(|l| l.trim().strip_prefix("# expect:"))
                .unwrap_or_else(|| panic!("block without `# expect:` line:\n{body}"))
                .trim()
                .to_owned();
            // The command: the block without comment lines, `\` continuations joined.
            let command = body
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
                .replace("\\\n", " ");
            assert!(
                command.contains("curl ") && command.contains("$EDGE"),
                "{id}: does not ask the edge with curl: {command}"
            );
            out.push((id, command));
        }
    }
    out
}

fn parse(id: &str, stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{id}: not JSON ({e}): {stdout:.500}"))
}

fn in_ns(c: &str, o: &Value, cluster: &str, ns: &str, kind: &str) -> bool {
    c == cluster && o["metadata"]["namespace"] == ns && o["kind"] == kind
}

/// Pods of deployment `deploy` in `cluster`/`ns`, through its ReplicaSets, from the fixture.
fn pods_of_deployment(cluster: &str, ns: &str, deploy: &str) -> Vec<String> {
    let objs = fixture::objects(cluster);
    let owned_by = |o: &Value, kind: &str, name: &str| {
        o["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|rs| rs.iter().any(|r| r["kind"] == kind && r["name"] == name))
    };
    let sets: Vec<String> = objs
        .iter()
        .filter(|o| o["kind"] == "ReplicaSet" && o["metadata"]["namespace"] == ns)
        .filter(|o| owned_by(o, "Deployment", deploy))
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    fixture::expected(|c, o| {
        in_ns(c, o, cluster, ns, "Pod") && sets.iter().any(|s| owned_by(o, "ReplicaSet", s))
    })
}

fn meta<'a>(o: &'a Value, field: &str) -> &'a str {
    o["metadata"][field].as_str().unwrap_or("")
}

fn creation(o: &Value) -> &str {
    let t = meta(o, "creationTimestamp");
    // RFC 3339 in UTC, whole seconds: such strings order as the times do.
    assert!(
        t.len() == 20 && t.ends_with('Z'),
        "fixture creationTimestamp {t:?}"
    );
    t
}

/// The fixture objects matching `keep`, (key, object), in a collection's order: cluster,
/// namespace, name, then group and resource.
fn collection(keep: impl Fn(&str, &Value) -> bool) -> Vec<(String, Value)> {
    let mut rows: Vec<_> = fixture::all()
        .into_iter()
        .filter(|(c, o)| keep(c, o))
        .map(|(c, o)| {
            let api = o["apiVersion"].as_str().unwrap();
            let group = api.rsplit_once('/').map_or("", |(g, _)| g).to_owned();
            let resource = fixture::plural(o["kind"].as_str().unwrap());
            let sort = (
                c.to_owned(),
                meta(&o, "namespace").to_owned(),
                meta(&o, "name").to_owned(),
                group,
                resource,
            );
            (sort, fixture::key(c, &o), o)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.into_iter().map(|(_, k, o)| (k, o)).collect()
}

fn collection_keys(keep: impl Fn(&str, &Value) -> bool) -> Vec<String> {
    collection(keep).into_iter().map(|(k, _)| k).collect()
}

fn is_workload(o: &Value) -> bool {
    ["Deployment", "DaemonSet", "StatefulSet"].contains(&o["kind"].as_str().unwrap_or(""))
}

type Check = Box<dyn Fn(&str, &str)>;

fn list_is(expected: Vec<String>) -> Check {
    Box::new(move |id, stdout| {
        assert!(!expected.is_empty(), "{id}: the fixture has no answer");
        let got = keys(&parse(id, stdout));
        assert!(!got.is_empty(), "{id}: no results");
        assert_eq!(got, expected, "{id}");
    })
}

fn checks() -> BTreeMap<&'static str, Check> {
    let mut m: BTreeMap<&'static str, Check> = BTreeMap::new();
    m.insert(
        "deployments-in-namespace",
        list_is(fixture::expected(|c, o| {
            in_ns(c, o, "prod-eu-1", "kube-system", "Deployment")
        })),
    );
    m.insert(
        "one-deployment",
        Box::new(|id, stdout| {
            let o = parse(id, stdout);
            let truth = fixture::objects("prod-eu-1")
                .into_iter()
                .find(|o| {
                    o["kind"] == "Deployment"
                        && o["metadata"]["namespace"] == "kube-system"
                        && o["metadata"]["name"] == "coredns"
                })
                .unwrap();
            assert_eq!(o["kind"], "Deployment", "{id}: {o:.300}");
            assert_eq!(o["metadata"]["uid"], truth["metadata"]["uid"], "{id}");
            assert_eq!(o["spec"], truth["spec"], "{id}");
            assert_eq!(
                o["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"], "prod-eu-1",
                "{id}"
            );
        }),
    );
    m.insert(
        "pods-in-namespace",
        list_is(fixture::expected(|c, o| {
            in_ns(c, o, "prod-us-1", "web", "Pod")
        })),
    );
    m.insert(
        "cronjobs",
        list_is(fixture::expected(|c, o| {
            in_ns(c, o, "prod-eu-1", "default", "CronJob")
        })),
    );
    m.insert(
        "nodes",
        list_is(fixture::expected(|c, o| {
            c == "staging" && o["kind"] == "Node"
        })),
    );
    m.insert(
        "owner-name",
        list_is(pods_of_deployment("prod-eu-1", "web", "frontend")),
    );
    m.insert(
        "owner-uid",
        list_is(pods_of_deployment("prod-eu-1", "web", "frontend")),
    );
    m.insert(
        "first-page",
        Box::new(|id, stdout| {
            let all = fixture::expected(fixture::kind_is("Deployment"));
            let v = parse(id, stdout);
            assert_eq!(keys(&v), all[..1].to_vec(), "{id}");
            assert!(
                v["metadata"]["continue"]
                    .as_str()
                    .is_some_and(|c| !c.is_empty()),
                "{id}: no continue token: {:.300}",
                v["metadata"]
            );
        }),
    );
    m.insert(
        "where-sql",
        list_is(fixture::expected(|c, o| {
            o["kind"] == "Deployment"
                && (c == "prod-eu-1"
                    || o["metadata"]["namespace"] == "kube-system"
                    || o["metadata"]["namespace"] == "default")
        })),
    );
    m.insert(
        "offset-page",
        Box::new(|id, stdout| {
            let all = fixture::expected(fixture::kind_is("Deployment"));
            assert!(all.len() > 15, "{id}: the fixture is too small");
            let v = parse(id, stdout);
            assert_eq!(keys(&v), all[5..15].to_vec(), "{id}");
            assert_eq!(v["metadata"]["continue"], "15", "{id}");
        }),
    );
    m.insert(
        "remaining-count",
        Box::new(|id, stdout| {
            let all = fixture::expected(fixture::kind_is("Deployment"));
            let v = parse(id, stdout);
            assert_eq!(keys(&v), all[..1].to_vec(), "{id}");
            assert_eq!(
                v["metadata"]["remainingItemCount"],
                all.len() - 1,
                "{id}: {:.300}",
                v["metadata"]
            );
        }),
    );
    m.insert(
        "workloads-first-page",
        Box::new(|id, stdout| {
            let all = collection(|_, o| is_workload(o));
            let v = parse(id, stdout);
            assert_eq!(v["kind"], "CollectionResource", "{id}");
            let mut kinds: Vec<&str> = v["resourceTypes"]
                .as_array()
                .unwrap_or_else(|| panic!("{id}: no resourceTypes"))
                .iter()
                .map(|t| t["kind"].as_str().unwrap_or("?"))
                .collect();
            kinds.sort_unstable();
            assert_eq!(kinds, ["DaemonSet", "Deployment", "StatefulSet"], "{id}");
            assert_eq!(keys(&v), vec![all[0].0.clone()], "{id}");
            let item = &v["items"][0];
            let fields: Vec<&String> = item.as_object().unwrap().keys().collect();
            assert_eq!(fields, ["apiVersion", "kind", "metadata"], "{id}");
            assert_eq!(item["metadata"]["uid"], all[0].1["metadata"]["uid"], "{id}");
            assert!(
                v["metadata"]["continue"]
                    .as_str()
                    .is_some_and(|c| !c.is_empty()),
                "{id}: no continue token"
            );
        }),
    );
    m.insert(
        "containers",
        Box::new(|id, stdout| {
            // Each pod in the default order, its init containers first.
            let mut pods = fixture::objects("staging");
            pods.retain(|o| o["kind"] == "Pod" && o["metadata"]["namespace"] == "web");
            pods.sort_by(|a, b| meta(a, "name").cmp(meta(b, "name")));
            let expected: Vec<(String, Value)> = pods
                .iter()
                .flat_map(|p| {
                    ["initContainers", "containers"]
                        .iter()
                        .flat_map(|f| p["spec"][f].as_array().cloned().unwrap_or_default())
                        .map(|c| {
                            let name = c["name"].as_str().unwrap();
                            (format!("{}/{name}", meta(p, "name")), c)
                        })
                })
                .collect();
            assert!(!expected.is_empty(), "{id}: the fixture has no answer");
            let v = parse(id, stdout);
            assert_eq!(v["kind"], "ContainerList", "{id}");
            let items = v["items"].as_array().unwrap();
            assert!(!items.is_empty(), "{id}: no results");
            for i in items {
                assert_eq!(i["kind"], "Container", "{id}");
                assert_eq!(
                    i["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"], "staging",
                    "{id}"
                );
            }
            let got: Vec<(String, Value)> = items
                .iter()
                .map(|i| {
                    let owner = i["metadata"]["ownerReferences"][0]["name"]
                        .as_str()
                        .unwrap_or("?");
                    (format!("{owner}/{}", meta(i, "name")), i["spec"].clone())
                })
                .collect();
            assert_eq!(got, expected, "{id}");
        }),
    );
    m.insert(
        "all-pages",
        Box::new(|id, stdout| {
            let expected = fixture::expected(fixture::kind_is("Deployment"));
            assert!(expected.len() > 5, "{id}: one page would hold them all");
            let got: Vec<String> = stdout.lines().map(str::to_owned).collect();
            assert!(!got.is_empty(), "{id}: no results");
            assert_eq!(got, expected, "{id}");
        }),
    );
    m.insert(
        "workloads-in-namespace",
        list_is(collection_keys(|c, o| {
            c == "staging" && o["metadata"]["namespace"] == "monitoring" && is_workload(o)
        })),
    );
    m.insert(
        "any-collection",
        list_is(collection_keys(|c, o| {
            c == "prod-us-1"
                && o["metadata"]["namespace"] == "default"
                && (o["apiVersion"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("batch/"))
                    || o["kind"] == "Deployment")
        })),
    );
    m.insert(
        "clusters-namespaces-names",
        list_is(fixture::expected(|c, o| {
            (c == "prod-eu-1" || c == "prod-us-1")
                && o["kind"] == "Service"
                && o["metadata"]["namespace"] == "web"
                && ["frontend", "api"].contains(&meta(o, "name"))
        })),
    );
    m.insert(
        "fuzzy-name",
        list_is(fixture::expected(|_, o| {
            o["kind"] == "Job" && meta(o, "name").contains("report")
        })),
    );
    m.insert(
        "label-selector",
        list_is(fixture::expected(|_, o| {
            let labels = &o["metadata"]["labels"];
            o["kind"] == "Pod"
                && (labels["app"] == "frontend" || labels["app"] == "api")
                && labels["env"] != "prod"
        })),
    );
    m.insert(
        "field-selector",
        list_is(fixture::expected(|_, o| {
            o["kind"] == "Pod"
                && o["status"]["phase"] != "Running"
                && o["status"]["phase"] != "Succeeded"
        })),
    );
    m.insert(
        "search-label-terms",
        list_is(fixture::expected(|c, o| {
            in_ns(c, o, "staging", "web", "Deployment")
        })),
    );
    m.insert(
        "owner-children",
        list_is(fixture::expected(|c, o| {
            in_ns(c, o, "prod-us-1", "default", "Job")
                && o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|rs| {
                        rs.iter()
                            .any(|r| r["kind"] == "CronJob" && r["name"] == "nightly-report")
                    })
        })),
    );
    m.insert("orderby", {
        let mut deployments: Vec<(String, String)> = fixture::all()
            .iter()
            .filter(|(_, o)| o["kind"] == "Deployment")
            .map(|(c, o)| (creation(o).to_owned(), fixture::key(c, o)))
            .collect();
        deployments.sort_by(|a, b| b.0.cmp(&a.0));
        // The answer is determined only if the third and fourth differ.
        assert_ne!(
            deployments[2].0, deployments[3].0,
            "orderby: a tie in the fixture"
        );
        list_is(deployments[..3].iter().map(|(_, k)| k.clone()).collect())
    });
    m.insert(
        "since-before",
        list_is(fixture::expected(|_, o| {
            o["kind"] == "Deployment"
                && ("2024-01-01T00:00:00Z".."2025-01-01T00:00:00Z").contains(&creation(o))
        })),
    );
    m.insert(
        "image-across-clusters",
        Box::new(|id, stdout| {
            let mut expected: Vec<String> = fixture::all()
                .iter()
                .filter(|(_, o)| o["kind"] == "Pod")
                .filter(|(_, o)| {
                    o["spec"]["containers"]
                        .as_array()
                        .is_some_and(|cs| cs.iter().any(|c| c["image"] == "nginx:1.25.3"))
                })
                .map(|(c, o)| {
                    format!(
                        "{c} {}/{}",
                        o["metadata"]["namespace"].as_str().unwrap(),
                        o["metadata"]["name"].as_str().unwrap()
                    )
                })
                .collect();
            expected.sort();
            let mut got: Vec<String> = stdout.lines().map(str::to_owned).collect();
            assert!(!got.is_empty(), "{id}: no results");
            got.sort();
            assert!(!expected.is_empty());
            assert_eq!(got, expected, "{id}");
        }),
    );
    m.insert(
        "pods-of-deployment",
        Box::new(|id, stdout| {
            let expected: Vec<String> = pods_of_deployment("staging", "web", "api")
                .iter()
                .map(|k| k.rsplit('/').next().unwrap().to_owned())
                .collect();
            let got: Vec<String> = stdout.lines().map(str::to_owned).collect();
            assert!(!got.is_empty(), "{id}: no results");
            assert_eq!(got, expected, "{id}");
        }),
    );
    m
}

#[test]
fn the_usage_examples_answer_from_the_fixture() {
    let examples = examples();
    let checks = checks();
    assert_eq!(
        examples.len(),
        checks.len(),
        "examples in docs/USAGE.md: {:?}; checks: {:?}",
        examples.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        checks.keys().collect::<Vec<_>>()
    );
    let mut seen = std::collections::BTreeSet::new();
    for (id, _) in &examples {
        assert!(
            checks.contains_key(id.as_str()),
            "no check for example {id}"
        );
        assert!(seen.insert(id.clone()), "example {id} appears twice");
    }

    let s = Server::with_fixtures();
    let token = admin_token();
    assert!(!examples.is_empty());
    let mut failures = Vec::new();
    for (id, command) in &examples {
        let out = Command::new("sh")
            .arg("-c")
            .arg(command)
            .env("EDGE", &s.base)
            .env("TOKEN", &token)
            .output()
            .expect("run sh");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert!(
                out.status.success(),
                "{id}: exit {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
            checks[id.as_str()](id, &stdout);
        }));
        if result.is_err() {
            failures.push(id.clone());
        }
    }
    assert!(
        failures.is_empty(),
        "examples answered wrongly: {failures:?}"
    );
}
