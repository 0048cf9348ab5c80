//! `sync-agent push`: one snapshot per resource type found in a `kubectl get -o json` file.
//! Objects stream in, are validated and stripped, buffered per type and sent in chunks of at
//! most `chunk_bytes`; a type's session begins when its first object appears and all sessions
//! commit at the end. On any failure every open session is aborted, so the server keeps its
//! previous data for every type not yet committed.

use crate::list_stream::for_each_object;
use crate::strip::{strip_into, Header};
use anyhow::{bail, Context, Result};
use edgepedia_api::ingest::{BeginSnapshot, CommitResult, TypeCount, MAX_BODY_BYTES};
use edgepedia_api::ResourceType;
use std::collections::HashMap;
use std::io::Read;
use std::time::{Duration, Instant};

/// Default chunk size: half the server's body limit leaves room for any proxy in between.
pub const DEFAULT_CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// A progress line on stderr every this many objects.
const PROGRESS_EVERY: usize = 5_000;

/// `{"items":[` … `]}`: the JSON around a chunk's objects (`ingest::Chunk`).
const CHUNK_HEAD: &[u8] = b"{\"items\":[";
const CHUNK_TAIL: &[u8] = b"]}";

/// The snapshot half of the ingest API, as the push needs it: `EdgeClient` speaks it over HTTP;
/// unit tests record the calls.
pub trait SnapshotApi {
    /// Opens a session; returns its id.
    fn begin(&mut self, request: &BeginSnapshot) -> Result<String>;
    /// Sends one `ingest::Chunk`, already serialized.
    fn chunk(&mut self, session: &str, body: &[u8]) -> Result<()>;
    fn commit(&mut self, session: &str) -> Result<CommitResult>;
    /// Discards a session (`DELETE`): the server keeps its previous data.
    fn abort(&mut self, session: &str) -> Result<()>;
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

/// One resource type's open session and the objects not yet sent.
struct Open {
    resource_type: ResourceType,
    session: String,
    /// A chunk body being assembled: `{"items":[` and the objects so far, comma-separated.
    body: Vec<u8>,
    buffered: usize,
    /// Objects seen (sent or buffered).
    seen: usize,
}

/// Groups objects by resource type into chunked snapshot sessions.
pub struct Pusher<'a, A: SnapshotApi> {
    api: &'a mut A,
    opts: &'a PushOptions,
    open: Vec<Open>,
    index: HashMap<ResourceType, usize>,
    objects: usize,
    /// Objects per type label, in the order the types appeared (kept after commits).
    counts: Vec<(String, usize)>,
    chunks: usize,
    started: Instant,
    /// Reused for each object's serialized form.
    scratch: Vec<u8>,
}

/// Streams `input` into snapshots; aborts every open session if anything fails.
pub fn push<A: SnapshotApi>(api: &mut A, input: impl Read, opts: &PushOptions) -> Result<Summary> {
    let mut pusher = Pusher::new(api, opts)?;
    let result =
        for_each_object(input, |index, item| pusher.add(index, item)).and_then(|_| pusher.finish());
    if result.is_err() {
        pusher.abort_all();
    }
    result
}

impl<'a, A: SnapshotApi> Pusher<'a, A> {
    pub fn new(api: &'a mut A, opts: &'a PushOptions) -> Result<Self> {
        let most = MAX_BODY_BYTES - CHUNK_HEAD.len() - CHUNK_TAIL.len();
        if opts.chunk_bytes == 0 || opts.chunk_bytes > most {
            bail!("--chunk-bytes must be between 1 and {most} (the server's body limit)");
        }
        Ok(Self {
            api,
            opts,
            open: Vec::new(),
            index: HashMap::new(),
            objects: 0,
            counts: Vec::new(),
            chunks: 0,
            started: Instant::now(),
            scratch: Vec::new(),
        })
    }

    /// Takes the `index`-th object of the input (its JSON text): validates, strips, buffers,
    /// maybe sends.
    pub fn add(&mut self, index: usize, item: &[u8]) -> Result<()> {
        self.scratch.clear();
        let header = strip_into(item, self.opts.keep_secret_data, &mut self.scratch)
            .map_err(|e| anyhow::anyhow!("invalid JSON input: item {index}: {e}"))?;
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
            None => self.begin(resource_type)?,
        };
        let open = &mut self.open[slot];
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

    /// Sends what is buffered and commits every session, in the order the types appeared.
    pub fn finish(&mut self) -> Result<Summary> {
        for slot in 0..self.open.len() {
            self.flush(slot)?;
        }
        let mut replaced = Vec::new();
        // Committed sessions leave `open` one by one, so a failure aborts only the rest.
        while !self.open.is_empty() {
            let label = type_label(&self.open[0].resource_type);
            let result = self
                .api
                .commit(&self.open[0].session)
                .with_context(|| format!("committing the {label} snapshot"))?;
            let done = self.open.remove(0);
            self.index.remove(&done.resource_type);
            replaced.extend(result.replaced);
        }
        if self.opts.progress {
            eprintln!("sync-agent: {}", self.progress("pushed"));
        }
        Ok(Summary {
            objects: self.objects,
            chunks: self.chunks,
            replaced,
            elapsed: self.started.elapsed(),
        })
    }

    /// Discards every session still open; problems are reported, not raised, since an
    /// abandoned session only expires on the server.
    pub fn abort_all(&mut self) {
        if self.opts.progress && !self.open.is_empty() {
            eprintln!(
                "sync-agent: aborting {} open snapshot session(s); the server keeps its previous data for them",
                self.open.len()
            );
        }
        for open in self.open.drain(..) {
            if let Err(e) = self.api.abort(&open.session) {
                eprintln!(
                    "sync-agent: could not abort the {} session {} (it expires on its own): {e:#}",
                    type_label(&open.resource_type),
                    open.session
                );
            }
        }
        self.index.clear();
    }

    fn begin(&mut self, resource_type: ResourceType) -> Result<usize> {
        let label = type_label(&resource_type);
        let session = self
            .api
            .begin(&BeginSnapshot {
                resource_types: vec![resource_type.clone()],
                agent_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            })
            .with_context(|| format!("beginning the {label} snapshot"))?;
        self.open.push(Open {
            resource_type: resource_type.clone(),
            session,
            body: CHUNK_HEAD.to_vec(),
            buffered: 0,
            seen: 0,
        });
        let slot = self.open.len() - 1;
        self.counts.push((label, 0));
        self.index.insert(resource_type, slot);
        Ok(slot)
    }

    fn flush(&mut self, slot: usize) -> Result<()> {
        let open = &mut self.open[slot];
        if open.buffered == 0 {
            return Ok(());
        }
        open.body.extend_from_slice(CHUNK_TAIL);
        let first = open.seen - open.buffered;
        let result = self.api.chunk(&open.session, &open.body).with_context(|| {
            format!(
                "sending {} objects {first}..{} of the snapshot",
                type_label(&open.resource_type),
                open.seen
            )
        });
        open.body.truncate(CHUNK_HEAD.len());
        open.buffered = 0;
        self.chunks += 1;
        result
    }

    /// `read 12000 objects (pods: 8000, …) in 1.2s`
    fn progress(&self, verb: &str) -> String {
        let per_type: Vec<String> = self
            .counts
            .iter()
            .map(|(label, n)| format!("{label}: {n}"))
            .collect();
        let per_type = if per_type.is_empty() {
            String::new()
        } else {
            format!(" ({})", per_type.join(", "))
        };
        format!(
            "{verb} {} objects{per_type} in {:.1}s",
            self.objects,
            self.started.elapsed().as_secs_f64()
        )
    }
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

    /// Records the calls a push makes; can fail the n-th chunk.
    #[derive(Default)]
    struct Recorder {
        calls: Vec<String>,
        chunks: Vec<(String, Vec<Value>, usize)>,
        fail_chunk: Option<usize>,
        sessions: Vec<ResourceType>,
    }

    impl SnapshotApi for Recorder {
        fn begin(&mut self, request: &BeginSnapshot) -> Result<String> {
            assert_eq!(request.resource_types.len(), 1);
            assert_eq!(
                request.agent_version.as_deref(),
                Some(env!("CARGO_PKG_VERSION"))
            );
            self.sessions.push(request.resource_types[0].clone());
            let id = format!("s{}", self.sessions.len());
            self.calls
                .push(format!("begin {}", request.resource_types[0].resource));
            Ok(id)
        }
        fn chunk(&mut self, session: &str, body: &[u8]) -> Result<()> {
            let chunk: Chunk<Value> = serde_json::from_slice(body).expect("a valid Chunk");
            self.calls
                .push(format!("chunk {session} {}", chunk.items.len()));
            self.chunks
                .push((session.to_owned(), chunk.items, body.len()));
            if self.fail_chunk == Some(self.chunks.len()) {
                bail!("refused (HTTP 422 Invalid)");
            }
            Ok(())
        }
        fn commit(&mut self, session: &str) -> Result<CommitResult> {
            self.calls.push(format!("commit {session}"));
            let n: usize = session[1..].parse().unwrap();
            let count = self
                .chunks
                .iter()
                .filter(|c| c.0 == session)
                .map(|c| c.1.len() as u64)
                .sum();
            Ok(CommitResult {
                replaced: vec![TypeCount {
                    resource_type: self.sessions[n - 1].clone(),
                    count,
                }],
            })
        }
        fn abort(&mut self, session: &str) -> Result<()> {
            self.calls.push(format!("abort {session}"));
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
    fn groups_by_type_begins_lazily_and_commits_at_the_end() {
        let items = vec![
            pod("a", "p1", 0),
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"a","uid":"ud"}}),
            pod("b", "p2", 0),
            json!({"apiVersion":"v1","kind":"Node","metadata":{"name":"n","uid":"un"}}),
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"a","uid":"us"},"data":{"k":"c2VjcmV0"}}),
        ];
        let mut api = Recorder::default();
        let summary = push(&mut api, &list(items)[..], &opts(DEFAULT_CHUNK_BYTES)).unwrap();
        assert_eq!(
            api.calls,
            [
                "begin pods",
                "begin deployments",
                "begin nodes",
                "begin secrets",
                "chunk s1 2",
                "chunk s2 1",
                "chunk s3 1",
                "chunk s4 1",
                "commit s1",
                "commit s2",
                "commit s3",
                "commit s4",
            ]
        );
        assert_eq!(api.sessions[1].group, "apps");
        assert!(!api.sessions[2].namespaced);
        assert_eq!(summary.objects, 5);
        assert_eq!(summary.replaced.len(), 4);
        assert_eq!(summary.replaced[0].count, 2);
        // Stripped on the way: no managedFields, no secret data.
        assert!(api.chunks[0].1[0]["metadata"]
            .get("managedFields")
            .is_none());
        assert!(api.chunks[3].1[0].get("data").is_none());
    }

    #[test]
    fn chunks_stay_under_the_size_and_keep_every_object_once() {
        let items: Vec<Value> = (0..50).map(|i| pod("ns", &format!("p{i}"), 300)).collect();
        let mut api = Recorder::default();
        let limit = 2_000;
        let summary = push(&mut api, &list(items)[..], &opts(limit)).unwrap();
        assert!(api.chunks.len() > 5, "{} chunks", api.chunks.len());
        assert_eq!(summary.chunks, api.chunks.len());
        for (_, items, size) in &api.chunks {
            assert!(*size <= limit, "a chunk of {size} bytes");
            assert!(!items.is_empty());
        }
        let names: Vec<String> = api
            .chunks
            .iter()
            .flat_map(|c| c.1.iter())
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
            .collect();
        let want: Vec<String> = (0..50).map(|i| format!("p{i}")).collect();
        assert_eq!(names, want);
        assert_eq!(api.sessions.len(), 1, "one session for one type");
    }

    #[test]
    fn an_object_larger_than_the_chunk_size_goes_alone() {
        let items = vec![
            pod("ns", "small", 10),
            pod("ns", "big", 5_000),
            pod("ns", "tail", 10),
        ];
        let mut api = Recorder::default();
        push(&mut api, &list(items)[..], &opts(1_000)).unwrap();
        let sizes: Vec<usize> = api.chunks.iter().map(|c| c.1.len()).collect();
        assert_eq!(sizes, [1, 1, 1]);
        assert_eq!(api.chunks[1].1[0]["metadata"]["name"], "big");
    }

    #[test]
    fn an_object_larger_than_a_request_is_an_error_naming_it() {
        let items = vec![pod("ns", "ok", 0), pod("ns", "huge", MAX_BODY_BYTES)];
        let mut api = Recorder::default();
        let err = push(&mut api, &list(items)[..], &opts(DEFAULT_CHUNK_BYTES)).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("item 1 (Pod ns/huge)"), "{text}");
        assert_eq!(api.calls, ["begin pods", "abort s1"]);
    }

    #[test]
    fn a_failing_chunk_aborts_every_open_session_and_commits_none() {
        let items = vec![
            pod("a", "p1", 0),
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"a","uid":"uc"}}),
            pod("a", "p2", 0),
        ];
        let mut api = Recorder {
            fail_chunk: Some(2),
            ..Default::default()
        };
        let err = push(&mut api, &list(items)[..], &opts(DEFAULT_CHUNK_BYTES)).unwrap_err();
        assert!(format!("{err:#}").contains("configmaps"), "{err:#}");
        assert_eq!(
            api.calls,
            [
                "begin pods",
                "begin configmaps",
                "chunk s1 2",
                "chunk s2 1",
                "abort s1",
                "abort s2"
            ]
        );
    }

    #[test]
    fn a_bad_item_aborts_what_began_before_it() {
        let input = br#"{"kind":"List","items":[
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"d","uid":"1"}},
            {"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"d","uid":"2"}}]}"#;
        let mut api = Recorder::default();
        let err = push(&mut api, &input[..], &opts(DEFAULT_CHUNK_BYTES)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "item 1 (Pod without a name): missing metadata.name"
        );
        assert_eq!(api.calls, ["begin pods", "abort s1"]);
    }

    #[test]
    fn an_empty_list_sends_nothing() {
        let mut api = Recorder::default();
        let summary = push(&mut api, &list(vec![])[..], &opts(DEFAULT_CHUNK_BYTES)).unwrap();
        assert_eq!(summary.objects, 0);
        assert!(api.calls.is_empty());
    }

    #[test]
    fn chunk_size_must_fit_a_request() {
        let mut api = Recorder::default();
        assert!(Pusher::new(&mut api, &opts(0)).is_err());
        assert!(Pusher::new(&mut api, &opts(MAX_BODY_BYTES)).is_err());
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
        let mut api = Recorder::default();
        let o = opts(DEFAULT_CHUNK_BYTES);
        let mut p = Pusher::new(&mut api, &o).unwrap();
        p.add(0, pod("a", "x", 0).to_string().as_bytes()).unwrap();
        p.add(1, pod("a", "y", 0).to_string().as_bytes()).unwrap();
        let job = json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j","namespace":"a","uid":"uj"}});
        p.add(2, job.to_string().as_bytes()).unwrap();
        let line = p.progress("pushed");
        assert!(
            line.starts_with("pushed 3 objects (pods: 2, jobs.batch: 1) in "),
            "{line}"
        );
    }
}
