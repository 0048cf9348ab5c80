//! `sync-agent run` end to end: the real agent (kube-rs) against a fake Kubernetes API server
//! (`sync-agent/tests/support/fake_apiserver.rs`: real HTTP on 127.0.0.1, discovery, paged
//! lists, chunked watches with bookmarks, 410 after compaction — there is no real API server
//! on our machines), pushing to the real `.wasm` in the real host.

#[path = "../sync-agent/tests/support/fake_apiserver.rs"]
mod fake_apiserver;
mod support;

use fake_apiserver::FakeApiServer;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};
use support::{admin_token, agent_bin, fixture, Server};

const CLUSTER: &str = "live";
const SHADOW: &str = "shadow.clusterpedia.io/cluster-name";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn staging() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture::path("staging")).unwrap()).unwrap()
}

/// A running agent, killed when dropped.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent_command(edge: &Server, api: &FakeApiServer, extra: &[&str]) -> Command {
    let token = edge.state.path().join("agent-token");
    std::fs::write(&token, admin_token()).unwrap();
    let mut c = Command::new(agent_bin());
    c.arg("run")
        .arg("--server")
        .arg(&edge.base)
        .arg("--token-file")
        .arg(&token)
        .arg("--cluster")
        .arg(CLUSTER)
        .arg("--kubeconfig")
        .arg(api.kubeconfig(edge.state.path()))
        .args(extra)
        .env_remove("KUBECONFIG");
    c
}

fn start_agent(edge: &Server, api: &FakeApiServer, extra: &[&str]) -> Agent {
    Agent(
        agent_command(edge, api, extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sync-agent run"),
    )
}

/// `Kind namespace/name` → object as the edge should hold it: without managedFields, and for
/// Secrets without data, stringData and the last-applied annotation.
fn expected(objects: &[Value]) -> BTreeMap<String, Value> {
    objects
        .iter()
        .map(|o| {
            let mut o = o.clone();
            o["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("managedFields");
            if o["kind"] == "Secret" {
                let m = o.as_object_mut().unwrap();
                m.remove("data");
                m.remove("stringData");
                if let Some(a) = o["metadata"]["annotations"].as_object_mut() {
                    a.remove(LAST_APPLIED);
                }
            }
            normalize(&mut o);
            (ident(&o), o)
        })
        .collect()
}

fn ident(o: &Value) -> String {
    format!(
        "{} {}/{}",
        o["kind"].as_str().unwrap_or("?"),
        o["metadata"]["namespace"].as_str().unwrap_or(""),
        o["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// Drops an empty annotations map (the edge's own annotation removed).
fn normalize(o: &mut Value) {
    let empty = match o["metadata"].get("annotations") {
        Some(Value::Object(a)) => a.is_empty(),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        o["metadata"].as_object_mut().unwrap().remove("annotations");
    }
}

/// Everything the edge holds for the cluster, as [`expected`] shapes it.
fn edge_objects(edge: &Server) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (path, kind, _) in fixture::SEED_RESOURCES {
        let url = format!(
            "/apis/clusterpedia.io/v1beta1/resources/clusters/{CLUSTER}/{path}/{}",
            fixture::plural(kind)
        );
        let (status, list) = edge.get(&url);
        assert_eq!(status, 200, "{url}: {list}");
        for mut o in list["items"].as_array().cloned().unwrap_or_default() {
            assert_eq!(o["metadata"]["annotations"][SHADOW], CLUSTER);
            o["metadata"]["annotations"]
                .as_object_mut()
                .unwrap()
                .remove(SHADOW);
            normalize(&mut o);
            out.insert(ident(&o), o);
        }
    }
    out
}

/// Polls until the edge holds exactly `want`; panics with the difference at the deadline.
fn wait_equal(edge: &Server, want: &BTreeMap<String, Value>, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    loop {
        let got = edge_objects(edge);
        if &got == want {
            return;
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
            let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
            let differ: Vec<_> = want
                .iter()
                .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
                .map(|(k, v)| format!("{k}: want {v:.200} got {:.200}", got[k]))
                .take(3)
                .collect();
            panic!("{what}: after {within:?} the edge differs from the cluster: missing {missing:?}, extra {extra:?}, differing {differ:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_nothing_secret(edge: &Server) {
    for (k, o) in edge_objects(edge) {
        assert!(o["metadata"].get("managedFields").is_none(), "{k}");
        if o["kind"] == "Secret" {
            assert!(
                o.get("data").is_none() && o.get("stringData").is_none(),
                "{k}"
            );
            assert!(
                o["metadata"]["annotations"].get(LAST_APPLIED).is_none(),
                "{k}"
            );
        }
    }
}

fn ready(edge: &Server) -> Value {
    let (status, c) = edge.get(&format!(
        "/apis/cluster.clusterpedia.io/v1alpha2/pediaclusters/{CLUSTER}"
    ));
    assert_eq!(status, 200, "{c}");
    let conditions = c["status"]["conditions"].as_array().cloned().unwrap();
    conditions
        .into_iter()
        .find(|c| c["type"] == "Ready")
        .expect("a Ready condition")
}

/// The agent mirrors the cluster: the initial lists become exactly the fixture on the edge;
/// adds, updates and deletes arrive within 2 s; after the API server restarts with a
/// compacted history (watches answer 410) the agent relists and the edge again equals the
/// cluster, including changes that had no watch event. No Secret data or managedFields.
#[test]
fn run_keeps_the_edge_equal_to_the_cluster() {
    let edge = Server::start();
    let api = FakeApiServer::start(&staging());
    let _agent = start_agent(&edge, &api, &["--log-format", "json"]);
    wait_equal(
        &edge,
        &expected(&api.objects()),
        Duration::from_secs(30),
        "initial sync",
    );
    // The fake server's objects are the fixture's, with its own resourceVersions.
    let fixture_keys: Vec<String> = expected(&fixture::objects("staging")).into_keys().collect();
    assert_eq!(
        edge_objects(&edge).into_keys().collect::<Vec<_>>(),
        fixture_keys
    );
    assert_nothing_secret(&edge);
    assert!(
        api.requests().iter().any(|r| r.contains("limit=")),
        "lists are paged"
    );
    let r = ready(&edge);
    assert_eq!(r["status"], "True", "{r}");

    // Live changes: an add, an update, a delete, and a new Secret (whose data stays home).
    api.apply(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"added-live","namespace":"default","uid":"uid-added-live","labels":{"app":"new"}},"spec":{"containers":[{"name":"c","image":"nginx:1.27"}]}}));
    let mut cm = api
        .objects()
        .into_iter()
        .find(|o| o["kind"] == "ConfigMap")
        .unwrap();
    cm["data"] = json!({"changed": "yes"});
    api.apply(cm);
    let gone = api
        .objects()
        .into_iter()
        .find(|o| o["kind"] == "Deployment")
        .unwrap();
    api.delete(
        "apps/v1",
        "Deployment",
        gone["metadata"]["namespace"].as_str().unwrap(),
        gone["metadata"]["name"].as_str().unwrap(),
    );
    api.apply(json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"live-secret","namespace":"default","uid":"uid-live-secret","managedFields":[{"manager":"x"}]},"data":{"k":"c2VjcmV0"},"type":"Opaque"}));
    wait_equal(
        &edge,
        &expected(&api.objects()),
        Duration::from_secs(2),
        "live changes",
    );
    assert_nothing_secret(&edge);

    // Restart with compacted history; what changed meanwhile has no watch event.
    api.restart_compacted(|c| {
        c.apply(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"while-down","namespace":"default","uid":"uid-while-down"},"data":{"a":"b"}}));
        c.delete("v1", "Pod", "default", "added-live");
    });
    wait_equal(
        &edge,
        &expected(&api.objects()),
        Duration::from_secs(20),
        "after a compacted restart",
    );
    // And it keeps watching after the relist.
    api.apply(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"after-restart","namespace":"default","uid":"uid-after-restart"},"spec":{}}));
    wait_equal(
        &edge,
        &expected(&api.objects()),
        Duration::from_secs(2),
        "a change after the relist",
    );
}

/// The edge runtime is killed with SIGKILL while the cluster changes, and restarted on the
/// same state and port: the agent retries through the outage and the edge again equals the
/// cluster, nothing lost or duplicated.
#[test]
fn an_edge_crash_loses_nothing() {
    let edge = Server::start();
    let api = FakeApiServer::start(&staging());
    let _agent = start_agent(&edge, &api, &[]);
    wait_equal(
        &edge,
        &expected(&api.objects()),
        Duration::from_secs(30),
        "initial sync",
    );
    // A change whose delta may be in flight when the edge dies.
    api.apply(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"before-crash","namespace":"default","uid":"uid-before-crash"},"spec":{}}));
    let edge = edge.crash_and_restart(&[]);
    let gone = api
        .objects()
        .into_iter()
        .find(|o| o["kind"] == "Service")
        .unwrap();
    api.delete(
        "v1",
        "Service",
        gone["metadata"]["namespace"].as_str().unwrap(),
        gone["metadata"]["name"].as_str().unwrap(),
    );
    api.apply(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"after-crash","namespace":"default","uid":"uid-after-crash"},"data":{"a":"b"}}));
    wait_equal(
        &edge,
        &expected(&api.objects()),
        Duration::from_secs(30),
        "after the edge restarted",
    );
}

/// `--once`: one snapshot of every type, exit 0, the edge equal to the fixture (minus Secret
/// data and managedFields); JSON logs on stderr.
#[test]
fn once_snapshots_everything_and_exits() {
    let edge = Server::start();
    let api = FakeApiServer::start(&staging());
    let out = agent_command(&edge, &api, &["--once", "--log-format", "json"])
        .output()
        .expect("run sync-agent run --once");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for line in stderr.lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(v.get("level").is_some(), "{line}");
    }
    assert!(stderr.contains("snapshot committed"), "{stderr}");
    let want = expected(&fixture::objects("staging"));
    let got = edge_objects(&edge);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, o) in &want {
        let mut g = got[k].clone();
        let mut o = o.clone();
        // The fake server hands out its own resourceVersions.
        g["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        o["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        assert_eq!(g, o, "{k}");
    }
    assert_nothing_secret(&edge);
}

/// A cluster whose agent stopped turns `Ready=False` (reason `Stale`) once nothing came for
/// `cluster_stale_after_seconds` (2 s here); while the agent runs, its heartbeats keep the
/// cluster `Ready` although no object changes.
#[test]
fn a_stopped_agent_turns_the_cluster_stale() {
    let edge = Server::start_with_env(&[("SPIN_VARIABLE_CLUSTER_STALE_AFTER_SECONDS", "2")]);
    let api = FakeApiServer::start(&staging());
    let agent = start_agent(&edge, &api, &["--heartbeat", "500ms"]);
    wait_equal(
        &edge,
        &expected(&api.objects()),
        Duration::from_secs(30),
        "initial sync",
    );
    std::thread::sleep(Duration::from_secs(3));
    let r = ready(&edge);
    assert_eq!(r["status"], "True", "heartbeats keep it ready: {r}");
    let (_, c) = edge.get(&format!(
        "/apis/cluster.clusterpedia.io/v1alpha2/pediaclusters/{CLUSTER}"
    ));
    assert!(c["status"]["lastHeartbeatTime"].is_string(), "{c}");
    assert!(c["status"]["lastSnapshotTime"].is_string(), "{c}");
    assert_eq!(
        c["status"]["agentVersion"],
        env!("CARGO_PKG_VERSION"),
        "{c}"
    );
    // The heartbeat route takes what every ingest route takes: inventory:write for the cluster.
    let path = format!("/ingest/v1/clusters/{CLUSTER}/heartbeat");
    let body = br#"{"agentVersion":"x"}"#;
    for token in [
        support::mint("inventory:read", None, None),
        support::mint("inventory:write", Some(&["other"]), None),
    ] {
        let (status, s) = edge.request("POST", &path, Some(&token), None, Some(body));
        assert_eq!(status, 403, "{s}");
    }
    let (status, s) = edge.request("POST", &path, None, None, Some(body));
    assert_eq!(status, 401, "{s}");
    drop(agent);
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        let r = ready(&edge);
        if r["status"] == "False" {
            assert_eq!(r["reason"], "Stale", "{r}");
            assert!(
                r["message"].as_str().unwrap().contains("stale after 2s"),
                "{r}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "still ready: {r}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts the agent with `--metrics-listen 127.0.0.1:0` (JSON logs) and returns it with the
/// metrics base URL, read from its start-up log line; the rest of its log is passed on.
fn start_agent_with_metrics(edge: &Server, api: &FakeApiServer) -> (Agent, String) {
    let mut child = agent_command(
        edge,
        api,
        &["--metrics-listen", "127.0.0.1:0", "--log-format", "json"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start sync-agent run");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let agent = Agent(child);
    let address = loop {
        let line = lines
            .next()
            .expect("the agent exited before serving metrics")
            .unwrap();
        eprintln!("{line}");
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        let serving = v["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("serving metrics"));
        if let (true, Some(a)) = (serving, v["fields"]["address"].as_str()) {
            break a.to_owned();
        }
    };
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            eprintln!("{line}");
        }
    });
    (agent, format!("http://{address}"))
}

/// (metric name, labels) → value, from a Prometheus text exposition.
type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

fn parse_samples(text: &str) -> Samples {
    let mut out = Samples::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let value: f64 = value.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let mut labels = BTreeMap::new();
                let mut chars = rest.strip_suffix('}').expect("closing brace").chars();
                loop {
                    let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                    if key.is_empty() {
                        break;
                    }
                    assert_eq!(chars.next(), Some('"'), "{line}");
                    let mut val = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => match chars.next() {
                                Some('n') => val.push('\n'),
                                Some(other) => val.push(other),
                                None => panic!("{line}"),
                            },
                            c => val.push(c),
                        }
                    }
                    labels.insert(key.trim_start_matches(',').to_owned(), val);
                }
                (name.to_owned(), labels)
            }
        };
        out.insert((name, labels), value);
    }
    out
}

/// GET on the metrics endpoint: status, Content-Type, body.
fn metrics_get(base: &str, path: &str, method: &str) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{base}{path}");
    let response = match method {
        "GET" => agent.get(&url).call(),
        _ => agent.post(&url).send(b"x"),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (
        status,
        content_type,
        response.into_body().read_to_string().unwrap(),
    )
}

fn scrape(base: &str) -> Samples {
    let (status, content_type, text) = metrics_get(base, "/metrics", "GET");
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    parse_samples(&text)
}

/// `name{resource=…}` → value, for every series of the metric.
fn by_label(samples: &Samples, name: &str, label: &str) -> BTreeMap<String, f64> {
    samples
        .iter()
        .filter(|((n, _), _)| n == name)
        .map(|((_, labels), v)| (labels[label].clone(), *v))
        .collect()
}

fn one(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples.get(&(name.to_owned(), labels)).copied()
}

/// Polls the metrics until `ok` holds, or the deadline passes (the caller then asserts).
fn scrape_until(base: &str, within: Duration, ok: impl Fn(&Samples) -> bool) -> Samples {
    let deadline = Instant::now() + within;
    loop {
        let samples = scrape(base);
        if ok(&samples) || Instant::now() > deadline {
            return samples;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// `--metrics-listen`: scraped over HTTP, the counters tell what was pushed. Per type, the
/// objects snapshotted equal the fixture's count of that type; one commit and one chunk per
/// type; after a watch add and delete, exactly those events are counted, with their lag and
/// push time. Anything but GET /metrics is 404.
#[test]
fn metrics_count_what_was_pushed() {
    let started = unix_now();
    let edge = Server::start();
    let api = FakeApiServer::start(&staging());
    let (_agent, metrics) = start_agent_with_metrics(&edge, &api);
    wait_equal(
        &edge,
        &expected(&api.objects()),
        Duration::from_secs(30),
        "initial sync",
    );
    // The truth: the fixture's objects per `group/version/resource`, and 0 for each other
    // type the fake API server serves (the built-in catalog's).
    let mut want: BTreeMap<String, f64> = BTreeMap::new();
    for t in edgepedia_api::catalog::BUILTIN {
        let label = if t.group.is_empty() {
            format!("{}/{}", t.version, t.resource)
        } else {
            format!("{}/{}/{}", t.group, t.version, t.resource)
        };
        want.insert(label, 0.0);
    }
    for o in fixture::objects("staging") {
        let label = format!(
            "{}/{}",
            o["apiVersion"].as_str().unwrap(),
            fixture::plural(o["kind"].as_str().unwrap())
        );
        *want.get_mut(&label).expect("a seed type") += 1.0;
    }
    let snapshotted = "edgepedia_agent_objects_snapshotted_total";
    let samples = scrape_until(&metrics, Duration::from_secs(10), |s| {
        by_label(s, snapshotted, "resource") == want
    });
    assert_eq!(by_label(&samples, snapshotted, "resource"), want);
    // One commit per type; one chunk per type with objects (each far below 4 MiB).
    let count = "edgepedia_agent_push_duration_seconds_count";
    let types = want.len() as f64;
    let nonempty = want.values().filter(|n| **n > 0.0).count() as f64;
    assert_eq!(one(&samples, count, &[("kind", "commit")]), Some(types));
    assert_eq!(
        one(&samples, count, &[("kind", "snapshot_chunk")]),
        Some(nonempty)
    );
    assert!(one(&samples, count, &[("kind", "heartbeat")]).unwrap_or(0.0) >= 1.0);
    assert_eq!(
        one(
            &samples,
            "edgepedia_agent_info",
            &[("version", env!("CARGO_PKG_VERSION")), ("cluster", CLUSTER)]
        ),
        Some(1.0)
    );
    let last_push = by_label(
        &samples,
        "edgepedia_agent_last_push_timestamp_seconds",
        "resource",
    );
    assert_eq!(
        last_push.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert!(
        last_push
            .values()
            .all(|t| *t >= started && *t <= unix_now()),
        "{last_push:?}"
    );
    assert!(by_label(&samples, "edgepedia_agent_events_pushed_total", "resource").is_empty());

    // One watch add (a pod) and one watch delete (a config map).
    let changed = unix_now();
    api.apply(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"metered","namespace":"default","uid":"uid-metered"},"spec":{}}));
    let gone = api
        .objects()
        .into_iter()
        .find(|o| o["kind"] == "ConfigMap")
        .unwrap();
    api.delete(
        "v1",
        "ConfigMap",
        gone["metadata"]["namespace"].as_str().unwrap(),
        gone["metadata"]["name"].as_str().unwrap(),
    );
    let events = "edgepedia_agent_events_pushed_total";
    let want_events = BTreeMap::from([
        ("v1/configmaps".to_owned(), 1.0),
        ("v1/pods".to_owned(), 1.0),
    ]);
    let samples = scrape_until(&metrics, Duration::from_secs(5), |s| {
        by_label(s, events, "resource") == want_events
    });
    assert_eq!(by_label(&samples, events, "resource"), want_events);
    // Snapshots are what they were: the changes came as events.
    assert_eq!(by_label(&samples, snapshotted, "resource"), want);
    assert!(one(&samples, count, &[("kind", "events")]).unwrap_or(0.0) >= 1.0);
    let lag = by_label(&samples, "edgepedia_agent_watch_lag_seconds", "resource");
    assert_eq!(
        lag.keys().collect::<Vec<_>>(),
        want_events.keys().collect::<Vec<_>>()
    );
    assert!(lag.values().all(|l| (0.0..5.0).contains(l)), "{lag:?}");
    let pods_pushed = one(
        &samples,
        "edgepedia_agent_last_push_timestamp_seconds",
        &[("resource", "v1/pods")],
    )
    .unwrap();
    assert!(
        pods_pushed >= changed && pods_pushed <= unix_now(),
        "{pods_pushed}"
    );

    for (method, path) in [("GET", "/"), ("GET", "/metrics/x"), ("POST", "/metrics")] {
        let (status, _, _) = metrics_get(&metrics, path, method);
        assert_eq!(status, 404, "{method} {path}");
    }
}
