//! `cargo bench -p edgepedia --bench latency` (after `make build`; `make bench` runs it after
//! the `runtime` bench and has it write docs/BENCHMARKS.md): the issue's and DESIGN §9's
//! numbers at scale.
//!
//! 1. Generates a dataset (default 20 clusters × 5,000 objects; `BENCH_OBJECTS_PER_CLUSTER`
//!    changes it): pods of ~3.5 KB, replicasets, deployments (owner chains
//!    Deployment → ReplicaSet → Pod), services, configmaps.
//! 2. Pushes it with the real `sync-agent` into the real `.wasm` in `edgepedia-host` (default
//!    mode: a new SQLite connection per guest connection, as Spin): ingest objects/second end
//!    to end, change feed on: one cluster after the other into an empty store, then on that
//!    store the fleet's 20 agents re-syncing at once after an outage (10% of pods changed),
//!    then the 20 agents at once into another empty store; then the first syncs again (one
//!    after the other, and at once) into the engine natively behind HTTP (`native/server.rs`):
//!    the ingest floor, which tells this machine's limit from the component's; then watch
//!    events.
//!    `BENCH_INGEST_ONLY=1` stops there and keeps the state directory (its path is printed).
//! 3. Times each query in turn, p50/p95/p99 of `BENCH_ROUNDS` (default 200) after 10 warm-up
//!    requests: over one keep-alive HTTP connection to a fresh host in the default mode, then
//!    to one with `--sqlite-pooled`, then the floors (4), before the next query, so a drift in
//!    the machine's speed meets all of a query's numbers alike. Then, per mode on a fresh host,
//!    an unpaged list of all pods (streamed) with the host's peak RSS (`VmHWM`), and full
//!    `limit=500` walks of all pods.
//! 4. The floors, on the same SQLite file: the same requests through the same engine natively
//!    (`edgepedia::engine::handle` over rusqlite, warm connection: "native engine"), the same
//!    with a new connection per request, and the SQL statements the engine ran, replayed
//!    alone through rusqlite (rows stepped, cells read, nothing rendered: "SQL alone").
//!
//! Prints Markdown; with `BENCH_DOC=<path>` also writes the whole benchmarks page there,
//! keeping the hand-written notes below its `NOTES_MARKER` line. Cold start and component
//! size come from `target/bench/runtime.json`, which the `runtime` bench writes.

#[path = "native/server.rs"]
mod native_server;
#[path = "../tests/support/mod.rs"]
mod support;

use edgepedia::engine::{handle, Request, RequestBody};
use edgepedia::response::Body;
use edgepedia::route::Method;
use edgepedia::store::rusqlite_store::RusqliteStore;
use edgepedia::store::{Row, SqlValue, Store, StoreError};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CLUSTERS: usize = 20;
const WARMUP: usize = 10;
const WALKS: usize = 3;
const NOTES_MARKER: &str = "<!-- Notes below are written by hand; `make bench` keeps them. -->";
const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";

// ---------------------------------------------------------------------------------------------
// The dataset

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

/// Moves an object's resourceVersion `by` ahead, as a change in its cluster would.
fn newer_resource_version(object: &mut Value, by: u64) {
    let rv: u64 = object["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    object["metadata"]["resourceVersion"] = json!((rv + by).to_string());
}

/// Percent of pods that changed while the fleet's agents were cut off (the re-sync's share).
const CHANGED_PERCENT: usize = 10;

/// The cluster as its agent finds it after an outage: every tenth pod restarted (a newer
/// resourceVersion, below the watch events' ones, and restart count), everything else as it
/// was.
fn after_outage(mut items: Vec<Value>) -> Vec<Value> {
    let pods = items.iter_mut().filter(|i| i["kind"] == "Pod");
    for pod in pods.step_by(100 / CHANGED_PERCENT) {
        newer_resource_version(pod, 500_000);
        let restarts = &mut pod["status"]["containerStatuses"][0]["restartCount"];
        *restarts = json!(restarts.as_u64().unwrap() + 1);
    }
    items
}

// ---------------------------------------------------------------------------------------------
// The host, started as tests/support does, but keeping the child so its /proc status is readable

struct Host {
    child: Child,
    port: u16,
}

impl Host {
    fn start(state: &Path, pooled: bool) -> Host {
        let mut command = Command::new(support::repo().join("target/native/edgepedia-host"));
        command
            .arg("--manifest")
            .arg(support::repo().join("spin.toml"))
            .args(["--listen", "127.0.0.1:0", "--state-dir"])
            .arg(state)
            .env("SPIN_VARIABLE_JWT_HS256_SECRET", support::SECRET)
            .env_remove("EDGEPEDIA_TLS_LISTEN")
            .env_remove("EDGEPEDIA_SQLITE_POOLED")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if pooled {
            command.arg("--sqlite-pooled");
        }
        // SAFETY: prctl is async-signal-safe; the host stops if the bench dies without
        // running destructors (the bench spawns from its main thread, which lives throughout).
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .expect("target/native/edgepedia-host (run `make build`)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("edgepedia-host exited before listening")
                .unwrap();
            if let Some(url) = line.strip_prefix("edgepedia-host listening on http://") {
                break url.trim().rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Host { child, port }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A field of /proc/<pid>/status in KiB (`VmHWM`: peak resident set; `VmRSS`: now).
    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} missing from /proc/<pid>/status"))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Events per `/events` request in the watch-events measure (the agent's batches are of this
/// order).
const EVENTS_PER_REQUEST: usize = 500;

/// Pushes each file as its own cluster (`cluster-NN`, NN its index) with the real agent: one
/// after the other, or all at once (a fleet's agents after an outage). The time to the last
/// commit.
fn push_all(base: &str, files: &[std::path::PathBuf], at_once: bool) -> Duration {
    let push = |c: usize, file: &Path| {
        Command::new(support::agent_bin())
            .args(["push", "--server", base, "--token"])
            .arg(support::admin_token())
            .args(["--cluster", &format!("cluster-{c:02}"), "--file"])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run sync-agent")
    };
    let check = |agent: Child| {
        let out = agent.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "push: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let started = Instant::now();
    if at_once {
        let agents: Vec<Child> = files.iter().enumerate().map(|(c, f)| push(c, f)).collect();
        agents.into_iter().for_each(check);
    } else {
        for (c, file) in files.iter().enumerate() {
            check(push(c, file));
        }
    }
    started.elapsed()
}

/// Every pod of cluster-00 MODIFIED once (a newer resourceVersion), posted in requests of
/// [`EVENTS_PER_REQUEST`] to a host on the ingested state: (events, time of the posts).
fn watch_events(state: &Path, per_cluster: usize) -> (usize, Duration) {
    let mut pods: Vec<Value> = dataset(0, per_cluster)
        .into_iter()
        .filter(|o| o["kind"] == "Pod")
        .collect();
    for p in &mut pods {
        newer_resource_version(p, 1_000_000);
    }
    let bodies: Vec<Vec<u8>> = pods
        .chunks(EVENTS_PER_REQUEST)
        .map(|part| {
            let events: Vec<Value> = part
                .iter()
                .map(|o| json!({"type": "MODIFIED", "resource": "pods", "object": o}))
                .collect();
            serde_json::to_vec(&json!({ "events": events })).unwrap()
        })
        .collect();
    let host = Host::start(state, false);
    let mut http = Http::connect(host.port);
    let started = Instant::now();
    for body in &bodies {
        let (status, answer, _) = http.post("/ingest/v1/clusters/cluster-00/events", body);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["skipped"], 0, "every event is newer: {answer}");
    }
    (pods.len(), started.elapsed())
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 keep-alive client: one connection, no client-side work but reading the
// bytes, so the time measured is the runtime's and the wire's (Content-Length or chunked).

struct Http {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    authorization: String,
}

impl Http {
    fn connect(port: u16) -> Http {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_nodelay(true).unwrap();
        Http {
            reader: BufReader::with_capacity(1 << 16, stream.try_clone().unwrap()),
            writer: stream,
            authorization: format!("Bearer {}", support::admin_token()),
        }
    }

    /// GET; the body is kept when `keep`, else only counted. Returns (status, body, bytes).
    fn get(&mut self, target: &str, keep: bool) -> (u16, Vec<u8>, u64) {
        self.send("GET", target, &[], keep)
    }

    /// POST of a JSON body; the answer is kept.
    fn post(&mut self, target: &str, body: &[u8]) -> (u16, Vec<u8>, u64) {
        self.send("POST", target, body, true)
    }

    fn send(&mut self, method: &str, target: &str, body: &[u8], keep: bool) -> (u16, Vec<u8>, u64) {
        // One write: with TCP_NODELAY, pieces would go out as separate packets.
        let mut request = format!(
            "{method} {target} HTTP/1.1\r\nHost: bench\r\nAuthorization: {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.authorization,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.writer.write_all(&request).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let (mut length, mut chunked) = (None, false);
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            assert!(!line.is_empty(), "connection closed");
            if line == "\r\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = Some(v.trim().parse::<u64>().unwrap());
            } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        let mut total = 0;
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line).unwrap();
                let size = u64::from_str_radix(line.trim().split(';').next().unwrap(), 16)
                    .unwrap_or_else(|_| panic!("bad chunk size {line:?}"));
                if size == 0 {
                    // Trailers, then the empty line.
                    loop {
                        line.clear();
                        self.reader.read_line(&mut line).unwrap();
                        if line == "\r\n" || line.is_empty() {
                            break;
                        }
                    }
                    break;
                }
                total += self.read_body(size, keep, &mut body);
                let mut crlf = [0; 2];
                self.reader.read_exact(&mut crlf).unwrap();
            }
        } else {
            total = self.read_body(length.unwrap_or(0), keep, &mut body);
        }
        (status, body, total)
    }

    fn read_body(&mut self, size: u64, keep: bool, body: &mut Vec<u8>) -> u64 {
        let mut part = (&mut self.reader).take(size);
        let copied = if keep {
            part.read_to_end(body).unwrap() as u64
        } else {
            std::io::copy(&mut part, &mut std::io::sink()).unwrap()
        };
        assert_eq!(copied, size, "body cut short");
        copied
    }
}

// ---------------------------------------------------------------------------------------------
// Native: the engine over rusqlite, a recorder of the SQL it runs, and a replay of that SQL

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

type Statement = (String, Vec<SqlValue>);

/// A [`Store`] that notes each statement before running it.
struct Recording<'a> {
    inner: &'a dyn Store,
    log: RefCell<Vec<Statement>>,
}

impl Store for Recording<'_> {
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        self.log
            .borrow_mut()
            .push((sql.to_owned(), params.to_vec()));
        self.inner.query(sql, params)
    }
}

/// One request through the engine natively; (status, body, bytes). Unpaged lists stream: with
/// `keep` false the chunks are only counted, as the HTTP client does.
fn native(store: &dyn Store, target: &str, keep: bool) -> (u16, Vec<u8>, u64) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let authorization = format!("Bearer {}", support::admin_token());
    let response = handle(
        store,
        &Vars,
        Request {
            method: Method::Get,
            path,
            query,
            authorization: Some(&authorization),
            accept: None,
            body: RequestBody::Bytes(Vec::new()),
        },
        edgepedia::clock::now_unix(),
    );
    let status = response.status;
    let mut body = Vec::new();
    let mut total = 0;
    match response.body {
        Body::Full(bytes) => {
            total = bytes.len() as u64;
            body = bytes;
        }
        Body::Stream(chunks) => {
            for chunk in chunks {
                let chunk = chunk.expect("stream chunk");
                total += chunk.len() as u64;
                if keep {
                    body.extend(chunk);
                }
            }
        }
    }
    (status, body, total)
}

/// Runs the statements as they are, stepping every row and reading every cell (the SQLite
/// work of the request, without building the engine's rows or rendering JSON). Read-only
/// statements only; returns the bytes read.
fn replay(conn: &rusqlite::Connection, statements: &[Statement]) -> usize {
    let mut bytes = 0;
    for (sql, params) in statements {
        let mut stmt = conn.prepare_cached(sql).unwrap();
        if !stmt.readonly() {
            continue;
        }
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..width {
                bytes += match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        t.len()
                    }
                    _ => 8,
                };
            }
        }
    }
    bytes
}

// ---------------------------------------------------------------------------------------------
// Numbers

#[derive(Clone, Copy, Default)]
struct Pcts {
    p50: f64,
    p95: f64,
    p99: f64,
}

/// Nearest-rank percentiles, in milliseconds.
fn pcts(mut samples: Vec<Duration>) -> Pcts {
    samples.sort();
    let at = |p: f64| {
        let rank = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
        samples[rank - 1].as_secs_f64() * 1e3
    };
    Pcts {
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed())
}

/// A fixed piece of CPU work (no memory traffic, no system calls), timed. On a steady machine
/// it takes the same time whenever it runs; its spread over the run tells how far the
/// machine's speed drifted while the other numbers were taken.
fn cpu_probe() -> Duration {
    timed(|| {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..10_000_000u64 {
            x = std::hint::black_box(x.rotate_left(5) ^ i.wrapping_mul(0x2545_F491));
        }
        x
    })
    .1
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn items_in(body: &[u8]) -> usize {
    let v: Value = serde_json::from_slice(body).expect("a JSON body");
    v["items"].as_array().map_or(1, Vec::len)
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    metadata: PageMeta,
    #[serde(default)]
    items: Vec<IgnoredAny>,
}

#[derive(Deserialize, Default)]
struct PageMeta {
    #[serde(rename = "continue", default)]
    continue_token: Option<String>,
}

struct Walk {
    pages: usize,
    items: usize,
    /// Sum of the request times (reading each page's continue token is not counted).
    time: Duration,
}

/// A full `limit=500` walk of all pods, following `metadata.continue` to the end.
fn walk(mut get: impl FnMut(&str) -> (u16, Vec<u8>, u64)) -> Walk {
    let mut w = Walk {
        pages: 0,
        items: 0,
        time: Duration::ZERO,
    };
    let mut target = format!("{PODS}?limit=500");
    loop {
        let ((status, body, _), t) = timed(|| get(&target));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        w.time += t;
        w.pages += 1;
        let page: Page = serde_json::from_slice(&body).unwrap();
        w.items += page.items.len();
        match page.metadata.continue_token.filter(|c| !c.is_empty()) {
            Some(c) => {
                target = format!(
                    "{PODS}?limit=500&continue={}",
                    form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
                )
            }
            None => return w,
        }
    }
}

fn median_walk(mut walks: Vec<Walk>) -> Walk {
    walks.sort_by_key(|w| w.time);
    let pages = walks[0].pages;
    assert!(
        walks.iter().all(|w| w.pages == pages),
        "walks differ in pages"
    );
    walks.swap_remove(walks.len() / 2)
}

struct Query {
    label: &'static str,
    target: String,
}

/// What one runtime mode measured.
struct Mode {
    walk: Walk,
    idle_rss_kib: u64,
    unpaged_hwm_kib: u64,
    unpaged_time: Duration,
    unpaged_bytes: u64,
}

/// One runtime mode's measures of the whole process, on a fresh host: the memory of an
/// unpaged list of every pod (streamed), then full walks.
fn measure_mode(state: &Path, pooled: bool) -> Mode {
    let host = Host::start(state, pooled);
    let mut http = Http::connect(host.port);
    let idle_rss_kib = host.status_kib("VmRSS");
    let ((status, _, unpaged_bytes), unpaged_time) = timed(|| http.get(PODS, false));
    assert_eq!(status, 200);
    let unpaged_hwm_kib = host.status_kib("VmHWM");
    let walk = median_walk((0..WALKS).map(|_| walk(|t| http.get(t, true))).collect());
    Mode {
        walk,
        idle_rss_kib,
        unpaged_hwm_kib,
        unpaged_time,
        unpaged_bytes,
    }
}

/// One query over HTTP on a fresh host of one mode: its percentiles and the answer's items.
fn measure_http(state: &Path, pooled: bool, q: &Query, rounds: usize) -> (Pcts, usize) {
    let host = Host::start(state, pooled);
    let mut http = Http::connect(host.port);
    let (status, body, _) = http.get(&q.target, true);
    assert_eq!(
        status,
        200,
        "{}: {}",
        q.label,
        String::from_utf8_lossy(&body)
    );
    let items = items_in(&body);
    for _ in 1..WARMUP {
        http.get(&q.target, true);
    }
    let samples = (0..rounds)
        .map(|_| timed(|| http.get(&q.target, true)).1)
        .collect();
    (pcts(samples), items)
}

/// The native floors of one query: (SQL alone, native engine, native engine with a new
/// connection per request), plus the statements the engine ran.
struct Floor {
    sql: Pcts,
    engine: Pcts,
    engine_new_conn: Pcts,
    statements: Vec<Statement>,
}

fn measure_native(db: &Path, q: &Query, rounds: usize) -> Floor {
    let statements = {
        let store = RusqliteStore::open(db).unwrap();
        let recording = Recording {
            inner: &store,
            log: RefCell::new(Vec::new()),
        };
        let (status, body, _) = native(&recording, &q.target, true);
        assert_eq!(
            status,
            200,
            "{} natively: {}",
            q.label,
            String::from_utf8_lossy(&body)
        );
        recording.log.into_inner()
    };
    let store = RusqliteStore::open(db).unwrap();
    for _ in 1..WARMUP {
        native(&store, &q.target, true);
    }
    let engine = pcts(
        (0..rounds)
            .map(|_| timed(|| native(&store, &q.target, true)).1)
            .collect(),
    );
    // As the default mode does it: each request's connection is the only one on the file, so
    // it also pays what SQLite does for the last connection (WAL checkpoint, -wal and -shm
    // removed on close, re-created on the next open).
    drop(store);
    let engine_new_conn = pcts(
        (0..rounds)
            .map(|_| {
                timed(|| {
                    let fresh = RusqliteStore::open(db).unwrap();
                    native(&fresh, &q.target, true)
                })
                .1
            })
            .collect(),
    );
    let conn = rusqlite::Connection::open(db).unwrap();
    for _ in 0..WARMUP {
        replay(&conn, &statements);
    }
    let sql = pcts(
        (0..rounds)
            .map(|_| timed(|| replay(&conn, &statements)).1)
            .collect(),
    );
    Floor {
        sql,
        engine,
        engine_new_conn,
        statements,
    }
}

// ---------------------------------------------------------------------------------------------
// The machine and the page

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(support::repo())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).map_or(0, |s| s.lines().count());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    format!(
        "{cores} cores ({cpu}), {:.1} GiB memory, Linux {kernel}; {} UTC; commit `{commit}`{}",
        mem_kib as f64 / 1048576.0,
        edgepedia::clock::rfc3339(now)
            .replace('T', " ")
            .trim_end_matches('Z'),
        if dirty > 0 {
            format!(" with uncommitted changes in {dirty} tracked files")
        } else {
            String::new()
        }
    )
}

fn met(ok: bool) -> &'static str {
    if ok {
        "**met**"
    } else {
        "**not met**"
    }
}

/// Each first sync is judged on its own: a fleet at once overlaps work that one cluster
/// after the other cannot, so meeting the target one way only is said as such.
fn ingest_verdict(one_after_the_other: f64, at_once: f64) -> String {
    const TARGET: f64 = 20_000.0;
    match (one_after_the_other >= TARGET, at_once >= TARGET) {
        (true, true) => met(true).to_owned(),
        (false, true) => format!("{} with {CLUSTERS} agents at once only", met(true)),
        (true, false) => format!("{} one cluster after the other only", met(true)),
        (false, false) => met(false).to_owned(),
    }
}

fn cell(p: Pcts) -> String {
    format!("{} / {} / {}", f(p.p50), f(p.p95), f(p.p99))
}

/// Milliseconds, with two significant decimals below 10.
fn f(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.1}")
    }
}

fn signed(ms: f64) -> String {
    if ms < 0.0 {
        format!("−{}", f(-ms))
    } else {
        format!("+{}", f(ms))
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let bench_started = Instant::now();
    let mut probes = vec![cpu_probe()];
    let per_cluster: usize = std::env::var("BENCH_OBJECTS_PER_CLUSTER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);

    // 1. The dataset, written out before anything is timed.
    let dir = tempfile::tempdir().unwrap();
    let mut resync_files = Vec::new();
    let ((files, total, pods, json_bytes), gen_time) = timed(|| {
        let (mut files, mut total, mut pods, mut bytes) = (Vec::new(), 0, 0, 0);
        for c in 0..CLUSTERS {
            let items = dataset(c, per_cluster);
            total += items.len();
            pods += items.iter().filter(|i| i["kind"] == "Pod").count();
            let file = dir.path().join(format!("c{c}.json"));
            let text = serde_json::to_vec(&json!({"apiVersion":"v1","kind":"List","items":items}))
                .unwrap();
            bytes += text.len();
            std::fs::write(&file, text).unwrap();
            files.push(file);
            let file = dir.path().join(format!("c{c}-resync.json"));
            let text = serde_json::to_vec(
                &json!({"apiVersion":"v1","kind":"List","items":after_outage(items)}),
            )
            .unwrap();
            std::fs::write(&file, text).unwrap();
            resync_files.push(file);
        }
        (files, total, pods, bytes)
    });
    eprintln!(
        "bench: dataset {total} objects ({pods} pods, {:.0} MiB of JSON) in {:.1}s",
        json_bytes as f64 / 1048576.0,
        gen_time.as_secs_f64()
    );

    // 2. Ingest through the real agent into the real component (default, Spin-like mode): one
    // cluster after the other, then on that store the fleet re-syncing after an outage, all at
    // once; then the same fleet at once into a fresh store.
    let state = tempfile::tempdir().unwrap();
    let (ingest_time, ingest_hwm_kib, resync_time) = {
        let host = Host::start(state.path(), false);
        let ingest_time = push_all(&host.base(), &files, false);
        let hwm = host.status_kib("VmHWM");
        (
            ingest_time,
            hwm,
            push_all(&host.base(), &resync_files, true),
        )
    };
    let (fleet_time, fleet_hwm_kib) = {
        let fresh = tempfile::tempdir().unwrap();
        let host = Host::start(fresh.path(), false);
        (
            push_all(&host.base(), &files, true),
            host.status_kib("VmHWM"),
        )
    };
    // The floor: the same agent's same requests into the engine natively, a fresh store each.
    let native_push = |at_once| {
        let fresh = tempfile::tempdir().unwrap();
        let server = native_server::NativeServer::start(fresh.path().join("sqlite_db.db"), Vars);
        push_all(&server.base(), &files, at_once)
    };
    let (native_ingest_time, native_fleet_time) = (native_push(false), native_push(true));
    let (events, events_time) = watch_events(state.path(), per_cluster);
    let events_rate = events as f64 / events_time.as_secs_f64();
    eprintln!(
        "bench: {events} watch events in {:.2}s = {events_rate:.0}/s",
        events_time.as_secs_f64()
    );
    drop(dir);
    let ingest_rate = total as f64 / ingest_time.as_secs_f64();
    let fleet_rate = total as f64 / fleet_time.as_secs_f64();
    let native_ingest_rate = total as f64 / native_ingest_time.as_secs_f64();
    let native_fleet_rate = total as f64 / native_fleet_time.as_secs_f64();
    let resync_rate = total as f64 / resync_time.as_secs_f64();
    eprintln!(
        "bench: ingest {total} objects in {:.2}s = {ingest_rate:.0}/s; {CLUSTERS} agents at once \
         {fleet_rate:.0}/s; re-sync after an outage, at once, {resync_rate:.0}/s; the native engine \
         {native_ingest_rate:.0}/s and {native_fleet_rate:.0}/s",
        ingest_time.as_secs_f64()
    );
    // `BENCH_INGEST_ONLY=1`: the write side alone, for profiling it (no reads, no doc); the
    // ingested state is kept, to profile reads on by hand.
    if std::env::var_os("BENCH_INGEST_ONLY").is_some() {
        eprintln!("bench: state kept in {}", state.keep().display());
        return;
    }
    probes.push(cpu_probe());
    let db = state.path().join("sqlite_db.db");
    let db_bytes = std::fs::metadata(&db).map_or(0, |m| m.len())
        + std::fs::metadata(state.path().join("sqlite_db.db-wal")).map_or(0, |m| m.len());

    // A change-feed cursor from the middle: `since` a time after the last change answers an
    // empty page whose continue is the head (`<epoch>.<seq>`); half of it is the middle.
    let head = {
        let host = Host::start(state.path(), false);
        let (status, body, _) = Http::connect(host.port).get(
            "/apis/clusterpedia.io/v1beta1/changes?since=2100-01-01&limit=1",
            true,
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let v: Value = serde_json::from_slice(&body).unwrap();
        v["metadata"]["continue"].as_str().unwrap().to_owned()
    };
    let (epoch, head_seq) = head.split_once('.').unwrap();
    let head_seq: i64 = head_seq.parse().unwrap();
    let middle = format!("{epoch}.{}", head_seq / 2);

    let p = "/apis/clusterpedia.io/v1beta1";
    let queries = [
        Query { label: "get by name", target: format!("{p}/resources/clusters/cluster-07/api/v1/namespaces/ns-3/pods/app-3-7d9f8c6b5-00018") },
        Query { label: "names= across clusters (one pod name)", target: format!("{PODS}?names=app-3-7d9f8c6b5-00018") },
        Query { label: "list page of 500, label selector, all clusters", target: format!("{PODS}?labelSelector=tier%3Dweb&limit=500") },
        Query { label: "one namespace across clusters (pods, limit=500)", target: format!("{p}/resources/api/v1/namespaces/ns-3/pods?limit=500") },
        Query { label: "one namespace in one cluster (pods, limit=500)", target: format!("{p}/resources/clusters/cluster-07/api/v1/namespaces/ns-3/pods?limit=500") },
        Query { label: "owner query, seniority 1", target: format!("{p}/resources/clusters/cluster-07/api/v1/namespaces/ns-3/pods?ownerName=app-3&ownerSeniority=1") },
        Query { label: "whereSQL (seed's shape), page of 500", target: format!("{p}/resources/apis/apps/v1/deployments?whereSQL=(cluster%3D'cluster-03')%20OR%20(namespace%20IN%20('ns-1','ns-2'))&limit=500") },
        Query { label: "collection `workloads`, page of 500", target: format!("{p}/collectionresources/workloads?limit=500") },
        Query { label: "`containers` in a namespace", target: format!("{p}/resources/clusters/cluster-07/api/v1/namespaces/ns-3/containers") },
        Query { label: "change feed, first page of 500", target: format!("{p}/changes?limit=500") },
        Query { label: "change feed, page of 500 from a middle cursor", target: format!("{p}/changes?limit=500&since={middle}") },
    ];

    // Ingest left hundreds of MiB of dirty pages: written back now, not while reads are timed.
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };

    // 3. Each query in turn over HTTP per connection (Spin's way, the default), pooled, then
    // natively on the same file (4), so all of a query's numbers meet the machine in the same
    // state: on a machine whose speed drifts, modes timed in phases minutes apart did not.
    // Each mode is alone on the file while it is timed.
    let (mut spin_reads, mut pooled_reads, mut floors) = (Vec::new(), Vec::new(), Vec::new());
    for q in &queries {
        spin_reads.push(measure_http(state.path(), false, q, rounds));
        pooled_reads.push(measure_http(state.path(), true, q, rounds));
        floors.push(measure_native(&db, q, rounds));
        probes.push(cpu_probe());
    }
    eprintln!("bench: reads measured");
    let spin_like = measure_mode(state.path(), false);
    let pooled = measure_mode(state.path(), true);
    eprintln!("bench: memory and walks measured");

    let store = RusqliteStore::open(&db).unwrap();
    let native_walk = median_walk(
        (0..WALKS)
            .map(|_| walk(|t| native(&store, t, true)))
            .collect(),
    );
    let ((status, _, native_unpaged_bytes), native_unpaged_time) =
        timed(|| native(&store, PODS, false));
    assert_eq!(status, 200);
    let explain = rusqlite::Connection::open(&db).unwrap();
    let plans: Vec<Vec<String>> = floors
        .iter()
        .map(|fl| {
            fl.statements
                .iter()
                .map(|(sql, params)| {
                    let plan = explain
                        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                        .and_then(|mut s| {
                            s.query_map(rusqlite::params_from_iter(params), |r| {
                                r.get::<_, String>(3)
                            })?
                            .collect::<Result<Vec<_>, _>>()
                        })
                        .map_or_else(|e| format!("({e})"), |lines| lines.join("\n  "));
                    format!("{sql}\n  {plan}")
                })
                .collect()
        })
        .collect();
    drop(store);
    eprintln!("bench: native floors measured");

    // The runtime bench's numbers, if it ran first (make bench).
    let runtime: Option<Value> = std::fs::read(support::repo().join("target/bench/runtime.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let wall = std::env::var("BENCH_STARTED")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map(|start| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
                - start
        });

    // ---- The page ----
    let mut md = String::new();
    let get = &spin_reads[0].0;
    let get_added_sql = get.p50 - floors[0].sql.p50;
    let get_added_engine = get.p50 - floors[0].engine.p50;
    let ratios: Vec<f64> = spin_reads
        .iter()
        .zip(&floors)
        .map(|((w, _), fl)| w.p50 / fl.engine.p50)
        .collect();
    let walk_ratio = spin_like.walk.time.as_secs_f64() / native_walk.time.as_secs_f64();
    let unpaged_ratio = spin_like.unpaged_time.as_secs_f64() / native_unpaged_time.as_secs_f64();
    let mut all_ratios: Vec<(&str, f64)> = queries
        .iter()
        .map(|q| q.label)
        .zip(ratios.iter().copied())
        .collect();
    all_ratios.push(("full walk of all pods", walk_ratio));
    all_ratios.push(("unpaged list of all pods", unpaged_ratio));
    let within: Vec<_> = all_ratios.iter().filter(|(_, r)| *r <= 3.0).collect();
    let missed: Vec<String> = all_ratios
        .iter()
        .filter(|(_, r)| *r > 3.0)
        .map(|(l, r)| format!("{l} {r:.1}×"))
        .collect();
    let num = |key: &str| runtime.as_ref().and_then(|r| r[key].as_f64());

    writeln!(md, "# Benchmarks\n").unwrap();
    writeln!(
        md,
        "Written by `make bench` (`benches/runtime.rs`, then `benches/latency.rs` with \
         `BENCH_DOC=docs/BENCHMARKS.md`); everything above the notes is generated, so it is this \
         run's. No test asserts timings.\n"
    )
    .unwrap();
    writeln!(md, "Machine: {}.\n", machine()).unwrap();
    probes.sort();
    writeln!(
        md,
        "Steadiness: a fixed CPU loop (`cpu_probe`), timed {} times through the run (at the start, after ingest and after \
         each query's reads), took {:.1} ms at best, {:.1} ms at the median and {:.1} ms at worst: {:.0}% slower at worst. \
         Numbers taken far apart in time (ingest, the modes' walks) compare only as far as that spread allows.\n",
        probes.len(),
        ms(probes[0]),
        ms(probes[probes.len() / 2]),
        ms(probes[probes.len() - 1]),
        (probes[probes.len() - 1].as_secs_f64() / probes[0].as_secs_f64() - 1.0) * 100.0
    )
    .unwrap();
    match wall {
        Some(w) => writeln!(
            md,
            "Bench wall time: {w:.0} s (from the start of `make bench`'s recipe, after `make build`: \
             compiling both benches, the runtime bench, and this one; this one alone took {:.0} s).\n",
            bench_started.elapsed().as_secs_f64()
        ),
        None => writeln!(
            md,
            "Bench wall time (this binary): {:.0} s.\n",
            bench_started.elapsed().as_secs_f64()
        ),
    }
    .unwrap();

    writeln!(md, "## Targets\n").unwrap();
    writeln!(md, "Reads are judged in the default mode (a new SQLite connection per guest connection, as Spin 4.0.2 does) against the native engine on the same file; \"added\" is the HTTP p50 minus the native p50.\n").unwrap();
    writeln!(md, "| target | measured | |\n|---|---|---|").unwrap();
    writeln!(
        md,
        "| ingest ≥ 20,000 objects/s end to end | first sync {ingest_rate:.0} objects/s one cluster after the other, \
         {fleet_rate:.0} objects/s with {CLUSTERS} agents at once; re-sync after an outage ({CHANGED_PERCENT}% of pods changed, \
         {CLUSTERS} agents at once) {resync_rate:.0} objects/s. The native engine behind the same HTTP, same agent: \
         {native_ingest_rate:.0} and {native_fleet_rate:.0} objects/s | {} |",
        ingest_verdict(ingest_rate, fleet_rate)
    )
    .unwrap();
    writeln!(
        md,
        "| every read ≤ 3× the native floor (p50) | {} of {} within; {} | {} |",
        within.len(),
        all_ratios.len(),
        if missed.is_empty() {
            "none over".to_owned()
        } else {
            format!("over: {}", missed.join(", "))
        },
        met(missed.is_empty())
    )
    .unwrap();
    writeln!(
        md,
        "| get by name ≤ 0.25 ms added over the native query | {} ms over its one SELECT alone ({} ms over the native engine) | {} |",
        signed(get_added_sql),
        signed(get_added_engine),
        met(get_added_sql <= 0.25)
    )
    .unwrap();
    writeln!(
        md,
        "| unpaged list of all pods: peak runtime RSS < 150 MiB | {:.1} MiB (VmHWM of a fresh host; {:.1} MiB idle before it) | {} |",
        mib(spin_like.unpaged_hwm_kib),
        mib(spin_like.idle_rss_kib),
        met(mib(spin_like.unpaged_hwm_kib) < 150.0)
    )
    .unwrap();
    match num("component_bytes") {
        Some(b) => writeln!(
            md,
            "| component ≤ 2 MiB | {b:.0} bytes ({:.2} MiB) | {} |",
            b / 1048576.0,
            met(b <= 2.0 * 1048576.0)
        ),
        None => writeln!(
            md,
            "| component ≤ 2 MiB | not measured (run `make bench`) | |"
        ),
    }
    .unwrap();
    match num("start_cached_ms") {
        Some(c) => writeln!(
            md,
            "| cold start < 300 ms with the compile cache | {c:.0} ms to the first answer (median) | {} |",
            met(c < 300.0)
        ),
        None => writeln!(
            md,
            "| cold start < 300 ms with the compile cache | not measured (run `make bench`) | |"
        ),
    }
    .unwrap();

    writeln!(md, "\n## Dataset and ingest\n").unwrap();
    writeln!(
        md,
        "{CLUSTERS} clusters × {per_cluster} objects = {total} objects ({pods} pods of ≈3.5 KB with 20 env vars each, \
         their replicasets and deployments as owner chains, services, configmaps; {:.0} MiB of `kubectl get -o json` Lists), \
         generated by the bench and pushed by the real `sync-agent push` over HTTP into the real `.wasm` \
         (default per-connection SQLite; one agent process per cluster; the change feed records every object). \
         The first sync is judged: a re-sync costs a name per unchanged object.\n",
        json_bytes as f64 / 1048576.0
    )
    .unwrap();
    writeln!(
        md,
        "**Ingest, one cluster after the other: {total} objects in {:.2} s = {ingest_rate:.0} objects/s end to end.** The host's peak RSS during ingest: {:.1} MiB. \
         SQLite file afterwards: {:.0} MiB (with its WAL).\n",
        ingest_time.as_secs_f64(),
        mib(ingest_hwm_kib),
        db_bytes as f64 / 1048576.0
    )
    .unwrap();
    writeln!(
        md,
        "| push | clusters at once | time | objects/s | host peak RSS |\n|---|---|---|---|---|"
    )
    .unwrap();
    let resync =
        format!("re-sync after an outage: the same store, {CHANGED_PERCENT}% of pods changed");
    let native_row =
        "floor: first sync into an empty store through the native engine (no Wasm, no runtime: \
        `benches/native/server.rs`, the same agent and requests, a SQLite connection per request)";
    for (push, at_once, time, hwm) in [
        (
            "first sync into an empty store",
            1,
            ingest_time,
            Some(ingest_hwm_kib),
        ),
        (
            "first sync into an empty store",
            CLUSTERS,
            fleet_time,
            Some(fleet_hwm_kib),
        ),
        (resync.as_str(), CLUSTERS, resync_time, None),
        (native_row, 1, native_ingest_time, None),
        (native_row, CLUSTERS, native_fleet_time, None),
    ] {
        writeln!(
            md,
            "| {push} | {at_once} | {:.2} s | {:.0} | {} |",
            time.as_secs_f64(),
            total as f64 / time.as_secs_f64(),
            hwm.map_or("".to_owned(), |kib| format!("{:.1} MiB", mib(kib)))
        )
        .unwrap();
    }
    writeln!(md).unwrap();
    writeln!(
        md,
        "**Watch events: {events} MODIFIED pod events in requests of {EVENTS_PER_REQUEST} in {:.2} s = {events_rate:.0} events/s \
         end to end** (posted over one keep-alive connection to `/ingest/v1/clusters/cluster-00/events`, each one a newer \
         resourceVersion of a stored pod, so each is written and recorded in the change feed).\n",
        events_time.as_secs_f64()
    )
    .unwrap();

    writeln!(md, "## Reads\n").unwrap();
    writeln!(
        md,
        "p50 / p95 / p99 in ms of {rounds} requests each after {WARMUP} warm-up, one keep-alive HTTP/1.1 connection \
         (a minimal client that only reads the bytes), against the same requests through the same engine natively on the \
         same SQLite file (`edgepedia::engine::handle` over rusqlite, warm connection). Ratio and added: default-mode p50 \
         against native p50; in parentheses the pooled ratio. The change-feed cursor from the middle is `<epoch>.<head/2>` (head seq {head_seq}).\n"
    )
    .unwrap();
    writeln!(md, "| query | items | wasm, per-connection SQLite (default, Spin-like) | wasm, `--sqlite-pooled` | native engine | ratio (pooled) | added |\n|---|---|---|---|---|---|---|").unwrap();
    for (i, q) in queries.iter().enumerate() {
        let (w, items) = spin_reads[i];
        writeln!(
            md,
            "| {} | {items} | {} | {} | {} | {:.1}× ({:.1}×) | {} ms |",
            q.label,
            cell(w),
            cell(pooled_reads[i].0),
            cell(floors[i].engine),
            ratios[i],
            pooled_reads[i].0.p50 / floors[i].engine.p50,
            signed(w.p50 - floors[i].engine.p50)
        )
        .unwrap();
    }
    writeln!(
        md,
        "\n**Full `limit=500` walk of all pods** (following `metadata.continue` to the end; median of {WALKS} walks; \
         the sum of the request times): {} pages, {} items; per-connection {:.0} ms, pooled {:.0} ms, native engine {:.0} ms \
         (ratio {walk_ratio:.1}×; {:.1} ms a page per-connection).\n",
        spin_like.walk.pages,
        spin_like.walk.items,
        ms(spin_like.walk.time),
        ms(pooled.walk.time),
        ms(native_walk.time),
        ms(spin_like.walk.time) / spin_like.walk.pages as f64
    )
    .unwrap();
    writeln!(
        md,
        "**Unpaged list of all pods** (no `limit`: streamed, {:.0} MiB): per-connection {:.0} ms, peak RSS {:.1} MiB; \
         pooled {:.0} ms, peak RSS {:.1} MiB; native engine {:.0} ms ({:.0} MiB; ratio {unpaged_ratio:.1}×). Peak RSS is \
         the host's `VmHWM` from `/proc/<pid>/status`, read right after this list on a freshly started host \
         (idle before it: {:.1} MiB per-connection, {:.1} MiB pooled).\n",
        spin_like.unpaged_bytes as f64 / 1048576.0,
        ms(spin_like.unpaged_time),
        mib(spin_like.unpaged_hwm_kib),
        ms(pooled.unpaged_time),
        mib(pooled.unpaged_hwm_kib),
        ms(native_unpaged_time),
        native_unpaged_bytes as f64 / 1048576.0,
        mib(spin_like.idle_rss_kib),
        mib(pooled.idle_rss_kib),
    )
    .unwrap();

    writeln!(md, "## Where the time goes\n").unwrap();
    writeln!(
        md,
        "p50 in ms, from the floor up. *SQL alone*: the statements the engine ran for the request, replayed through rusqlite on a \
         warm connection with cached statements, every row stepped and every cell read, nothing rendered. *Native engine*: the \
         whole request natively (routing, auth, SQL, JSON). *New connection*: the same, opening a new SQLite connection for each \
         request as the only connection on the file (what the default mode does per request, minus wasm: open, schema \
         read, and on close SQLite's last-connection WAL checkpoint and removal of `-wal`/`-shm`). Then the two runtime modes over HTTP.\n"
    )
    .unwrap();
    writeln!(md, "| query | statements | SQL alone | native engine | native engine, new connection | wasm, pooled | wasm, per-connection |\n|---|---|---|---|---|---|---|").unwrap();
    for (i, q) in queries.iter().enumerate() {
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            q.label,
            floors[i].statements.len(),
            f(floors[i].sql.p50),
            f(floors[i].engine.p50),
            f(floors[i].engine_new_conn.p50),
            f(pooled_reads[i].0.p50),
            f(spin_reads[i].0.p50)
        )
        .unwrap();
    }

    writeln!(md, "\n## Runtime (`benches/runtime.rs`)\n").unwrap();
    match &runtime {
        Some(r) => {
            writeln!(md, "The local runtime on the empty route `GET /healthz` (the component answers without touching SQLite), a fresh instance per request as on Spin.\n").unwrap();
            writeln!(md, "| measure | value |\n|---|---|").unwrap();
            for row in r["rows"].as_array().into_iter().flatten() {
                writeln!(
                    md,
                    "| {} | {} |",
                    row[0].as_str().unwrap_or(""),
                    row[1].as_str().unwrap_or("")
                )
                .unwrap();
            }
        }
        None => writeln!(
            md,
            "Not measured in this run (`target/bench/runtime.json` is missing: run `make bench`)."
        )
        .unwrap(),
    }

    writeln!(md, "\n## Query plans\n").unwrap();
    writeln!(
        md,
        "The SQL each request ran (natively, recorded through the `Store` trait) and SQLite's `EXPLAIN QUERY PLAN` for it.\n"
    )
    .unwrap();
    for (q, plans) in queries.iter().zip(&plans) {
        writeln!(
            md,
            "<details><summary>{}</summary>\n\n```\n{}\n```\n</details>\n",
            q.label,
            plans.join("\n\n")
        )
        .unwrap();
    }

    println!("{md}");
    if let Ok(doc) = std::env::var("BENCH_DOC") {
        let doc = support::repo().join(doc);
        let notes = std::fs::read_to_string(&doc)
            .ok()
            .and_then(|old| old.find(NOTES_MARKER).map(|at| old[at..].to_owned()))
            .unwrap_or_else(|| format!("{NOTES_MARKER}\n\n## Notes\n\n(none yet)\n"));
        std::fs::write(&doc, format!("{md}{notes}")).unwrap();
        eprintln!("bench: wrote {}", doc.display());
    }
}
