//! `sync-agent push`: snapshots of the resource types found in a `kubectl get -o json` file.
//! Objects stream in, are validated and stripped, buffered per type and sent in chunks of at
//! most `chunk_bytes`; all sessions commit at the end. A session begins with the first chunk
//! handed over after its types appeared and takes every type seen by then, so a file whose
//! types all show up before its first chunk fills is one begin and one commit, not one of each
//! per type: each is a write on the server, which takes its turn on SQLite's lock (and on Spin
//! opens a new SQLite connection). A type that first appears later begins with the next chunk.
//! On any failure every open session is aborted, so the server keeps its previous data for
//! every type not yet committed.
//!
//! Reading and sending overlap: the parsing thread hands finished chunks to the sending thread
//! over a channel holding at most one chunk, and the sending thread keeps up to
//! [`IN_FLIGHT`] chunk requests going at once, so the server parses one chunk while it writes
//! another (its writes take turns on SQLite's lock either way). The next chunk goes out as soon
//! as any request lands, not only the oldest: a small chunk behind a large one would otherwise
//! leave the server one request to work on. A session begins before its
//! chunks are sent and every chunk has landed before the first commit. Two chunks of one type
//! that name the same object are never in flight together: the later send lands last, so the
//! server keeps it, as it keeps a name's last send within a chunk. Memory stays bounded: the
//! chunks in flight, one queued, one being filled per type.

use crate::list_stream::for_each_object;
use crate::strip::{strip_into, Header};
use anyhow::{anyhow, bail, Context, Result};
use edgepedia_api::ingest::{BeginSnapshot, CommitResult, TypeCount, MAX_BODY_BYTES};
use edgepedia_api::ResourceType;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::time::{Duration, Instant};

/// Default chunk size: half the server's body limit leaves room for any proxy in between.
pub const DEFAULT_CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// A progress line on stderr every this many objects.
const PROGRESS_EVERY: usize = 5_000;

/// `{"items":[` … `]}`: the JSON around a chunk's objects (`ingest::Chunk`).
const CHUNK_HEAD: &[u8] = b"{\"items\":[";
const CHUNK_TAIL: &[u8] = b"]}";

/// Chunk requests sent at once. Two keep the server's two halves busy (the component parsing
/// one, SQLite writing the other); more would only queue on SQLite's write lock.
const IN_FLIGHT: usize = 2;

/// The snapshot half of the ingest API, as the push needs it: `EdgeClient` speaks it over HTTP;
/// unit tests record the calls. Shared by the threads that send chunks at once.
pub trait SnapshotApi: Sync {
    /// Opens a session; returns its id.
    fn begin(&self, request: &BeginSnapshot) -> Result<String>;
    /// Sends one `ingest::Chunk`, already serialized.
    fn chunk(&self, session: &str, body: &[u8]) -> Result<()>;
    fn commit(&self, session: &str) -> Result<CommitResult>;
    /// Discards a session (`DELETE`): the server keeps its previous data.
    fn abort(&self, session: &str) -> Result<()>;
}

pub struct PushOptions {
    pub keep_secret_data: bool,
    /// Target request size; one object larger than this goes alone in its chunk.
    pub chunk_bytes: usize,
    /// Print progress lines on stderr.
    pub progress: bool,
}

/// What a finished push did.
#[derive(Debug)]
pub struct Summary {
    pub objects: usize,
    pub chunks: usize,
    pub replaced: Vec<TypeCount>,
    pub elapsed: Duration,
}

/// From the parsing thread to the sending thread, in request order.
enum Message {
    /// Open one session for these types; they get the next slot numbers.
    Begin(Vec<ResourceType>),
    Chunk {
        slot: usize,
        body: Vec<u8>,
        /// Which of the type's objects it carries, for messages.
        objects: std::ops::Range<usize>,
        /// The (namespace, name) of each of them.
        names: HashSet<ObjectName>,
    },
    /// Everything was read: commit every session.
    Commit,
}

/// An object's (namespace, name) within its type; cluster-scoped objects have no namespace.
type ObjectName = (String, String);

/// The sending thread is gone (it failed and said why).
#[derive(Debug)]
struct SenderGone;

impl std::fmt::Display for SenderGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the sending thread stopped")
    }
}

impl std::error::Error for SenderGone {}

/// Streams `input` into snapshots; aborts every open session if anything fails.
pub fn push<A: SnapshotApi>(api: &A, input: impl Read, opts: &PushOptions) -> Result<Summary> {
    let most = MAX_BODY_BYTES - CHUNK_HEAD.len() - CHUNK_TAIL.len();
    if opts.chunk_bytes == 0 || opts.chunk_bytes > most {
        bail!("--chunk-bytes must be between 1 and {most} (the server's body limit)");
    }
    let started = Instant::now();
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel(1);
        let progress = opts.progress;
        let sender = scope.spawn(move || send_all(api, rx, progress));
        let mut pusher = Pusher::new(tx, opts);
        let read = for_each_object(input, |index, item| pusher.add(index, item))
            .and_then(|_| pusher.finish());
        let (objects, chunks, counts) = (
            pusher.objects,
            pusher.chunks,
            std::mem::take(&mut pusher.counts),
        );
        drop(pusher); // closes the channel: the sender stops after what is queued
        let sent = sender
            .join()
            .map_err(|_| anyhow!("the sending thread panicked"))?;
        let replaced = match (read, sent) {
            (Ok(()), Ok(Some(replaced))) => replaced,
            // A closed channel is explained by the sender's own error.
            (Err(e), Err(sent)) if e.is::<SenderGone>() => return Err(sent),
            (Err(e), _) => return Err(e),
            (Ok(()), Err(e)) => return Err(e),
            (Ok(()), Ok(None)) => bail!("the push stopped before its commit"),
        };
        if opts.progress {
            let line = progress_line("pushed", objects, &counts, started.elapsed());
            eprintln!("sync-agent: {line}");
        }
        Ok(Summary {
            objects,
            chunks,
            replaced,
            elapsed: started.elapsed(),
        })
    })
}

/// The sending thread: performs the requests in order, up to [`IN_FLIGHT`] chunks at once.
/// Returns the commit results, or None when the reader stopped early; on any failure (its own
/// or the reader's) it aborts every session not yet committed.
fn send_all<A: SnapshotApi>(
    api: &A,
    messages: Receiver<Message>,
    progress: bool,
) -> Result<Option<Vec<TypeCount>>> {
    // Per session: its label (its types') and id; per slot (type): its label and session.
    let mut sessions: Vec<(String, String)> = Vec::new();
    let mut slots: Vec<(String, usize)> = Vec::new();
    let mut committed = 0;
    let result = std::thread::scope(|scope| {
        let mut in_flight: Vec<InFlight<'_>> = Vec::new();
        // Each request thread sends its id here once it has an answer (or has panicked).
        let (landed_tx, landed_rx) = channel::<u64>();
        let mut next_id = 0u64;
        let wait_for_one = |in_flight: &mut Vec<InFlight<'_>>| -> Result<()> {
            let id = landed_rx
                .recv()
                .map_err(|_| anyhow!("a sending thread stopped without an answer"))?;
            let at = in_flight
                .iter()
                .position(|c| c.id == id)
                .ok_or_else(|| anyhow!("an unknown chunk request landed"))?;
            in_flight.swap_remove(at).landed()
        };
        for message in &messages {
            match message {
                Message::Begin(resource_types) => {
                    let labels: Vec<String> = resource_types.iter().map(type_label).collect();
                    let label = labels.join(", ");
                    let session = api
                        .begin(&BeginSnapshot {
                            resource_types,
                            agent_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
                        })
                        .with_context(|| format!("beginning the {label} snapshot"))?;
                    slots.extend(labels.into_iter().map(|l| (l, sessions.len())));
                    sessions.push((label, session));
                }
                Message::Chunk {
                    slot,
                    body,
                    objects,
                    names,
                } => {
                    while in_flight.len() >= IN_FLIGHT
                        || in_flight
                            .iter()
                            .any(|c| c.slot == slot && !c.names.is_disjoint(&names))
                    {
                        wait_for_one(&mut in_flight)?;
                    }
                    let (label, index) = &slots[slot];
                    let (label, session) = (label.clone(), sessions[*index].1.clone());
                    let landed = Landed(next_id, landed_tx.clone());
                    let id = next_id;
                    next_id += 1;
                    let request = scope.spawn(move || {
                        let _landed = landed;
                        api.chunk(&session, &body).with_context(|| {
                            format!(
                                "sending {label} objects {}..{} of the snapshot",
                                objects.start, objects.end
                            )
                        })
                    });
                    in_flight.push(InFlight {
                        id,
                        slot,
                        names,
                        request,
                    });
                }
                Message::Commit => {
                    for chunk in in_flight.drain(..) {
                        chunk.landed()?;
                    }
                    let mut replaced = Vec::new();
                    for (label, session) in &sessions {
                        let result = api
                            .commit(session)
                            .with_context(|| format!("committing the {label} snapshot"))?;
                        committed += 1;
                        replaced.extend(result.replaced);
                    }
                    return Ok(Some(replaced));
                }
            }
        }
        // The reader stopped early (and says why); what was sent is aborted below.
        for chunk in in_flight.drain(..) {
            chunk.landed()?;
        }
        Ok(None)
    });
    // Drop what is still queued: nothing more is sent after a failure.
    drop(messages);
    if !matches!(result, Ok(Some(_))) {
        let open = &sessions[committed..];
        if progress && !open.is_empty() {
            eprintln!(
                "sync-agent: aborting {} open snapshot session(s); the server keeps its previous data for them",
                open.len()
            );
        }
        for (label, session) in open {
            if let Err(e) = api.abort(session) {
                eprintln!(
                    "sync-agent: could not abort the {label} session {session} (it expires on its own): {e:#}"
                );
            }
        }
    }
    result
}

/// Says that a chunk request ended when its thread ends, panics included, so the sending
/// thread never waits for an answer that cannot come.
struct Landed(u64, Sender<u64>);

impl Drop for Landed {
    fn drop(&mut self) {
        let _ = self.1.send(self.0);
    }
}

/// A chunk request on its own thread.
struct InFlight<'scope> {
    id: u64,
    slot: usize,
    names: HashSet<ObjectName>,
    request: std::thread::ScopedJoinHandle<'scope, Result<()>>,
}

impl InFlight<'_> {
    /// Waits for the server's answer.
    fn landed(self) -> Result<()> {
        self.request
            .join()
            .map_err(|_| anyhow!("a sending thread panicked"))?
    }
}

/// One resource type's chunk being filled.
struct Open {
    resource_type: ResourceType,
    /// `{"items":[` and the objects so far, comma-separated.
    body: Vec<u8>,
    buffered: usize,
    /// Objects seen (sent or buffered).
    seen: usize,
    /// The buffered objects' names.
    names: HashSet<ObjectName>,
}

/// The parsing side: groups objects by resource type into chunks.
struct Pusher<'a> {
    tx: SyncSender<Message>,
    opts: &'a PushOptions,
    open: Vec<Open>,
    index: HashMap<ResourceType, usize>,
    /// The slots before this one have a session.
    begun: usize,
    objects: usize,
    /// Objects per type label, in the order the types appeared.
    counts: Vec<(String, usize)>,
    chunks: usize,
    started: Instant,
    /// Reused for each object's stripped form.
    scratch: Vec<u8>,
}

impl<'a> Pusher<'a> {
    fn new(tx: SyncSender<Message>, opts: &'a PushOptions) -> Self {
        Self {
            tx,
            opts,
            open: Vec::new(),
            index: HashMap::new(),
            begun: 0,
            objects: 0,
            counts: Vec::new(),
            chunks: 0,
            started: Instant::now(),
            scratch: Vec::new(),
        }
    }

    fn send(&self, message: Message) -> Result<()> {
        self.tx
            .send(message)
            .map_err(|_| anyhow::Error::new(SenderGone))
    }

    /// Takes the `index`-th object of the input (its JSON text): validates, strips, buffers,
    /// maybe hands a chunk over.
    fn add(&mut self, index: usize, item: &[u8]) -> Result<()> {
        self.scratch.clear();
        let header = strip_into(item, self.opts.keep_secret_data, &mut self.scratch)
            .map_err(|e| anyhow!("invalid JSON input: item {index}: {e}"))?;
        let resource_type = object_type(index, &header)?;
        let size = self.scratch.len();
        if CHUNK_HEAD.len() + size + CHUNK_TAIL.len() > MAX_BODY_BYTES {
            bail!(
                "item {index} ({}) is {size} bytes after stripping, more than one request may \
                 carry ({MAX_BODY_BYTES} bytes)",
                header.describe()
            );
        }
        let slot = match self.index.get(&resource_type) {
            Some(&slot) => slot,
            None => {
                let slot = self.open.len();
                self.counts.push((type_label(&resource_type), 0));
                self.index.insert(resource_type.clone(), slot);
                self.open.push(Open {
                    resource_type,
                    body: CHUNK_HEAD.to_vec(),
                    buffered: 0,
                    seen: 0,
                    names: HashSet::new(),
                });
                slot
            }
        };
        let open = &self.open[slot];
        // The body after this object would be: current + comma + object + tail.
        if open.buffered > 0
            && open.body.len() + 1 + size + CHUNK_TAIL.len() > self.opts.chunk_bytes
        {
            self.flush(slot)?;
        }
        let open = &mut self.open[slot];
        if open.buffered > 0 {
            open.body.push(b',');
        }
        open.body.extend_from_slice(&self.scratch);
        open.names.insert((
            header.namespace.unwrap_or_default(),
            header.name.unwrap_or_default(),
        ));
        open.buffered += 1;
        open.seen += 1;
        self.counts[slot].1 += 1;
        self.objects += 1;
        if open.body.len() + CHUNK_TAIL.len() >= self.opts.chunk_bytes {
            self.flush(slot)?;
        }
        if self.opts.progress && self.objects.is_multiple_of(PROGRESS_EVERY) {
            eprintln!("sync-agent: {}", self.progress("read"));
        }
        Ok(())
    }

    /// Hands over what is buffered, then asks for the commits.
    fn finish(&mut self) -> Result<()> {
        for slot in 0..self.open.len() {
            self.flush(slot)?;
        }
        self.send(Message::Commit)
    }

    fn flush(&mut self, slot: usize) -> Result<()> {
        let open = &mut self.open[slot];
        if open.buffered == 0 {
            return Ok(());
        }
        if self.begun < self.open.len() {
            let types = self.open[self.begun..]
                .iter()
                .map(|o| o.resource_type.clone());
            self.send(Message::Begin(types.collect()))?;
            self.begun = self.open.len();
        }
        let open = &mut self.open[slot];
        let mut body = std::mem::replace(&mut open.body, CHUNK_HEAD.to_vec());
        body.extend_from_slice(CHUNK_TAIL);
        let objects = open.seen - open.buffered..open.seen;
        open.buffered = 0;
        let names = std::mem::take(&mut open.names);
        self.chunks += 1;
        self.send(Message::Chunk {
            slot,
            body,
            objects,
            names,
        })
    }

    fn progress(&self, verb: &str) -> String {
        progress_line(verb, self.objects, &self.counts, self.started.elapsed())
    }
}

/// `pushed 12000 objects (pods: 8000, …) in 1.2s`
fn progress_line(verb: &str, objects: usize, counts: &[(String, usize)], took: Duration) -> String {
    let per_type: Vec<String> = counts
        .iter()
        .map(|(label, n)| format!("{label}: {n}"))
        .collect();
    let per_type = if per_type.is_empty() {
        String::new()
    } else {
        format!(" ({})", per_type.join(", "))
    };
    format!(
        "{verb} {objects} objects{per_type} in {:.1}s",
        took.as_secs_f64()
    )
}

/// `pods`, `deployments.apps`: how kubectl names a resource type.
pub fn type_label(t: &ResourceType) -> String {
    if t.group.is_empty() {
        t.resource.clone()
    } else {
        format!("{}.{}", t.resource, t.group)
    }
}

/// The resource type of an object, after checking what the server needs to store it, so a
/// bad file fails before anything is sent for it, naming the item.
fn object_type(index: usize, h: &Header) -> Result<ResourceType> {
    let missing: Vec<&str> = [
        ("apiVersion", h.api_version.is_none()),
        ("kind", h.kind.is_none()),
        ("metadata.name", h.name.is_none()),
        ("metadata.uid", h.uid.is_none()),
    ]
    .into_iter()
    .filter_map(|(field, absent)| absent.then_some(field))
    .collect();
    let (Some(api_version), Some(kind)) = (&h.api_version, &h.kind) else {
        bail!("item {index}: missing {}", missing.join(", "));
    };
    if !missing.is_empty() {
        bail!(
            "item {index} ({}): missing {}",
            h.describe(),
            missing.join(", ")
        );
    }
    let t = ResourceType::for_object(api_version, kind, h.namespace.is_some());
    match (t.namespaced, &h.namespace) {
        (true, None) => bail!(
            "item {index} ({}): missing metadata.namespace ({kind} is namespaced)",
            h.describe()
        ),
        (false, Some(ns)) => bail!(
            "item {index} ({}): has metadata.namespace {ns:?} but {kind} is cluster-scoped",
            h.describe()
        ),
        _ => Ok(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgepedia_api::ingest::Chunk;
    use serde_json::{json, Value};
    use std::sync::{Condvar, Mutex};

    /// Records the calls a push makes; can fail a session's chunks, or hold a chunk back until
    /// another one is in flight.
    #[derive(Default)]
    struct Recorder {
        log: Mutex<Log>,
        /// Chunks of this session fail.
        fail_session: Option<&'static str>,
        /// The first chunk waits (up to a few seconds) until this many chunks have started.
        hold_first_chunk_for: usize,
        started: Condvar,
    }

    #[derive(Default)]
    struct Log {
        calls: Vec<String>,
        chunks: Vec<(String, Vec<Value>, usize)>,
        /// Per session (`s1`, `s2`, …), its types.
        sessions: Vec<Vec<ResourceType>>,
        /// Chunks started and not yet answered; the most there ever were.
        in_flight: usize,
        most_in_flight: usize,
        /// (started, answered) per chunk, numbered in the order they started.
        chunk_times: Vec<(Instant, Instant)>,
        /// Chunks started by the time the held first chunk was answered.
        started_while_first_held: usize,
    }

    impl Log {
        /// The begins in the order they were sent: chunks are recorded by their own threads,
        /// so only the begins keep a fixed place among the calls.
        fn begins(&self) -> Vec<&String> {
            self.calls
                .iter()
                .filter(|c| c.starts_with("begin"))
                .collect()
        }
    }

    impl Recorder {
        fn log(&self) -> std::sync::MutexGuard<'_, Log> {
            self.log.lock().unwrap()
        }
    }

    impl SnapshotApi for Recorder {
        fn begin(&self, request: &BeginSnapshot) -> Result<String> {
            assert_eq!(
                request.agent_version.as_deref(),
                Some(env!("CARGO_PKG_VERSION"))
            );
            let mut log = self.log();
            log.sessions.push(request.resource_types.clone());
            let id = format!("s{}", log.sessions.len());
            let types: Vec<&str> = request
                .resource_types
                .iter()
                .map(|t| t.resource.as_str())
                .collect();
            log.calls.push(format!("begin {}", types.join(",")));
            Ok(id)
        }
        fn chunk(&self, session: &str, body: &[u8]) -> Result<()> {
            let chunk: Chunk<Value> = serde_json::from_slice(body).expect("a valid Chunk");
            let started = Instant::now();
            let mut log = self.log();
            log.calls
                .push(format!("chunk {session} {}", chunk.items.len()));
            log.chunks
                .push((session.to_owned(), chunk.items, body.len()));
            log.in_flight += 1;
            log.most_in_flight = log.most_in_flight.max(log.in_flight);
            let first = log.chunks.len() == 1;
            self.started.notify_all();
            if first && self.hold_first_chunk_for > 0 {
                log = self
                    .started
                    .wait_timeout_while(log, Duration::from_secs(5), |l| {
                        l.chunks.len() < self.hold_first_chunk_for
                    })
                    .unwrap()
                    .0;
                log.started_while_first_held = log.chunks.len();
            }
            drop(log);
            std::thread::sleep(Duration::from_millis(5));
            let mut log = self.log();
            log.in_flight -= 1;
            log.chunk_times.push((started, Instant::now()));
            if self.fail_session == Some(session) {
                bail!("refused (HTTP 422 Invalid)");
            }
            Ok(())
        }
        fn commit(&self, session: &str) -> Result<CommitResult> {
            let mut log = self.log();
            assert_eq!(log.in_flight, 0, "a commit before its chunks landed");
            log.calls.push(format!("commit {session}"));
            let n: usize = session[1..].parse().unwrap();
            let replaced = log.sessions[n - 1]
                .iter()
                .map(|t| TypeCount {
                    resource_type: t.clone(),
                    count: log
                        .chunks
                        .iter()
                        .filter(|c| c.0 == session)
                        .flat_map(|c| &c.1)
                        .filter(|o| o["kind"] == t.kind.as_str())
                        .count() as u64,
                })
                .collect();
            Ok(CommitResult { replaced })
        }
        fn abort(&self, session: &str) -> Result<()> {
            self.log().calls.push(format!("abort {session}"));
            Ok(())
        }
    }

    fn pod(ns: &str, name: &str, pad: usize) -> Value {
        json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":name,"namespace":ns,"uid":format!("u-{name}"),
            "managedFields":[{"manager":"kubelet"}]},"spec":{"padding":"x".repeat(pad)}})
    }

    fn list(items: Vec<Value>) -> Vec<u8> {
        serde_json::to_vec(&json!({"apiVersion":"v1","kind":"List","metadata":{},"items":items}))
            .unwrap()
    }

    fn opts(chunk_bytes: usize) -> PushOptions {
        PushOptions {
            keep_secret_data: false,
            chunk_bytes,
            progress: false,
        }
    }

    #[test]
    fn types_seen_before_the_first_chunk_share_one_session_and_one_commit() {
        let items = vec![
            pod("a", "p1", 0),
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"a","uid":"ud"}}),
            pod("b", "p2", 0),
            json!({"apiVersion":"v1","kind":"Node","metadata":{"name":"n","uid":"un"}}),
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"a","uid":"us"},"data":{"k":"c2VjcmV0"}}),
        ];
        let api = Recorder::default();
        let summary = push(&api, &list(items)[..], &opts(DEFAULT_CHUNK_BYTES)).unwrap();
        let log = api.log();
        // A chunk per type, in any order, all before the commit.
        let mut chunks = log.calls[1..5].to_vec();
        chunks.sort();
        assert_eq!(log.calls[0], "begin pods,deployments,nodes,secrets");
        assert_eq!(
            chunks,
            ["chunk s1 1", "chunk s1 1", "chunk s1 1", "chunk s1 2"]
        );
        assert_eq!(log.calls[5..], ["commit s1"]);
        assert_eq!(log.sessions[0][1].group, "apps");
        assert!(!log.sessions[0][2].namespaced);
        assert_eq!(summary.objects, 5);
        let counts: Vec<(&str, u64)> = summary
            .replaced
            .iter()
            .map(|c| (c.resource_type.resource.as_str(), c.count))
            .collect();
        assert_eq!(
            counts,
            [
                ("pods", 2),
                ("deployments", 1),
                ("nodes", 1),
                ("secrets", 1)
            ]
        );
        // Stripped on the way: no managedFields, no secret data.
        let sent = |kind: &str| {
            log.chunks
                .iter()
                .find(|c| c.1[0]["kind"] == kind)
                .map(|c| c.1[0].clone())
                .unwrap()
        };
        assert!(sent("Pod")["metadata"].get("managedFields").is_none());
        assert!(sent("Secret").get("data").is_none());
    }

    #[test]
    fn a_type_first_seen_after_a_chunk_begins_its_own_session_with_the_next_chunk() {
        // Pods fill a chunk before the first ConfigMap appears.
        let mut items: Vec<Value> = (0..4).map(|i| pod("ns", &format!("p{i}"), 300)).collect();
        items.push(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"ns","uid":"uc"}}));
        let api = Recorder::default();
        let summary = push(&api, &list(items)[..], &opts(1_000)).unwrap();
        let log = api.log();
        // The first session was begun with the first chunk, before the ConfigMap was read.
        assert_eq!(log.begins(), ["begin pods", "begin configmaps"]);
        assert_eq!(log.calls[log.calls.len() - 2..], ["commit s1", "commit s2"]);
        let counts: Vec<u64> = summary.replaced.iter().map(|c| c.count).collect();
        assert_eq!(counts, [4, 1]);
    }

    #[test]
    fn chunks_stay_under_the_size_and_keep_every_object_once() {
        let items: Vec<Value> = (0..50).map(|i| pod("ns", &format!("p{i}"), 300)).collect();
        let api = Recorder::default();
        let limit = 2_000;
        let summary = push(&api, &list(items)[..], &opts(limit)).unwrap();
        let log = api.log();
        assert!(log.chunks.len() > 5, "{} chunks", log.chunks.len());
        assert_eq!(summary.chunks, log.chunks.len());
        for (_, items, size) in &log.chunks {
            assert!(*size <= limit, "a chunk of {size} bytes");
            assert!(!items.is_empty());
        }
        let mut names: Vec<String> = log
            .chunks
            .iter()
            .flat_map(|c| c.1.iter())
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        let mut want: Vec<String> = (0..50).map(|i| format!("p{i}")).collect();
        want.sort();
        assert_eq!(names, want);
        assert_eq!(log.sessions.len(), 1, "one session for one type");
        assert_eq!(log.sessions[0].len(), 1);
    }

    #[test]
    fn an_object_larger_than_the_chunk_size_goes_alone() {
        let items = vec![
            pod("ns", "small", 10),
            pod("ns", "big", 5_000),
            pod("ns", "tail", 10),
        ];
        let api = Recorder::default();
        push(&api, &list(items)[..], &opts(1_000)).unwrap();
        let log = api.log();
        let sizes: Vec<usize> = log.chunks.iter().map(|c| c.1.len()).collect();
        assert_eq!(sizes, [1, 1, 1]);
        assert!(log
            .chunks
            .iter()
            .any(|c| c.1[0]["metadata"]["name"] == "big"));
    }

    #[test]
    fn an_object_larger_than_a_request_is_an_error_naming_it() {
        let items = vec![pod("ns", "ok", 0), pod("ns", "huge", MAX_BODY_BYTES)];
        let api = Recorder::default();
        let err = push(&api, &list(items)[..], &opts(DEFAULT_CHUNK_BYTES)).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("item 1 (Pod ns/huge)"), "{text}");
        // Nothing was handed over before it, so nothing began.
        assert!(api.log().calls.is_empty(), "{:?}", api.log().calls);
    }

    #[test]
    fn a_failing_chunk_aborts_every_open_session_and_commits_none() {
        // Pods fill a chunk first (session s1), the ConfigMap's session s2 fails.
        let items = vec![
            pod("a", "p1", 600),
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"a","uid":"uc"}}),
            pod("a", "p2", 0),
        ];
        let api = Recorder {
            fail_session: Some("s2"),
            ..Default::default()
        };
        let err = push(&api, &list(items)[..], &opts(500)).unwrap_err();
        assert!(format!("{err:#}").contains("configmaps"), "{err:#}");
        let log = api.log();
        assert_eq!(log.begins(), ["begin pods", "begin configmaps"]);
        for chunk in ["chunk s1 1", "chunk s2 1"] {
            assert!(log.calls.contains(&chunk.to_owned()), "{:?}", log.calls);
        }
        assert!(!log.calls.iter().any(|c| c.starts_with("commit")));
        assert_eq!(log.calls[log.calls.len() - 2..], ["abort s1", "abort s2"]);
    }

    #[test]
    fn a_bad_item_aborts_what_began_before_it() {
        // The first pod fills a chunk on its own, so its session began.
        let items = vec![
            pod("d", "a", 600),
            json!({"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"d","uid":"2"}}),
        ];
        let api = Recorder::default();
        let err = push(&api, &list(items)[..], &opts(500)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "item 1 (Pod without a name): missing metadata.name"
        );
        assert_eq!(api.log().calls, ["begin pods", "chunk s1 1", "abort s1"]);
    }

    #[test]
    fn an_empty_list_sends_nothing() {
        let api = Recorder::default();
        let summary = push(&api, &list(vec![])[..], &opts(DEFAULT_CHUNK_BYTES)).unwrap();
        assert_eq!(summary.objects, 0);
        assert!(api.log().calls.is_empty());
    }

    #[test]
    fn chunk_size_must_fit_a_request() {
        let api = Recorder::default();
        for size in [0, MAX_BODY_BYTES] {
            let err = push(&api, &list(vec![])[..], &opts(size)).unwrap_err();
            assert!(err.to_string().contains("--chunk-bytes"), "{err}");
        }
        assert!(api.log().calls.is_empty());
    }

    #[test]
    fn two_chunks_are_in_flight_at_once_and_never_more() {
        let items: Vec<Value> = (0..20).map(|i| pod("ns", &format!("p{i}"), 300)).collect();
        let api = Recorder {
            hold_first_chunk_for: 2,
            ..Default::default()
        };
        let summary = push(&api, &list(items)[..], &opts(1_000)).unwrap();
        let log = api.log();
        assert!(summary.chunks > IN_FLIGHT, "{} chunks", summary.chunks);
        // The first chunk was answered only once a second one had started.
        assert_eq!(log.most_in_flight, IN_FLIGHT);
        assert_eq!(log.calls.last().unwrap(), "commit s1");
    }

    #[test]
    fn a_chunk_goes_out_when_any_earlier_one_lands_not_only_the_oldest() {
        // The first chunk is held until a third has started: the second lands meanwhile, so
        // the third must not wait for the first (the server would work on one chunk alone).
        let items: Vec<Value> = (0..20).map(|i| pod("ns", &format!("p{i}"), 300)).collect();
        let api = Recorder {
            hold_first_chunk_for: 3,
            ..Default::default()
        };
        let summary = push(&api, &list(items)[..], &opts(1_000)).unwrap();
        let log = api.log();
        assert!(summary.chunks > 3, "{} chunks", summary.chunks);
        assert_eq!(log.started_while_first_held, 3);
        assert_eq!(log.most_in_flight, IN_FLIGHT);
        assert_eq!(log.calls.last().unwrap(), "commit s1");
    }

    #[test]
    fn a_name_sent_again_waits_for_its_earlier_send_to_land() {
        // One pod per chunk, p0 in the first two: the second starts only after the first was
        // answered, so the server sees p0's sends in order.
        let items = vec![
            pod("ns", "p0", 300),
            pod("ns", "p0", 301),
            pod("ns", "p1", 300),
        ];
        let api = Recorder::default();
        push(&api, &list(items)[..], &opts(500)).unwrap();
        let log = api.log();
        let chunk_with = |pad: usize| {
            log.chunks
                .iter()
                .position(|c| c.1[0]["spec"]["padding"].as_str().unwrap().len() == pad)
                .unwrap()
        };
        let (first, again) = (chunk_with(300), chunk_with(301));
        assert_eq!(log.chunks.len(), 3);
        assert!(
            log.chunk_times[again].0 >= log.chunk_times[first].1,
            "p0 sent again before its first send landed"
        );
    }

    fn validate(index: usize, object: &Value) -> Result<ResourceType> {
        let mut out = Vec::new();
        let header = strip_into(object.to_string().as_bytes(), false, &mut out)?;
        object_type(index, &header)
    }

    #[test]
    fn validation_names_the_item_and_what_is_missing() {
        let t = validate(
            0,
            &json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"x","uid":"u"}}),
        )
        .unwrap();
        assert_eq!(
            (t.group.as_str(), t.resource.as_str()),
            ("apps", "deployments")
        );
        let custom = validate(
            0,
            &json!({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","uid":"u"}}),
        )
        .unwrap();
        assert!(
            !custom.namespaced,
            "an unknown kind without namespace is cluster-scoped"
        );
        let cases = [
            (
                json!({"metadata":{"name":"x","uid":"u"}}),
                "item 4: missing apiVersion, kind",
            ),
            (
                json!({"apiVersion":"v1","kind":"Pod"}),
                "item 4 (Pod without a name): missing metadata.name, metadata.uid",
            ),
            (
                json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"d"}}),
                "item 4 (Pod d/p): missing metadata.uid",
            ),
            (
                json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","uid":"u"}}),
                "item 4 (Pod p): missing metadata.namespace (Pod is namespaced)",
            ),
            (
                json!({"apiVersion":"v1","kind":"Node","metadata":{"name":"n","uid":"u","namespace":"x"}}),
                "item 4 (Node x/n): has metadata.namespace \"x\" but Node is cluster-scoped",
            ),
        ];
        for (object, message) in cases {
            assert_eq!(validate(4, &object).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn progress_lists_counts_per_type() {
        let o = opts(DEFAULT_CHUNK_BYTES);
        let (tx, rx) = std::sync::mpsc::sync_channel(10);
        let mut p = Pusher::new(tx, &o);
        p.add(0, pod("a", "x", 0).to_string().as_bytes()).unwrap();
        p.add(1, pod("a", "y", 0).to_string().as_bytes()).unwrap();
        let job = json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j","namespace":"a","uid":"uj"}});
        p.add(2, job.to_string().as_bytes()).unwrap();
        let line = p.progress("pushed");
        assert!(
            line.starts_with("pushed 3 objects (pods: 2, jobs.batch: 1) in "),
            "{line}"
        );
        // Nothing is sent before a chunk is handed over; then one session takes both types.
        assert!(rx.try_recv().is_err());
        p.flush(0).unwrap();
        drop(p);
        let sent: Vec<String> = rx
            .iter()
            .map(|m| match m {
                Message::Begin(types) => {
                    let names: Vec<&str> = types.iter().map(|t| t.resource.as_str()).collect();
                    format!("begin {}", names.join(","))
                }
                Message::Chunk { slot, .. } => format!("chunk {slot}"),
                Message::Commit => "commit".to_owned(),
            })
            .collect();
        assert_eq!(sent, ["begin pods,jobs", "chunk 0"]);
    }
}
