//! Write-once snapshots (DESIGN §9.1, src/live_rows.rs), through `engine::handle` on real
//! SQLite: what a session writes stays hidden until its commit swaps it in at once, no name is
//! ever visible twice, ended sessions leave nothing visible, and what commits supersede is
//! removed in bounded batches by later requests.

mod common;

use common::*;
use edgepedia::ingest::session::OWN_ROWS_READ;
use edgepedia::route::Method;
use edgepedia::store::Store;
use serde_json::{json, Value};

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";

fn begin(h: &Harness, cluster: &str, token: &str) -> String {
    let (s, session) = h.call(
        Method::Post,
        &format!("/ingest/v1/clusters/{cluster}/snapshots"),
        Some(token),
        serde_json::to_vec(&json!({"resourceTypes": pods_type()})).unwrap(),
    );
    assert_eq!(s, 201, "{session}");
    session["session"].as_str().unwrap().to_owned()
}

fn send_chunk(h: &Harness, cluster: &str, id: &str, token: &str, items: &[Value]) -> (u16, Value) {
    h.call(
        Method::Post,
        &format!("/ingest/v1/clusters/{cluster}/snapshots/{id}/chunks"),
        Some(token),
        serde_json::to_vec(&json!({ "items": items })).unwrap(),
    )
}

fn commit(h: &Harness, cluster: &str, id: &str, token: &str) -> (u16, Value) {
    h.call(
        Method::Post,
        &format!("/ingest/v1/clusters/{cluster}/snapshots/{id}/commit"),
        Some(token),
        b"null".to_vec(),
    )
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

fn rv_of(h: &Harness, cluster: &str, ns: &str, name: &str) -> (u16, Value) {
    h.get(&format!(
        "/apis/clusterpedia.io/v1beta1/resources/clusters/{cluster}/api/v1/namespaces/{ns}/pods/{name}"
    ))
}

fn count(h: &Harness, sql: &str) -> i64 {
    h.store.query(sql, &[]).unwrap()[0][0].as_i64().unwrap()
}

fn expect(items: &[(&str, u64)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(n, rv)| (n.to_string(), rv.to_string()))
        .collect()
}

fn feed_types(h: &Harness) -> Vec<(String, String)> {
    let (s, f) = h.get("/apis/clusterpedia.io/v1beta1/changes?limit=500");
    assert_eq!(s, 200, "{f}");
    f["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["type"].as_str().unwrap().to_owned(),
                c["object"]["metadata"]["name"]
                    .as_str()
                    .or(c["name"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_session_is_invisible_until_its_commit_swaps_it_in_at_once() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot(
        "c1",
        pods_type(),
        &[
            pod("a", "keep", 1),
            pod("a", "change", 1),
            pod("a", "drop", 1),
        ],
        10,
    );
    let id = begin(&h, "c1", &admin);
    let (s, r) = send_chunk(
        &h,
        "c1",
        &id,
        &admin,
        &[pod("a", "keep", 1), pod("a", "change", 2)],
    );
    assert_eq!((s, r["staged"].as_u64()), (200, Some(2)), "{r}");
    let (s, r) = send_chunk(&h, "c1", &id, &admin, &[pod("a", "new", 1)]);
    assert_eq!((s, r["staged"].as_u64()), (200, Some(3)), "{r}");
    // Staged, not committed: readers see exactly the old snapshot, by list and by get.
    let before = expect(&[("a/change", 1), ("a/drop", 1), ("a/keep", 1)]);
    assert_eq!(listed(&h, "c1"), before);
    assert_eq!(
        rv_of(&h, "c1", "a", "change").1["metadata"]["resourceVersion"],
        "1"
    );
    assert_eq!(rv_of(&h, "c1", "a", "new").0, 404);
    assert_eq!(rv_of(&h, "c1", "a", "drop").0, 200);

    let (s, r) = commit(&h, "c1", &id, &admin);
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["replaced"][0]["count"], 3);
    assert_eq!(
        listed(&h, "c1"),
        expect(&[("a/change", 2), ("a/keep", 1), ("a/new", 1)])
    );
    assert_eq!(rv_of(&h, "c1", "a", "drop").0, 404);
    // The feed: the first snapshot's three ADDED, then this commit's deletion before its
    // addition and modification, by name; the unchanged pod is not recorded.
    assert_eq!(
        feed_types(&h)[3..],
        [
            ("DELETED".to_owned(), "drop".to_owned()),
            ("MODIFIED".to_owned(), "change".to_owned()),
            ("ADDED".to_owned(), "new".to_owned()),
        ]
    );
    // The replaced and deleted rows are gone once the garbage is collected (this commit's
    // own request collects what it superseded).
    assert_eq!(count(&h, "SELECT count(*) FROM objects"), 3);
    assert_eq!(count(&h, "SELECT count(*) FROM snapshot_garbage"), 0);
    assert_eq!(
        count(&h, "SELECT count(*) FROM snapshot_sessions WHERE state = 0"),
        0
    );
}

#[test]
fn a_retried_chunk_ends_as_its_last_send_says() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1), pod("a", "y", 1)], 10);
    let id = begin(&h, "c1", &admin);
    // Sent twice: staged once.
    for _ in 0..2 {
        let (s, r) = send_chunk(&h, "c1", &id, &admin, &[pod("a", "x", 2), pod("a", "y", 1)]);
        assert_eq!((s, r["staged"].as_u64()), (200, Some(2)), "{r}");
    }
    // x changed, then sent again as it is stored: it ends unchanged.
    let (_, r) = send_chunk(&h, "c1", &id, &admin, &[pod("a", "x", 1)]);
    assert_eq!(r["staged"].as_u64(), Some(2), "{r}");
    let (s, _) = commit(&h, "c1", &id, &admin);
    assert_eq!(s, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("a/x", 1), ("a/y", 1)]));
    assert_eq!(
        feed_types(&h).len(),
        2,
        "only the first snapshot's two ADDED"
    );
    assert_eq!(count(&h, "SELECT count(*) FROM objects"), 2);
}

#[test]
fn a_newer_session_supersedes_an_older_one_and_nothing_of_it_shows() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1)], 10);
    let old = begin(&h, "c1", &admin);
    let (s, _) = send_chunk(
        &h,
        "c1",
        &old,
        &admin,
        &[pod("a", "x", 2), pod("a", "ghost", 1)],
    );
    assert_eq!(s, 200);
    // The agent restarted: its new session replaces the old one.
    let new = begin(&h, "c1", &admin);
    let (s, e) = send_chunk(&h, "c1", &old, &admin, &[pod("a", "late", 1)]);
    assert_eq!(s, 409, "{e}");
    assert_eq!(e["reason"], "Conflict");
    assert!(e["message"].as_str().unwrap().contains("superseded"), "{e}");
    assert_eq!(commit(&h, "c1", &old, &admin).0, 409);
    assert_eq!(listed(&h, "c1"), expect(&[("a/x", 1)]));
    let (s, _) = send_chunk(&h, "c1", &new, &admin, &[pod("a", "x", 3)]);
    assert_eq!(s, 200);
    assert_eq!(commit(&h, "c1", &new, &admin).0, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("a/x", 3)]));
    assert_eq!(rv_of(&h, "c1", "a", "ghost").0, 404);
    // Everything the superseded session wrote is removed; its row stays (to answer 409) until
    // it would have expired.
    assert_eq!(count(&h, "SELECT count(*) FROM objects"), 1);
    assert_eq!(
        count(&h, "SELECT count(*) FROM snapshot_sessions WHERE state = 0"),
        0
    );
    assert_eq!(count(&h, "SELECT count(*) FROM snapshot_written"), 0);
}

#[test]
fn an_aborted_session_leaves_the_live_rows_as_they_were() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1), pod("a", "y", 1)], 10);
    let id = begin(&h, "c1", &admin);
    let (s, _) = send_chunk(&h, "c1", &id, &admin, &[pod("a", "x", 2), pod("a", "z", 1)]);
    assert_eq!(s, 200);
    let (s, _) = h.call(
        Method::Delete,
        &format!("/ingest/v1/clusters/c1/snapshots/{id}"),
        Some(&admin),
        Vec::new(),
    );
    assert_eq!(s, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("a/x", 1), ("a/y", 1)]));
    assert_eq!(count(&h, "SELECT count(*) FROM objects"), 2);
    assert_eq!(
        count(
            &h,
            "SELECT count(*) FROM objects WHERE dead_gen IS NOT NULL"
        ),
        0,
        "the marks of the aborted session are undone"
    );
    // A later snapshot that deletes y still works on the rows the aborted one had marked.
    h.snapshot("c1", pods_type(), &[pod("a", "x", 1)], 10);
    assert_eq!(listed(&h, "c1"), expect(&[("a/x", 1)]));
}

#[test]
fn watch_events_during_a_session_never_show_a_name_twice() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot(
        "c1",
        pods_type(),
        &[pod("a", "x", 1), pod("a", "kept", 1)],
        10,
    );
    let id = begin(&h, "c1", &admin);
    let (s, _) = send_chunk(
        &h,
        "c1",
        &id,
        &admin,
        &[pod("a", "x", 5), pod("a", "kept", 1), pod("a", "new", 5)],
    );
    assert_eq!(s, 200);
    // Deltas arrive meanwhile: x changes, `new` and `other` appear, `kept` changes.
    let ev = |o: Value| json!({"type": "MODIFIED", "resource": "pods", "object": o});
    let (s, r) = h.post(
        "/ingest/v1/clusters/c1/events",
        json!({"events": [ev(pod("a", "x", 3)), ev(pod("a", "new", 4)), ev(pod("a", "other", 4)), ev(pod("a", "kept", 9))]}),
    );
    assert_eq!((s, r["applied"].as_u64()), (200, Some(4)), "{r}");
    assert_eq!(
        listed(&h, "c1"),
        expect(&[("a/kept", 9), ("a/new", 4), ("a/other", 4), ("a/x", 3)])
    );
    assert_eq!(commit(&h, "c1", &id, &admin).0, 200);
    // The snapshot's objects win where it wrote them; an object it held unchanged keeps its
    // newer delta; one it never held is deleted, as the snapshot is the cluster's word.
    assert_eq!(
        listed(&h, "c1"),
        expect(&[("a/kept", 9), ("a/new", 5), ("a/x", 5)])
    );
    assert_eq!(count(&h, "SELECT count(*) FROM objects"), 3);
}

#[test]
fn writers_of_different_claims_cannot_replace_the_same_object_at_once() {
    let h = Harness::new();
    let admin = h.admin.clone();
    h.snapshot("c1", pods_type(), &[pod("team", "x", 1)], 10);
    let whole = begin(&h, "c1", &admin);
    assert_eq!(
        send_chunk(&h, "c1", &whole, &admin, &[pod("team", "x", 2)]).0,
        200
    );
    let team = {
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
    };
    // A different claim does not supersede the open session; it meets it at x.
    let mine = begin(&h, "c1", &team);
    let (s, e) = send_chunk(&h, "c1", &mine, &team, &[pod("team", "x", 7)]);
    assert_eq!(s, 409, "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("another open snapshot session"),
        "{e}"
    );
    assert_eq!(commit(&h, "c1", &whole, &admin).0, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("team/x", 2)]));
    // Once the other session is done, the team's writer proceeds.
    assert_eq!(
        send_chunk(&h, "c1", &mine, &team, &[pod("team", "x", 7)]).0,
        200
    );
    assert_eq!(commit(&h, "c1", &mine, &team).0, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("team/x", 7)]));
    // A new object both would add: the second writer is refused there, so it exists once.
    let whole = begin(&h, "c1", &admin);
    let mine = begin(&h, "c1", &team);
    let (s, _) = send_chunk(
        &h,
        "c1",
        &mine,
        &team,
        &[pod("team", "x", 7), pod("team", "y", 1)],
    );
    assert_eq!(s, 200);
    let (s, e) = send_chunk(
        &h,
        "c1",
        &whole,
        &admin,
        &[pod("team", "x", 7), pod("team", "y", 2)],
    );
    assert_eq!(s, 409, "{e}");
    assert_eq!(commit(&h, "c1", &mine, &team).0, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("team/x", 7), ("team/y", 1)]));
    let (s, _) = send_chunk(
        &h,
        "c1",
        &whole,
        &admin,
        &[pod("team", "x", 7), pod("team", "y", 2)],
    );
    assert_eq!(
        s, 200,
        "after the other commit, the same chunk goes through"
    );
    assert_eq!(commit(&h, "c1", &whole, &admin).0, 200);
    assert_eq!(listed(&h, "c1"), expect(&[("team/x", 7), ("team/y", 2)]));
    assert_eq!(count(&h, "SELECT count(*) FROM objects"), 2);
}

#[test]
fn superseded_rows_are_removed_in_bounded_batches_by_later_requests() {
    let h = Harness::new();
    let n = 5_000;
    let items =
        |rv: u64| -> Vec<Value> { (0..n).map(|i| pod("a", &format!("p{i:05}"), rv)).collect() };
    h.snapshot("c1", pods_type(), &items(1), 500);
    h.snapshot("c1", pods_type(), &items(2), 500);
    // Every object changed: 5,000 rows were replaced; the commit's own request removed one
    // batch of them, so more remain than a batch.
    let total = count(&h, "SELECT count(*) FROM objects");
    assert!(total > n && total < 2 * n, "{total}");
    assert_eq!(count(&h, "SELECT count(*) FROM snapshot_garbage"), 1);
    // Heartbeats (any ingest request) remove the rest, a batch each.
    let mut heartbeats = 0;
    while count(&h, "SELECT count(*) FROM snapshot_garbage") > 0 {
        let (s, r) = h.post("/ingest/v1/clusters/c1/heartbeat", json!({}));
        assert_eq!(s, 200, "{r}");
        heartbeats += 1;
        assert!(heartbeats < 10, "garbage is not shrinking");
    }
    assert!(
        heartbeats >= 2,
        "each request removes a bounded batch ({heartbeats})"
    );
    assert_eq!(count(&h, "SELECT count(*) FROM objects"), n);
    let l = listed(&h, "c1");
    assert_eq!(l.len(), n as usize);
    assert!(l.iter().all(|(_, rv)| rv == "2"));
}

#[test]
fn ingest_seeks_a_name_once_however_many_sessions_are_open() {
    let h = Harness::new();
    let items: Vec<Value> = (0..5)
        .map(|i| pod("default", &format!("p{i}"), 1))
        .collect();
    for c in ["c0", "c1"] {
        h.snapshot(c, pods_type(), &items, 5);
    }
    // A fleet re-syncing at once: a session open per cluster.
    let sessions: Vec<(String, String)> = (0..8)
        .map(|c| {
            let cluster = format!("c{c}");
            let id = begin(&h, &cluster, &h.admin);
            (cluster, id)
        })
        .collect();
    let store = Planning::new(&h.store);
    let (cluster, id) = &sessions[0];
    let changed: Vec<Value> = (0..5)
        .map(|i| pod("default", &format!("p{i}"), 2))
        .collect();
    let chunk = send(
        &store,
        Method::Post,
        &format!("/ingest/v1/clusters/{cluster}/snapshots/{id}/chunks"),
        Some(&h.admin),
        serde_json::to_vec(&json!({ "items": changed })).unwrap(),
    );
    assert_eq!(chunk.status, 200);
    let events: Vec<Value> = (0..5)
        .map(|i| json!({"type": "MODIFIED", "resource": "pods", "object": pod("default", &format!("p{i}"), 3)}))
        .collect();
    let delta = send(
        &store,
        Method::Post,
        "/ingest/v1/clusters/c1/events",
        Some(&h.admin),
        serde_json::to_vec(&json!({ "events": events })).unwrap(),
    );
    assert_eq!(delta.status, 200);
    let commit = send(
        &store,
        Method::Post,
        &format!("/ingest/v1/clusters/{cluster}/snapshots/{id}/commit"),
        Some(&h.admin),
        b"null".to_vec(),
    );
    assert_eq!(commit.status, 200);
    let planned = store.planned.borrow();
    assert!(
        !planned.is_empty(),
        "the requests ran statements through the store"
    );
    // `SEARCH <alias> USING … objects_key (… AND gen=?)` for `<alias>.gen IN (…)`: one seek
    // per open snapshot session.
    let seeks_by_gen: Vec<String> = planned
        .iter()
        .flat_map(|p| {
            p.plan.iter().filter_map(|detail| {
                let alias = detail.split_whitespace().nth(1).unwrap_or_default();
                (detail.contains("objects_key")
                    && detail.contains("gen=?")
                    && p.sql.contains(&format!(" {alias}.gen IN (")))
                .then(|| format!("{detail}  ← {:.120}", p.sql))
            })
        })
        .collect();
    assert_eq!(seeks_by_gen, [] as [String; 0]);
}

/// Counts the per-object lookups (`ingest::session::lookup`) the engine runs for each request.
struct LookupCounter<'h> {
    h: &'h Harness,
    store: Planning<'h>,
}

impl<'h> LookupCounter<'h> {
    fn new(h: &'h Harness) -> Self {
        Self {
            h,
            store: Planning::new(&h.store),
        }
    }

    /// The answer's status and how many lookups the request ran.
    fn post(&self, target: String, body: Value) -> (u16, usize) {
        self.store.planned.borrow_mut().clear();
        let answer = send(
            &self.store,
            Method::Post,
            &target,
            Some(&self.h.admin),
            serde_json::to_vec(&body).unwrap(),
        );
        let lookups = self
            .store
            .planned
            .borrow()
            .iter()
            .filter(|p| p.sql.starts_with("WITH k (i,"))
            .count();
        (answer.status, lookups)
    }

    fn chunk(&self, cluster: &str, id: &str, items: Vec<Value>) -> (u16, usize) {
        self.post(
            format!("/ingest/v1/clusters/{cluster}/snapshots/{id}/chunks"),
            json!({ "items": items }),
        )
    }

    fn commit(&self, cluster: &str, id: &str) -> (u16, usize) {
        self.post(
            format!("/ingest/v1/clusters/{cluster}/snapshots/{id}/commit"),
            json!(null),
        )
    }
}

/// A first sync (nothing of its type in the cluster but what its own session wrote) skips the
/// per-object lookup, its later chunks too; a row someone else wrote meanwhile (a watch
/// event), and the next snapshot, bring the lookup back, and what it finds still decides: a
/// name sent twice ends as its last send, an unchanged pod is kept, a pod left out is deleted.
#[test]
fn a_first_sync_skips_the_lookup_until_a_row_not_its_own_is_there() {
    let h = Harness::new();
    let at = LookupCounter::new(&h);

    let id = begin(&h, "c0", &h.admin);
    let first = vec![pod("default", "p1", 1), pod("default", "p2", 1)];
    assert_eq!(at.chunk("c0", &id, first), (200, 0));
    let second = vec![pod("default", "p3", 1), pod("default", "p1", 2)];
    assert_eq!(at.chunk("c0", &id, second), (200, 0));
    assert_eq!(at.commit("c0", &id).0, 200);
    assert_eq!(
        listed(&h, "c0"),
        expect(&[("default/p1", 2), ("default/p2", 1), ("default/p3", 1)])
    );

    // Another cluster's first sync skips it too, whatever c0 holds; until a watch event
    // adds a live pod of its own, which the next chunk then finds and replaces.
    let other = begin(&h, "c1", &h.admin);
    assert_eq!(
        at.chunk("c1", &other, vec![pod("default", "p1", 7)]),
        (200, 0)
    );
    let event = json!({"type": "ADDED", "resource": "pods", "object": pod("default", "p9", 8)});
    let (s, r) = h.post(
        "/ingest/v1/clusters/c1/events",
        json!({ "events": [event] }),
    );
    assert_eq!((s, r["applied"].as_u64()), (200, Some(1)), "{r}");
    assert_eq!(
        at.chunk("c1", &other, vec![pod("default", "p9", 9)]),
        (200, 1)
    );
    assert_eq!(at.commit("c1", &other).0, 200);
    assert_eq!(
        listed(&h, "c1"),
        expect(&[("default/p1", 7), ("default/p9", 9)])
    );
    assert_eq!(
        count(&h, "SELECT count(*) FROM objects WHERE cluster = 'c1'"),
        2,
        "the event's row is replaced, not kept beside the snapshot's"
    );

    // The next snapshot of c0 looks its objects up: p1 unchanged, p2 newer, p3 gone.
    let again = begin(&h, "c0", &h.admin);
    let resync = vec![pod("default", "p1", 2), pod("default", "p2", 3)];
    assert_eq!(at.chunk("c0", &again, resync), (200, 1));
    assert_eq!(at.commit("c0", &again).0, 200);
    assert_eq!(
        listed(&h, "c0"),
        expect(&[("default/p1", 2), ("default/p2", 3)])
    );
}

/// The check that a type holds only the session's own rows reads at most
/// `OWN_ROWS_READ` of them: past that, the lookup comes back rather than a longer read.
#[test]
fn a_first_sync_larger_than_the_rows_read_looks_up_again() {
    let h = Harness::new();
    let at = LookupCounter::new(&h);
    let id = begin(&h, "c0", &h.admin);
    let many: Vec<Value> = (0..=OWN_ROWS_READ)
        .map(|i| pod("default", &format!("p{i:05}"), 1))
        .collect();
    assert_eq!(at.chunk("c0", &id, many), (200, 0));
    assert_eq!(
        at.chunk("c0", &id, vec![pod("default", "p00000", 2)]),
        (200, 1)
    );
    assert_eq!(at.commit("c0", &id).0, 200);
    assert_eq!(
        count(&h, "SELECT count(*) FROM objects"),
        OWN_ROWS_READ as i64 + 1
    );
    assert_eq!(
        rv_of(&h, "c0", "default", "p00000").1["metadata"]["resourceVersion"],
        "2"
    );
}

/// Each change item names what changed, field by field, and when: the engine's clock at the
/// push (the harness runs at `NOW`, 2027-01-15T08:00:00Z), in RFC 3339 as Kubernetes writes
/// times. Only the stored (current) version of an object is kept, so only a change of an
/// object that still exists carries it.
#[test]
fn change_items_carry_every_field_of_what_changed() {
    let h = Harness::new();
    h.snapshot(
        "c1",
        pods_type(),
        &[pod("a", "stay", 1), pod("b", "go", 1)],
        10,
    );
    h.snapshot("c1", pods_type(), &[pod("a", "stay", 1)], 10);
    let (s, feed) = h.get("/apis/clusterpedia.io/v1beta1/changes?limit=500");
    assert_eq!(s, 200, "{feed}");
    let items = feed["items"].as_array().unwrap();
    let expected = [
        ("ADDED", "a", "stay"),
        ("ADDED", "b", "go"),
        ("DELETED", "b", "go"),
    ];
    assert_eq!(items.len(), expected.len(), "{feed}");
    for (item, (change, ns, name)) in items.iter().zip(expected) {
        let mut header = item.as_object().unwrap().clone();
        let object = header.remove("object");
        assert_eq!(
            Value::Object(header),
            json!({
                "type": change, "cluster": "c1", "group": "", "version": "v1",
                "resource": "pods", "namespace": ns, "name": name,
                "uid": format!("uid-{ns}-{name}"), "changedAt": "2027-01-15T08:00:00Z",
            }),
            "{item}"
        );
        match name {
            "stay" => assert_eq!(object.unwrap()["metadata"]["uid"], "uid-a-stay"),
            _ => assert_eq!(object, None, "{item}"),
        }
    }
}
