//! A small fake Kubernetes API server for tests, on 127.0.0.1 over plain HTTP (there is no
//! real API server on our machines). It serves what kube-rs' client and watcher use:
//!
//! - discovery: `/api/v1` and `/apis/{group}/{version}` (`APIResourceList`) for the built-in
//!   catalog's types;
//! - list (`GET /api/v1/pods`, `/apis/apps/v1/deployments`, cluster-wide) with `limit` and
//!   `continue`; items lack `apiVersion`/`kind`, as a real server's do;
//! - watch (`?watch=true&resourceVersion=N`) as chunked JSON lines with `BOOKMARK` events,
//!   closed after at most a few seconds (real servers close watches too);
//! - `410 Gone` (an `ERROR` event with an `Expired` Status, or a 410 answer for a list
//!   `continue`) for a resourceVersion older than the compacted history.
//!
//! [`FakeApiServer::restart_compacted`] imitates a restarted API server whose history was
//! compacted: every watch connection drops, changes made "while it was down" have no watch
//! events, and old resourceVersions answer 410.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// (group, version, resource, kind, namespaced) of every served type.
fn types() -> Vec<(&'static str, &'static str, &'static str, &'static str, bool)> {
    edgepedia_api::catalog::BUILTIN
        .iter()
        .map(|i| (i.group, i.version, i.resource, i.kind, i.namespaced))
        .collect()
}

#[derive(Default)]
struct State {
    /// `group/resource` → `namespace/name` → object (with apiVersion and kind).
    objects: BTreeMap<String, BTreeMap<String, Value>>,
    /// The last resourceVersion handed out.
    rv: u64,
    /// Watch events: (rv, `group/resource`, type, object).
    history: Vec<(u64, String, &'static str, Value)>,
    /// Watches from an older resourceVersion get 410.
    compacted: u64,
    /// Bumped by a restart: open watches end.
    generation: u64,
    /// Requests seen, for assertions: (path and query).
    requests: Vec<String>,
}

pub struct FakeApiServer {
    state: Arc<Mutex<State>>,
    pub url: String,
}

fn type_key(group: &str, resource: &str) -> String {
    format!("{group}/{resource}")
}

fn object_key(o: &Value) -> String {
    format!(
        "{}/{}",
        o["metadata"]["namespace"].as_str().unwrap_or(""),
        o["metadata"]["name"].as_str().unwrap_or("")
    )
}

/// `group/resource` of an object, from its apiVersion and kind.
fn key_of(o: &Value) -> String {
    let api_version = o["apiVersion"].as_str().unwrap();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = o["kind"].as_str().unwrap();
    let info = edgepedia_api::catalog::lookup_kind(group, kind)
        .unwrap_or_else(|| panic!("the fake API server serves no {api_version} {kind}"));
    type_key(group, info.resource)
}

impl FakeApiServer {
    /// Serves the objects of a `kubectl get -o json` List.
    pub fn start(list: &Value) -> Self {
        let mut state = State {
            rv: 1000,
            ..State::default()
        };
        for o in list["items"].as_array().unwrap() {
            state.rv += 1;
            let mut o = o.clone();
            o["metadata"]["resourceVersion"] = json!(state.rv.to_string());
            state
                .objects
                .entry(key_of(&o))
                .or_default()
                .insert(object_key(&o), o);
        }
        let state = Arc::new(Mutex::new(state));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &state);
                });
            }
        });
        Self { state, url }
    }

    /// A kubeconfig file pointing at this server (no credentials).
    pub fn kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("fake-apiserver.kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: u\ncurrent-context: fake\n",
            self.url
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Every object now stored (with apiVersion and kind).
    pub fn objects(&self) -> Vec<Value> {
        let state = self.state.lock().unwrap();
        state
            .objects
            .values()
            .flat_map(|m| m.values().cloned())
            .collect()
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Creates or replaces an object (new resourceVersion, an ADDED or MODIFIED event).
    pub fn apply(&self, o: Value) {
        let mut state = self.state.lock().unwrap();
        apply_locked(&mut state, o, true);
    }

    /// Deletes an object (a DELETED event). Panics if it does not exist.
    pub fn delete(&self, api_version: &str, kind: &str, namespace: &str, name: &str) {
        let mut state = self.state.lock().unwrap();
        delete_locked(&mut state, api_version, kind, namespace, name, true);
    }

    /// A restart with compacted history: watches drop, `changes` happen without watch events,
    /// and resourceVersions from before answer 410.
    pub fn restart_compacted(&self, changes: impl FnOnce(&mut Changes)) {
        let mut state = self.state.lock().unwrap();
        state.generation += 1;
        state.rv += 1;
        let mut c = Changes { state: &mut state };
        changes(&mut c);
        state.history.clear();
        state.compacted = state.rv;
    }
}

/// Changes made while the server is "down" (no watch events).
pub struct Changes<'a> {
    state: &'a mut State,
}

impl Changes<'_> {
    pub fn apply(&mut self, o: Value) {
        apply_locked(self.state, o, false);
    }

    pub fn delete(&mut self, api_version: &str, kind: &str, namespace: &str, name: &str) {
        delete_locked(self.state, api_version, kind, namespace, name, false);
    }
}

fn apply_locked(state: &mut State, mut o: Value, record: bool) {
    state.rv += 1;
    o["metadata"]["resourceVersion"] = json!(state.rv.to_string());
    let (tk, ok) = (key_of(&o), object_key(&o));
    let old = state
        .objects
        .entry(tk.clone())
        .or_default()
        .insert(ok, o.clone());
    if record {
        let event = if old.is_some() { "MODIFIED" } else { "ADDED" };
        let rv = state.rv;
        state.history.push((rv, tk, event, o));
    }
}

fn delete_locked(
    state: &mut State,
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    record: bool,
) {
    let probe = json!({"apiVersion": api_version, "kind": kind});
    let tk = key_of(&probe);
    let mut o = state
        .objects
        .get_mut(&tk)
        .and_then(|m| m.remove(&format!("{namespace}/{name}")))
        .unwrap_or_else(|| panic!("no {kind} {namespace}/{name} to delete"));
    state.rv += 1;
    o["metadata"]["resourceVersion"] = json!(state.rv.to_string());
    if record {
        let rv = state.rv;
        state.history.push((rv, tk, "DELETED", o));
    }
}

/// The request line's target, after reading the headers.
fn read_request(stream: &TcpStream) -> std::io::Result<String> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    Ok(target)
}

fn respond(mut stream: &TcpStream, status: &str, body: &Value) -> std::io::Result<()> {
    let body = body.to_string();
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":message,"reason":reason,"code":code})
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let target = read_request(&stream)?;
    state.lock().unwrap().requests.push(target.clone());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let params: BTreeMap<String, String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), decode(v)))
        .collect();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        ["api"] => {
            return respond(
                &stream,
                "200 OK",
                &json!({"kind":"APIVersions","versions":["v1"]}),
            )
        }
        _ => {
            return respond(
                &stream,
                "404 Not Found",
                &status(404, "NotFound", "no such path"),
            )
        }
    };
    let served: Vec<_> = types()
        .into_iter()
        .filter(|t| t.0 == group && t.1 == version)
        .collect();
    if served.is_empty() {
        return respond(
            &stream,
            "404 Not Found",
            &status(404, "NotFound", "no such group"),
        );
    }
    let api_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    let resource = match rest {
        [] => {
            let resources: Vec<Value> = served
                .iter()
                .map(|(_, _, r, k, ns)| {
                    json!({"name": r, "singularName": "", "namespaced": ns, "kind": k,
                        "verbs": ["get", "list", "watch"]})
                })
                .collect();
            return respond(
                &stream,
                "200 OK",
                &json!({"kind":"APIResourceList","apiVersion":"v1","groupVersion":api_version,"resources":resources}),
            );
        }
        [r] => *r,
        _ => {
            return respond(
                &stream,
                "404 Not Found",
                &status(404, "NotFound", "only cluster-wide lists are served"),
            )
        }
    };
    let Some(&(_, _, _, kind, _)) = served.iter().find(|t| t.2 == resource) else {
        return respond(
            &stream,
            "404 Not Found",
            &status(404, "NotFound", "no such resource"),
        );
    };
    let tk = type_key(group, resource);
    if params.get("watch").is_some_and(|w| w == "true" || w == "1") {
        watch(stream, state, &tk, kind, &api_version, &params)
    } else {
        list(&stream, state, &tk, kind, &api_version, &params)
    }
}

fn list(
    stream: &TcpStream,
    state: &Mutex<State>,
    tk: &str,
    kind: &str,
    api_version: &str,
    params: &BTreeMap<String, String>,
) -> std::io::Result<()> {
    let state = state.lock().unwrap();
    let (list_rv, offset) = match params.get("continue").filter(|c| !c.is_empty()) {
        Some(c) => {
            let (rv, offset) = c.split_once('-').unwrap();
            (rv.parse::<u64>().unwrap(), offset.parse::<usize>().unwrap())
        }
        None => (state.rv, 0),
    };
    if list_rv < state.compacted {
        let gone = status(410, "Expired", "The provided continue parameter is too old");
        return respond(stream, "410 Gone", &gone);
    }
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|&l| l > 0)
        .unwrap_or(usize::MAX);
    let all: Vec<&Value> = state
        .objects
        .get(tk)
        .map(|m| m.values().collect())
        .unwrap_or_default();
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|o| {
            let mut o = (*o).clone();
            let m = o.as_object_mut().unwrap();
            m.remove("apiVersion");
            m.remove("kind");
            o
        })
        .collect();
    let next = offset + page.len();
    let cont = if next < all.len() {
        format!("{list_rv}-{next}")
    } else {
        String::new()
    };
    let mut metadata = json!({"resourceVersion": list_rv.to_string()});
    if !cont.is_empty() {
        metadata["continue"] = json!(cont);
    }
    respond(
        stream,
        "200 OK",
        &json!({"kind": format!("{kind}List"), "apiVersion": api_version, "metadata": metadata, "items": page}),
    )
}

fn chunk(mut stream: &TcpStream, line: &Value) -> std::io::Result<()> {
    let text = format!("{line}\n");
    write!(stream, "{:x}\r\n{text}\r\n", text.len())?;
    stream.flush()
}

fn watch(
    stream: TcpStream,
    state: &Mutex<State>,
    tk: &str,
    kind: &str,
    api_version: &str,
    params: &BTreeMap<String, String>,
) -> std::io::Result<()> {
    let (mut last, generation, compacted) = {
        let s = state.lock().unwrap();
        let from = params
            .get("resourceVersion")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&v| v > 0)
            .unwrap_or(s.rv);
        (from, s.generation, s.compacted)
    };
    write!(
        &stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )?;
    if last < compacted {
        let gone = status(
            410,
            "Expired",
            &format!("too old resource version: {last} ({compacted})"),
        );
        chunk(&stream, &json!({"type": "ERROR", "object": gone}))?;
        return write!(&stream, "0\r\n\r\n");
    }
    let timeout = params
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(300)
        .min(5);
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let bookmarks = params
        .get("allowWatchBookmarks")
        .is_some_and(|b| b == "true");
    let mut next_bookmark = Instant::now() + Duration::from_millis(700);
    loop {
        let (events, rv) = {
            let s = state.lock().unwrap();
            if s.generation != generation {
                // The "restart": the connection drops without a proper end.
                let _ = stream.shutdown(std::net::Shutdown::Both);
                return Ok(());
            }
            let events: Vec<(u64, &'static str, Value)> = s
                .history
                .iter()
                .filter(|(rv, k, _, _)| *rv > last && k == tk)
                .map(|(rv, _, t, o)| (*rv, *t, o.clone()))
                .collect();
            (events, s.rv)
        };
        for (rv, event, object) in events {
            chunk(&stream, &json!({"type": event, "object": object}))?;
            last = rv;
        }
        if bookmarks && Instant::now() >= next_bookmark {
            let mark = json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version,
                "metadata": {"resourceVersion": rv.to_string()}}});
            chunk(&stream, &mark)?;
            last = last.max(rv);
            next_bookmark = Instant::now() + Duration::from_millis(700);
        }
        if Instant::now() >= deadline {
            return write!(&stream, "0\r\n\r\n");
        }
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// Percent-decoding for query values (continue tokens, label selectors).
fn decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
