//! The change feed reader (DESIGN §3.1): `GET /apis/clusterpedia.io/v1beta1/changes`. A short
//! poll, never a held-open watch, so edge request limits never bite: each page says where the
//! next one resumes (`metadata.continue`, also on an empty page). Claims and filters go into
//! the same SQL predicate as lists (`plan::Predicate`), so the feed never shows more than a
//! list would.

use crate::auth::{Principal, Scope};
use crate::error::{ApiError, ApiResult};
use crate::params::{comma_list, extend_capped, parse_clusters, parse_unix_time};
use crate::plan::{Column, Predicate};
use crate::response::{fill_chunk, Body};
use crate::store::{Row, SqlValue, Store};
use edgepedia_api::ClusterName;

pub const DEFAULT_LIMIT: u64 = 500;
/// Largest page: a page is built in memory, so its size is bounded.
pub const MAX_LIMIT: u64 = 1000;
/// Room for one item's fields besides its object (type, names, uid, time: ≈250 bytes).
const HEADER_RESERVE: usize = 320;
/// One item of a `ChangeList` without its object (spliced in after it as stored text), built
/// by SQLite: one cell a change instead of nine, each of which Spin would copy into the
/// component on its own.
const ITEM_HEADER: &str =
    "json_object('type', p.type, 'cluster', p.cluster, 'group', p.api_group, \
     'version', p.version, 'resource', p.resource, 'namespace', p.namespace, 'name', p.name, \
     'uid', p.uid, 'changedAt', strftime('%Y-%m-%dT%H:%M:%SZ', p.changed_at, 'unixepoch'))";
/// The feed's head, over `change_feed`: the newest seq recorded, or — when retention has
/// pruned every change — the newest pruned one, so cursors handed out before stay valid.
const HEAD: &str = "max((SELECT coalesce(max(seq), 0) FROM changes), pruned_seq)";

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Since {
    /// The oldest change still retained.
    Oldest,
    /// Just after a position a previous page returned.
    Cursor(Cursor),
    /// The first change at or after this unix time.
    Time(i64),
}

/// A position in one database's feed: the feed's epoch (so a cursor from another or a reset
/// database is refused, not misread) and the seq of the last change seen. Written
/// `<epoch>.<seq>`: eight hex digits, a dot, a decimal; never mistaken for a time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    epoch: String,
    seq: i64,
}

impl Cursor {
    fn parse(value: &str) -> Option<Self> {
        let (epoch, seq) = value.split_once('.')?;
        let hex = |s: &str| s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit());
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
        (hex(epoch) && digits(seq)).then(|| Self {
            epoch: epoch.to_ascii_lowercase(),
            seq: seq.parse().unwrap_or_default(),
        })
    }

    fn render(&self) -> String {
        format!("{}.{}", self.epoch, self.seq)
    }
}

/// The feed's query parameters, validated.
#[derive(Debug, Default)]
struct ChangeQuery {
    since: Option<Since>,
    limit: Option<u64>,
    clusters: Vec<ClusterName>,
    namespaces: Vec<String>,
    /// (group, resource) pairs; the version in `group/version/resource` is checked, not matched.
    resources: Vec<(String, String)>,
}

impl ChangeQuery {
    fn parse(query: &str) -> ApiResult<Self> {
        let mut q = ChangeQuery::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "since" | "continue" if !value.is_empty() => {
                    if q.since.is_some() {
                        return Err(ApiError::bad_request(
                            "since: give one starting point (since or continue, once)",
                        ));
                    }
                    q.since = Some(parse_since(&key, &value)?);
                }
                "limit" => q.limit = Some(parse_limit(&value)?),
                "clusters" => extend_capped("clusters", &mut q.clusters, parse_clusters(&value)?)?,
                "namespaces" => extend_capped("namespaces", &mut q.namespaces, comma_list(&value))?,
                "resources" => {
                    let resources = comma_list(&value)
                        .iter()
                        .map(|r| parse_resource(r))
                        .collect::<ApiResult<Vec<_>>>()?;
                    extend_capped("resources", &mut q.resources, resources)?
                }
                // As on lists: parameters we have no use for are ignored.
                _ => {}
            }
        }
        Ok(q)
    }
}

fn parse_since(name: &str, value: &str) -> ApiResult<Since> {
    if let Some(cursor) = Cursor::parse(value) {
        return Ok(Since::Cursor(cursor));
    }
    if name == "continue" {
        return Err(ApiError::bad_request(format!(
            "continue: {value:?} is not a change-feed cursor; use the metadata.continue of a previous page"
        )));
    }
    parse_unix_time(name, value).map(Since::Time).map_err(|_| {
        ApiError::bad_request(format!(
            "since: {value:?} is neither a change-feed cursor (metadata.continue of a previous page) \
             nor a time (RFC 3339, YYYY-MM-DD, unix seconds or milliseconds)"
        ))
    })
}

fn parse_limit(value: &str) -> ApiResult<u64> {
    match value.parse::<u64>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "limit: {value:?} is not a page size from 1 to {MAX_LIMIT}"
        ))),
    }
}

/// `apps/v1/deployments` → (`apps`, `deployments`); `v1/pods` (or `/v1/pods`) is the core group.
fn parse_resource(value: &str) -> ApiResult<(String, String)> {
    let parts: Vec<&str> = value.split('/').collect();
    let (group, version, resource) = match parts.as_slice() {
        [version, resource] => ("", *version, *resource),
        [group, version, resource] => (*group, *version, *resource),
        _ => ("", "", ""),
    };
    let label = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
    };
    if !(group.is_empty() || label(group)) || !label(version) || !label(resource) {
        return Err(ApiError::bad_request(format!(
            "resources: {value:?} is not <group>/<version>/<resource> (e.g. apps/v1/deployments, v1/pods)"
        )));
    }
    Ok((group.to_owned(), resource.to_owned()))
}

pub fn handle(store: &dyn Store, principal: &Principal, query: &str) -> ApiResult<Body<'static>> {
    principal.require(Scope::Read)?;
    let q = ChangeQuery::parse(query)?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    let mut filter = Predicate::default();
    filter.authorized_for(principal);
    if !q.clusters.is_empty() {
        filter.any_of(Column::Cluster, q.clusters.iter().map(ClusterName::as_str));
    }
    if !q.namespaces.is_empty() {
        filter.any_of(Column::Namespace, q.namespaces.iter().map(String::as_str));
    }
    if !q.resources.is_empty() {
        filter.group_resources(&q.resources);
    }
    let since = q.since.unwrap_or(Since::Oldest);
    let (start, mut params): (String, Vec<SqlValue>) = match &since {
        Since::Oldest => ("0".into(), vec![]),
        Since::Cursor(c) => ("?".into(), vec![c.seq.into()]),
        Since::Time(t) => (
            format!(
                "coalesce((SELECT min(seq) FROM changes WHERE changed_at >= ?) - 1, \
             (SELECT {HEAD} FROM change_feed))"
            ),
            vec![(*t).into()],
        ),
    };
    params.extend_from_slice(filter.params());
    params.push((limit as i64).into());
    // One statement, so the page and the feed's head come from one consistent snapshot: a
    // change committed meanwhile is after the head, and the next poll sees it. The changes
    // are a subquery (the predicate names their columns bare, and `objects` has the same
    // names) that SQLite flattens into the join, so rows come out in `seq` order from the
    // rowid range itself: no temp B-tree sorting the page with its objects.
    let sql = format!(
        "WITH start AS (SELECT {start} AS seq) \
         SELECT f.epoch, f.pruned_seq, f.pruned_before, {HEAD}, \
           (SELECT seq FROM start), p.seq, {ITEM_HEADER}, CASE WHEN p.type <> 'DELETED' THEN o.object END \
         FROM change_feed f \
         LEFT JOIN (SELECT * FROM changes WHERE seq > (SELECT seq FROM start) AND {}) p \
         LEFT JOIN objects o ON o.api_group = p.api_group \
           AND o.resource = p.resource AND o.cluster = p.cluster AND o.namespace = p.namespace \
           AND o.name = p.name AND o.uid = p.uid AND {} \
         WHERE f.id = 1 ORDER BY p.seq LIMIT ?",
        filter.where_sql(),
        crate::live_rows::live_as("o")
    );
    let rows = store.query(&sql, &params)?;
    let first = rows.first().ok_or_else(|| {
        eprintln!("edgepedia: the change_feed row is missing");
        ApiError::internal()
    })?;
    let int = |row: &[SqlValue], i: usize| row.get(i).and_then(SqlValue::as_i64).unwrap_or(0);
    let epoch = first
        .first()
        .and_then(SqlValue::as_str)
        .unwrap_or_default()
        .to_owned();
    let (pruned_seq, pruned_before, head, start_seq) =
        (int(first, 1), int(first, 2), int(first, 3), int(first, 4));
    check_retained(&since, &epoch, pruned_seq, pruned_before, head)?;

    let seq_of = |row: &Row| row.get(5).and_then(SqlValue::as_i64);
    let mut page = rows;
    page.retain(|row| seq_of(row).is_some());
    if page.iter().any(|row| header_of(row).is_none()) {
        eprintln!("edgepedia: a change without its header");
        return Err(ApiError::internal());
    }
    // A full page resumes after its last item; a short one has seen everything up to the head.
    let resume = match page.last().and_then(seq_of) {
        Some(seq) if page.len() as u64 == limit => seq,
        _ => head.max(start_seq),
    };
    let cursor = Cursor { epoch, seq: resume };
    let head = format!(
        "{{\"kind\":\"ChangeList\",\"apiVersion\":\"clusterpedia.io/v1beta1\",\"metadata\":{{\"continue\":\"{}\"}},\"items\":[",
        cursor.render()
    )
    .into_bytes();
    // Items go out in chunks, each change freed once written, as a list's do.
    let mut page = page.into_iter();
    let mut started = Some(head);
    let mut first_item = true;
    Ok(Body::Stream(Box::new(std::iter::from_fn(move || {
        let mut out = started.take()?;
        let full = fill_chunk(
            &mut out,
            &mut page,
            |row| object_of(row).map_or(0, str::len) + HEADER_RESERVE,
            |out, row| {
                if !std::mem::take(&mut first_item) {
                    out.push(b',');
                }
                out.extend_from_slice(header_of(&row).unwrap_or_default().as_bytes());
                if let Some(object) = object_of(&row) {
                    out.pop(); // the header's closing brace
                    out.extend_from_slice(b",\"object\":");
                    out.extend_from_slice(object.as_bytes());
                    out.push(b'}');
                }
            },
        );
        if full {
            started = Some(Vec::new());
        } else {
            out.extend_from_slice(b"]}");
        }
        Some(Ok(out))
    }))))
}

/// A page row's item without its object: `{"type":…,…}`, built by SQLite.
fn header_of(row: &Row) -> Option<&str> {
    row.get(6).and_then(SqlValue::as_str)
}

/// The stored object of a page row (none for a DELETED change).
fn object_of(row: &Row) -> Option<&str> {
    row.get(7).and_then(SqlValue::as_str)
}

/// 410 `Expired` when retention (or a reset of the database) lost changes the caller has not
/// seen: it must start again, from a time or from the oldest retained change.
fn check_retained(
    since: &Since,
    epoch: &str,
    pruned_seq: i64,
    pruned_before: i64,
    head: i64,
) -> ApiResult<()> {
    let expired = |why: &str| {
        ApiError::expired(format!(
            "since: {why}; start again with since=<time> or without since (the oldest retained change)"
        ))
    };
    match since {
        Since::Oldest => Ok(()),
        Since::Cursor(c) if c.epoch != epoch => Err(expired(
            "the cursor belongs to another (or a reset) change feed",
        )),
        Since::Cursor(c) if c.seq > head => Err(expired("the cursor is ahead of this change feed")),
        Since::Cursor(c) if c.seq < pruned_seq => Err(expired(
            "the cursor is older than the change feed's retention",
        )),
        Since::Time(t) if *t < pruned_before => Err(expired(&format!(
            "{} is older than the change feed's retention",
            crate::clock::rfc3339(*t)
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_and_times_are_told_apart() {
        assert_eq!(
            parse_since("since", "0a1b2c3d.42").unwrap(),
            Since::Cursor(Cursor {
                epoch: "0a1b2c3d".into(),
                seq: 42
            })
        );
        assert_eq!(
            parse_since("since", "1700000000").unwrap(),
            Since::Time(1_700_000_000)
        );
        assert_eq!(
            parse_since("since", "2026-12-01T00:00:00Z").unwrap(),
            Since::Time(1_796_083_200)
        );
        for bad in [
            "0a1b2c3d.",
            "0a1b2c3.4",
            "zzzzzzzz.1",
            "0a1b2c3d.-1",
            "yesterday",
            "0a1b2c3d.1.2",
        ] {
            assert_eq!(parse_since("since", bad).unwrap_err().code, 400, "{bad}");
        }
        assert_eq!(parse_since("continue", "1700000000").unwrap_err().code, 400);
    }

    #[test]
    fn resources_name_group_version_resource() {
        assert_eq!(
            parse_resource("apps/v1/deployments").unwrap(),
            ("apps".into(), "deployments".into())
        );
        assert_eq!(
            parse_resource("v1/pods").unwrap(),
            ("".into(), "pods".into())
        );
        assert_eq!(
            parse_resource("/v1/pods").unwrap(),
            ("".into(), "pods".into())
        );
        for bad in [
            "pods",
            "apps/v1/Deployments",
            "a/b/c/d",
            "apps//deployments",
            "apps/v1/",
        ] {
            assert_eq!(parse_resource(bad).unwrap_err().code, 400, "{bad}");
        }
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(parse_limit("1").unwrap(), 1);
        assert_eq!(parse_limit("1000").unwrap(), MAX_LIMIT);
        for bad in ["0", "1001", "-1", "x"] {
            assert_eq!(parse_limit(bad).unwrap_err().code, 400, "{bad}");
        }
    }
}
