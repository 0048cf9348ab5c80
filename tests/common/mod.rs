//! Shared by the native engine tests: a harness that sends requests through
//! `engine::handle` on in-memory SQLite with real HS256 tokens, and fixture helpers.
#![allow(dead_code)]

use edgepedia::auth::{ScopeClaims, Variables};
use edgepedia::engine::{handle, Request, RequestBody};
use edgepedia::response::Response;
use edgepedia::route::Method;
use edgepedia::store::rusqlite_store::RusqliteStore;
use edgepedia::store::Store;
use jwt_simple::prelude::*;
use serde_json::{json, Value};

pub const SECRET: &str = "engine-test-secret";
pub const NOW: i64 = 1_800_000_000;

pub struct Vars;
impl Variables for Vars {
    fn get(&self, name: &str) -> Option<String> {
        match name {
            "jwt_hs256_secret" => Some(SECRET.into()),
            "jwt_issuer" | "jwt_audience" => Some("edgepedia".into()),
            _ => None,
        }
    }
}

pub fn token(scope: &str, clusters: Option<Vec<&str>>) -> String {
    let custom = ScopeClaims {
        scope: Some(scope.into()),
        clusters: clusters.map(|c| c.into_iter().map(String::from).collect()),
        ..Default::default()
    };
    let claims = Claims::with_custom_claims(custom, Duration::from_hours(1))
        .with_issuer("edgepedia")
        .with_audience("edgepedia");
    HS256Key::from_bytes(SECRET.as_bytes())
        .authenticate(claims)
        .unwrap()
}

/// One request through `engine::handle` on `store`, its response not yet read.
pub fn send<'s>(
    store: &'s dyn Store,
    method: Method,
    target: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> Response<'s> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let auth = token.map(|t| format!("Bearer {t}"));
    handle(
        store,
        &Vars,
        Request {
            method,
            path,
            query,
            authorization: auth.as_deref(),
            accept: None,
            body: RequestBody::Bytes(body),
        },
        NOW,
    )
}

/// One request through `engine::handle` on `store`: its status and JSON body.
pub fn call_on(
    store: &dyn Store,
    method: Method,
    target: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let response = send(store, method, target, token, body);
    let status = response.status;
    let bytes = response.collect().unwrap();
    (
        status,
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{target}: {e}: {}", String::from_utf8_lossy(&bytes))),
    )
}

pub struct Harness {
    pub store: RusqliteStore,
    pub admin: String,
}

impl Harness {
    pub fn new() -> Self {
        Self {
            store: RusqliteStore::open_in_memory().unwrap(),
            admin: token("inventory:read inventory:write inventory:secrets", None),
        }
    }

    pub fn call(
        &self,
        method: Method,
        target: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Value) {
        call_on(&self.store, method, target, token, body)
    }

    pub fn get(&self, target: &str) -> (u16, Value) {
        self.call(Method::Get, target, Some(&self.admin.clone()), Vec::new())
    }

    pub fn post(&self, target: &str, body: Value) -> (u16, Value) {
        self.call(
            Method::Post,
            target,
            Some(&self.admin.clone()),
            serde_json::to_vec(&body).unwrap(),
        )
    }

    /// begin → chunks of `chunk` objects → commit, asserting each step succeeds.
    pub fn snapshot(&self, cluster: &str, types: Value, items: &[Value], chunk: usize) -> Value {
        let (s, session) = self.post(
            &format!("/ingest/v1/clusters/{cluster}/snapshots"),
            json!({"resourceTypes": types}),
        );
        assert_eq!(s, 201, "{session}");
        let id = session["session"].as_str().unwrap().to_owned();
        for part in items.chunks(chunk.max(1)) {
            let (s, body) = self.post(
                &format!("/ingest/v1/clusters/{cluster}/snapshots/{id}/chunks"),
                json!({"items": part}),
            );
            assert_eq!(s, 200, "{body}");
        }
        let (s, body) = self.post(
            &format!("/ingest/v1/clusters/{cluster}/snapshots/{id}/commit"),
            json!(null),
        );
        assert_eq!(s, 200, "{body}");
        body
    }
}

pub fn pods_type() -> Value {
    json!([{"group":"","version":"v1","resource":"pods","kind":"Pod","namespaced":true}])
}

pub fn pod(ns: &str, name: &str, rv: u64) -> Value {
    json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":name,"namespace":ns,"uid":format!("uid-{ns}-{name}"),
        "resourceVersion":rv.to_string(),"creationTimestamp":"2024-05-01T00:00:00Z","labels":{"app":name}},
        "spec":{"containers":[{"name":"c","image":"nginx"}]},"status":{"phase":"Running"}})
}

pub fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}/{}/{}",
                i["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"]
                    .as_str()
                    .unwrap(),
                i["metadata"]["namespace"].as_str().unwrap_or(""),
                i["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// A statement the engine ran and SQLite's `EXPLAIN QUERY PLAN` lines for it.
pub struct Planned {
    pub sql: String,
    pub plan: Vec<String>,
}

/// Runs every statement on `inner`, first asking SQLite how it would run each query and
/// write (`EXPLAIN QUERY PLAN`, same parameters), and keeps both.
pub struct Planning<'a> {
    inner: &'a RusqliteStore,
    pub planned: std::cell::RefCell<Vec<Planned>>,
}

impl<'a> Planning<'a> {
    pub fn new(inner: &'a RusqliteStore) -> Self {
        Self {
            inner,
            planned: Default::default(),
        }
    }
}

impl Store for Planning<'_> {
    fn query(
        &self,
        sql: &str,
        params: &[edgepedia::store::SqlValue],
    ) -> Result<Vec<edgepedia::store::Row>, edgepedia::store::StoreError> {
        let planned = ["SELECT", "WITH", "INSERT", "UPDATE", "DELETE"];
        if planned.iter().any(|verb| sql.starts_with(verb)) {
            let plan = self
                .inner
                .query(&format!("EXPLAIN QUERY PLAN {sql}"), params)?
                .into_iter()
                .map(|line| line[3].clone().into_string().unwrap_or_default())
                .collect();
            self.planned.borrow_mut().push(Planned {
                sql: sql.to_owned(),
                plan,
            });
        }
        self.inner.query(sql, params)
    }
}
