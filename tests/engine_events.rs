//! Watch events are applied set-wise (one lookup and a few multi-row writes per request);
//! this checks that the outcome is exactly that of applying them one at a time, against an
//! independent model of the documented rules: stale or replayed events change nothing, a
//! deleted uid never comes back, a new uid under a stored name replaces (and deletes) the
//! old object. Real SQLite (in memory) through `engine::handle`.

mod common;

use common::*;
use edgepedia::store::{SqlValue, Store};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Added,
    Modified,
    Deleted,
}

#[derive(Debug, Clone)]
struct Event {
    kind: Kind,
    name: &'static str,
    /// Which incarnation of `name`: the uid is `<name>-<generation>`.
    generation: u8,
    rv: u32,
}

impl Event {
    fn uid(&self) -> String {
        format!("{}-{}", self.name, self.generation)
    }

    fn json(&self) -> Value {
        let kind = match self.kind {
            Kind::Added => "ADDED",
            Kind::Modified => "MODIFIED",
            Kind::Deleted => "DELETED",
        };
        json!({"type": kind, "resource": "pods", "object": {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": self.name, "namespace": "default", "uid": self.uid(),
                "resourceVersion": self.rv.to_string()},
            "spec": {"containers": [{"name": "c", "image": format!("img:{}", self.rv)}]}}})
    }
}

/// What the store should hold: objects by name (uid, resourceVersion), tombstones by uid
/// (resourceVersion), the feed (type, name, uid, resourceVersion) and the applied count.
#[derive(Debug, Default, PartialEq)]
struct State {
    objects: BTreeMap<String, (String, String)>,
    tombstones: BTreeMap<String, String>,
    feed: Vec<(String, String, String, String)>,
    applied: u64,
}

/// resourceVersions compare as numbers (they are generated decimal).
fn newer(incoming: &str, stored: &str) -> bool {
    incoming.parse::<u64>().unwrap() > stored.parse::<u64>().unwrap()
}

impl State {
    fn apply(&mut self, e: &Event) {
        let (uid, rv, name) = (e.uid(), e.rv.to_string(), e.name.to_owned());
        let before = self.feed.len();
        match e.kind {
            Kind::Added | Kind::Modified => {
                if self.tombstones.contains_key(&uid) {
                    return;
                }
                let change = match self.objects.get(&name) {
                    None => "ADDED",
                    Some((old_uid, old_rv)) if *old_uid != uid => {
                        self.tombstones.insert(old_uid.clone(), old_rv.clone());
                        self.feed.push((
                            "DELETED".into(),
                            name.clone(),
                            old_uid.clone(),
                            old_rv.clone(),
                        ));
                        "ADDED"
                    }
                    Some((_, old_rv)) if newer(&rv, old_rv) => "MODIFIED",
                    Some(_) => return,
                };
                self.objects.insert(name.clone(), (uid.clone(), rv.clone()));
                self.feed.push((change.into(), name, uid, rv));
            }
            Kind::Deleted => {
                if self.objects.get(&name).is_some_and(|(u, _)| *u == uid) {
                    self.objects.remove(&name);
                    self.feed
                        .push(("DELETED".into(), name, uid.clone(), rv.clone()));
                }
                self.tombstones.insert(uid, rv);
            }
        }
        if self.feed.len() > before {
            self.applied += 1;
        }
    }
}

fn text(v: &SqlValue) -> String {
    v.clone().into_string().unwrap_or_default()
}

/// Posts the events as one request; returns its `applied` count.
fn post(h: &Harness, events: &[Event]) -> Result<u64, TestCaseError> {
    let (status, body) = h.post(
        "/ingest/v1/clusters/c1/events",
        json!({"events": events.iter().map(Event::json).collect::<Vec<_>>()}),
    );
    prop_assert_eq!(status, 200, "{}", body);
    Ok(body["applied"].as_u64().unwrap())
}

fn stored(h: &Harness, applied: u64) -> State {
    let rows = |sql: &str| h.store.query(sql, &[]).unwrap();
    State {
        objects: rows("SELECT name, uid, resource_version FROM objects WHERE cluster = 'c1'")
            .iter()
            .map(|r| (text(&r[0]), (text(&r[1]), text(&r[2]))))
            .collect(),
        tombstones: rows("SELECT uid, resource_version FROM tombstones WHERE cluster = 'c1'")
            .iter()
            .map(|r| (text(&r[0]), text(&r[1])))
            .collect(),
        feed: rows("SELECT type, name, uid, resource_version FROM changes ORDER BY seq")
            .iter()
            .map(|r| (text(&r[0]), text(&r[1]), text(&r[2]), text(&r[3])))
            .collect(),
        applied,
    }
}

/// A store with its schema in place (the engine migrates on first use).
fn fresh() -> Harness {
    let h = Harness::new();
    assert_eq!(
        h.get("/apis/clusterpedia.io/v1beta1/resources/api/v1/pods")
            .0,
        200
    );
    h
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop_oneof![Just(Kind::Added), Just(Kind::Modified), Just(Kind::Deleted)],
        prop::sample::select(vec!["a", "b", "c"]),
        0u8..3,
        // Across 9 → 10 and 99 → 100: text order and numeric order differ there.
        prop::sample::select(vec![1u32, 2, 9, 10, 11, 99, 100]),
    )
        .prop_map(|(kind, name, generation, rv)| Event {
            kind,
            name,
            generation,
            rv,
        })
}

#[test]
fn a_batch_of_events_is_the_same_as_one_event_at_a_time() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let strategy = (
        prop::collection::vec(event(), 0..40),
        any::<prop::sample::Index>(),
    );
    TestRunner::new(Config {
        cases,
        ..Config::default()
    })
    .run(&strategy, |(events, split)| {
        let mut model = State::default();
        events.iter().for_each(|e| model.apply(e));

        // Two requests: the second starts from what the first stored.
        let at = split.index(events.len() + 1);
        let batched = fresh();
        let applied = post(&batched, &events[..at])? + post(&batched, &events[at..])?;
        prop_assert_eq!(&stored(&batched, applied), &model);

        let one_by_one = fresh();
        let mut applied = 0;
        for e in &events {
            applied += post(&one_by_one, std::slice::from_ref(e))?;
        }
        prop_assert_eq!(&stored(&one_by_one, applied), &model);
        Ok(())
    })
    .unwrap();
}
