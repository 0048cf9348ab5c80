//! docs/USAGE.md, "The seed's examples" and "Recipes": every ```sh block there is run verbatim
//! under `sh` (with `EDGE` and `TOKEN` set) against the real `.wasm` in the local runtime, and its
//! output is checked against the fixture files. Each block names its check with a
//! `# expect: <id>` line; a block without a check, or a check without a block, fails the test.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use support::{admin_token, fixture, keys, Server};

const SECTIONS: [&str; 2] = ["## The seed's examples", "## Recipes"];

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
                command.trim_start().starts_with("curl "),
                "{id}: not a curl command: {command}"
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

    let s = Server::start();
    for cluster in fixture::CLUSTERS {
        let out = s.push(cluster, &fixture::path(cluster), &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
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
