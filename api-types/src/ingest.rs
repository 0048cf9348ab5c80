//! Wire types of the ingest API (DESIGN §6). Paths, all under [`PREFIX`], all `POST` with JSON
//! bodies of at most [`MAX_BODY_BYTES`] and a token with `inventory:write` for the cluster:
//!
//! | path | body | answer |
//! |---|---|---|
//! | `clusters/{c}/snapshots` | [`BeginSnapshot`] | 201 [`SnapshotSession`] |
//! | `clusters/{c}/snapshots/{id}/chunks` | [`Chunk`] | 200 [`ChunkAccepted`] |
//! | `clusters/{c}/snapshots/{id}/commit` | none | 200 [`CommitResult`] |
//! | `clusters/{c}/snapshots/{id}` (`DELETE`) | none | 200 `Status` Success |
//! | `clusters/{c}/events` | [`WatchEvents`] | 200 [`EventsApplied`] |
//!
//! A snapshot replaces, atomically at commit, everything stored for the cluster and the
//! session's resource types; a session that is never committed changes nothing and expires
//! after [`SESSION_TTL_SECONDS`].

use crate::catalog::ResourceType;
use serde::{Deserialize, Serialize};

pub const PREFIX: &str = "/ingest/v1";

/// Largest accepted request body. Hosted Spin platforms cap bodies near 10 MiB.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Largest accepted object, as pushed: etcd refuses anything above 1.5 MiB, so no real
/// Kubernetes object is bigger.
pub const MAX_OBJECT_BYTES: usize = 1536 * 1024;

/// Deepest accepted nesting of arrays and objects anywhere in an object. SQLite's JSON
/// functions fail at depth 1000 and serde_json at 128; real objects stay far below 64
/// (large CRD schemas reach about 30).
pub const MAX_OBJECT_DEPTH: usize = 64;

/// How long an uncommitted snapshot session lives after its last chunk.
pub const SESSION_TTL_SECONDS: i64 = 15 * 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BeginSnapshot {
    pub resource_types: Vec<ResourceType>,
    #[serde(default)]
    pub agent_version: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotSession {
    pub session: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Objects of a snapshot; each must be of one of the session's resource types.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Chunk<T = Box<serde_json::value::RawValue>> {
    pub items: Vec<T>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkAccepted {
    pub accepted: u64,
    /// Objects staged in the session so far.
    pub staged: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitResult {
    pub replaced: Vec<TypeCount>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeCount {
    pub resource_type: ResourceType,
    pub count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One watch event. `resource` is the plural name; group, version and kind come from the
/// object's own `apiVersion` and `kind`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WatchEvent<T = Box<serde_json::value::RawValue>> {
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub resource: String,
    pub object: T,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WatchEvents<T = Box<serde_json::value::RawValue>> {
    pub events: Vec<WatchEvent<T>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsApplied {
    pub applied: u64,
    /// Events older than (or equal to) what is stored: replays of the same uid and
    /// resourceVersion change nothing.
    pub skipped: u64,
}
