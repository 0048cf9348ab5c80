//! The change feed end to end (DESIGN §3.1): snapshots pushed by the real agent and watch
//! deltas posted over real HTTP to the real `.wasm`, read back from
//! `/apis/clusterpedia.io/v1beta1/changes`. Expected changes come from the fixture files and
//! from the edits the tests make to them, never from the feed itself.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use support::fixture::{self, plural};
use support::{admin_token, mint, Server};

const FEED: &str = "/apis/clusterpedia.io/v1beta1/changes";
const CLUSTER: &str = "staging";

/// One page of the feed as `token` sees it.
fn page(s: &Server, query: &str, token: &str) -> (Vec<Value>, String) {
    let (code, body) = s.get_as(&format!("{FEED}?{query}"), Some(token));
    assert_eq!(code, 200, "{query}: {body}");
    assert_eq!(body["kind"], "ChangeList");
    let cursor = body["metadata"]["continue"]
        .as_str()
        .unwrap_or_else(|| panic!("{query}: metadata.continue is always set: {body}"))
        .to_owned();
    (body["items"].as_array().cloned().unwrap(), cursor)
}

/// Every change after `since` (a cursor), walked in pages of `limit`.
fn walk(s: &Server, since: &str, limit: usize, token: &str, filters: &str) -> (Vec<Value>, String) {
    let mut cursor = since.to_owned();
    let mut all = Vec::new();
    loop {
        let (items, next) = page(s, &format!("since={cursor}&limit={limit}{filters}"), token);
        assert!(items.len() <= limit);
        let done = items.len() < limit;
        all.extend(items);
        cursor = next;
        if done {
            return (all, cursor);
        }
    }
}

/// (TYPE, cluster, resource, namespace/name) of each change.
fn summary(items: &[Value]) -> Vec<(String, String, String, String)> {
    items
        .iter()
        .map(|c| {
            (
                c["type"].as_str().unwrap().to_owned(),
                c["cluster"].as_str().unwrap().to_owned(),
                c["resource"].as_str().unwrap().to_owned(),
                format!(
                    "{}/{}",
                    c["namespace"].as_str().unwrap(),
                    c["name"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

fn fixture_key(cluster: &str, o: &Value, change: &str) -> (String, String, String, String) {
    (
        change.to_owned(),
        cluster.to_owned(),
        plural(o["kind"].as_str().unwrap()),
        format!(
            "{}/{}",
            o["metadata"]["namespace"].as_str().unwrap_or(""),
            o["metadata"]["name"].as_str().unwrap()
        ),
    )
}

fn push_ok(s: &Server, cluster: &str, file: &Path) {
    let out = s.push(cluster, file, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_list(path: &Path, items: &[Value]) {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(path, serde_json::to_vec(&list).unwrap()).unwrap();
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Sleeps into the next whole second (the feed's clock ticks in seconds).
fn next_second() -> i64 {
    let start = now_unix();
    while now_unix() == start {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    now_unix()
}

#[test]
fn snapshots_feed_exactly_what_changed() {
    let s = Server::start();
    let admin = admin_token();
    let (empty, origin) = page(&s, "", &admin);
    assert!(empty.is_empty(), "a new edge has no changes");

    // The first push: one ADDED per object of the fixture.
    push_ok(&s, CLUSTER, &fixture::path(CLUSTER));
    let objects = fixture::objects(CLUSTER);
    assert!(!objects.is_empty());
    let (first, after_first) = walk(&s, &origin, 1000, &admin, "");
    let want: BTreeSet<_> = objects
        .iter()
        .map(|o| fixture_key(CLUSTER, o, "ADDED"))
        .collect();
    assert_eq!(first.len(), objects.len(), "one change per object");
    assert_eq!(summary(&first).into_iter().collect::<BTreeSet<_>>(), want);
    for c in &first {
        assert_eq!(c["object"]["metadata"]["uid"], c["uid"], "{c}");
        assert!(c["changedAt"].as_str().unwrap().ends_with('Z'));
    }

    // An identical re-push records nothing, and the cursor stays where it was.
    push_ok(&s, CLUSTER, &fixture::path(CLUSTER));
    let (again, cursor) = page(&s, &format!("since={after_first}"), &admin);
    assert!(
        again.is_empty(),
        "identical snapshot: {}",
        Value::from(again)
    );
    assert_eq!(cursor, after_first);

    // One pod removed, one deployment's labels changed, one pod added.
    let t_changed = next_second();
    let mut edited = objects.clone();
    let removed = edited.iter().position(|o| o["kind"] == "Pod").unwrap();
    let removed = edited.remove(removed);
    let deployment = edited
        .iter_mut()
        .find(|o| o["kind"] == "Deployment")
        .unwrap();
    deployment["metadata"]["labels"]["edgepedia.test/changed"] = json!("yes");
    // As in Kubernetes, a change comes with a new resourceVersion.
    deployment["metadata"]["resourceVersion"] = json!("99999999");
    let modified = deployment.clone();
    let mut added = removed.clone();
    added["metadata"]["name"] = json!("brand-new-pod");
    added["metadata"]["uid"] = json!("uid-brand-new-pod");
    edited.push(added.clone());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("edited.json");
    write_list(&file, &edited);
    push_ok(&s, CLUSTER, &file);

    let (changes, head) = walk(&s, &after_first, 1000, &admin, "");
    let want: BTreeSet<_> = [
        fixture_key(CLUSTER, &removed, "DELETED"),
        fixture_key(CLUSTER, &modified, "MODIFIED"),
        fixture_key(CLUSTER, &added, "ADDED"),
    ]
    .into();
    assert_eq!(summary(&changes).into_iter().collect::<BTreeSet<_>>(), want);
    for c in &changes {
        match c["type"].as_str().unwrap() {
            "DELETED" => {
                assert!(c.get("object").is_none(), "no object for a delete: {c}");
                assert_eq!(c["uid"], removed["metadata"]["uid"]);
            }
            "MODIFIED" => assert_eq!(
                c["object"]["metadata"]["labels"]["edgepedia.test/changed"],
                "yes"
            ),
            _ => assert_eq!(c["object"]["metadata"]["uid"], "uid-brand-new-pod"),
        }
    }

    // since= a time, as unix seconds or RFC 3339: only the changes from then on.
    for since in [t_changed.to_string(), rfc3339_by_chrono(t_changed)] {
        let (items, _) = page(&s, &format!("since={since}&limit=1000"), &admin);
        assert_eq!(summary(&items), summary(&changes), "since={since}");
    }

    // Without since: from the oldest retained change, in order.
    let (everything, _) = walk(&s, &origin, 1000, &admin, "");
    let (oldest_first, _) = page(&s, "limit=1000", &admin);
    assert_eq!(summary(&oldest_first), summary(&everything));
    assert_eq!(everything.len(), objects.len() + 3);

    // Paging with limit=1 visits every change once, in the same order.
    let (one_by_one, end) = walk(&s, &origin, 1, &admin, "");
    assert_eq!(summary(&one_by_one), summary(&everything));
    assert_eq!(end, head);

    // Filters.
    let deployments = objects.iter().filter(|o| o["kind"] == "Deployment").count();
    assert!(deployments > 0);
    let (items, _) = walk(&s, &origin, 1000, &admin, "&resources=apps/v1/deployments");
    assert_eq!(
        items.len(),
        deployments + 1,
        "each ADDED, plus one MODIFIED"
    );
    assert!(items
        .iter()
        .all(|c| c["resource"] == "deployments" && c["group"] == "apps"));
    let namespace = modified["metadata"]["namespace"].as_str().unwrap();
    let in_namespace = objects
        .iter()
        .filter(|o| o["metadata"]["namespace"] == namespace)
        .count();
    let (items, _) = walk(
        &s,
        &origin,
        1000,
        &admin,
        &format!("&namespaces={namespace}"),
    );
    let edits_in_namespace = [&removed, &modified, &added]
        .iter()
        .filter(|o| o["metadata"]["namespace"] == namespace)
        .count();
    assert_eq!(items.len(), in_namespace + edits_in_namespace);
    let (items, _) = walk(&s, &origin, 1000, &admin, "&clusters=prod-eu-1");
    assert!(items.is_empty());
    let (items, _) = walk(
        &s,
        &origin,
        1000,
        &admin,
        "&clusters=staging&resources=v1/pods,v1/secrets",
    );
    let pods_and_secrets = objects
        .iter()
        .filter(|o| o["kind"] == "Pod" || o["kind"] == "Secret")
        .count();
    assert_eq!(items.len(), pods_and_secrets + 2);

    // Claims: a tenant of other clusters sees none of it; Secrets need inventory:secrets.
    let tenant = mint("inventory:read", Some(&["prod-*"]), None);
    let (items, cursor) = walk(&s, &origin, 1000, &tenant, "");
    assert!(items.is_empty());
    assert_eq!(cursor, head, "an empty page still says where to resume");
    let reader = mint("inventory:read", None, None);
    let (items, _) = walk(&s, &origin, 1000, &reader, "");
    let secrets = objects.iter().filter(|o| o["kind"] == "Secret").count();
    assert!(secrets > 0);
    assert_eq!(items.len(), everything.len() - secrets);
    assert!(items.iter().all(|c| c["resource"] != "secrets"));
    let ns_reader = mint("inventory:read", None, Some(&[namespace]));
    let (items, _) = walk(&s, &origin, 1000, &ns_reader, "");
    let in_namespace_visible = everything
        .iter()
        .filter(|c| c["namespace"] == namespace && c["resource"] != "secrets")
        .count();
    assert!(in_namespace_visible > 0);
    assert_eq!(items.len(), in_namespace_visible);

    // Bad cursors and parameters are 400s; a cursor of another feed is 410.
    for (query, code) in [
        ("since=yesterday", 400),
        ("continue=42", 400),
        ("limit=0", 400),
        ("limit=100000", 400),
        ("resources=deployments", 400),
        ("clusters=Not_A_Cluster", 400),
        ("since=ffffffff.1", 410),
    ] {
        let (got, body) = s.get_as(&format!("{FEED}?{query}"), Some(&admin));
        assert_eq!(got, code, "{query}: {body}");
        assert_eq!(body["kind"], "Status");
    }
    let (code, _) = s.get_as(FEED, None);
    assert_eq!(code, 401);
}

/// `2026-12-01T04:00:00Z` for unix seconds, by chrono (not by the server's own code).
fn rfc3339_by_chrono(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn events(s: &Server, events: Value) -> Value {
    let (code, body) = s.request(
        "POST",
        &format!("/ingest/v1/clusters/{CLUSTER}/events"),
        Some(&admin_token()),
        None,
        Some(&serde_json::to_vec(&json!({ "events": events })).unwrap()),
    );
    assert_eq!(code, 200, "{body}");
    body
}

fn pod(name: &str, uid: &str, rv: &str, image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default",
        "uid": uid, "resourceVersion": rv}, "spec": {"containers": [{"name": "c", "image": image}]}})
}

#[test]
fn deltas_feed_and_deleted_objects_stay_deleted() {
    let s = Server::start();
    let admin = admin_token();
    let (_, origin) = page(&s, "", &admin);
    let get = |name: &str| {
        s.get(&format!(
            "/apis/clusterpedia.io/v1beta1/resources/clusters/{CLUSTER}/api/v1/namespaces/default/pods/{name}"
        ))
    };

    let v1 = pod("p", "uid-p", "10", "nginx:1");
    let v2 = pod("p", "uid-p", "11", "nginx:2");
    events(
        &s,
        json!([{"type": "ADDED", "resource": "pods", "object": v1}]),
    );
    events(
        &s,
        json!([{"type": "MODIFIED", "resource": "pods", "object": v2}]),
    );
    // Replays of what is stored, or older, record nothing.
    let replay = events(
        &s,
        json!([{"type": "MODIFIED", "resource": "pods", "object": v2},
               {"type": "MODIFIED", "resource": "pods", "object": v1}]),
    );
    assert_eq!(replay["applied"], 0);
    events(
        &s,
        json!([{"type": "DELETED", "resource": "pods", "object": pod("p", "uid-p", "12", "nginx:2")}]),
    );
    assert_eq!(get("p").0, 404);

    // A late ADDED or MODIFIED of the deleted uid does not bring it back…
    let late = events(
        &s,
        json!([{"type": "ADDED", "resource": "pods", "object": v1},
               {"type": "MODIFIED", "resource": "pods", "object": pod("p", "uid-p", "13", "nginx:3")}]),
    );
    assert_eq!(late["applied"], 0);
    assert_eq!(get("p").0, 404);
    // …but a new object of the same name (a new uid) is a new object.
    events(
        &s,
        json!([{"type": "ADDED", "resource": "pods", "object": pod("p", "uid-p2", "20", "nginx:4")}]),
    );
    assert_eq!(get("p").1["metadata"]["uid"], "uid-p2");
    // A re-created object whose DELETED never came: the old uid goes, the new one comes.
    events(
        &s,
        json!([{"type": "MODIFIED", "resource": "pods", "object": pod("p", "uid-p3", "30", "nginx:5")}]),
    );

    let (items, _) = walk(&s, &origin, 2, &admin, "");
    let got: Vec<(String, String)> = items
        .iter()
        .map(|c| {
            (
                c["type"].as_str().unwrap().to_owned(),
                c["uid"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("ADDED", "uid-p"),
        ("MODIFIED", "uid-p"),
        ("DELETED", "uid-p"),
        ("ADDED", "uid-p2"),
        ("DELETED", "uid-p2"),
        ("ADDED", "uid-p3"),
    ]
    .iter()
    .map(|(t, u)| (t.to_string(), u.to_string()))
    .collect();
    assert_eq!(got, want);
    // `object` is what a get returns now: only the live incarnation has one.
    let with_object: Vec<&str> = items
        .iter()
        .filter(|c| c.get("object").is_some())
        .map(|c| c["uid"].as_str().unwrap())
        .collect();
    assert_eq!(with_object, ["uid-p3"]);
    assert_eq!(
        items[5]["object"]["spec"]["containers"][0]["image"],
        "nginx:5"
    );
}

#[test]
fn changes_older_than_retention_are_410() {
    let s = Server::start_with_env(&[("SPIN_VARIABLE_CHANGES_RETENTION_SECONDS", "1")]);
    let admin = admin_token();
    let (_, origin) = page(&s, "", &admin);
    let before = now_unix() - 1;
    push_ok(&s, CLUSTER, &fixture::path(CLUSTER));
    let (first, after_first) = walk(&s, &origin, 1000, &admin, "");
    assert_eq!(first.len(), fixture::objects(CLUSTER).len());

    // Two seconds on, the next ingest prunes the first push's changes.
    next_second();
    next_second();
    events(
        &s,
        json!([{"type": "ADDED", "resource": "pods", "object": pod("late", "uid-late", "1", "x")}]),
    );

    for since in [origin.clone(), before.to_string()] {
        let (code, body) = s.get_as(&format!("{FEED}?since={since}"), Some(&admin));
        assert_eq!(code, 410, "since={since}: {body}");
        assert_eq!(body["reason"], "Expired");
    }
    // A cursor past the pruned changes still works, and so does starting afresh.
    let (items, _) = page(&s, &format!("since={after_first}"), &admin);
    assert_eq!(
        summary(&items),
        [(
            "ADDED".into(),
            CLUSTER.into(),
            "pods".into(),
            "default/late".into()
        )]
    );
    let (items, _) = page(&s, "", &admin);
    assert_eq!(summary(&items).len(), 1);
}

/// Retention can prune every change (nothing changed for longer than it): the feed's head is
/// then the newest pruned seq, not 0, so cursors handed out before, and the one a fresh
/// start hands out, keep working and see the next change.
#[test]
fn a_fully_pruned_feed_keeps_its_cursors() {
    let s = Server::start_with_env(&[("SPIN_VARIABLE_CHANGES_RETENTION_SECONDS", "1")]);
    let admin = admin_token();
    push_ok(&s, CLUSTER, &fixture::path(CLUSTER));
    let (first, after_first) = walk(&s, "", 1000, &admin, "");
    assert_eq!(first.len(), fixture::objects(CLUSTER).len());

    // Two seconds on, an identical re-push records nothing and prunes everything.
    next_second();
    next_second();
    push_ok(&s, CLUSTER, &fixture::path(CLUSTER));
    let (items, kept) = page(&s, &format!("since={after_first}"), &admin);
    assert!(items.is_empty(), "{items:?}");
    assert_eq!(kept, after_first, "nothing new: the cursor stays");
    let (items, fresh) = page(&s, "", &admin);
    assert!(items.is_empty(), "{items:?}");
    assert_eq!(fresh, after_first, "a fresh start is at the head");

    events(
        &s,
        json!([{"type": "ADDED", "resource": "pods", "object": pod("late", "uid-late", "1", "x")}]),
    );
    let late = [(
        "ADDED".into(),
        CLUSTER.into(),
        "pods".into(),
        "default/late".into(),
    )];
    let (items, _) = page(&s, &format!("since={after_first}"), &admin);
    assert_eq!(summary(&items), late);
}

/// `sync-agent changes` with the admin token.
fn agent_changes(s: &Server, args: &[&str]) -> std::process::Output {
    std::process::Command::new(support::agent_bin())
        .args(["changes", "--server", &s.base, "--token", &admin_token()])
        .args(args)
        .output()
        .expect("run sync-agent changes")
}

#[test]
fn the_agent_prints_the_feed_and_gates_ci_on_a_stored_cursor() {
    let s = Server::start();
    let admin = admin_token();
    let (_, origin) = page(&s, "", &admin);
    push_ok(&s, CLUSTER, &fixture::path(CLUSTER));
    let objects = fixture::objects(CLUSTER);
    let (feed, _) = walk(&s, &origin, 1000, &admin, "");
    assert_eq!(feed.len(), objects.len());

    // JSON lines: each change exactly as the feed serves it, across pages.
    let out = agent_changes(
        &s,
        &["--since", &origin, "--limit", "7", "--output", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, feed);

    // Text lines: one per change, naming type, cluster, resource and object.
    let out = agent_changes(&s, &["--since", &origin]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), objects.len());
    let first = &objects[0];
    let name = first["metadata"]["name"].as_str().unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains(" ADDED staging ") && l.ends_with(name)),
        "{text}"
    );

    // The CI gate: exit 1 when the namespace changed since the stored cursor, 0 when not.
    let namespace = objects
        .iter()
        .find(|o| o["kind"] == "Pod")
        .and_then(|o| o["metadata"]["namespace"].as_str())
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("cursor");
    std::fs::write(&cursor, &origin).unwrap();
    let gate = || {
        agent_changes(
            &s,
            &[
                "--cursor-file",
                cursor.to_str().unwrap(),
                "--namespaces",
                &namespace,
                "--exit-code",
            ],
        )
    };
    let out = gate();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let in_namespace = objects
        .iter()
        .filter(|o| o["metadata"]["namespace"] == namespace.as_str())
        .count();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        in_namespace
    );
    let out = gate();
    assert_eq!(
        out.status.code(),
        Some(0),
        "nothing new: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty());

    // A pod of that namespace goes: the gate fails again and says what.
    let mut edited = objects.clone();
    let gone = edited
        .iter()
        .position(|o| o["kind"] == "Pod" && o["metadata"]["namespace"] == namespace.as_str())
        .unwrap();
    let gone = edited.remove(gone);
    let file = dir.path().join("edited.json");
    write_list(&file, &edited);
    push_ok(&s, CLUSTER, &file);
    let out = gate();
    assert_eq!(out.status.code(), Some(1));
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed.lines().count(), 1, "{printed}");
    assert!(printed.contains(" DELETED staging v1/pods "), "{printed}");
    assert!(printed
        .trim_end()
        .ends_with(gone["metadata"]["name"].as_str().unwrap()));

    // A cursor of another feed: exit 2 with the edge's message.
    std::fs::write(&cursor, "ffffffff.1").unwrap();
    let out = gate();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn paging_while_ingest_runs_sees_every_change_once_in_order() {
    let s = Server::start();
    let admin = admin_token();
    let (_, origin) = page(&s, "", &admin);
    const WRITES: usize = 40;
    let writer = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            for i in 0..WRITES {
                events(
                    &s,
                    json!([{"type": "ADDED", "resource": "pods",
                            "object": pod(&format!("p{i}"), &format!("uid-{i}"), "1", "x")}]),
                );
            }
        });
        // Poll with small pages while the writer commits, until it is done and caught up.
        let mut cursor = origin.clone();
        let mut seen = Vec::new();
        loop {
            let finished = writer.is_finished();
            let (items, next) = page(&s, &format!("since={cursor}&limit=3"), &admin);
            let caught_up = items.len() < 3;
            seen.extend(items);
            cursor = next;
            if finished && caught_up {
                break;
            }
        }
        seen
    });
    let uids: Vec<String> = writer
        .iter()
        .map(|c| c["uid"].as_str().unwrap().to_owned())
        .collect();
    let want: Vec<String> = (0..WRITES).map(|i| format!("uid-{i}")).collect();
    assert_eq!(uids, want, "every change once, in commit order");
}
