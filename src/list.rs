//! Executes a [`ListPlan`]: pages with `limit`/`continue`, counts when asked, and streams
//! unpaged or large lists in internal keyset pages so memory stays bounded by one page.

use crate::error::{retry_transient, ApiError, ApiResult};
use crate::paging::{Continue, ContinueKey, Cursor};
use crate::plan::{decode_key, ListPlan, SqlPlan};
use crate::render::list::{ListMeta, ListWriter};
use crate::render::table::{IncludeObject, TableWriter};
use crate::response::{fill_chunk, Body};
use crate::store::{Row, SqlValue, Store};

/// Rows read per statement. Spin's SQLite API returns whole result sets, so this bounds the
/// guest memory a list needs whatever its size.
pub const INTERNAL_PAGE: u64 = 500;

/// The envelope around the items.
pub struct ListShape {
    /// `PodList`, …
    pub kind: String,
    pub api_version: String,
    /// Extra top-level fields written before `items` (`"resourceTypes":[…],`).
    pub preamble: String,
    /// `metadata.name`, for named lists (collections).
    pub name: Option<String>,
    /// Answer a `meta.k8s.io/v1` Table (kubectl) instead of the list.
    pub table: Option<TableSpec>,
}

/// The kind whose columns a Table shows, and what each row embeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub group: String,
    pub kind: String,
    pub include: IncludeObject,
}

impl ListShape {
    pub fn new(kind: impl Into<String>, api_version: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            api_version: api_version.into(),
            preamble: String::new(),
            name: None,
            table: None,
        }
    }

    fn head(&self, metadata: Option<&ListMeta>, now: i64) -> (ItemWriter, Vec<u8>) {
        match &self.table {
            Some(t) => {
                let (w, out) = TableWriter::head(&t.group, &t.kind, t.include, now, metadata);
                (ItemWriter::Table(w), out)
            }
            None => {
                let (w, out) =
                    ListWriter::head(&self.kind, &self.api_version, &self.preamble, metadata);
                (ItemWriter::List(w), out)
            }
        }
    }
}

/// Writes items as list entries or as table rows.
pub enum ItemWriter {
    List(ListWriter),
    Table(TableWriter),
}

impl ItemWriter {
    /// Writes the next chunk's worth of `objects` ([`fill_chunk`]).
    fn fill(&mut self, out: &mut Vec<u8>, objects: &mut std::vec::IntoIter<String>) -> bool {
        fill_chunk(
            out,
            objects,
            |o| o.len() + 1,
            |out, object| match self {
                ItemWriter::List(w) => w.item(out, object.as_bytes()),
                ItemWriter::Table(w) => w.row(out, &object),
            },
        )
    }

    pub fn tail(self, out: &mut Vec<u8>, metadata: &ListMeta) {
        match self {
            ItemWriter::List(w) => w.tail(out, metadata),
            ItemWriter::Table(w) => w.tail(out, metadata),
        }
    }
}

pub struct ListRequest {
    pub plan: ListPlan,
    pub shape: ListShape,
    pub limit: Option<u64>,
    pub continue_from: Option<Continue>,
    pub with_continue: Option<bool>,
    pub with_remaining_count: bool,
    pub now: i64,
}

/// Where the next statement starts.
#[derive(Clone)]
struct Position {
    after: Option<Vec<SqlValue>>,
    /// Only for the seed's numeric `continue`, and only on the first statement.
    offset: u64,
}

pub fn run<'s>(store: &'s dyn Store, req: ListRequest) -> ApiResult<Body<'s>> {
    let fingerprint = req.plan.fingerprint();
    let (mut position, signing_key) = match &req.continue_from {
        None => (
            Position {
                after: None,
                offset: 0,
            },
            None,
        ),
        Some(Continue::Offset(offset)) => (
            Position {
                after: None,
                offset: *offset,
            },
            None,
        ),
        Some(Continue::After(signed)) => {
            let key = ContinueKey::load(store)?;
            let cursor = signed.open(&key)?;
            cursor.check(fingerprint, req.plan.order.len(), req.now)?;
            (
                Position {
                    after: Some(cursor.key),
                    offset: 0,
                },
                Some(key),
            )
        }
    };
    let mut pager = Pager {
        store,
        remaining_wanted: req.limit,
        served: 0,
        more: false,
        key_len: req.plan.order.len(),
        req,
        fingerprint,
        signing_key,
    };
    // A list read by more than one statement is one snapshot all the same (as Kubernetes
    // lists are): a read transaction spans its pages, so an ingest committed meanwhile is
    // either wholly in it or not at all. In WAL mode it does not hold up writers. Most lists
    // fit their first statement and need no transaction; one that does not is read again
    // from its start inside one. That spares the common list a BEGIN and a COMMIT, two round
    // trips to the host (≈0.3–0.45 ms a request on a new connection, as on Spin), for one
    // page read twice in a list of several.
    let start = position.clone();
    let mut first = pager.fetch(&mut position)?;
    let snapshot = !pager.complete();
    if snapshot {
        store.execute("BEGIN", &[])?;
        first.clear();
        pager.restart();
        position = start;
        first = pager
            .fetch(&mut position)
            .inspect_err(|_| end_snapshot(store))?;
    }
    // A list its first statement got whole has its metadata in the head, where Kubernetes
    // puts it; a longer one has it after the items.
    let head_meta = if pager.complete() {
        let meta = pager.metadata(&position);
        if snapshot {
            end_snapshot(store);
        }
        Some(meta?)
    } else {
        None
    };
    let (writer, head) = pager.req.shape.head(head_meta.as_ref(), pager.req.now);
    Ok(Body::Stream(Box::new(Chunks {
        pager,
        position,
        snapshot: snapshot && head_meta.is_none(),
        writer: Some(writer),
        started: head,
        pending: first.into_iter(),
        head_meta,
    })))
}

/// A list's body, chunk by chunk: the objects fetched so far, then the next statement's.
struct Chunks<'s> {
    pager: Pager<'s>,
    position: Position,
    /// A read transaction to end after the last statement.
    snapshot: bool,
    /// `None` once the tail is out or after an error.
    writer: Option<ItemWriter>,
    /// The start of the next chunk: the head, before the first.
    started: Vec<u8>,
    /// Fetched objects not written yet.
    pending: std::vec::IntoIter<String>,
    /// The metadata, when the head carried it.
    head_meta: Option<ListMeta>,
}

impl Iterator for Chunks<'_> {
    type Item = ApiResult<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let writer = self.writer.as_mut()?;
        let mut out = std::mem::take(&mut self.started);
        loop {
            if writer.fill(&mut out, &mut self.pending) {
                return Some(Ok(out));
            }
            if self.pager.complete() {
                break;
            }
            match retry_transient(self.pager.store, || self.pager.fetch(&mut self.position)) {
                Ok(objects) => self.pending = objects.into_iter(),
                Err(e) => {
                    self.writer = None;
                    return Some(Err(e));
                }
            }
        }
        let meta = match self.head_meta.take() {
            Some(meta) => Ok(meta),
            None => self.pager.metadata(&self.position),
        };
        if self.snapshot {
            end_snapshot(self.pager.store);
        }
        let writer = self.writer.take()?;
        Some(meta.map(|meta| {
            writer.tail(&mut out, &meta);
            out
        }))
    }
}

/// Ends a list's read transaction. It wrote nothing, so a failure changes nothing: after a
/// transient error the rest of the list was read on a new connection (`Store::reconnect`),
/// which has no transaction to end, and a list abandoned mid-way ends it by closing.
fn end_snapshot(store: &dyn Store) {
    let _ = store.execute("COMMIT", &[]);
}

struct Pager<'s> {
    store: &'s dyn Store,
    req: ListRequest,
    fingerprint: u64,
    key_len: usize,
    /// The key that opened the caller's cursor, kept to sign the next one (one statement
    /// fewer on every page after the first).
    signing_key: Option<ContinueKey>,
    /// Rows still owed to the caller's `limit`; `None` when unpaged.
    remaining_wanted: Option<u64>,
    served: u64,
    /// Whether rows exist beyond those served so far.
    more: bool,
}

impl Pager<'_> {
    /// Whether what was fetched is all the caller gets.
    fn complete(&self) -> bool {
        !self.more || self.remaining_wanted == Some(0)
    }

    /// Back to before the first fetch.
    fn restart(&mut self) {
        self.remaining_wanted = self.req.limit;
        self.served = 0;
        self.more = false;
    }

    /// Reads the next internal page (one extra row tells whether more exist) and advances.
    fn fetch(&mut self, position: &mut Position) -> ApiResult<Vec<String>> {
        let want = self
            .remaining_wanted
            .map_or(INTERNAL_PAGE, |r| r.min(INTERNAL_PAGE));
        let SqlPlan { sql, params } =
            self.req
                .plan
                .page(position.after.as_deref(), position.offset, want + 1);
        let mut rows: Vec<Row> = self.store.query(&sql, &params)?;
        self.more = rows.len() as u64 > want;
        rows.truncate(want as usize);
        let served_now = rows.len() as u64;
        self.served += served_now;
        if let Some(r) = self.remaining_wanted.as_mut() {
            *r -= served_now;
        }
        if let Some(last) = rows.last() {
            let key = last.first().and_then(decode_key);
            if key.as_ref().map(Vec::len) != Some(self.key_len) {
                eprintln!("edgepedia: a page row's sort key did not decode");
                return Err(ApiError::internal());
            }
            position.after = key;
            position.offset = 0;
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .nth(1)
                    .and_then(SqlValue::into_string)
                    .unwrap_or_default()
            })
            .collect())
    }

    fn metadata(&self, position: &Position) -> ApiResult<ListMeta> {
        let continue_token = if self.more && self.req.with_continue != Some(false) {
            Some(match &self.req.continue_from {
                Some(Continue::Offset(start)) => (start + self.served).to_string(),
                _ => {
                    let loaded;
                    let key = match &self.signing_key {
                        Some(key) => key,
                        None => {
                            loaded = ContinueKey::load(self.store)?;
                            &loaded
                        }
                    };
                    Cursor {
                        key: position.after.clone().unwrap_or_default(),
                        fingerprint: self.fingerprint,
                        issued_at: self.req.now,
                    }
                    .encode(key)
                }
            })
        } else {
            None
        };
        let remaining_item_count = if self.req.with_remaining_count {
            Some(if self.more {
                self.count_after(position)?
            } else {
                0
            })
        } else {
            None
        };
        Ok(ListMeta {
            name: self.req.shape.name.clone(),
            continue_token,
            remaining_item_count,
        })
    }

    fn count_after(&self, position: &Position) -> ApiResult<u64> {
        let plan = match &position.after {
            Some(key) => self.req.plan.count_after(Some(key)),
            // Nothing served yet (an offset past the end); count what the offset skips to.
            None => self.req.plan.count_after(None),
        };
        let rows = self.store.query(&plan.sql, &plan.params)?;
        let total = rows
            .first()
            .and_then(|r| r.first())
            .and_then(SqlValue::as_i64)
            .unwrap_or(0) as u64;
        Ok(if position.after.is_some() {
            total
        } else {
            total.saturating_sub(position.offset)
        })
    }
}
