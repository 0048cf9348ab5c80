//! `sync-agent push` over real HTTP, run as the built binary. A tiny HTTP/1.1 server on
//! 127.0.0.1 (a std `TcpListener` thread) stands in for Edgepedia here: it answers the ingest
//! API the way `api-types/src/ingest.rs` describes and records every request, so these tests
//! can check exactly what the agent sends (sequence, auth header, bodies). The real server is
//! exercised with this same binary by the end-to-end tests in the workspace's `tests/`.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "test-token.payload.sig";

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Request {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    /// `begin`, `chunk`, `commit` or `abort`, with the session id.
    fn verb(&self) -> (&'static str, String) {
        let rest = self
            .path
            .strip_prefix("/ingest/v1/clusters/staging/snapshots")
            .unwrap_or_else(|| panic!("unexpected path {}", self.path));
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        match (self.method.as_str(), parts.as_slice()) {
            ("POST", []) => ("begin", String::new()),
            ("POST", [id, "chunks"]) => ("chunk", id.to_string()),
            ("POST", [id, "commit"]) => ("commit", id.to_string()),
            ("DELETE", [id]) => ("abort", id.to_string()),
            _ => panic!("unexpected request {} {}", self.method, self.path),
        }
    }
}

/// What the fake answers: status and JSON body, decided per request.
type Answer = Box<dyn FnMut(&Request, &mut Ingest) -> Option<(u16, Value)> + Send>;

/// The fake's session bookkeeping, as the real server keeps it.
#[derive(Default)]
struct Ingest {
    /// Per session (`s1`, `s2`, …), its resource types.
    sessions: Vec<Vec<Value>>,
    /// Objects staged per session, and per session and kind.
    staged: BTreeMap<String, u64>,
    staged_kinds: BTreeMap<(String, String), u64>,
}

impl Ingest {
    fn answer(&mut self, r: &Request) -> (u16, Value) {
        match r.verb() {
            ("begin", _) => {
                let types = r.json()["resourceTypes"].as_array().unwrap().clone();
                self.sessions.push(types);
                let id = format!("s{}", self.sessions.len());
                (201, json!({"session": id, "expiresAt": 1_900_000_000}))
            }
            ("chunk", id) => {
                let items = r.json()["items"].as_array().cloned().unwrap_or_default();
                for o in &items {
                    let kind = o["kind"].as_str().unwrap_or_default().to_owned();
                    *self.staged_kinds.entry((id.clone(), kind)).or_default() += 1;
                }
                let n = items.len() as u64;
                let staged = self.staged.entry(id).or_default();
                *staged += n;
                (200, json!({"accepted": n, "staged": *staged}))
            }
            ("commit", id) => {
                let index: usize = id[1..].parse().unwrap();
                let replaced: Vec<Value> = self.sessions[index - 1]
                    .iter()
                    .map(|t| {
                        let kind = t["kind"].as_str().unwrap().to_owned();
                        let count = self.staged_kinds.get(&(id.clone(), kind)).copied();
                        json!({"resourceType": t, "count": count.unwrap_or(0)})
                    })
                    .collect();
                (200, json!({ "replaced": replaced }))
            }
            _ => (
                200,
                json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":200}),
            ),
        }
    }
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":message,"reason":reason,"code":code}),
    )
}

struct Fake {
    base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Fake {
    /// Starts the fake; `answer` may override the normal ingest answer for some requests.
    fn start(answer: Option<Answer>) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Mutex::new((Ingest::default(), answer)));
        let recorded = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (recorded, shared) = (recorded.clone(), shared.clone());
                std::thread::spawn(move || serve(stream, recorded, shared));
            }
        });
        Fake { base, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn push(&self, extra: &[&str]) -> Output {
        let mut args = vec![
            "push",
            "--server",
            &self.base,
            "--cluster",
            "staging",
            "--token",
            TOKEN,
        ];
        args.extend_from_slice(extra);
        agent().args(args).output().unwrap()
    }
}

type Shared = Arc<Mutex<(Ingest, Option<Answer>)>>;

/// One keep-alive connection: read requests, record them, answer them.
fn serve(stream: TcpStream, recorded: Arc<Mutex<Vec<Request>>>, shared: Shared) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        assert!(
            !headers.contains_key("transfer-encoding"),
            "the agent sends sized bodies"
        );
        let length: usize = headers
            .get("content-length")
            .map_or(0, |v| v.parse().unwrap());
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let request = Request {
            method,
            path,
            authorization: headers.get("authorization").cloned(),
            content_type: headers.get("content-type").cloned(),
            body,
        };
        recorded.lock().unwrap().push(request.clone());
        let (code, answer) = {
            let mut guard = shared.lock().unwrap();
            let (ingest, custom) = &mut *guard;
            match custom.as_mut().and_then(|f| f(&request, ingest)) {
                Some(a) => a,
                None => ingest.answer(&request),
            }
        };
        let text = answer.to_string();
        let response = format!(
            "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn agent() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sync-agent"));
    c.env_remove("EDGEPEDIA_TOKEN");
    c
}

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/staging.json")
}

fn fixture_items() -> Vec<Value> {
    let list: Value = serde_json::from_slice(&std::fs::read(fixture()).unwrap()).unwrap();
    list["items"].as_array().unwrap().clone()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn pushes_begin_chunks_commit_with_auth_and_without_secret_data() {
    let fake = Fake::start(None);
    let limit = 16_000;
    let file = fixture();
    let out = fake.push(&[
        "--file",
        file.to_str().unwrap(),
        "--chunk-bytes",
        &limit.to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let requests = fake.requests();
    let items = fixture_items();

    for r in &requests {
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        if !r.body.is_empty() {
            assert_eq!(r.content_type.as_deref(), Some("application/json"));
        }
    }

    // Sequence: each session begins before its chunks; every commit comes after every chunk;
    // nothing is aborted.
    let verbs: Vec<(&str, String)> = requests.iter().map(Request::verb).collect();
    let first_commit = verbs.iter().position(|v| v.0 == "commit").unwrap();
    assert!(verbs[first_commit..].iter().all(|v| v.0 == "commit"));
    assert!(verbs.iter().all(|v| v.0 != "abort"));
    let mut begun = 0;
    for (verb, id) in &verbs {
        match *verb {
            "begin" => begun += 1,
            "chunk" => assert!(
                id[1..].parse::<usize>().unwrap() <= begun,
                "chunk before begin"
            ),
            _ => {}
        }
    }
    let commits: BTreeSet<&String> = verbs
        .iter()
        .filter(|v| v.0 == "commit")
        .map(|v| &v.1)
        .collect();
    assert_eq!(commits.len(), begun, "every session commits once");

    // Every resource type found is in exactly one session, which names the agent version; a
    // session takes every type seen before its first chunk, so there are fewer than types.
    let begins: Vec<Value> = requests
        .iter()
        .filter(|r| r.verb().0 == "begin")
        .map(Request::json)
        .collect();
    let kinds: BTreeSet<&str> = items.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    let begun_kinds: Vec<&str> = begins
        .iter()
        .flat_map(|b| b["resourceTypes"].as_array().unwrap())
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(begun_kinds.len(), kinds.len(), "{begun_kinds:?}");
    assert_eq!(begun_kinds.iter().copied().collect::<BTreeSet<_>>(), kinds);
    assert!(kinds.len() > 1 && begins.len() < kinds.len(), "{begins:?}");
    for b in &begins {
        assert_eq!(b["agentVersion"], env!("CARGO_PKG_VERSION"));
    }
    let pods = begins
        .iter()
        .flat_map(|b| b["resourceTypes"].as_array().unwrap())
        .find(|t| t["kind"] == "Pod")
        .unwrap();
    assert_eq!(
        pods,
        &json!({"group":"","version":"v1","resource":"pods","kind":"Pod","namespaced":true})
    );

    // Every object arrives exactly once, in a chunk of one type, of a session of that type,
    // under the limit.
    let mut sent: Vec<String> = Vec::new();
    let mut pod_chunks = 0;
    for r in requests.iter().filter(|r| r.verb().0 == "chunk") {
        assert!(r.body.len() <= limit, "chunk of {} bytes", r.body.len());
        let index: usize = r.verb().1[1..].parse().unwrap();
        let kind = &r.json()["items"][0]["kind"];
        assert!(
            begins[index - 1]["resourceTypes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| &t["kind"] == kind),
            "a {kind} chunk in session s{index}"
        );
        pod_chunks += usize::from(kind == "Pod");
        for o in r.json()["items"].as_array().unwrap() {
            assert_eq!(&o["kind"], kind);
            assert!(o["metadata"].get("managedFields").is_none());
            sent.push(o["metadata"]["uid"].as_str().unwrap().to_owned());
        }
    }
    assert!(pod_chunks > 1, "the pods were split into several chunks");
    let mut want: Vec<String> = items
        .iter()
        .map(|o| o["metadata"]["uid"].as_str().unwrap().to_owned())
        .collect();
    sent.sort();
    want.sort();
    assert_eq!(sent, want);

    // No Secret data in any request, in any form.
    let secrets: Vec<&Value> = items.iter().filter(|o| o["kind"] == "Secret").collect();
    let mut needles: Vec<String> = vec!["stringData".into()];
    for s in &secrets {
        for field in ["data", "stringData"] {
            if let Some(map) = s[field].as_object() {
                needles.extend(map.values().map(|v| v.as_str().unwrap().to_owned()));
            }
        }
    }
    assert!(needles.len() > 3, "the fixture has secret data to hide");
    for r in &requests {
        let body = text(&r.body);
        for needle in &needles {
            assert!(!body.contains(needle.as_str()), "{needle} was sent");
        }
        if r.verb().0 == "chunk" {
            for o in r.json()["items"].as_array().unwrap() {
                let annotations = &o["metadata"]["annotations"];
                let applied = annotations
                    .get("kubectl.kubernetes.io/last-applied-configuration")
                    .is_some();
                if o["kind"] == "Secret" {
                    assert!(o.get("data").is_none() && o["type"].is_string());
                    assert!(
                        !applied,
                        "a Secret's last-applied annotation holds its data"
                    );
                } else if o["kind"] == "Deployment" {
                    assert!(applied, "other kinds keep their annotations");
                }
            }
        }
    }

    // The summary names each type with the count the server reported.
    let stdout = text(&out.stdout);
    let pod_count = items.iter().filter(|o| o["kind"] == "Pod").count();
    assert!(
        stdout.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f == ["pods", pod_count.to_string().as_str()]
        }),
        "{stdout}"
    );
    assert!(stdout.contains("deployments.apps"), "{stdout}");
    assert!(text(&out.stderr).contains(&format!("pushed {} objects (", items.len())));
}

#[test]
fn keep_secret_data_sends_it_and_stdin_works() {
    let fake = Fake::start(None);
    let mut child = agent()
        .args([
            "push",
            "--server",
            &fake.base,
            "--cluster",
            "staging",
            "--file",
            "-",
            "--keep-secret-data",
            "--quiet",
        ])
        .env("EDGEPEDIA_TOKEN", "from-env")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(fixture()).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "--quiet: {}", text(&out.stderr));
    let requests = fake.requests();
    assert!(requests
        .iter()
        .all(|r| r.authorization.as_deref() == Some("Bearer from-env")));
    let secrets: Vec<Value> = requests
        .iter()
        .filter(|r| r.verb().0 == "chunk")
        .flat_map(|r| r.json()["items"].as_array().unwrap().clone())
        .filter(|o| o["kind"] == "Secret")
        .collect();
    assert!(secrets.iter().any(|s| s["data"].is_object()));
    assert!(secrets
        .iter()
        .all(|s| s["metadata"].get("managedFields").is_none()));
}

#[test]
fn a_failing_chunk_aborts_every_open_session() {
    // Refuse the first chunk of the secrets session, as the server refuses a bad object.
    let answer: Answer = Box::new(|r, ingest| {
        let (verb, id) = r.verb();
        let index: usize = id.get(1..)?.parse().ok()?;
        let secrets = ingest
            .sessions
            .get(index - 1)?
            .iter()
            .any(|t| t["kind"] == "Secret");
        (verb == "chunk" && secrets && r.json()["items"][0]["kind"] == "Secret")
            .then(|| status(422, "Invalid", "items[0]: metadata.uid is required"))
    });
    let fake = Fake::start(Some(answer));
    let file = fixture();
    let out = fake.push(&["--file", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: ")
            && stderr.contains("items[0]: metadata.uid is required (HTTP 422 Invalid)"),
        "{stderr}"
    );
    let verbs: Vec<(&str, String)> = fake.requests().iter().map(Request::verb).collect();
    assert!(verbs.iter().all(|v| v.0 != "commit"), "{verbs:?}");
    let begun = verbs.iter().filter(|v| v.0 == "begin").count();
    let aborted: BTreeSet<String> = verbs
        .iter()
        .filter(|v| v.0 == "abort")
        .map(|v| v.1.clone())
        .collect();
    let want: BTreeSet<String> = (1..=begun).map(|i| format!("s{i}")).collect();
    assert_eq!(aborted, want, "every session begun is aborted");
    let first_abort = verbs.iter().position(|v| v.0 == "abort").unwrap();
    assert!(verbs[first_abort..].iter().all(|v| v.0 == "abort"));
}

#[test]
fn retries_unavailable_but_not_unauthorized() {
    // The first begin meets a 503 and the agent tries again.
    let mut refused = false;
    let answer: Answer = Box::new(move |r, _| {
        (r.verb().0 == "begin" && !std::mem::replace(&mut refused, true))
            .then(|| status(503, "ServiceUnavailable", "warming up"))
    });
    let fake = Fake::start(Some(answer));
    let file = fixture();
    let out = fake.push(&["--file", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("warming up (HTTP 503 ServiceUnavailable); retrying"));

    // A 401 is final: one request, a clear error, nothing to abort.
    let answer: Answer = Box::new(|_, _| Some(status(401, "Unauthorized", "Unauthorized")));
    let fake = Fake::start(Some(answer));
    let out = fake.push(&["--file", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(fake.requests().len(), 1);
    assert!(
        text(&out.stderr).contains("Unauthorized (HTTP 401 Unauthorized)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn token_file_and_bad_input_fail_clearly() {
    let fake = Fake::start(None);
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "file-token\n").unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        br#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"d","uid":"1"}},{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"d","uid":"2"}}]}"#,
    )
    .unwrap();
    let out = agent()
        .args(["push", "--server", &fake.base, "--cluster", "staging"])
        .args(["--token-file", token.to_str().unwrap()])
        .args(["--file", bad.to_str().unwrap()])
        // The first pod fills a chunk on its own, so its session began before the bad item.
        .args(["--chunk-bytes", "50"])
        .env("EDGEPEDIA_TOKEN", "ignored")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("error: item 1 (Pod without a name): missing metadata.name"),
        "{}",
        text(&out.stderr)
    );
    let requests = fake.requests();
    assert!(requests
        .iter()
        .all(|r| r.authorization.as_deref() == Some("Bearer file-token")));
    let verbs: Vec<&str> = requests.iter().map(|r| r.verb().0).collect();
    assert_eq!(verbs, ["begin", "chunk", "abort"]);

    // Truncated JSON, a bad cluster name, no token: errors before or without damage.
    std::fs::write(&bad, br#"{"kind":"List","items":[{"apiVersion":"v1""#).unwrap();
    let out = fake.push(&["--file", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("invalid JSON"),
        "{}",
        text(&out.stderr)
    );
    let out = agent()
        .args([
            "push",
            "--server",
            &fake.base,
            "--cluster",
            "Bad_Name",
            "--token",
            "t",
        ])
        .args(["--file", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(text(&out.stderr).contains("invalid cluster name"));
    let out = agent()
        .args(["push", "--server", &fake.base, "--cluster", "staging"])
        .args(["--file", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(text(&out.stderr).contains("a token is required"));
}

#[test]
fn an_unreachable_server_is_retried_then_reported() {
    // Bind and drop a listener: its port then refuses connections.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let file = fixture();
    let out = agent()
        .args(["push", "--server", &format!("http://127.0.0.1:{port}")])
        .args(["--cluster", "staging", "--token", "t"])
        .args(["--file", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("retrying").count(), 3, "{stderr}");
    assert!(stderr.contains("error: beginning the"), "{stderr}");
}
