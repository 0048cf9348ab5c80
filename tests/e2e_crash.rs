//! Crash safety (issue "Step 9 reliability"): the host is SIGKILLed at random points while the
//! real agent pushes snapshots and watch deltas are posted, and restarted on the same state.
//! After each restart: SQLite's integrity check passes; every cluster × type holds wholly the
//! old snapshot or wholly the new one (and the deltas cluster a whole prefix of the batches);
//! replaying the change feed from its start yields exactly the stored objects; a re-push
//! converges. A reader polling during a push sees the old or the new snapshot, never a mix.
//! Expected sets come from the files and batches sent, never from responses.
//! `EDGEPEDIA_CRASH_ROUNDS` (default 20) and `EDGEPEDIA_CRASH_SEED` tune the run.

mod support;

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::fixture::{self, plural, SEED_RESOURCES};
use support::rng::Rng;
use support::{admin_token, Server};

const FEED: &str = "/apis/clusterpedia.io/v1beta1/changes";
/// Fed by snapshots of a varied fixture.
const SNAP: &str = "prod-eu-1";
/// Fed by watch deltas only.
const DELTAS: &str = "crash-deltas";

fn seed() -> u64 {
    std::env::var("EDGEPEDIA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1
}

/// (uid, resourceVersion) per resource (plural).
type Sets = BTreeMap<String, BTreeSet<(String, String)>>;

/// The fixture of [`SNAP`], varied for `round`: every object gets a round label and a new
/// resourceVersion, about one in six is left out (never the first of its kind, so every type
/// keeps a session), and a few new pods come.
fn variant(round: u64, rng: &mut Rng) -> Vec<Value> {
    let mut out = Vec::new();
    let mut seen_kinds = BTreeSet::new();
    let mut template = None;
    for (i, mut o) in fixture::objects(SNAP).into_iter().enumerate() {
        let kind = o["kind"].as_str().unwrap().to_owned();
        let first = seen_kinds.insert(kind.clone());
        if round > 0 && !first && rng.below(6) == 0 {
            continue;
        }
        o["metadata"]["labels"]["crash.test/round"] = json!(round.to_string());
        o["metadata"]["resourceVersion"] = json!((round * 100_000 + i as u64 + 1).to_string());
        if kind == "Pod" && template.is_none() {
            template = Some(o.clone());
        }
        out.push(o);
    }
    for k in 0..=rng.below(3) as u64 {
        let mut pod = template.clone().unwrap();
        pod["metadata"]["name"] = json!(format!("crash-r{round}-{k}"));
        pod["metadata"]["uid"] = json!(format!("uid-crash-r{round}-{k}"));
        pod["metadata"]["resourceVersion"] = json!((round * 100_000 + 90_000 + k).to_string());
        out.push(pod);
    }
    out
}

fn sets_of(objects: &[Value]) -> Sets {
    let mut sets = Sets::new();
    for o in objects {
        sets.entry(plural(o["kind"].as_str().unwrap()))
            .or_default()
            .insert((
                o["metadata"]["uid"].as_str().unwrap().to_owned(),
                o["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ));
    }
    sets
}

fn write_list(path: &Path, items: &[Value]) {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(path, serde_json::to_vec(&list).unwrap()).unwrap();
}

/// `sync-agent push` as a child process, so the host can be crashed under it.
fn spawn_push(base: &str, cluster: &str, file: &Path) -> Child {
    Command::new(support::agent_bin())
        .args([
            "push",
            "--quiet",
            "--chunk-bytes",
            "16384",
            "--server",
            base,
        ])
        .args(["--token", &admin_token(), "--cluster", cluster, "--file"])
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run sync-agent")
}

/// Waits for the agent at most `limit`, then kills it. Returns whether it succeeded.
fn finish(mut child: Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn push_ok(s: &Server, cluster: &str, file: &Path) {
    let out = s.push(cluster, file, &[]);
    assert!(
        out.status.success(),
        "push {cluster}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The stored (uid, resourceVersion) set of one cluster × type, via the read API.
fn stored(s: &Server, cluster: &str, prefix: &str, resource: &str) -> BTreeSet<(String, String)> {
    let path =
        format!("/apis/clusterpedia.io/v1beta1/resources/clusters/{cluster}/{prefix}/{resource}");
    let (code, list) = s.get(&path);
    assert_eq!(code, 200, "{path}: {list:.300}");
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: not a list: {list:.300}"))
        .iter()
        .map(|i| {
            (
                i["metadata"]["uid"].as_str().unwrap().to_owned(),
                i["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

fn seed_types() -> impl Iterator<Item = (&'static str, String)> {
    SEED_RESOURCES.iter().map(|(p, kind, _)| (*p, plural(kind)))
}

fn integrity_ok(state: &Path) {
    let db = state.join("sqlite_db.db");
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
    let rows: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, ["ok"], "integrity_check of {}", db.display());
}

/// Replays the whole feed: uids per (cluster, resource).
fn replay(s: &Server) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut objects: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut query = "limit=1000".to_owned();
    for _ in 0..10_000 {
        let (code, body) = s.get(&format!("{FEED}?{query}"));
        assert_eq!(code, 200, "{query}: {body:.300}");
        let items = body["items"].as_array().unwrap();
        for c in items {
            let key = (
                c["cluster"].as_str().unwrap().to_owned(),
                c["resource"].as_str().unwrap().to_owned(),
            );
            let uid = c["uid"].as_str().unwrap().to_owned();
            let set = objects.entry(key).or_default();
            match c["type"].as_str().unwrap() {
                "ADDED" | "MODIFIED" => set.insert(uid),
                "DELETED" => set.remove(&uid),
                other => panic!("change type {other}: {c}"),
            };
        }
        if items.len() < 1000 {
            objects.retain(|_, set| !set.is_empty());
            return objects;
        }
        query = format!(
            "since={}&limit=1000",
            body["metadata"]["continue"].as_str().unwrap()
        );
    }
    panic!("the feed never ended");
}

/// The watch-delta batches: batch n adds pod d-n, modifies d-(n-1), deletes d-(n-3).
fn batch(n: u64) -> Value {
    let pod = |j: u64, rv: u64| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("d-{j}"),
            "namespace": "default", "uid": format!("uid-d-{j}"), "resourceVersion": rv.to_string(),
            "labels": {"crash.test/batch": n.to_string()}},
            "spec": {"containers": [{"name": "c", "image": "x"}]}})
    };
    let mut events = vec![json!({"type": "ADDED", "resource": "pods", "object": pod(n, 2 * n)})];
    if n > 1 {
        events
            .push(json!({"type": "MODIFIED", "resource": "pods", "object": pod(n - 1, 2 * n + 1)}));
    }
    if n > 3 {
        events
            .push(json!({"type": "DELETED", "resource": "pods", "object": pod(n - 3, 2 * n + 1)}));
    }
    json!({ "events": events })
}

/// The pods of [`DELTAS`] after batches 1..=k, computed without the server.
fn after_batches(k: u64) -> BTreeSet<(String, String)> {
    let mut pods = BTreeMap::new();
    for n in 1..=k {
        pods.insert(n, 2 * n);
        if n > 1 {
            pods.insert(n - 1, 2 * n + 1);
        }
        if n > 3 {
            pods.remove(&(n - 3));
        }
    }
    pods.into_iter()
        .map(|(j, rv)| (format!("uid-d-{j}"), rv.to_string()))
        .collect()
}

/// Posts one batch; Ok(true) when answered 200, Ok(false) on another answer, Err on no answer.
fn post_batch(agent: &ureq::Agent, base: &str, n: u64) -> Result<bool, ureq::Error> {
    let response = agent
        .post(format!("{base}/ingest/v1/clusters/{DELTAS}/events"))
        .header("Authorization", format!("Bearer {}", admin_token()))
        .header("Content-Type", "application/json")
        .send(serde_json::to_vec(&batch(n)).unwrap())?;
    Ok(response.status().as_u16() == 200)
}

fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// What the deltas writer got to: batches 1..=acked answered 200; `uncertain` was in flight.
#[derive(Default, Clone, Copy)]
struct Deltas {
    acked: u64,
    uncertain: Option<u64>,
}

#[test]
fn crashes_during_ingest_leave_whole_snapshots_and_a_faithful_feed() {
    let rounds: u64 = std::env::var("EDGEPEDIA_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let seed = seed();
    eprintln!("e2e_crash: {rounds} rounds, EDGEPEDIA_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();

    let mut s = Server::start();
    let mut old = variant(0, &mut rng);
    let file = dir.path().join("round-0.json");
    write_list(&file, &old);
    push_ok(&s, SNAP, &file);
    let mut deltas = Deltas::default();
    // How often the crash hit a running push, left a type old, or cut a delta batch.
    let (mut hit_push, mut types_old, mut cut_batches) = (0, 0, 0);

    for round in 1..=rounds {
        let new = variant(round, &mut rng);
        let file = dir.path().join(format!("round-{round}.json"));
        write_list(&file, &new);
        let delay = rng.below(301) as u64;
        let ride_through = rng.below(2) == 0;
        let context = format!("round {round} (seed {seed}, crash after {delay} ms)");

        // Deltas: batch after batch until stopped or unanswered.
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(Mutex::new(deltas));
        let writer = {
            let (stop, progress, base) = (stop.clone(), progress.clone(), s.base.clone());
            std::thread::spawn(move || {
                let agent = http_agent();
                for _ in 0..10_000 {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let n = progress.lock().unwrap().acked + 1;
                    progress.lock().unwrap().uncertain = Some(n);
                    match post_batch(&agent, &base, n) {
                        Ok(true) => {
                            let mut p = progress.lock().unwrap();
                            p.acked = n;
                            p.uncertain = None;
                        }
                        // An answer other than 200 while the host restarts, or none at all.
                        _ => return,
                    }
                }
            })
        };
        let mut push = spawn_push(&s.base, SNAP, &file);
        std::thread::sleep(Duration::from_millis(delay));
        hit_push += u32::from(push.try_wait().unwrap().is_none());
        s = s.crash_and_restart(&[]);
        stop.store(true, Ordering::SeqCst);
        writer.join().unwrap();
        deltas = *progress.lock().unwrap();
        // The agent either retries into the new host or is stopped here.
        let pushed = if ride_through {
            finish(push, Duration::from_secs(30))
        } else {
            finish(push, Duration::ZERO)
        };

        // (1) The database file is sound.
        integrity_ok(s.state.path());

        // (2) Each type of the snapshot cluster is wholly old or wholly new.
        let (old_sets, new_sets) = (sets_of(&old), sets_of(&new));
        let mut stored_now: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for (prefix, resource) in seed_types() {
            let have = stored(&s, SNAP, prefix, &resource);
            let was = old_sets.get(&resource).cloned().unwrap_or_default();
            let will = new_sets.get(&resource).cloned().unwrap_or_default();
            assert!(
                have == was || have == will,
                "{context}: {SNAP} {resource} is a mix (agent ok: {pushed}): \
                 {} stored, {} old, {} new; not in either: {:?}",
                have.len(),
                was.len(),
                will.len(),
                have.iter()
                    .filter(|x| !was.contains(x) && !will.contains(x))
                    .take(5)
                    .collect::<Vec<_>>()
            );
            types_old += u32::from(have != will);
            if pushed {
                assert_eq!(have, will, "{context}: {resource}: the push succeeded");
            }
            stored_now.insert(
                (SNAP.to_owned(), resource),
                have.into_iter().map(|(uid, _)| uid).collect(),
            );
        }
        // The deltas cluster holds a whole prefix of the batches.
        let have = stored(&s, DELTAS, "api/v1", "pods");
        let acked = after_batches(deltas.acked);
        match deltas.uncertain {
            Some(n) => assert!(
                have == acked || have == after_batches(n),
                "{context}: deltas: {have:?} is neither after batch {} nor {n}",
                deltas.acked
            ),
            None => assert_eq!(
                have, acked,
                "{context}: deltas after batch {}",
                deltas.acked
            ),
        }
        cut_batches += u32::from(deltas.uncertain.is_some());
        if have != acked {
            deltas.acked = deltas.uncertain.unwrap();
        }
        deltas.uncertain = None;
        stored_now.insert(
            (DELTAS.to_owned(), "pods".to_owned()),
            have.into_iter().map(|(uid, _)| uid).collect(),
        );

        // (3) Replaying the feed from its start yields exactly the stored objects.
        stored_now.retain(|_, set| !set.is_empty());
        let replayed = replay(&s);
        assert_eq!(
            replayed, stored_now,
            "{context}: the feed disagrees with the objects"
        );

        // (4) A re-push converges.
        push_ok(&s, SNAP, &file);
        for (prefix, resource) in seed_types() {
            let will = new_sets.get(&resource).cloned().unwrap_or_default();
            assert_eq!(
                stored(&s, SNAP, prefix, &resource),
                will,
                "{context}: {resource} after a re-push"
            );
        }
        old = new;
    }
    integrity_ok(s.state.path());
    eprintln!(
        "e2e_crash: {rounds} rounds in {:.1}s (seed {seed}): crashed during {hit_push} pushes, \
         {types_old} types kept the old snapshot, {cut_batches} delta batches cut, {} applied",
        started.elapsed().as_secs_f64(),
        deltas.acked
    );
}

#[test]
fn a_reader_during_a_push_sees_the_old_or_the_new_snapshot() {
    let s = Server::start();
    let seed = seed();
    eprintln!("e2e_crash reader: EDGEPEDIA_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut old = variant(0, &mut rng);
    let file = dir.path().join("v0.json");
    write_list(&file, &old);
    push_ok(&s, SNAP, &file);
    let watched = [("api/v1", "pods"), ("apis/apps/v1", "deployments")];
    let mut reads = 0;
    for version in 1..=4u64 {
        let new = variant(version, &mut rng);
        let file = dir.path().join(format!("v{version}.json"));
        write_list(&file, &new);
        let (old_sets, new_sets) = (sets_of(&old), sets_of(&new));
        let mut push = spawn_push(&s.base, SNAP, &file);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen_new = BTreeSet::new();
        loop {
            let done = push.try_wait().unwrap();
            for (prefix, resource) in watched {
                let have = stored(&s, SNAP, prefix, resource);
                reads += 1;
                if have == new_sets[resource] {
                    seen_new.insert(resource);
                } else {
                    assert!(
                        have == old_sets[resource],
                        "version {version} (seed {seed}): {resource} is a mix of old and new"
                    );
                    assert!(
                        !seen_new.contains(resource),
                        "version {version} (seed {seed}): {resource} went back to the old snapshot"
                    );
                }
            }
            if let Some(status) = done {
                assert!(status.success(), "version {version}: the push failed");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "version {version}: push too slow"
            );
        }
        for (prefix, resource) in watched {
            assert_eq!(stored(&s, SNAP, prefix, resource), new_sets[resource]);
        }
        old = new;
    }
    eprintln!("e2e_crash reader: {reads} reads during 4 pushes");
}
