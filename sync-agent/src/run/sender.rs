//! The edge side of `run`: one task that performs every ingest request in the order the
//! watchers produced them, so no object's changes are reordered. Snapshot sessions (begin →
//! chunks → commit) per resource type, watch events batched into delta pushes (flushed on
//! size or after `flush_after`), heartbeats. A failed request that may pass (connection loss,
//! 5xx, 429, 401 while a token is rotated) is retried, the same body again, with jittered
//! exponential backoff; everything behind it waits (the channel's bound stops the watchers).

use super::batch::{event_json, Backoff, Batch};
use super::metrics::{Metrics, Push};
use crate::edge_client::{EdgeClient, HttpError};
use crate::push::type_label;
use anyhow::{anyhow, Context, Result};
use edgepedia_api::ingest::{BeginSnapshot, CommitResult, EventsApplied, SnapshotSession, PREFIX};
use edgepedia_api::{ClusterName, ResourceType};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, Notify};
use tracing::{debug, error, info, warn};

/// From the watchers to the sender, in the order things happened. `ty` indexes the types.
#[derive(Debug)]
pub enum Msg {
    /// The watcher (re)started listing the type: a new snapshot.
    Begin {
        ty: usize,
    },
    /// One listed object, stripped.
    Object {
        ty: usize,
        json: Vec<u8>,
    },
    /// The list is complete: commit.
    Done {
        ty: usize,
    },
    /// A change after the list: `ADDED`/`MODIFIED`/`DELETED`, and when the watcher got it
    /// (for the watch lag metric).
    Event {
        ty: usize,
        event_type: &'static str,
        json: Vec<u8>,
        seen: Instant,
    },
    Heartbeat,
}

/// The bearer token, re-read whenever the file changes (a rotated Kubernetes Secret).
pub struct TokenSource {
    server: String,
    path: PathBuf,
    seen: Option<(SystemTime, u64)>,
    client: Option<Arc<EdgeClient>>,
}

impl TokenSource {
    pub fn new(server: &str, path: PathBuf) -> Self {
        Self {
            server: server.to_owned(),
            path,
            seen: None,
            client: None,
        }
    }

    /// A client with the current token.
    pub fn client(&mut self) -> Result<Arc<EdgeClient>> {
        let meta = std::fs::metadata(&self.path)
            .with_context(|| format!("reading the token file {}", self.path.display()))?;
        let stamp = (
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            meta.len(),
        );
        if let (Some(client), true) = (&self.client, self.seen == Some(stamp)) {
            return Ok(client.clone());
        }
        let token = read_token(&self.path)?;
        if self.client.is_some() {
            info!(file = %self.path.display(), "token file changed: using the new token");
        }
        let client = Arc::new(EdgeClient::new(&self.server, &token).with_attempts(1));
        self.client = Some(client.clone());
        self.seen = Some(stamp);
        Ok(client)
    }
}

pub fn read_token(path: &std::path::Path) -> Result<String> {
    let token = std::fs::read_to_string(path)
        .with_context(|| format!("reading the token file {}", path.display()))?;
    let token = token.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        anyhow::bail!(
            "the token file {} is empty or contains whitespace",
            path.display()
        );
    }
    Ok(token.to_owned())
}

/// What to do after a failed request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// May pass on its own: the same request again after at least this long (`Retry-After`).
    Retry(Option<Duration>),
    /// Will fail again: give up on this request.
    GiveUp,
}

pub fn verdict(e: &anyhow::Error) -> Verdict {
    match e.downcast_ref::<HttpError>() {
        // 401: the token may be expired until its Secret is rotated (the file is re-read).
        // 403 is not retried: a missing scope (Secrets) would hold back every other type.
        Some(h) if matches!(h.status, 401 | 408 | 429) || h.status >= 500 => {
            Verdict::Retry(h.retry_after)
        }
        Some(_) => Verdict::GiveUp,
        // Connection refused/reset, timeouts, a proxy's garbage: all may pass.
        None => Verdict::Retry(None),
    }
}

struct Session {
    id: String,
    chunk: Batch,
    objects: usize,
    started: Instant,
}

pub struct Sender {
    pub tokens: TokenSource,
    pub cluster: ClusterName,
    pub types: Vec<ResourceType>,
    /// Per type: asks its watcher for a new list (a session the edge lost).
    pub relist: Vec<Arc<Notify>>,
    pub chunk_bytes: usize,
    pub flush_after: Duration,
    pub backoff: Backoff,
    sessions: Vec<Option<Session>>,
    events: Batch,
    events_since: Option<Instant>,
    /// Per type in the pending event batch: how many events, and when the newest was seen.
    events_by_type: BTreeMap<usize, (u64, Instant)>,
    /// Requests given up on (bad data the edge refuses).
    pub failures: usize,
    metrics: Arc<Metrics>,
    /// Per type: its metrics label, `group/version/resource` (`v1/pods` for the core group).
    labels: Vec<String>,
}

const CHUNK_HEAD: &[u8] = b"{\"items\":[";
const EVENTS_HEAD: &[u8] = b"{\"events\":[";

impl Sender {
    pub fn new(
        tokens: TokenSource,
        cluster: ClusterName,
        types: Vec<ResourceType>,
        relist: Vec<Arc<Notify>>,
        chunk_bytes: usize,
        flush_after: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        let n = types.len();
        let labels = types
            .iter()
            .map(|t| format!("{}/{}", t.api_version(), t.resource))
            .collect();
        Self {
            tokens,
            cluster,
            types,
            relist,
            chunk_bytes,
            flush_after,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(30)),
            sessions: (0..n).map(|_| None).collect(),
            events: Batch::new(EVENTS_HEAD),
            events_since: None,
            events_by_type: BTreeMap::new(),
            failures: 0,
            metrics,
            labels,
        }
    }

    /// Runs until every watcher is gone (the channel closes): then flushes what is left.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Msg>) -> usize {
        loop {
            let msg = match self.events_since {
                Some(since) => {
                    let left = (since + self.flush_after).saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left, rx.recv()).await {
                        Ok(msg) => msg,
                        Err(_) => {
                            self.flush_events().await;
                            continue;
                        }
                    }
                }
                None => rx.recv().await,
            };
            let Some(msg) = msg else { break };
            self.handle(msg).await;
            // A steady stream of snapshot objects must not hold events back.
            if self
                .events_since
                .is_some_and(|since| since.elapsed() >= self.flush_after)
            {
                self.flush_events().await;
            }
        }
        self.flush_events().await;
        for ty in 0..self.sessions.len() {
            if let Some(session) = self.sessions[ty].take() {
                self.abort(ty, &session.id).await;
            }
        }
        self.failures
    }

    async fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Begin { ty } => self.begin(ty).await,
            Msg::Object { ty, json } => self.object(ty, json).await,
            Msg::Done { ty } => self.done(ty).await,
            Msg::Event {
                ty,
                event_type,
                json,
                seen,
            } => {
                let event = event_json(event_type, &self.types[ty].resource, &json);
                if !self.events.fits(event.len(), self.chunk_bytes) {
                    self.flush_events().await;
                }
                self.events.push(&event);
                let (events, newest) = self.events_by_type.entry(ty).or_insert((0, seen));
                *events += 1;
                *newest = seen;
                self.events_since.get_or_insert_with(Instant::now);
                if self.events.bytes() >= self.chunk_bytes {
                    self.flush_events().await;
                }
            }
            Msg::Heartbeat => self.heartbeat().await,
        }
    }

    fn base(&self) -> String {
        format!("{PREFIX}/clusters/{}", self.cluster)
    }

    async fn begin(&mut self, ty: usize) {
        // Changes seen before this list must land before it replaces the type.
        self.flush_events().await;
        if let Some(old) = self.sessions[ty].take() {
            info!(resource = %type_label(&self.types[ty]), "the watcher restarted: a new snapshot replaces the open one");
            self.abort(ty, &old.id).await;
        }
        let body = serde_json::to_vec(&BeginSnapshot {
            resource_types: vec![self.types[ty].clone()],
            agent_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        })
        .expect("serializable");
        let path = format!("{}/snapshots", self.base());
        match self
            .call::<SnapshotSession>("begin snapshot", None, "POST", path, body)
            .await
        {
            Ok(s) => {
                debug!(resource = %type_label(&self.types[ty]), session = %s.session, "snapshot begun");
                self.sessions[ty] = Some(Session {
                    id: s.session,
                    chunk: Batch::new(CHUNK_HEAD),
                    objects: 0,
                    started: Instant::now(),
                });
            }
            Err(e) => self.give_up(ty, "beginning the snapshot", &e),
        }
    }

    async fn object(&mut self, ty: usize, json: Vec<u8>) {
        let Some(session) = &mut self.sessions[ty] else {
            return; // the session failed: its objects go nowhere until the next list
        };
        if !session.chunk.fits(json.len(), self.chunk_bytes) {
            self.send_chunk(ty).await;
        }
        if let Some(session) = &mut self.sessions[ty] {
            session.chunk.push(&json);
            session.objects += 1;
            if session.chunk.bytes() >= self.chunk_bytes {
                self.send_chunk(ty).await;
            }
        }
    }

    async fn send_chunk(&mut self, ty: usize) {
        let base = self.base();
        let Some(session) = &mut self.sessions[ty] else {
            return;
        };
        let Some((body, n)) = session.chunk.take() else {
            return;
        };
        let path = format!("{base}/snapshots/{}/chunks", session.id);
        match self
            .call::<serde_json::Value>(
                "snapshot chunk",
                Some(Push::SnapshotChunk),
                "POST",
                path,
                body,
            )
            .await
        {
            Ok(_) => self.metrics.chunk_accepted(&self.labels[ty]),
            Err(e) => self.give_up(ty, &format!("sending a chunk of {n} objects"), &e),
        }
    }

    async fn done(&mut self, ty: usize) {
        self.send_chunk(ty).await;
        let Some(session) = self.sessions[ty].take() else {
            return;
        };
        let path = format!("{}/snapshots/{}/commit", self.base(), session.id);
        match self
            .call::<CommitResult>(
                "commit snapshot",
                Some(Push::Commit),
                "POST",
                path,
                Vec::new(),
            )
            .await
        {
            Ok(result) => {
                self.metrics
                    .snapshot_committed(&self.labels[ty], session.objects as u64);
                let stored: u64 = result.replaced.iter().map(|t| t.count).sum();
                info!(
                    resource = %type_label(&self.types[ty]),
                    objects = session.objects,
                    stored,
                    seconds = session.started.elapsed().as_secs_f64(),
                    "snapshot committed"
                );
            }
            Err(e) => {
                self.sessions[ty] = Some(session);
                self.give_up(ty, "committing the snapshot", &e);
            }
        }
    }

    async fn flush_events(&mut self) {
        self.events_since = None;
        let Some((body, n)) = self.events.take() else {
            return;
        };
        let by_type = std::mem::take(&mut self.events_by_type);
        let path = format!("{}/events", self.base());
        match self
            .call::<EventsApplied>("events", Some(Push::Events), "POST", path, body)
            .await
        {
            Ok(r) => {
                for (ty, (events, newest)) in by_type {
                    self.metrics
                        .events_accepted(&self.labels[ty], events, newest);
                }
                debug!(
                    events = n,
                    applied = r.applied,
                    skipped = r.skipped,
                    "deltas pushed"
                )
            }
            Err(e) => {
                self.failures += 1;
                error!(events = n, error = %format!("{e:#}"), "the edge refused a batch of watch events; it is dropped (the next resync repairs it)");
            }
        }
    }

    async fn heartbeat(&mut self) {
        let path = format!("{}/heartbeat", self.base());
        let body =
            serde_json::to_vec(&serde_json::json!({ "agentVersion": env!("CARGO_PKG_VERSION") }))
                .expect("serializable");
        // One try: a missed heartbeat is harmless and the next one comes soon.
        let started = Instant::now();
        let result = match self.tokens.client() {
            Ok(client) => tokio::task::spawn_blocking(move || {
                client.send::<serde_json::Value>("POST", &path, &body)
            })
            .await
            .map_err(|e| anyhow!("{e}"))
            .and_then(|r| r),
            Err(e) => Err(e),
        };
        match result {
            Ok(_) => {
                self.metrics.pushed(Push::Heartbeat, started.elapsed());
                debug!("heartbeat sent")
            }
            Err(e) => warn!(error = %format!("{e:#}"), "heartbeat failed"),
        }
    }

    /// A session that cannot go on: dropped on the edge; a lost session (404: expired, or the
    /// edge's store was reset) is listed again at once, anything else waits for the resync.
    fn give_up(&mut self, ty: usize, what: &str, e: &anyhow::Error) {
        self.failures += 1;
        let label = type_label(&self.types[ty]);
        let lost = e
            .downcast_ref::<HttpError>()
            .is_some_and(|h| h.status == 404);
        if let Some(session) = self.sessions[ty].take() {
            // Best effort, without waiting: an abandoned session also expires on its own.
            if let Ok(client) = self.tokens.client() {
                let path = format!("{}/snapshots/{}", self.base(), session.id);
                tokio::task::spawn_blocking(move || {
                    let _ = client.send::<serde_json::Value>("DELETE", &path, b"");
                });
            }
        }
        if lost {
            warn!(resource = %label, error = %format!("{e:#}"), "{what}: the edge lost the session; listing the type again");
            self.relist[ty].notify_one();
        } else {
            error!(resource = %label, error = %format!("{e:#}"), "{what} failed; the edge keeps its previous objects of this type until the next resync");
        }
    }

    async fn abort(&mut self, ty: usize, session: &str) {
        let path = format!("{}/snapshots/{session}", self.base());
        if let Err(e) = self
            .call::<serde_json::Value>("abort snapshot", None, "DELETE", path, Vec::new())
            .await
        {
            warn!(resource = %type_label(&self.types[ty]), error = %format!("{e:#}"), "could not abort a snapshot session (it expires on its own)");
        }
    }

    /// One request, retried (the same body) until it succeeds or cannot. `timed`: the
    /// latency metric the accepted attempt counts in.
    async fn call<R: DeserializeOwned + Send + 'static>(
        &mut self,
        what: &'static str,
        timed: Option<Push>,
        method: &'static str,
        path: String,
        body: Vec<u8>,
    ) -> Result<R> {
        let body: Arc<[u8]> = body.into();
        let path: Arc<str> = path.into();
        loop {
            let started = Instant::now();
            let result = match self.tokens.client() {
                Ok(client) => {
                    let (path, body) = (path.clone(), body.clone());
                    tokio::task::spawn_blocking(move || client.send::<R>(method, &path, &body))
                        .await
                        .map_err(|e| anyhow!("the request task failed: {e}"))
                        .and_then(|r| r)
                }
                Err(e) => Err(e),
            };
            let e = match result {
                Ok(r) => {
                    if let Some(kind) = timed {
                        self.metrics.pushed(kind, started.elapsed());
                    }
                    self.backoff.reset();
                    return Ok(r);
                }
                Err(e) => e,
            };
            match verdict(&e) {
                Verdict::GiveUp => return Err(e),
                Verdict::Retry(at_least) => {
                    self.metrics.retry(&e);
                    let wait = self.backoff.next_delay().max(at_least.unwrap_or_default());
                    warn!(
                        request = what,
                        error = %format!("{e:#}"),
                        retry_in_seconds = wait.as_secs_f64(),
                        "edge request failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::Mutex;

    /// A fake edge on 127.0.0.1 that answers the first `fail` requests with 503 (the first one
    /// with 429 and `Retry-After: 1`) and records every request: (method, path, body).
    /// (method, path, body) of each request.
    type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

    fn fake_edge(fail: usize) -> (String, Seen) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().flatten().enumerate() {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut parts = line.split_whitespace();
                let (method, path) = (
                    parts.next().unwrap().to_owned(),
                    parts.next().unwrap().to_owned(),
                );
                let mut length = 0;
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                log.lock()
                    .unwrap()
                    .push((method, path.clone(), String::from_utf8(body).unwrap()));
                let (status, extra, answer) = if n < fail {
                    if n == 0 {
                        (
                            "429 Too Many Requests",
                            "Retry-After: 1\r\n",
                            "{}".to_owned(),
                        )
                    } else {
                        ("503 Service Unavailable", "", "{}".to_owned())
                    }
                } else if path.ends_with("/snapshots") {
                    (
                        "201 Created",
                        "",
                        r#"{"session":"s1","expiresAt":0}"#.to_owned(),
                    )
                } else if path.ends_with("/commit") {
                    ("200 OK", "", r#"{"replaced":[]}"#.to_owned())
                } else if path.ends_with("/events") {
                    ("200 OK", "", r#"{"applied":1,"skipped":0}"#.to_owned())
                } else {
                    ("200 OK", "", r#"{"accepted":1,"staged":1}"#.to_owned())
                };
                let _ = write!(
                    &stream,
                    "HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        (url, seen)
    }

    /// Retries resend the same request before anything behind it; 429's Retry-After is
    /// waited for; events wait for the snapshot that came before them, and a new list flushes
    /// the events seen before it first.
    #[tokio::test]
    async fn requests_stay_in_order_across_retries() {
        let (url, seen) = fake_edge(3);
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "t0k3n\n").unwrap();
        let pods = ResourceType::for_object("v1", "Pod", true);
        let metrics = Arc::new(Metrics::new("c1"));
        let mut sender = Sender::new(
            TokenSource::new(&url, token),
            ClusterName::parse("c1").unwrap(),
            vec![pods],
            vec![Arc::new(Notify::new())],
            1024,
            Duration::from_millis(50),
            metrics.clone(),
        );
        sender.backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(40));
        let (tx, rx) = mpsc::channel(16);
        let pod = |name: &str| {
            format!(r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"d","uid":"{name}"}}}}"#).into_bytes()
        };
        let started = Instant::now();
        for msg in [
            Msg::Begin { ty: 0 },
            Msg::Object {
                ty: 0,
                json: pod("a"),
            },
            Msg::Done { ty: 0 },
            Msg::Event {
                ty: 0,
                event_type: "MODIFIED",
                json: pod("b"),
                seen: Instant::now(),
            },
            Msg::Event {
                ty: 0,
                event_type: "DELETED",
                json: pod("a"),
                seen: Instant::now(),
            },
            Msg::Begin { ty: 0 },
            Msg::Done { ty: 0 },
        ] {
            tx.send(msg).await.unwrap();
        }
        drop(tx);
        assert_eq!(sender.run(rx).await, 0);
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "Retry-After honoured"
        );
        let seen = seen.lock().unwrap().clone();
        let paths: Vec<&str> = seen.iter().map(|(_, p, _)| p.as_str()).collect();
        let base = "/ingest/v1/clusters/c1";
        let begin = format!("{base}/snapshots");
        let chunk = format!("{base}/snapshots/s1/chunks");
        let commit = format!("{base}/snapshots/s1/commit");
        let events = format!("{base}/events");
        assert_eq!(
            paths,
            [&begin, &begin, &begin, &begin, &chunk, &commit, &events, &begin, &commit]
                .map(String::as_str)
        );
        // Every retry carried the same body.
        assert!(seen[..4]
            .iter()
            .all(|(m, _, b)| m == "POST" && b == &seen[0].2));
        let batch: serde_json::Value = serde_json::from_str(&seen[6].2).unwrap();
        assert_eq!(batch["events"][0]["type"], "MODIFIED");
        assert_eq!(batch["events"][0]["object"]["metadata"]["name"], "b");
        assert_eq!(batch["events"][1]["type"], "DELETED");
        assert_eq!(batch["events"][1]["resource"], "pods");
        // What the metrics say: one 429 and two 503 retried, one object in two committed
        // snapshots, two events, and each accepted request timed.
        let text = metrics.render();
        for line in [
            r#"edgepedia_agent_retries_total{reason="429"} 1"#,
            r#"edgepedia_agent_retries_total{reason="5xx"} 2"#,
            r#"edgepedia_agent_objects_snapshotted_total{resource="v1/pods"} 1"#,
            r#"edgepedia_agent_events_pushed_total{resource="v1/pods"} 2"#,
            r#"edgepedia_agent_push_duration_seconds_count{kind="snapshot_chunk"} 1"#,
            r#"edgepedia_agent_push_duration_seconds_count{kind="commit"} 2"#,
            r#"edgepedia_agent_push_duration_seconds_count{kind="events"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }

    fn http(status: u16, retry_after: Option<u64>) -> anyhow::Error {
        anyhow::Error::new(HttpError {
            status,
            message: format!("HTTP {status}"),
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    #[test]
    fn what_is_retried() {
        assert_eq!(verdict(&http(503, None)), Verdict::Retry(None));
        assert_eq!(
            verdict(&http(429, Some(7))),
            Verdict::Retry(Some(Duration::from_secs(7)))
        );
        assert_eq!(verdict(&http(500, None)), Verdict::Retry(None));
        assert_eq!(verdict(&http(401, None)), Verdict::Retry(None));
        assert_eq!(verdict(&http(403, None)), Verdict::GiveUp);
        assert_eq!(verdict(&http(422, None)), Verdict::GiveUp);
        assert_eq!(verdict(&http(404, None)), Verdict::GiveUp);
        assert_eq!(
            verdict(&anyhow!("POST http://x: connection refused")),
            Verdict::Retry(None)
        );
        // Context on top keeps the status visible.
        assert_eq!(
            verdict(&http(502, None).context("sending")),
            Verdict::Retry(None)
        );
    }
}
