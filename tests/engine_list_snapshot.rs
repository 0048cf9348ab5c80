//! A list read by more than one statement is one snapshot, and a list that fits one statement
//! runs only that statement (no BEGIN/COMMIT round trips). Real SQLite on a file with two
//! connections: the list reads on one while a new snapshot of the cluster is pushed through
//! the engine on the other, right after the list's first read.

mod common;

use common::*;
use edgepedia::store::rusqlite_store::RusqliteStore;
use edgepedia::store::{Row, SqlValue, Store, StoreError};
use serde_json::Value;
use std::cell::RefCell;

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/pods";

/// The list's connection: notes every statement, and runs `after_first_read` once, right
/// after the first statement that reads objects.
struct Interleaved<'a> {
    reader: RusqliteStore,
    statements: RefCell<Vec<String>>,
    after_first_read: RefCell<Option<Box<dyn FnOnce() + 'a>>>,
}

impl Store for Interleaved<'_> {
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        let rows = self.reader.query(sql, params);
        self.statements.borrow_mut().push(sql.to_owned());
        if sql.starts_with("SELECT") && sql.contains("FROM objects") {
            if let Some(write) = self.after_first_read.borrow_mut().take() {
                write();
            }
        }
        rows
    }
}

/// `count` pods of cluster c1 at resourceVersion `rv`.
fn pods(count: usize, rv: u64) -> Vec<Value> {
    (0..count)
        .map(|i| pod("default", &format!("p{i:04}"), rv))
        .collect()
}

/// The resourceVersions a list answered, once each, in order of first appearance.
fn versions(list: &Value) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for item in list["items"].as_array().unwrap() {
        let rv = item["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_owned();
        if !seen.contains(&rv) {
            seen.push(rv);
        }
    }
    seen
}

/// Lists `target` while c1's 1,200 pods at version 1 are replaced by 1,200 at version 2.
fn list_during_resync(target: &str) -> (Value, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("edge.db");
    let writer = Harness {
        store: RusqliteStore::open(&db).unwrap(),
        ..Harness::new()
    };
    writer.snapshot("c1", pods_type(), &pods(1200, 1), 400);
    let store = Interleaved {
        reader: RusqliteStore::open(&db).unwrap(),
        statements: RefCell::new(Vec::new()),
        after_first_read: RefCell::new(Some(Box::new(|| {
            writer.snapshot("c1", pods_type(), &pods(1200, 2), 400);
        }))),
    };
    let response = send(
        &store,
        edgepedia::route::Method::Get,
        target,
        Some(&writer.admin),
        Vec::new(),
    );
    assert_eq!(response.status, 200);
    let list: Value = serde_json::from_slice(&response.collect().unwrap()).unwrap();
    assert!(
        store.after_first_read.borrow().is_none(),
        "the re-sync ran during the list"
    );
    let statements = store.statements.into_inner();
    (list, statements)
}

#[test]
fn a_list_of_several_statements_is_one_snapshot() {
    for target in [PODS.to_owned(), format!("{PODS}?limit=1000")] {
        let (list, statements) = list_during_resync(&target);
        let expected = if target.contains("limit") { 1000 } else { 1200 };
        assert_eq!(
            list["items"].as_array().unwrap().len(),
            expected,
            "{target}"
        );
        assert_eq!(
            versions(&list).len(),
            1,
            "{target}: one snapshot, not a mix: {:?}",
            versions(&list)
        );
        assert!(statements.iter().any(|s| s == "BEGIN"), "{statements:?}");
    }
}

#[test]
fn a_list_of_one_statement_runs_only_that_statement() {
    for target in [
        format!("{PODS}?labelSelector=app%3Dp0007"),
        format!("{PODS}?limit=500"),
    ] {
        let (list, statements) = list_during_resync(&target);
        let expected = if target.contains("limit") { 500 } else { 1 };
        assert_eq!(
            list["items"].as_array().unwrap().len(),
            expected,
            "{target}"
        );
        assert_eq!(versions(&list), ["1"], "{target}: read before the re-sync");
        let reads = statements.iter().filter(|s| s.contains("FROM objects"));
        assert_eq!(reads.count(), 1, "{target}: {statements:?}");
        assert!(
            !statements.iter().any(|s| s == "BEGIN" || s == "COMMIT"),
            "{statements:?}"
        );
    }
}
