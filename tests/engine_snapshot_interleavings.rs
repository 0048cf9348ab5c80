//! Write-once snapshots (DESIGN §9.1, src/live_rows.rs) when things interleave: concurrent
//! sessions, retries, aborts, expiry, deltas during a session and garbage collection, through
//! `engine::handle` on real SQLite. Besides what is listed, the feed is checked to replay to
//! exactly the live objects, and no name is ever live twice.

mod common;

use common::*;
use edgepedia::engine::{handle, Request, RequestBody};
use edgepedia::route::Method;
use edgepedia::store::Store;
use edgepedia_api::ingest::SESSION_TTL_SECONDS;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";

fn types_json(types: &[&str]) -> Value {
    Value::Array(
        types
            .iter()
            .map(|t| match *t {
                "pods" => json!({"group":"","version":"v1","resource":"pods","kind":"Pod","namespaced":true}),
                "configmaps" => json!({"group":"","version":"v1","resource":"configmaps","kind":"ConfigMap","namespaced":true}),
                other => panic!("{other}"),
            })
            .collect(),
    )
}

/// One request at time `now` (the harness's `send` is fixed at NOW).
fn call_at(
    h: &Harness,
    now: i64,
    method: Method,
    target: &str,
    token: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let auth = format!("Bearer {token}");
    let response = handle(
        &h.store,
        &Vars,
        Request {
            method,
            path,
            query,
            authorization: Some(&auth),
            accept: None,
            body: RequestBody::Bytes(body),
        },
        now,
    );
    let status = response.status;
    let bytes = response.collect().unwrap();
    (
        status,
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{target}: {e}: {}", String::from_utf8_lossy(&bytes))),
    )
}

fn begin_types(h: &Harness, cluster: &str, token: &str, types: &[&str]) -> String {
    let (s, session) = h.call(
        Method::Post,
        &format!("/ingest/v1/clusters/{cluster}/snapshots"),
        Some(token),
        serde_json::to_vec(&json!({"resourceTypes": types_json(types)})).unwrap(),
    );
    assert_eq!(s, 201, "{session}");
    session["session"].as_str().unwrap().to_owned()
}

fn begin(h: &Harness, cluster: &str, token: &str) -> String {
    begin_types(h, cluster, token, &["pods"])
}

fn send_chunk(h: &Harness, cluster: &str, id: &str, token: &str, items: &[Value]) -> (u16, Value) {
    h.call(
        Method::Post,
        &format!("/ingest/v1/clusters/{cluster}/snapshots/{id}/chunks"),
        Some(token),
        serde_json::to_vec(&json!({ "items": items })).unwrap(),
    )
}

fn chunk_ok(h: &Harness, cluster: &str, id: &str, token: &str, items: &[Value]) -> Value {
    let (s, r) = send_chunk(h, cluster, id, token, items);
    assert_eq!(s, 200, "{r}");
    r
}

fn commit(h: &Harness, cluster: &str, id: &str, token: &str) -> (u16, Value) {
    h.call(
        Method::Post,
        &format!("/ingest/v1/clusters/{cluster}/snapshots/{id}/commit"),
        Some(token),
        b"null".to_vec(),
    )
}

fn abort(h: &Harness, cluster: &str, id: &str, token: &str) -> u16 {
    h.call(
        Method::Delete,
        &format!("/ingest/v1/clusters/{cluster}/snapshots/{id}"),
        Some(token),
        Vec::new(),
    )
    .0
}

fn events(h: &Harness, cluster: &str, evs: Vec<Value>) -> Value {
    let (s, r) = h.post(
        &format!("/ingest/v1/clusters/{cluster}/events"),
        json!({ "events": evs }),
    );
    assert_eq!(s, 200, "{r}");
    r
}

fn ev(kind: &str, o: Value) -> Value {
    json!({"type": kind, "resource": "pods", "object": o})
}

fn with_uid(mut o: Value, uid: &str) -> Value {
    o["metadata"]["uid"] = json!(uid);
    o
}

fn configmap(ns: &str, name: &str, rv: u64) -> Value {
    json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":ns,"uid":format!("cm-{ns}-{name}"),
        "resourceVersion":rv.to_string()},"data":{"k":"v"}})
}

fn count(h: &Harness, sql: &str) -> i64 {
    h.store.query(sql, &[]).unwrap()[0][0].as_i64().unwrap()
}

/// (namespace/name, resourceVersion) of every pod of `cluster` a list returns, in order.
fn listed(h: &Harness, cluster: &str) -> Vec<(String, String)> {
    let (s, l) = h.get(&format!("{PODS}?clusters={cluster}"));
    assert_eq!(s, 200, "{l}");
    l["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let m = &i["metadata"];
            (
                format!(
                    "{}/{}",
                    m["namespace"].as_str().unwrap(),
                    m["name"].as_str().unwrap()
                ),
                m["resourceVersion"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn expect(items: &[(&str, u64)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(n, rv)| (n.to_string(), rv.to_string()))
        .collect()
}

/// Live rows of `resource` by SQL: (namespace/name, uid, resourceVersion), sorted.
fn live_rows(h: &Harness, resource: &str) -> Vec<(String, String, String)> {
    h.store
        .query(
            &format!(
                "SELECT namespace || '/' || name, uid, coalesce(resource_version, '') FROM objects \
                 WHERE resource = ? AND {} ORDER BY namespace, name",
                edgepedia::live_rows::live()
            ),
            &[resource.into()],
        )
        .unwrap()
        .into_iter()
        .map(|r| {
            let s = |i: usize| r[i].as_str().unwrap().to_owned();
            (s(0), s(1), s(2))
        })
        .collect()
}

/// No name is live twice.
fn assert_no_name_twice(h: &Harness, resource: &str) {
    let rows = live_rows(h, resource);
    let names: BTreeSet<_> = rows.iter().map(|r| r.0.clone()).collect();
    assert_eq!(names.len(), rows.len(), "a name is live twice: {rows:?}");
}

/// The change feed, in order: (type, name, uid, resourceVersion).
fn feed(h: &Harness) -> Vec<(String, String, String, String)> {
    h.store
        .query(
            "SELECT type, name, uid, coalesce(resource_version, '') FROM changes ORDER BY seq",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|r| {
            let s = |i: usize| r[i].as_str().unwrap().to_owned();
            (s(0), s(1), s(2), s(3))
        })
        .collect()
}

fn feed_since(h: &Harness, n: usize) -> Vec<(String, String, String)> {
    feed(h)[n..]
        .iter()
        .map(|(t, n, u, _)| (t.clone(), n.clone(), u.clone()))
        .collect()
}

fn rec(t: &str, name: &str, uid: &str) -> (String, String, String) {
    (t.to_owned(), name.to_owned(), uid.to_owned())
}

/// A consumer replaying the whole feed (ADDED/MODIFIED make a uid present, DELETED absent)
/// ends with exactly the uids that are live.
fn assert_feed_replays_to_live(h: &Harness, resource: &str) {
    let mut present: BTreeMap<String, String> = BTreeMap::new();
    for (t, name, uid, _) in feed(h) {
        match t.as_str() {
            "DELETED" => {
                present.remove(&uid);
            }
            _ => {
                present.insert(uid, name);
            }
        }
    }
    let replayed: BTreeSet<String> = present.into_keys().collect();
    let live: BTreeSet<String> = live_rows(h, resource).into_iter().map(|r| r.1).collect();
    assert_eq!(
        replayed,
        live,
        "the feed replays to other objects than are live: {:?}",
        feed(h)
    );
}

fn collect_all_garbage(h: &Harness) {
    let mut n = 0;
    while count(h, "SELECT count(*) FROM snapshot_garbage") > 0 {
        let (s, r) = h.post("/ingest/v1/clusters/c1/heartbeat", json!({}));
        assert_eq!(s, 200, "{r}");
        n += 1;
        assert!(n < 50, "garbage is not shrinking");
    }
}

fn team_token() -> String {
    use edgepedia::auth::ScopeClaims;
    use jwt_simple::prelude::*;
    let claims = Claims::with_custom_claims(
        ScopeClaims {
            scope: Some("inventory:read inventory:write".into()),
            namespaces: Some(vec!["team".into()]),
            ..Default::default()
        },
        Duration::from_hours(1),
    )
    .with_issuer("edgepedia")
    .with_audience("edgepedia");
    HS256Key::from_bytes(SECRET.as_bytes())
        .authenticate(claims)
        .unwrap()
}

/// The session rewrote x; meanwhile a delta re-created x under a new uid. The commit makes
/// the snapshot's x (uid1) win, so uid2 disappears: the feed must say so.
#[test]
fn commit_records_the_deletion_of_a_delta_recreated_object_it_replaces() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1)], 10);
    let id = begin(&h, "c1", &admin);
    chunk_ok(&h, "c1", &id, &admin, &[pod("a", "x", 2)]);
    events(
        &h,
        "c1",
        vec![
            ev("DELETED", pod("a", "x", 3)),
            ev("ADDED", with_uid(pod("a", "x", 4), "uid2")),
        ],
    );
    let before = feed(&h).len();
    assert_eq!(commit(&h, "c1", &id, &admin).0, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("a/x", 2)]));
    let recorded = feed_since(&h, before);
    assert!(
        recorded.contains(&rec("DELETED", "x", "uid2")),
        "uid2 vanished without a DELETED record: {recorded:?}"
    );
    assert_feed_replays_to_live(&h, "pods");
}

/// The session added a new object n; a delta meanwhile added n with another uid. The
/// commit's n (uid-a-n) wins, and the feed records the delta's uid-b DELETED.
#[test]
fn commit_records_the_deletion_of_a_delta_added_object_under_a_name_it_added() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1)], 10);
    let id = begin(&h, "c1", &admin);
    chunk_ok(&h, "c1", &id, &admin, &[pod("a", "x", 1), pod("a", "n", 5)]);
    events(
        &h,
        "c1",
        vec![ev("ADDED", with_uid(pod("a", "n", 4), "uid-b"))],
    );
    assert_eq!(commit(&h, "c1", &id, &admin).0, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("a/n", 5), ("a/x", 1)]));
    assert_feed_replays_to_live(&h, "pods");
}

/// The session rewrote x; a delta then deleted x. The commit brings x back (the snapshot
/// wins where it wrote one), so its feed record must be ADDED, not MODIFIED of a deleted uid.
#[test]
fn commit_after_a_delta_deleted_the_object_records_added_not_modified() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1)], 10);
    let id = begin(&h, "c1", &admin);
    chunk_ok(&h, "c1", &id, &admin, &[pod("a", "x", 2)]);
    events(&h, "c1", vec![ev("DELETED", pod("a", "x", 3))]);
    let before = feed(&h).len();
    assert_eq!(commit(&h, "c1", &id, &admin).0, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("a/x", 2)]));
    assert_eq!(feed_since(&h, before), vec![rec("ADDED", "x", "uid-a-x")]);
}

/// x sent changed (same uid), then sent again re-created (new uid) in a later chunk of the
/// same session: it must end as the last send says — staged counts one name, and the feed
/// holds only the re-creation (DELETED uid1, ADDED uid2), not a stale MODIFIED of uid1.
#[test]
fn a_name_resent_with_a_new_uid_leaves_no_stale_modified_record() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1)], 10);
    let id = begin(&h, "c1", &admin);
    chunk_ok(&h, "c1", &id, &admin, &[pod("a", "x", 2)]);
    let r = chunk_ok(&h, "c1", &id, &admin, &[with_uid(pod("a", "x", 1), "uid2")]);
    let before = feed(&h).len();
    assert_eq!(commit(&h, "c1", &id, &admin).0, 200);
    assert_eq!(
        feed_since(&h, before),
        vec![rec("DELETED", "x", "uid-a-x"), rec("ADDED", "x", "uid2")]
    );
    assert_eq!(r["staged"].as_u64(), Some(1), "staged counts names: {r}");
}

/// The reverse: x first sent re-created (uid2), then sent with its stored uid, changed. The
/// feed must not keep the DELETED uid1 / ADDED uid2 of the first send: uid2 never existed.
#[test]
fn a_name_resent_with_its_old_uid_leaves_no_stale_recreation_records() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1)], 10);
    let id = begin(&h, "c1", &admin);
    chunk_ok(&h, "c1", &id, &admin, &[with_uid(pod("a", "x", 1), "uid2")]);
    let r = chunk_ok(&h, "c1", &id, &admin, &[pod("a", "x", 2)]);
    let before = feed(&h).len();
    assert_eq!(commit(&h, "c1", &id, &admin).0, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("a/x", 2)]));
    assert_eq!(
        feed_since(&h, before),
        vec![rec("MODIFIED", "x", "uid-a-x")]
    );
    assert_eq!(r["staged"].as_u64(), Some(1), "staged counts names: {r}");
    assert_feed_replays_to_live(&h, "pods");
}

/// A name twice in one chunk (changed, then as stored): it ends as the last send says.
#[test]
fn a_name_twice_in_one_chunk_ends_as_its_last_send_says() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1)], 10);
    let id = begin(&h, "c1", &admin);
    let r = chunk_ok(&h, "c1", &id, &admin, &[pod("a", "x", 2), pod("a", "x", 1)]);
    let before = feed(&h).len();
    assert_eq!(commit(&h, "c1", &id, &admin).0, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("a/x", 1)]));
    assert_eq!(feed_since(&h, before), vec![]);
    assert_eq!(r["staged"].as_u64(), Some(1), "staged counts names: {r}");
}

/// The same, the other way round (as stored, then changed) when an earlier chunk had
/// already written the changed object: the last send (changed) must win.
#[test]
fn a_name_twice_in_one_chunk_after_an_earlier_write_ends_as_its_last_send_says() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1)], 10);
    let id = begin(&h, "c1", &admin);
    chunk_ok(&h, "c1", &id, &admin, &[pod("a", "x", 2)]);
    let r = chunk_ok(&h, "c1", &id, &admin, &[pod("a", "x", 1), pod("a", "x", 3)]);
    assert_eq!(commit(&h, "c1", &id, &admin).0, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("a/x", 3)]));
    assert_eq!(r["staged"].as_u64(), Some(1), "staged counts names: {r}");
}

/// A whole-cluster snapshot that no longer holds team/x commits while a team session is
/// replacing x; the team session is then aborted. The committed deletion stands.
#[test]
fn a_commits_deletion_is_not_lost_when_the_session_replacing_the_row_aborts() {
    let h = Harness::new();
    let admin = h.admin.clone();
    let team = team_token();
    h.snapshot(
        "c1",
        pods_type(),
        &[pod("team", "x", 1), pod("team", "y", 1)],
        10,
    );
    let mine = begin(&h, "c1", &team);
    chunk_ok(
        &h,
        "c1",
        &mine,
        &team,
        &[pod("team", "x", 2), pod("team", "y", 1)],
    );
    let whole = begin(&h, "c1", &admin);
    chunk_ok(&h, "c1", &whole, &admin, &[pod("team", "y", 1)]);
    assert_eq!(commit(&h, "c1", &whole, &admin).0, 200);
    assert_eq!(abort(&h, "c1", &mine, &team), 200);
    collect_all_garbage(&h);
    assert_eq!(
        listed(&h, "c1"),
        expect(&[("team/y", 1)]),
        "x was deleted by the last committed snapshot"
    );
}

/// As above, with the team session merely expired (never aborted).
#[test]
fn a_commits_deletion_is_not_lost_to_an_expired_session() {
    let h = Harness::new();
    let admin = h.admin.clone();
    let team = team_token();
    h.snapshot(
        "c1",
        pods_type(),
        &[pod("team", "x", 1), pod("team", "y", 1)],
        10,
    );
    let mine = begin(&h, "c1", &team);
    chunk_ok(&h, "c1", &mine, &team, &[pod("team", "x", 2)]);
    let whole = begin(&h, "c1", &admin);
    let chunks = format!("/ingest/v1/clusters/c1/snapshots/{whole}/chunks");
    let (s, r) = call_at(
        &h,
        NOW + SESSION_TTL_SECONDS - 10,
        Method::Post,
        &chunks,
        &admin,
        serde_json::to_vec(&json!({"items": [pod("team", "y", 1)]})).unwrap(),
    );
    assert_eq!(s, 200, "{r}");
    let later = NOW + SESSION_TTL_SECONDS + 1;
    let (s, r) = call_at(
        &h,
        later,
        Method::Post,
        &format!("/ingest/v1/clusters/c1/snapshots/{whole}/commit"),
        &admin,
        b"null".to_vec(),
    );
    assert_eq!(s, 200, "{r}");
    collect_all_garbage(&h);
    assert_eq!(listed(&h, "c1"), expect(&[("team/y", 1)]));
}

/// An expired session no longer counts as open in a chunk's conflict check, even before any
/// other request has ended it: the chunk that meets its row goes through.
#[test]
fn an_expired_session_does_not_block_another_sessions_chunk() {
    let h = Harness::new();
    let admin = h.admin.clone();
    let team = team_token();
    h.snapshot("c1", pods_type(), &[pod("team", "x", 1)], 10);
    let mine = begin(&h, "c1", &team);
    chunk_ok(&h, "c1", &mine, &team, &[pod("team", "x", 2)]);
    let whole = begin(&h, "c1", &admin);
    let chunks = format!("/ingest/v1/clusters/c1/snapshots/{whole}/chunks");
    let body = |rv| serde_json::to_vec(&json!({"items": [pod("team", "x", rv)]})).unwrap();
    let (s, _) = call_at(
        &h,
        NOW + SESSION_TTL_SECONDS - 10,
        Method::Post,
        &chunks,
        &admin,
        serde_json::to_vec(&json!({"items": [pod("other", "o", 1)]})).unwrap(),
    );
    assert_eq!(s, 200);
    let later = NOW + SESSION_TTL_SECONDS + 1;
    let (s, r) = call_at(&h, later, Method::Post, &chunks, &admin, body(3));
    assert_eq!(
        s,
        200,
        "the team session expired at {}: {r}",
        NOW + SESSION_TTL_SECONDS
    );
}

/// A session left alone past SESSION_TTL_SECONDS is ended by any later request: its chunk
/// and commit get 410, nothing it wrote shows, its marks are undone, and a later snapshot
/// works on the rows it had marked.
#[test]
fn an_expired_session_is_ended_by_a_later_request_and_leaves_nothing() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1), pod("a", "y", 1)], 10);
    let id = begin(&h, "c1", &admin);
    chunk_ok(&h, "c1", &id, &admin, &[pod("a", "x", 2), pod("a", "n", 1)]);
    let later = NOW + SESSION_TTL_SECONDS + 1;
    let (s, r) = call_at(
        &h,
        later,
        Method::Post,
        "/ingest/v1/clusters/c1/heartbeat",
        &admin,
        b"{}".to_vec(),
    );
    assert_eq!(s, 200, "{r}");
    let (s, r) = call_at(
        &h,
        later,
        Method::Post,
        &format!("/ingest/v1/clusters/c1/snapshots/{id}/chunks"),
        &admin,
        serde_json::to_vec(&json!({"items": [pod("a", "z", 1)]})).unwrap(),
    );
    assert!(s == 410 || s == 404, "{s} {r}");
    let (s, r) = call_at(
        &h,
        later,
        Method::Post,
        &format!("/ingest/v1/clusters/c1/snapshots/{id}/commit"),
        &admin,
        b"null".to_vec(),
    );
    assert!(s == 410 || s == 404, "{s} {r}");
    assert_eq!(listed(&h, "c1"), expect(&[("a/x", 1), ("a/y", 1)]));
    assert_eq!(
        count(&h, "SELECT count(*) FROM snapshot_sessions WHERE state = 0"),
        0
    );
    assert_eq!(count(&h, "SELECT count(*) FROM objects"), 2);
    assert_eq!(
        count(
            &h,
            "SELECT count(*) FROM objects WHERE dead_gen IS NOT NULL"
        ),
        0
    );
    h.snapshot("c1", pods_type(), &[pod("a", "y", 1)], 10);
    assert_eq!(listed(&h, "c1"), expect(&[("a/y", 1)]));
}

/// A chunk refused halfway (409 on its second object) writes nothing of its first.
#[test]
fn a_chunk_refused_partway_leaves_no_partial_write() {
    let h = Harness::new();
    let admin = h.admin.clone();
    let team = team_token();
    h.snapshot("c1", pods_type(), &[pod("team", "x", 1)], 10);
    let mine = begin(&h, "c1", &team);
    chunk_ok(&h, "c1", &mine, &team, &[pod("team", "x", 2)]);
    let whole = begin(&h, "c1", &admin);
    let before = count(&h, "SELECT count(*) FROM objects");
    let (s, e) = send_chunk(
        &h,
        "c1",
        &whole,
        &admin,
        &[pod("other", "new", 1), pod("team", "x", 3)],
    );
    assert_eq!(s, 409, "{e}");
    assert_eq!(count(&h, "SELECT count(*) FROM objects"), before);
    assert_eq!(count(&h, "SELECT count(*) FROM snapshot_written WHERE session = (SELECT max(gen) FROM snapshot_sessions)"), 0);
    assert_eq!(count(&h, "SELECT count(*) FROM snapshot_seen"), 0);
}

/// An aborted session of more than a batch of rows is removed over several requests while
/// a new session writes the same names and deltas arrive: at every step each name is
/// visible once, with its committed content, and the end leaves no garbage.
#[test]
fn a_large_aborted_session_is_collected_while_a_new_session_and_deltas_touch_its_names() {
    let h = Harness::new();
    let admin = h.admin.clone();
    let n = 7_000;
    let items =
        |rv: u64| -> Vec<Value> { (0..n).map(|i| pod("a", &format!("p{i:05}"), rv)).collect() };
    h.snapshot("c1", pods_type(), &items(1), 1000);
    let old = begin(&h, "c1", &admin);
    for part in items(2).chunks(1000) {
        chunk_ok(&h, "c1", &old, &admin, part);
    }
    assert_eq!(abort(&h, "c1", &old, &admin), 200);
    let new = begin(&h, "c1", &admin);
    let mut round = 0;
    while count(&h, "SELECT count(*) FROM snapshot_garbage") > 0 {
        round += 1;
        assert!(round < 20);
        let i = round * 7;
        events(
            &h,
            "c1",
            vec![ev(
                "MODIFIED",
                pod("a", &format!("p{i:05}"), 10 + round as u64),
            )],
        );
        assert_no_name_twice(&h, "pods");
        let l = listed(&h, "c1");
        assert_eq!(l.len(), n);
        assert!(
            l.iter().all(|(_, rv)| rv != "2"),
            "the aborted session's rows show"
        );
    }
    assert!(round >= 2, "{round}");
    for part in items(3).chunks(1000) {
        chunk_ok(&h, "c1", &new, &admin, part);
    }
    assert_eq!(commit(&h, "c1", &new, &admin).0, 200);
    collect_all_garbage(&h);
    assert_no_name_twice(&h, "pods");
    let l = listed(&h, "c1");
    assert_eq!(l.len(), n);
    assert!(l.iter().all(|(_, rv)| rv == "3"));
    assert_eq!(count(&h, "SELECT count(*) FROM objects"), n as i64);
    assert_eq!(
        count(&h, "SELECT count(*) FROM snapshot_sessions WHERE state = 0"),
        0
    );
    assert_eq!(count(&h, "SELECT count(*) FROM snapshot_written"), 0);
    assert_eq!(count(&h, "SELECT count(*) FROM snapshot_seen"), 0);
}

/// A committed session's leftovers (more than a batch) are still being collected while the
/// next session writes, holds and deletes the same names: never a name twice.
#[test]
fn a_session_over_uncollected_garbage_of_the_previous_commit() {
    let h = Harness::new();
    let admin = h.admin.clone();
    let n = 4_500;
    let items =
        |rv: u64| -> Vec<Value> { (0..n).map(|i| pod("a", &format!("p{i:05}"), rv)).collect() };
    h.snapshot("c1", pods_type(), &items(1), 1000);
    h.snapshot("c1", pods_type(), &items(2), 1000);
    assert!(count(&h, "SELECT count(*) FROM objects") > n as i64);
    let id = begin(&h, "c1", &admin);
    // Half changed, a quarter unchanged, the last quarter dropped.
    let mut next: Vec<Value> = (0..n / 2)
        .map(|i| pod("a", &format!("p{i:05}"), 3))
        .collect();
    next.extend((n / 2..3 * n / 4).map(|i| pod("a", &format!("p{i:05}"), 2)));
    for part in next.chunks(500) {
        chunk_ok(&h, "c1", &id, &admin, part);
        assert_no_name_twice(&h, "pods");
    }
    assert_eq!(commit(&h, "c1", &id, &admin).0, 200);
    assert_no_name_twice(&h, "pods");
    collect_all_garbage(&h);
    let l = listed(&h, "c1");
    assert_eq!(l.len(), 3 * n / 4);
    assert_eq!(
        count(&h, "SELECT count(*) FROM objects"),
        (3 * n / 4) as i64
    );
    assert_feed_replays_to_live(&h, "pods");
}

/// A session of two types: superseded by a begin of one of them, nothing of it shows; a
/// committed two-type session replaces each type on its own, with deltas meanwhile.
#[test]
fn sessions_of_several_types() {
    let h = Harness::new();
    let admin = h.admin.clone();
    let both = ["pods", "configmaps"];
    let old = begin_types(&h, "c1", &admin, &both);
    chunk_ok(
        &h,
        "c1",
        &old,
        &admin,
        &[pod("a", "x", 1), configmap("a", "cm", 1)],
    );
    assert_eq!(commit(&h, "c1", &old, &admin).0, 200);
    let s1 = begin_types(&h, "c1", &admin, &both);
    chunk_ok(
        &h,
        "c1",
        &s1,
        &admin,
        &[
            pod("a", "x", 2),
            configmap("a", "cm", 2),
            configmap("a", "cm2", 1),
        ],
    );
    // Superseded by a begin of pods only: its configmaps never show either.
    let s2 = begin_types(&h, "c1", &admin, &["pods"]);
    assert_eq!(commit(&h, "c1", &s1, &admin).0, 409);
    chunk_ok(&h, "c1", &s2, &admin, &[pod("a", "x", 3)]);
    assert_eq!(commit(&h, "c1", &s2, &admin).0, 200);
    collect_all_garbage(&h);
    assert_eq!(listed(&h, "c1"), expect(&[("a/x", 3)]));
    let cms: Vec<_> = live_rows(&h, "configmaps")
        .into_iter()
        .map(|r| (r.0, r.2))
        .collect();
    assert_eq!(cms, vec![("a/cm".to_owned(), "1".to_owned())]);
    // Both types, a delta on each meanwhile, and a deletion in each.
    let s3 = begin_types(&h, "c1", &admin, &both);
    chunk_ok(
        &h,
        "c1",
        &s3,
        &admin,
        &[configmap("a", "cm3", 1), pod("a", "y", 1)],
    );
    events(
        &h,
        "c1",
        vec![
            ev("MODIFIED", pod("a", "x", 9)),
            json!({"type": "MODIFIED", "resource": "configmaps", "object": configmap("a", "cm", 9)}),
        ],
    );
    assert_eq!(commit(&h, "c1", &s3, &admin).0, 200);
    collect_all_garbage(&h);
    assert_eq!(listed(&h, "c1"), expect(&[("a/y", 1)]));
    let cms: Vec<_> = live_rows(&h, "configmaps")
        .into_iter()
        .map(|r| (r.0, r.2))
        .collect();
    assert_eq!(cms, vec![("a/cm3".to_owned(), "1".to_owned())]);
    assert_eq!(count(&h, "SELECT count(*) FROM objects"), 2);
    assert_eq!(
        count(&h, "SELECT count(*) FROM snapshot_sessions WHERE state = 0"),
        0
    );
}

/// A superseded session marked x and y; its successor holds x unchanged and drops y. x stays
/// (once, its mark undone), y goes, and a delta for a name only the superseded session wrote
/// is live and then removed by the successor's commit.
#[test]
fn a_superseded_sessions_marks_do_not_leak_into_its_successor() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1), pod("a", "y", 1)], 10);
    let s1 = begin(&h, "c1", &admin);
    chunk_ok(
        &h,
        "c1",
        &s1,
        &admin,
        &[pod("a", "x", 2), pod("a", "y", 2), pod("a", "n", 1)],
    );
    let s2 = begin(&h, "c1", &admin);
    events(&h, "c1", vec![ev("ADDED", pod("a", "n", 5))]);
    assert_eq!(
        listed(&h, "c1"),
        expect(&[("a/n", 5), ("a/x", 1), ("a/y", 1)])
    );
    chunk_ok(&h, "c1", &s2, &admin, &[pod("a", "x", 1)]);
    assert_no_name_twice(&h, "pods");
    assert_eq!(commit(&h, "c1", &s2, &admin).0, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("a/x", 1)]));
    collect_all_garbage(&h);
    assert_eq!(listed(&h, "c1"), expect(&[("a/x", 1)]));
    assert_eq!(count(&h, "SELECT count(*) FROM objects"), 1);
    assert_eq!(
        count(
            &h,
            "SELECT count(*) FROM objects WHERE dead_gen IS NOT NULL"
        ),
        0
    );
    assert_eq!(
        count(&h, "SELECT count(*) FROM snapshot_sessions WHERE state = 0"),
        0
    );
}

/// Deltas for a name an aborted session wrote (new object): the delta's object is live
/// while the session is open and after its abort, once, and survives the collection.
#[test]
fn a_delta_for_a_name_an_aborted_session_wrote_survives_the_abort() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1)], 10);
    let id = begin(&h, "c1", &admin);
    chunk_ok(&h, "c1", &id, &admin, &[pod("a", "x", 2), pod("a", "n", 1)]);
    events(
        &h,
        "c1",
        vec![
            ev("ADDED", pod("a", "n", 3)),
            ev("DELETED", pod("a", "x", 3)),
            ev("ADDED", with_uid(pod("a", "x", 4), "x2")),
        ],
    );
    assert_eq!(listed(&h, "c1"), expect(&[("a/n", 3), ("a/x", 4)]));
    assert_eq!(abort(&h, "c1", &id, &admin), 200);
    collect_all_garbage(&h);
    assert_eq!(listed(&h, "c1"), expect(&[("a/n", 3), ("a/x", 4)]));
    assert_eq!(count(&h, "SELECT count(*) FROM objects"), 2);
    assert_eq!(
        count(
            &h,
            "SELECT count(*) FROM objects WHERE dead_gen IS NOT NULL"
        ),
        0
    );
    assert_feed_replays_to_live(&h, "pods");
}

/// Held unchanged, then re-created by a delta under a new uid: the commit keeps the delta's
/// object, and the feed stays consistent.
#[test]
fn a_held_object_recreated_by_a_delta_keeps_the_new_incarnation() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1), pod("a", "y", 1)], 10);
    let id = begin(&h, "c1", &admin);
    chunk_ok(&h, "c1", &id, &admin, &[pod("a", "x", 1), pod("a", "y", 1)]);
    events(
        &h,
        "c1",
        vec![
            ev("DELETED", pod("a", "x", 2)),
            ev("ADDED", with_uid(pod("a", "x", 3), "x2")),
        ],
    );
    assert_eq!(commit(&h, "c1", &id, &admin).0, 200);
    assert_eq!(
        live_rows(&h, "pods")[0],
        ("a/x".to_owned(), "x2".to_owned(), "3".to_owned())
    );
    assert_feed_replays_to_live(&h, "pods");
}

/// Team and whole-cluster sessions open at once, on disjoint objects: both commit, each
/// within its reach.
#[test]
fn sessions_of_different_claims_on_disjoint_objects() {
    let h = Harness::new();
    let admin = h.admin.clone();
    let team = team_token();
    h.snapshot(
        "c1",
        pods_type(),
        &[
            pod("team", "t", 1),
            pod("other", "o", 1),
            pod("team", "u", 1),
        ],
        10,
    );
    let mine = begin(&h, "c1", &team);
    let whole = begin(&h, "c1", &admin);
    chunk_ok(
        &h,
        "c1",
        &mine,
        &team,
        &[pod("team", "t", 2), pod("team", "new", 1)],
    );
    chunk_ok(
        &h,
        "c1",
        &whole,
        &admin,
        &[pod("other", "o", 2), pod("team", "t", 1)],
    );
    assert_no_name_twice(&h, "pods");
    assert_eq!(commit(&h, "c1", &whole, &admin).0, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("other/o", 2), ("team/t", 1)]));
    assert_eq!(commit(&h, "c1", &mine, &team).0, 200);
    collect_all_garbage(&h);
    assert_no_name_twice(&h, "pods");
    assert_eq!(
        listed(&h, "c1"),
        expect(&[("other/o", 2), ("team/new", 1), ("team/t", 2)])
    );
    assert_eq!(count(&h, "SELECT count(*) FROM objects"), 3);
}
