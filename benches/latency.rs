//! `cargo bench --bench latency` (after `make build`): DESIGN §9's numbers.
//!
//! 1. Generates a dataset (default 20 clusters × 5,000 objects; `BENCH_OBJECTS_PER_CLUSTER`
//!    changes it) of realistic pods (~4 KB), replicasets, deployments, services, configmaps.
//! 2. Pushes it with the real `sync-agent` into the real `.wasm` in `edgepedia-host`:
//!    ingest objects/second end to end.
//! 3. Times each DESIGN §9 query over HTTP with keep-alive (the wasm path), then the same
//!    requests through the same engine natively on the same SQLite file (the floor: the same
//!    SQL via rusqlite), and prints medians and the ratio as a Markdown table.

#[path = "../tests/support/mod.rs"]
mod support;

use edgepedia::engine::{handle, Request, RequestBody};
use edgepedia::route::Method;
use edgepedia::store::rusqlite_store::RusqliteStore;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CLUSTERS: usize = 20;
const ROUNDS: usize = 30;

fn pod(cluster: usize, ns: usize, deploy: usize, rs_uid: &str, i: usize) -> Value {
    let name = format!("app-{deploy}-7d9f8c6b5-{i:05}");
    let env: Vec<Value> = (0..20).map(|e| json!({"name": format!("ENV_VAR_{e}"), "value": format!("value-{e}-{}", "x".repeat(40))})).collect();
    json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":name,"namespace":format!("ns-{ns}"),
        "uid":format!("pod-{cluster}-{deploy}-{i}"),"resourceVersion":format!("{}", 1000 + i),
        "creationTimestamp":format!("2025-{:02}-{:02}T10:00:00Z", 1 + i % 12, 1 + i % 28),
        "labels":{"app":format!("app-{deploy}"),"tier":if deploy.is_multiple_of(2) {"web"} else {"worker"},"pod-template-hash":"7d9f8c6b5"},
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":format!("app-{deploy}-7d9f8c6b5"),"uid":rs_uid,"controller":true}]},
        "spec":{"nodeName":format!("node-{}", i % 16),"containers":[{"name":"app","image":format!("registry.example.com/team/app-{deploy}:1.{}.0", i % 5),
            "ports":[{"containerPort":8080,"protocol":"TCP"}],"env":env,"resources":{"requests":{"cpu":"100m","memory":"128Mi"}}}]},
        "status":{"phase":"Running","podIP":format!("10.{cluster}.{}.{}", i / 250, i % 250),
            "conditions":[{"type":"Ready","status":"True"}],
            "containerStatuses":[{"name":"app","ready":true,"restartCount":i % 3,"image":"app","state":{"running":{"startedAt":"2025-01-01T00:00:00Z"}}}]}})
}

fn dataset(cluster: usize, per_cluster: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let deployments = per_cluster / 10;
    for d in 0..deployments {
        let ns = d % 10;
        let uid = format!("deploy-{cluster}-{d}");
        let rs_uid = format!("rs-{cluster}-{d}");
        items.push(json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":format!("app-{d}"),"namespace":format!("ns-{ns}"),"uid":uid,
            "creationTimestamp":"2024-06-01T00:00:00Z","labels":{"app":format!("app-{d}")}},"spec":{"replicas":6},"status":{"replicas":6,"readyReplicas":6}}));
        items.push(json!({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":format!("app-{d}-7d9f8c6b5"),"namespace":format!("ns-{ns}"),"uid":rs_uid,
            "creationTimestamp":"2024-06-01T00:00:00Z","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":format!("app-{d}"),"uid":uid,"controller":true}]},
            "spec":{"replicas":6}}));
        for i in 0..6 {
            items.push(pod(cluster, ns, d, &rs_uid, d * 6 + i));
        }
        items.push(json!({"apiVersion":"v1","kind":"Service","metadata":{"name":format!("app-{d}"),"namespace":format!("ns-{ns}"),"uid":format!("svc-{cluster}-{d}")},
            "spec":{"type":"ClusterIP","clusterIP":"10.96.0.1","ports":[{"port":80}]}}));
        items.push(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":format!("app-{d}-config"),"namespace":format!("ns-{ns}"),"uid":format!("cm-{cluster}-{d}")},
            "data":{"config.yaml":"x".repeat(500)}}));
    }
    items
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let per_cluster: usize = std::env::var("BENCH_OBJECTS_PER_CLUSTER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let server = support::Server::start();
    let dir = tempfile::tempdir().unwrap();
    let mut total = 0;
    let mut push_time = Duration::ZERO;
    for c in 0..CLUSTERS {
        let items = dataset(c, per_cluster);
        total += items.len();
        let file = dir.path().join(format!("c{c}.json"));
        std::fs::write(
            &file,
            serde_json::to_vec(&json!({"apiVersion":"v1","kind":"List","items":items})).unwrap(),
        )
        .unwrap();
        let started = Instant::now();
        let out = server.push(&format!("cluster-{c:02}"), &file, &[]);
        push_time += started.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    println!("## Ingest\n\n{total} objects in {CLUSTERS} clusters pushed by sync-agent in {:.2}s: **{:.0} objects/s** end to end\n", push_time.as_secs_f64(), total as f64 / push_time.as_secs_f64());

    let queries = [
        ("get by name", "/apis/clusterpedia.io/v1beta1/resources/clusters/cluster-07/api/v1/namespaces/ns-3/pods/app-3-7d9f8c6b5-00018".to_owned()),
        ("list page of 500, label selector, all clusters", "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods?labelSelector=tier%3Dweb&limit=500".to_owned()),
        ("owner query, seniority 1", "/apis/clusterpedia.io/v1beta1/resources/clusters/cluster-07/api/v1/namespaces/ns-3/pods?ownerName=app-3&ownerSeniority=1".to_owned()),
        ("whereSQL", "/apis/clusterpedia.io/v1beta1/resources/apis/apps/v1/deployments?whereSQL=(cluster%3D'cluster-03')%20OR%20(namespace%20IN%20('ns-1','ns-2'))&limit=500".to_owned()),
        ("collection workloads, page of 500", "/apis/clusterpedia.io/v1beta1/collectionresources/workloads?limit=500".to_owned()),
    ];
    let token = support::admin_token();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let db = RusqliteStore::open(&server.state.path().join("sqlite_db.db")).unwrap();
    struct Vars;
    impl edgepedia::auth::Variables for Vars {
        fn get(&self, name: &str) -> Option<String> {
            match name {
                "jwt_hs256_secret" => Some(support::SECRET.to_owned()),
                "jwt_issuer" | "jwt_audience" => Some("edgepedia".to_owned()),
                _ => None,
            }
        }
    }
    let auth = format!("Bearer {token}");
    println!("## Read latency (median of {ROUNDS}, keep-alive)\n\n| query | items | wasm over HTTP | native engine on the same file | ratio |\n|---|---|---|---|---|");
    for (label, path) in &queries {
        let mut wasm = Vec::new();
        let mut items = 0;
        for _ in 0..ROUNDS {
            let started = Instant::now();
            let mut response = agent
                .get(&server.url(path))
                .header("Authorization", &auth)
                .call()
                .unwrap();
            let body = response.body_mut().read_to_vec().unwrap();
            wasm.push(started.elapsed());
            assert_eq!(
                response.status().as_u16(),
                200,
                "{label}: {}",
                String::from_utf8_lossy(&body)
            );
            let v: Value = serde_json::from_slice(&body).unwrap();
            items = v["items"].as_array().map_or(1, Vec::len);
        }
        let (p, q) = path.split_once('?').unwrap_or((path, ""));
        let mut native = Vec::new();
        for _ in 0..ROUNDS {
            let started = Instant::now();
            let r = handle(
                &db,
                &Vars,
                Request {
                    method: Method::Get,
                    path: p,
                    query: q,
                    authorization: Some(&auth),
                    accept: None,
                    body: RequestBody::Bytes(Vec::new()),
                },
                edgepedia::clock::now_unix(),
            );
            let status = r.status;
            let bytes = r.collect().unwrap();
            native.push(started.elapsed());
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        }
        let (w, n) = (median(wasm), median(native));
        println!(
            "| {label} | {items} | {:.2} ms | {:.2} ms | {:.1}× |",
            w.as_secs_f64() * 1e3,
            n.as_secs_f64() * 1e3,
            w.as_secs_f64() / n.as_secs_f64()
        );
    }
}
