//! A database that is busy or interrupts a statement (SQLite's busy timeout, the local
//! runtime's statement budget, libSQL interrupting a reader beside a writer) is transient:
//! reads are run again, then answered 503 with Retry-After; writes are answered 503 at once
//! with nothing changed; never a 500. The store is real SQLite; only the failures are
//! injected, with the error texts the backends give, because a libSQL server cannot run here
//! and SQLite's own busy/interrupt cannot be timed to one chosen statement.

mod common;

use common::*;
use edgepedia::route::Method;
use edgepedia::store::{Row, SqlValue, Store, StoreError};
use serde_json::{json, Value};
use std::cell::Cell;

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";

/// Real SQLite underneath; the next `fail` statements whose SQL satisfies `when` fail with
/// `error` instead of running.
struct Flaky<'a> {
    inner: &'a dyn Store,
    error: &'static str,
    when: fn(&str) -> bool,
    fail: Cell<u32>,
    failed: Cell<u32>,
    reconnected: Cell<u32>,
}

impl<'a> Flaky<'a> {
    fn new(inner: &'a dyn Store, error: &'static str, when: fn(&str) -> bool, fail: u32) -> Self {
        Self {
            inner,
            error,
            when,
            fail: Cell::new(fail),
            failed: Cell::new(0),
            reconnected: Cell::new(0),
        }
    }
}

impl Store for Flaky<'_> {
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        if self.fail.get() > 0 && (self.when)(sql) {
            self.fail.set(self.fail.get() - 1);
            self.failed.set(self.failed.get() + 1);
            return Err(StoreError(format!("{} (in {sql:.40})", self.error)));
        }
        self.inner.query(sql, params)
    }

    fn reconnect(&self) {
        self.reconnected.set(self.reconnected.get() + 1);
    }
}

fn reads_objects(sql: &str) -> bool {
    sql.starts_with("SELECT") && sql.contains("FROM objects")
}

/// As an admin: (status, Retry-After, body).
fn call(store: &dyn Store, method: Method, target: &str) -> (u16, Option<u32>, Value) {
    let admin = token("inventory:read inventory:write inventory:secrets", None);
    let body = serde_json::to_vec(&json!(null)).unwrap();
    let response = send(store, method, target, Some(&admin), body);
    let (status, retry_after) = (response.status, response.retry_after);
    let bytes = response.collect().unwrap();
    (status, retry_after, serde_json::from_slice(&bytes).unwrap())
}

/// `count` pods in cluster c1, pushed through the engine; returns their keys in list order.
fn seeded(count: usize) -> (Harness, Vec<String>) {
    let h = Harness::new();
    let items: Vec<Value> = (0..count)
        .map(|i| pod("default", &format!("p{i:04}"), 1 + i as u64))
        .collect();
    h.snapshot("c1", pods_type(), &items, 250);
    let expected = (0..count).map(|i| format!("c1/default/p{i:04}")).collect();
    (h, expected)
}

#[test]
fn a_read_interrupted_twice_is_answered_from_the_third_attempt() {
    let (h, expected) = seeded(20);
    // SQLite's texts, and libSQL's as the guest reads them through Spin (docs/DECISIONS.md).
    for error in [
        "interrupted",
        "database is locked",
        "Io(\"Hrana: `cursor error: `error at step 0: (error code: SQLITE_BUSY) `SQLite error: database is locked```\")",
        "Io(\"Hrana: `api error: `{\\\"message\\\":\\\"The stream has expired due to inactivity\\\",\\\"code\\\":\\\"STREAM_EXPIRED\\\"}``\")",
    ] {
        let flaky = Flaky::new(&h.store, error, reads_objects, 2);
        let (status, _, list) = call(&flaky, Method::Get, PODS);
        assert_eq!(status, 200, "{error}: {list}");
        assert_eq!(flaky.failed.get(), 2);
        assert_eq!(flaky.reconnected.get(), 2, "each retry on a new connection");
        assert_eq!(names(&list), expected, "{error}");
    }
}

#[test]
fn a_read_that_stays_interrupted_gets_503_with_retry_after_never_500() {
    let (h, _) = seeded(5);
    let flaky = Flaky::new(&h.store, "interrupted", reads_objects, u32::MAX);
    let (status, retry_after, body) = call(&flaky, Method::Get, PODS);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "ServiceUnavailable");
    assert_eq!(body["code"], 503);
    assert_eq!(body["details"]["retryAfterSeconds"], 1);
    assert_eq!(retry_after, Some(1));
    assert_eq!(flaky.failed.get(), 3, "three attempts in all");
}

#[test]
fn other_store_failures_stay_500() {
    let (h, _) = seeded(5);
    let flaky = Flaky::new(&h.store, "disk I/O error", reads_objects, u32::MAX);
    let (status, retry_after, body) = call(&flaky, Method::Get, PODS);
    assert_eq!((status, retry_after), (500, None), "{body}");
    assert_eq!(flaky.failed.get(), 1, "not retried");
}

/// A streamed list has sent its status line before the later pages are read: an interrupt
/// there is retried in place, so the body is complete, each object once.
#[test]
fn a_later_page_of_a_streamed_list_is_read_again_in_place() {
    let count = edgepedia::list::INTERNAL_PAGE as usize * 2 + 10;
    let (h, expected) = seeded(count);
    // The first page query passes; the second fails twice.
    let flaky = Flaky::new(&h.store, "interrupted", reads_objects, 0);
    let reader = token("inventory:read", None);
    let response = send(&flaky, Method::Get, PODS, Some(&reader), Vec::new());
    assert_eq!(response.status, 200);
    flaky.fail.set(2);
    let bytes = response.collect().expect("a complete body");
    let list: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(flaky.failed.get(), 2, "the injected failures were met");
    assert_eq!(flaky.reconnected.get(), 2);
    assert_eq!(names(&list), expected);
}

#[test]
fn a_write_the_database_refuses_gets_503_at_once_and_changes_nothing() {
    let (h, expected) = seeded(10);
    let (s, session) = h.post(
        "/ingest/v1/clusters/c1/snapshots",
        json!({"resourceTypes": pods_type()}),
    );
    assert_eq!(s, 201, "{session}");
    let id = session["session"].as_str().unwrap();
    let chunk = json!({"items": [pod("default", "only", 1)]});
    let (s, _) = h.post(
        &format!("/ingest/v1/clusters/c1/snapshots/{id}/chunks"),
        chunk,
    );
    assert_eq!(s, 200);
    // The commit's writes meet a locked database (another writer past the busy timeout).
    let flaky = Flaky::new(
        &h.store,
        "database is locked",
        |sql| sql.starts_with("INSERT INTO changes"),
        u32::MAX,
    );
    let (status, retry_after, body) = call(
        &flaky,
        Method::Post,
        &format!("/ingest/v1/clusters/c1/snapshots/{id}/commit"),
    );
    assert_eq!((status, retry_after), (503, Some(1)), "{body}");
    assert_eq!(flaky.failed.get(), 1, "a write is not retried by the edge");
    assert_eq!(flaky.reconnected.get(), 0);
    let (_, list) = h.get(PODS);
    assert_eq!(names(&list), expected, "the previous snapshot is intact");
    // The session is still open: the agent's retry commits it.
    let (s, body) = h.post(
        &format!("/ingest/v1/clusters/c1/snapshots/{id}/commit"),
        json!(null),
    );
    assert_eq!(s, 200, "{body}");
    let (_, list) = h.get(PODS);
    assert_eq!(names(&list), ["c1/default/only"]);
}
