//! Ingest end to end through the real `.wasm`: the agent's snapshot replaces atomically, a
//! failed push leaves the previous data intact, limits answer 413/422 over real HTTP.
//! Each test starts its own server, since it changes data.

mod support;

use serde_json::json;
use support::fixture::{expected, kind_is};
use support::{keys, mint, Server};

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";

#[test]
fn a_new_snapshot_replaces_and_a_failed_push_changes_nothing() {
    let s = Server::with_fixtures();
    let before = keys(&s.get(PODS).1);
    assert_eq!(before, expected(kind_is("Pod")));

    // A file whose second object is malformed: the agent fails, nothing changes.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&json!({"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"only","namespace":"default","uid":"u1"}},
        {"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"default","uid":"u2"}}
    ]})).unwrap()).unwrap();
    let out = s.push("staging", &bad, &[]);
    assert!(!out.status.success(), "a malformed object fails the push");
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    assert_eq!(keys(&s.get(PODS).1), before, "previous data intact");

    // A valid one-pod snapshot of staging replaces all of staging's pods and nothing else.
    let good = dir.path().join("good.json");
    std::fs::write(&good, serde_json::to_vec(&json!({"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"only","namespace":"default","uid":"u1","managedFields":[{"manager":"kubectl"}]}}
    ]})).unwrap()).unwrap();
    let out = s.push("staging", &good, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = keys(&s.get(PODS).1);
    let mut want: Vec<String> = before
        .iter()
        .filter(|k| !k.starts_with("staging/"))
        .cloned()
        .collect();
    want.push("staging/default/only".to_owned());
    want.sort();
    assert_eq!(after, want);
    let (_, only) = s.get("/apis/clusterpedia.io/v1beta1/resources/clusters/staging/api/v1/namespaces/default/pods/only");
    assert!(only["metadata"].get("managedFields").is_none());
}

#[test]
fn stdin_push_and_write_scopes_and_limits() {
    let s = Server::start();
    // `--file -` reads stdin.
    let mut child = std::process::Command::new(support::agent_bin())
        .args([
            "push",
            "--server",
            &s.base,
            "--token",
            &support::admin_token(),
            "--cluster",
            "staging",
            "--file",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        &std::fs::read(support::fixture::path("staging")).unwrap(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        keys(&s.get(PODS).1),
        expected(|c, o| c == "staging" && o["kind"] == "Pod")
    );

    // A write token for one cluster cannot push another; a read token cannot push at all.
    let writer = mint("inventory:write", Some(&["prod-*"]), None);
    let begin = json!({"resourceTypes":[{"group":"","version":"v1","resource":"pods","kind":"Pod","namespaced":true}]});
    let body = serde_json::to_vec(&begin).unwrap();
    let (status, _) = s.request(
        "POST",
        "/ingest/v1/clusters/staging/snapshots",
        Some(&writer),
        None,
        Some(&body),
    );
    assert_eq!(status, 403);
    let (status, session) = s.request(
        "POST",
        "/ingest/v1/clusters/prod-eu-1/snapshots",
        Some(&writer),
        None,
        Some(&body),
    );
    assert_eq!(status, 201, "{session}");
    let reader = mint("inventory:read", None, None);
    let (status, _) = s.request(
        "POST",
        "/ingest/v1/clusters/prod-eu-1/snapshots",
        Some(&reader),
        None,
        Some(&body),
    );
    assert_eq!(status, 403);

    // Oversized bodies: 413 Status; malformed objects: 422 naming the problem.
    let id = session["session"].as_str().unwrap();
    let huge = vec![b' '; 9 * 1024 * 1024];
    let (status, e) = s.request(
        "POST",
        &format!("/ingest/v1/clusters/prod-eu-1/snapshots/{id}/chunks"),
        Some(&writer),
        None,
        Some(&huge),
    );
    assert_eq!(
        (status, e["reason"].as_str()),
        (413, Some("RequestEntityTooLarge"))
    );
    let bad = serde_json::to_vec(&json!({"items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"d"}}]})).unwrap();
    let (status, e) = s.request(
        "POST",
        &format!("/ingest/v1/clusters/prod-eu-1/snapshots/{id}/chunks"),
        Some(&writer),
        None,
        Some(&bad),
    );
    assert_eq!(status, 422);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("metadata.uid is required"),
        "{e}"
    );
    let (status, e) = s.request(
        "POST",
        "/ingest/v1/clusters/prod-eu-1/snapshots/nope/commit",
        Some(&writer),
        None,
        Some(b""),
    );
    assert_eq!((status, e["reason"].as_str()), (404, Some("NotFound")));
    // Writes to the read API are refused.
    let (status, e) = s.request(
        "PUT",
        "/apis/clusterpedia.io/v1beta1/resources/clusters/staging/api/v1/namespaces/default/pods/x",
        Some(&support::admin_token()),
        None,
        Some(b"{}"),
    );
    assert_eq!(
        (status, e["reason"].as_str()),
        (405, Some("MethodNotAllowed"))
    );
}

/// An unpaged list streams in pages of 500 rows, each read by its own statement, while the
/// client reads the body; a push committed meanwhile is not in it: the whole list is the one
/// snapshot its first page saw, as a Kubernetes list is one consistent read.
#[test]
fn an_unpaged_list_is_one_snapshot_while_a_push_commits() {
    use std::io::Read;
    let s = Server::start();
    let count = 1_200;
    // Large pods, so the body (about 19 MB) is far more than the socket buffers: the
    // component cannot read the later pages before the client reads on.
    let version = |prefix: &str| -> std::path::PathBuf {
        let items: Vec<_> = (0..count)
            .map(|i| {
                json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("{prefix}{i:04}"), "namespace": "default",
                                 "uid": format!("uid-{prefix}{i:04}"), "resourceVersion": "1",
                                 "annotations": {"pad": "x".repeat(16_000)}}})
            })
            .collect();
        let file = s.state.path().join(format!("{prefix}.json"));
        let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
        std::fs::write(&file, serde_json::to_vec(&list).unwrap()).unwrap();
        file
    };
    let (a, b) = (version("a"), version("b"));
    let pushed = s.push("c1", &a, &[]);
    assert!(pushed.status.success(), "{pushed:?}");

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .get(&s.url("/apis/clusterpedia.io/v1beta1/resources/api/v1/pods"))
        .header(
            "Authorization",
            &format!("Bearer {}", support::admin_token()),
        )
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response
        .into_body()
        .into_with_config()
        .limit(u64::MAX)
        .reader();
    let mut start = vec![0; 64 * 1024];
    body.read_exact(&mut start).unwrap();

    let pushed = s.push("c1", &b, &[]);
    assert!(pushed.status.success(), "{pushed:?}");
    let mut rest = Vec::new();
    body.read_to_end(&mut rest).unwrap();
    start.extend(rest);
    let list: serde_json::Value = serde_json::from_slice(&start).unwrap();
    let want: Vec<String> = (0..count).map(|i| format!("c1/default/a{i:04}")).collect();
    let got = keys(&list);
    assert!(
        got == want,
        "{} items, {} of them from the snapshot pushed while the list streamed",
        got.len(),
        got.iter().filter(|k| k.starts_with("c1/default/b")).count()
    );

    let (_, now) = s.get("/apis/clusterpedia.io/v1beta1/resources/api/v1/pods?limit=1");
    assert_eq!(keys(&now), ["c1/default/b0000"], "the push did commit");
}
