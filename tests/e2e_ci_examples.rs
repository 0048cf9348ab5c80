//! `examples/ci/edgepedia-check.sh` (POSIX sh, curl, jq) against the real `.wasm` in the local
//! runtime, as a CI job would run it. Expectations come from the fixture files.

mod support;

use serde_json::json;
use std::collections::BTreeSet;
use std::process::{Command, Output};
use support::{admin_token, fixture, mint, Server};

fn check(s: &Server, args: &[&str]) -> Output {
    Command::new("sh")
        .arg(support::repo().join("examples/ci/edgepedia-check.sh"))
        .args(args)
        .env("EDGE", &s.base)
        .env("TOKEN", mint("inventory:read", None, None))
        .output()
        .expect("run sh")
}

fn lines(out: &Output) -> BTreeSet<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_ci_checks_answer_from_the_edge() {
    let s = Server::start();
    for cluster in fixture::CLUSTERS {
        let out = s.push(cluster, &fixture::path(cluster), &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // image-absent: every pod running the image, from the fixture; exit 1. Absent: exit 0.
    let image = fixture::all()
        .iter()
        .find(|(_, o)| o["kind"] == "Pod")
        .map(|(_, o)| {
            o["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .unwrap();
    let running: BTreeSet<String> = fixture::all()
        .iter()
        .filter(|(_, o)| o["kind"] == "Pod")
        .filter(|(_, o)| {
            ["containers", "initContainers"].iter().any(|field| {
                o["spec"][field]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|c| c["image"] == image.as_str()))
            })
        })
        .map(|(c, o)| {
            format!(
                "{c} {}/{}",
                o["metadata"]["namespace"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert!(!running.is_empty());
    let out = check(&s, &["image-absent", &image]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&out), running);
    let out = check(&s, &["image-absent", "registry.invalid/never:0"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());

    // stale-clusters: fresh data passes; with a limit below the data's age every cluster fails.
    let out = check(&s, &["stale-clusters", "600"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let out = check(&s, &["stale-clusters", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let stale: BTreeSet<String> = lines(&out)
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect();
    let all: BTreeSet<String> = fixture::CLUSTERS.iter().map(|c| c.to_string()).collect();
    assert_eq!(stale, all);

    // changes-since: everything first (one line per object a reader may see: no Secrets
    // without inventory:secrets), nothing the second time, then exactly the change made in
    // between.
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("cursor");
    let cursor = cursor.to_str().unwrap();
    let out = check(&s, &["changes-since", cursor]);
    assert_eq!(out.status.code(), Some(1));
    let visible = fixture::all()
        .iter()
        .filter(|(_, o)| o["kind"] != "Secret")
        .count();
    assert_eq!(lines(&out).len(), visible);
    let out = check(&s, &["changes-since", cursor]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (code, _) = s.request(
        "POST",
        "/ingest/v1/clusters/staging/events",
        Some(&admin_token()),
        None,
        Some(
            &serde_json::to_vec(&json!({"events": [{"type": "ADDED", "resource": "configmaps",
                "object": {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "ci-new", "namespace": "default", "uid": "uid-ci-new", "resourceVersion": "1"}}}]}))
            .unwrap(),
        ),
    );
    assert_eq!(code, 200);
    let out = check(&s, &["changes-since", cursor]);
    assert_eq!(out.status.code(), Some(1));
    let printed: Vec<String> = lines(&out).into_iter().collect();
    assert_eq!(printed.len(), 1);
    assert!(
        printed[0].ends_with(" ADDED staging /v1/configmaps default/ci-new"),
        "{printed:?}"
    );

    // A bad token is an error (2), not a pass.
    let out = Command::new("sh")
        .arg(support::repo().join("examples/ci/edgepedia-check.sh"))
        .args(["stale-clusters"])
        .env("EDGE", &s.base)
        .env("TOKEN", "not-a-token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
