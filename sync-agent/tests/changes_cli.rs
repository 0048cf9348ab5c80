//! `sync-agent changes` as users run it, against a small stub of the edge's change feed on
//! 127.0.0.1 (a std `TcpListener` thread speaking HTTP/1.1) that pages a list of changes the
//! way the wire contract says: oldest first, `metadata.continue` = "c<N>" (after N changes),
//! Kubernetes `Status` errors. The stub records every query so the tests can check what the
//! command asks. The real feed is tested end to end against the component elsewhere.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "reader.token.sig";
const PATH: &str = "/apis/clusterpedia.io/v1beta1/changes";

/// One request as the stub saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: BTreeMap<String, String>,
    authorization: Option<String>,
}

#[derive(Default)]
struct State {
    changes: Vec<Value>,
    /// Cursors before this many changes are expired (410).
    oldest: usize,
    /// Answer this many requests with 503 first.
    fail_next: usize,
    seen: Vec<Seen>,
}

struct Stub {
    base: String,
    state: Arc<Mutex<State>>,
}

impl Stub {
    fn start(changes: Vec<Value>) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            changes,
            ..State::default()
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        Stub { base, state }
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// The `since` of each request (None when absent).
    fn sinces(&self) -> Vec<Option<String>> {
        self.seen()
            .iter()
            .map(|s| s.query.get("since").cloned())
            .collect()
    }

    fn add(&self, change: Value) {
        self.state.lock().unwrap().changes.push(change);
    }

    fn command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sync-agent"));
        c.env_remove("EDGEPEDIA_TOKEN")
            .args(["changes", "--server", &self.base, "--token", TOKEN])
            .args(extra);
        c
    }

    fn run(&self, extra: &[&str]) -> Output {
        self.command(extra).output().unwrap()
    }
}

fn status(code: u16, reason: &str, message: &str) -> (u16, String) {
    (
        code,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":message,"reason":reason,"code":code}).to_string(),
    )
}

/// The feed's answer to one request.
fn answer(state: &mut State, path: &str) -> (u16, String) {
    if state.fail_next > 0 {
        state.fail_next -= 1;
        return status(503, "ServiceUnavailable", "the edge is restarting");
    }
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    if route != PATH {
        return status(404, "NotFound", "no such route");
    }
    let query: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let limit: usize = query["limit"].parse().unwrap();
    let start = match query.get("since") {
        None => 0,
        Some(s) => match s.strip_prefix('c').map(str::parse::<usize>) {
            Some(Ok(n)) if n < state.oldest => {
                return status(
                    410,
                    "Expired",
                    &format!("the cursor {s} is older than the oldest retained change"),
                )
            }
            Some(Ok(n)) => n.min(state.changes.len()),
            Some(Err(_)) => return status(400, "BadRequest", &format!("malformed cursor {s:?}")),
            // A time: the stub keeps no times apart, it starts at the beginning.
            None => 0,
        },
    };
    let end = (start + limit).min(state.changes.len());
    let items: Vec<String> = state.changes[start..end]
        .iter()
        .map(Value::to_string)
        .collect();
    (
        200,
        format!(
            r#"{{"kind":"ChangeList","apiVersion":"clusterpedia.io/v1beta1","metadata":{{"continue":"c{end}"}},"items":[{}]}}"#,
            items.join(",")
        ),
    )
}

/// One keep-alive connection: read GET requests, record them, answer them.
fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut authorization = None;
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
                if k.eq_ignore_ascii_case("authorization") {
                    authorization = Some(v.trim().to_owned());
                }
            }
        }
        let (code, body) = {
            let mut state = state.lock().unwrap();
            let query = path.split_once('?').map_or("", |(_, q)| q);
            let seen = Seen {
                path: path.clone(),
                query: form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect(),
                authorization,
            };
            state.seen.push(seen);
            answer(&mut state, &path)
        };
        let response = format!(
            "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// A change as the feed sends it; `object` only when not DELETED.
fn change(
    i: u32,
    kind: &str,
    cluster: &str,
    gvr: (&str, &str, &str),
    ns: &str,
    name: &str,
) -> Value {
    let (group, version, resource) = gvr;
    let mut c = json!({
        "type": kind, "cluster": cluster, "group": group, "version": version,
        "resource": resource, "namespace": ns, "name": name, "uid": format!("uid-{i}"),
        "changedAt": format!("2026-12-01T04:00:0{i}Z"),
    });
    if kind != "DELETED" {
        c["object"] =
            json!({"metadata": {"name": name, "namespace": ns, "uid": format!("uid-{i}")}});
    }
    c
}

/// Five changes: namespaced and cluster-scoped, core and grouped, a deletion; and their
/// text lines, written out by hand.
fn five() -> (Vec<Value>, Vec<&'static str>) {
    (
        vec![
            change(
                0,
                "ADDED",
                "prod",
                ("apps", "v1", "deployments"),
                "default",
                "web",
            ),
            change(
                1,
                "MODIFIED",
                "prod",
                ("", "v1", "pods"),
                "default",
                "web-1",
            ),
            change(2, "ADDED", "staging", ("", "v1", "nodes"), "", "node-a"),
            change(
                3,
                "DELETED",
                "prod",
                ("apps", "v1", "deployments"),
                "default",
                "old",
            ),
            change(
                4,
                "MODIFIED",
                "staging",
                ("", "v1", "configmaps"),
                "kube-system",
                "cfg",
            ),
        ],
        vec![
            "2026-12-01T04:00:00Z ADDED prod apps/v1/deployments default/web",
            "2026-12-01T04:00:01Z MODIFIED prod v1/pods default/web-1",
            "2026-12-01T04:00:02Z ADDED staging v1/nodes node-a",
            "2026-12-01T04:00:03Z DELETED prod apps/v1/deployments default/old",
            "2026-12-01T04:00:04Z MODIFIED staging v1/configmaps kube-system/cfg",
        ],
    )
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Pages of `--limit` until a short page, each `since` the previous page's cursor; a 503 on
/// the way is retried; one text line per change, in order.
#[test]
fn pages_until_caught_up_and_prints_text_lines() {
    let (changes, lines) = five();
    let stub = Stub::start(changes);
    stub.state.lock().unwrap().fail_next = 1;
    let out = stub.run(&["--limit", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout_lines(&out), lines);
    assert!(stderr(&out).contains("retrying"), "{}", stderr(&out));
    // The 503'd first request, its retry, then the cursors after 2 and 4 changes.
    assert_eq!(
        stub.sinces(),
        [None, None, Some("c2".into()), Some("c4".into())]
    );
    for s in stub.seen() {
        assert!(s.path.starts_with(&format!("{PATH}?")), "{}", s.path);
        assert_eq!(s.query["limit"], "2");
        assert_eq!(
            s.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
}

/// A feed whose length is a multiple of the limit ends on an empty page.
#[test]
fn an_exact_multiple_of_the_limit_ends_on_an_empty_page() {
    let (mut changes, lines) = five();
    changes.pop();
    let stub = Stub::start(changes);
    let out = stub.run(&["--limit", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout_lines(&out), lines[..4]);
    assert_eq!(stub.sinces(), [None, Some("c2".into()), Some("c4".into())]);
}

/// `--output json`: each change exactly as the feed sent it, one per line.
#[test]
fn json_output_is_each_item_as_received() {
    let (changes, _) = five();
    let stub = Stub::start(changes.clone());
    let out = stub.run(&["--output", "json", "--limit", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let want: Vec<String> = changes.iter().map(Value::to_string).collect();
    assert_eq!(stdout_lines(&out), want);
    let deleted: Value = serde_json::from_str(&stdout_lines(&out)[3]).unwrap();
    assert!(deleted.get("object").is_none());
}

/// Filters and `--since` reach the feed as query parameters, decoded back to what was
/// given (an RFC 3339 offset's `+` included).
#[test]
fn filters_and_since_are_sent() {
    let stub = Stub::start(Vec::new());
    let out = stub.run(&[
        "--clusters",
        "prod,staging",
        "--namespaces",
        "default",
        "--resources",
        "apps/v1/deployments,v1/pods",
        "--since",
        "2026-12-01T04:00:00+02:00",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let seen = stub.seen();
    assert_eq!(seen.len(), 1);
    let q = &seen[0].query;
    assert_eq!(q["clusters"], "prod,staging");
    assert_eq!(q["namespaces"], "default");
    assert_eq!(q["resources"], "apps/v1/deployments,v1/pods");
    assert_eq!(q["since"], "2026-12-01T04:00:00+02:00");
    assert_eq!(q["limit"], "500");
}

/// The CI gate: the cursor file is read when present and rewritten after every page;
/// `--exit-code` says whether anything was printed; `--since` wins over the file.
#[test]
fn cursor_file_and_exit_code_make_a_gate() {
    let (changes, lines) = five();
    let stub = Stub::start(changes);
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("cursor");
    let cursor_arg = cursor.to_str().unwrap();
    let read = || std::fs::read_to_string(&cursor).unwrap();

    // No file yet: from the start; the file then holds the last cursor.
    let out = stub.run(&["--cursor-file", cursor_arg, "--limit", "2", "--exit-code"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout_lines(&out), lines);
    assert_eq!(read().trim(), "c5");
    assert_eq!(stub.sinces()[0], None);

    // Nothing new: exit 0, nothing printed, resumed from the file.
    let out = stub.run(&["--cursor-file", cursor_arg, "--exit-code"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(stub.sinces().last().unwrap().as_deref(), Some("c5"));

    // Two new changes: exactly those, and the cursor moves past them.
    stub.add(change(
        5,
        "ADDED",
        "prod",
        ("", "v1", "services"),
        "default",
        "svc",
    ));
    stub.add(change(
        6,
        "DELETED",
        "prod",
        ("", "v1", "services"),
        "default",
        "svc",
    ));
    let out = stub.run(&["--cursor-file", cursor_arg, "--exit-code"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout_lines(&out),
        [
            "2026-12-01T04:00:05Z ADDED prod v1/services default/svc",
            "2026-12-01T04:00:06Z DELETED prod v1/services default/svc",
        ]
    );
    assert_eq!(read().trim(), "c7");

    // --since wins over the file.
    let out = stub.run(&["--cursor-file", cursor_arg, "--since", "c6"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout_lines(&out).len(), 1);
    assert_eq!(stub.sinces().last().unwrap().as_deref(), Some("c6"));
    // No temporary file left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// A cursor older than the feed keeps (410 Expired) or a malformed one (400): exit 2 with
/// the Status message, whatever --exit-code says, and the cursor file untouched.
#[test]
fn refused_cursors_exit_2_with_the_message() {
    let (changes, _) = five();
    let stub = Stub::start(changes);
    stub.state.lock().unwrap().oldest = 3;
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("cursor");
    std::fs::write(&cursor, "c1\n").unwrap();
    let out = stub.run(&["--cursor-file", cursor.to_str().unwrap(), "--exit-code"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("the cursor c1 is older than the oldest retained change (HTTP 410 Expired)"),
        "{err}"
    );
    assert!(err.contains("--since"), "says how to start again: {err}");
    assert_eq!(std::fs::read_to_string(&cursor).unwrap(), "c1\n");
    // Not retried: a refusal is final.
    assert_eq!(stub.seen().len(), 1);

    let out = stub.run(&["--since", "cX"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("malformed cursor \"cX\" (HTTP 400 BadRequest)"),
        "{}",
        stderr(&out)
    );
}

/// `--follow`: caught up, it keeps polling from the last cursor; a new change is printed
/// within an interval or two; an edge away for longer than the client's retries is polled
/// again later; SIGTERM ends it, with --exit-code's status.
#[test]
fn follow_polls_until_sigterm() {
    let stub = Stub::start(Vec::new());
    let mut child = stub
        .command(&["--follow", "--interval", "100ms", "--exit-code"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_for = |what: &str, ok: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ok() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for("two polls", &|| stub.seen().len() >= 2);
    assert_eq!(stub.sinces()[1].as_deref(), Some("c0"));
    stub.add(change(
        0,
        "ADDED",
        "prod",
        ("apps", "v1", "deployments"),
        "default",
        "web",
    ));
    let line = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        line,
        "2026-12-01T04:00:00Z ADDED prod apps/v1/deployments default/web"
    );
    let polls = stub.seen().len();
    wait_for("polls after the change", &|| stub.seen().len() >= polls + 2);
    assert_eq!(stub.sinces().last().unwrap().as_deref(), Some("c1"));
    // Four 503s: one poll's every try (the first and three retries) fails.
    stub.state.lock().unwrap().fail_next = 4;
    stub.add(change(
        1,
        "DELETED",
        "prod",
        ("apps", "v1", "deployments"),
        "default",
        "web",
    ));
    let line = rx.recv_timeout(Duration::from_secs(15)).unwrap();
    assert_eq!(
        line,
        "2026-12-01T04:00:01Z DELETED prod apps/v1/deployments default/web"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("polling again"), "{}", stderr(&out));
}

/// A reader that goes away (`| head`) ends the command quietly, also with --follow: the
/// status says changes were being printed.
#[test]
fn a_closed_stdout_ends_it_quietly() {
    let (changes, _) = five();
    let stub = Stub::start(changes);
    for extra in [
        &["--exit-code"][..],
        &["--exit-code", "--follow", "--interval", "100ms"],
    ] {
        // A pipe whose reading end is closed before the command starts.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = stub.command(extra).stdout(writer).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {}", stderr(&out));
        assert!(out.stderr.is_empty(), "{extra:?}: {}", stderr(&out));
    }
}
