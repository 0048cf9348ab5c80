//! Property tests that throw hostile input at the engine (`engine::handle` on in-memory SQLite,
//! natively) and check one invariant for every answer: no panic, and either a success or a
//! Kubernetes `Status` JSON with a client-error code (never a 500), and a failed request never
//! changes stored data (objects, change feed, tombstones, snapshot sessions, types, clusters).
//!
//! Targets: the route parser and query parameters (read API and change feed), continue tokens
//! and change-feed cursors (real ones mutated), JWTs (random, mutated, wrong or `none` alg,
//! huge), and ingest bodies (events, snapshot begin/chunk/commit).
//!
//! Each property runs 200 cases by default, so the file stays fast in the dev profile. Set
//! `PROPTEST_CASES` to raise it for long runs: that is the `make stress` knob, e.g.
//! `PROPTEST_CASES=20000 cargo test --test engine_fuzz`.

mod common;

use common::*;
use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
use edgepedia::engine::{handle, Request, RequestBody};
use edgepedia::route::Method;
use edgepedia::store::Store;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";
const CHANGES: &str = "/apis/clusterpedia.io/v1beta1/changes";
const EVENTS: &str = "/ingest/v1/clusters/c1/events";
/// The client errors the API may answer with; anything else that is not a success is a bug.
const CLIENT_ERRORS: [u16; 11] = [400, 401, 403, 404, 405, 408, 409, 410, 413, 415, 422];

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Runs `strategy` through `test`, panicking with the minimal failing input.
fn check<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(config());
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

/// A store seeded by one successful events request (and an open snapshot session).
struct Fuzz {
    h: Harness,
    session: String,
}

fn seeded() -> Fuzz {
    let h = Harness::new();
    let ev = |o: Value| json!({"type": "ADDED", "resource": "pods", "object": o});
    let events: Vec<Value> = (0..6)
        .map(|i| {
            ev(pod(
                ["default", "web"][i % 2],
                &format!("p{i}"),
                10 + i as u64,
            ))
        })
        .collect();
    let (s, r) = h.post(EVENTS, json!({ "events": events }));
    assert_eq!(s, 200, "{r}");
    let (s, r) = h.post(
        "/ingest/v1/clusters/c1/snapshots",
        json!({"resourceTypes": pods_type()}),
    );
    assert_eq!(s, 201, "{r}");
    let session = r["session"].as_str().unwrap().to_owned();
    Fuzz { h, session }
}

impl Fuzz {
    /// One request with a raw Authorization header; the status and the whole body.
    fn raw(
        &self,
        method: Method,
        target: &str,
        authorization: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Vec<u8>) {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let response = handle(
            &self.h.store,
            &Vars,
            Request {
                method,
                path,
                query,
                authorization,
                accept: None,
                body: RequestBody::Bytes(body),
            },
            NOW,
        );
        let status = response.status;
        let bytes = match response.collect() {
            Ok(b) => b,
            Err(e) => panic!("{target}: status {status} but the body stream failed: {e:?}"),
        };
        (status, bytes)
    }

    fn admin(&self, method: Method, target: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let auth = format!("Bearer {}", self.h.admin);
        self.raw(method, target, Some(&auth), body)
    }

    /// Everything a request could change, as text.
    fn fingerprint(&self) -> String {
        [
            "SELECT count(*), group_concat(k, ',') FROM (SELECT cluster || '/' || uid || '@' || \
             coalesce(resource_version, '') || '#' || length(object) || '~' || gen || '~' || \
             coalesce(dead_gen, '') AS k FROM objects ORDER BY k)",
            "SELECT count(*), max(seq) FROM changes",
            "SELECT count(*) FROM tombstones",
            "SELECT count(*), group_concat(k, ',') FROM (SELECT session || ':' || name AS k \
             FROM snapshot_written ORDER BY k)",
            "SELECT count(*), group_concat(k, ',') FROM (SELECT session || ':' || name AS k \
             FROM snapshot_seen ORDER BY k)",
            "SELECT count(*), group_concat(k, ',') FROM (SELECT gen || ':' || state AS k \
             FROM snapshot_sessions ORDER BY k)",
            "SELECT count(*) FROM snapshot_garbage",
            "SELECT count(*) FROM resource_types",
            "SELECT count(*) FROM clusters",
        ]
        .iter()
        .map(|sql| format!("{:?}", self.h.store.query(sql, &[]).unwrap()))
        .collect::<Vec<_>>()
        .join("\n")
    }

    /// Sends the request and checks the invariant, including "a failure changed nothing".
    fn probe(
        &self,
        method: Method,
        target: &str,
        authorization: Option<&str>,
        body: Vec<u8>,
    ) -> Result<u16, TestCaseError> {
        let before = self.fingerprint();
        let (status, bytes) = self.raw(method, target, authorization, body);
        answer_is_well_formed(status, &bytes)?;
        if status >= 400 {
            prop_assert_eq!(before, self.fingerprint(), "a failed request changed data");
        }
        Ok(status)
    }

    fn probe_admin(
        &self,
        method: Method,
        target: &str,
        body: Vec<u8>,
    ) -> Result<u16, TestCaseError> {
        let auth = format!("Bearer {}", self.h.admin);
        self.probe(method, target, Some(&auth), body)
    }
}

/// A success with a JSON body, or a `Status` with one of the allowed client-error codes.
fn answer_is_well_formed(status: u16, bytes: &[u8]) -> Result<(), TestCaseError> {
    let body: Value = serde_json::from_slice(bytes).map_err(|e| {
        TestCaseError::fail(format!(
            "status {status}: body is not JSON ({e}): {}",
            String::from_utf8_lossy(bytes)
        ))
    })?;
    if (200..300).contains(&status) {
        return Ok(());
    }
    prop_assert!(
        CLIENT_ERRORS.contains(&status),
        "status {} is neither a success nor an allowed client error: {}",
        status,
        body
    );
    prop_assert_eq!(&body["kind"], "Status", "{}", body);
    prop_assert_eq!(&body["apiVersion"], "v1", "{}", body);
    prop_assert_eq!(&body["status"], "Failure", "{}", body);
    prop_assert_eq!(body["code"].as_u64(), Some(status as u64), "{}", body);
    prop_assert!(body["message"].is_string(), "{}", body);
    prop_assert!(body["reason"].is_string(), "{}", body);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Strategies

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "apis", "clusterpedia.io", "v1beta1", "resources", "clusters", "c1", "c2", "nope",
            "api", "v1", "pods", "namespaces", "default", "web", "p0", "p1", "apps",
            "deployments", "collectionresources", "changes", "version", "healthz", "ingest",
            "events", "snapshots", "chunks", "commit", "heartbeat", "..", ".", "%2e%2e",
            "%2F", "%00", "%FF", "%C3%28", "%E2%82", "%", "%4", "%zz", "%%41", "p%30",
            "Not_A_Cluster", "🦀", "é", "*", "-", "",
        ]).prop_map(String::from),
        2 => "[a-z0-9.-]{1,12}",
        1 => "%[0-9A-Fa-f]{2}",
        1 => "%[G-Zg-z%]{0,2}",
        1 => "\\PC{1,8}",
        1 => (1000usize..6000).prop_map(|n| "a".repeat(n)),
    ]
}

fn path() -> impl Strategy<Value = String> {
    let prefix = prop::sample::select(vec![
        "",
        "/apis",
        "/api",
        "/apis/clusterpedia.io/v1beta1",
        "/apis/clusterpedia.io/v1beta1/resources",
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1",
        "/apis/clusterpedia.io/v1beta1/resources/api/v1",
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces",
        "/apis/clusterpedia.io/v1beta1/collectionresources",
        "/apis/cluster.clusterpedia.io/v1alpha2/clusters",
        "/ingest/v1/clusters/c1",
        "/ingest/v1",
    ]);
    (
        prefix,
        prop::collection::vec(segment(), 0..7),
        any::<bool>(),
    )
        .prop_map(|(prefix, segs, trailing)| {
            let mut p = format!("{prefix}/{}", segs.join("/"));
            if trailing {
                p.push('/');
            }
            p
        })
}

fn param_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "labelSelector", "fieldSelector", "whereSQL", "limit", "continue", "orderby",
            "ownerName", "ownerUID", "ownerSeniority", "ownerGroupResource", "since", "before",
            "clusters", "namespaces", "names", "withContinue", "withRemainingCount",
            "onlyMetadata", "resources", "search", "resourceVersion", "timeoutSeconds",
            "watch",
        ]).prop_map(String::from),
        1 => "[a-zA-Z%]{0,10}",
    ]
}

fn param_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "", "0", "1", "2", "-1", "true", "false", "TRUE", "9223372036854775807",
            "9223372036854775808", "99999999999999999999999999", "-9223372036854775808",
            "1e400", "NaN", "0x10", " 5", "5 ", "c1", "c1,c2", ",,,", "nope", "c1,,c2",
            "app=p1", "app==p1", "app!=p1", "app in (p1,p2)", "app notin (p1)", "!app", "app",
            "app in (", "app=(", "=", "==", "!=", "a=b,c!=d,e", "metadata.name=p1",
            "metadata.namespace!=web", "spec.containers[0].name=c", "status.phase=Running",
            "metadata.name", "name = 'p1'", "name = 'x' OR 1=1", "1; DROP TABLE objects",
            "' OR ''='", "namespace IN (select uid from objects)", "name LIKE '%'",
            "json_extract(object, '$.x') = 1", "(((((((((((", "))", "name = 'p1' --",
            "randomblob(1000000000)", "\u{0}", "cluster", "-cluster", "name,namespace",
            "name desc", "created_at desc", "resource_version asc", "2024-05-01T00:00:00Z",
            "2024-13-45T99:99:99Z", "1800000000", "-99999999999999", "%FF%FE", "%C3%28", "%",
            "%zz", "%00", "a%20b", "+", "%2B", "1:2:3", "AAAA", "eyJhIjoxfQ", "🦀",
        ]).prop_map(String::from),
        1 => "[0-9]{15,40}",
        1 => "[a-z]{1,5}( ?(=|==|!=|in|notin|<|>) ?)[(a-z0-9,)]{0,12}",
        1 => "\\PC{0,24}",
        1 => "[ -~]{0,40}",
        1 => (500usize..20000).prop_map(|n| "x".repeat(n)),
    ]
}

/// A query string: real and random names with hostile values, raw or form-encoded.
fn query() -> impl Strategy<Value = String> {
    prop::collection::vec((param_name(), param_value(), any::<bool>()), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v, encode)| {
                if encode {
                    form_urlencoded::Serializer::new(String::new())
                        .append_pair(&k, &v)
                        .finish()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        6 => Just(Method::Get),
        2 => Just(Method::Post),
        1 => Just(Method::Delete),
        1 => Just(Method::Other),
    ]
}

/// Flips, truncates, inserts or replaces bytes of a real token.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, char),
    Replace(usize, char),
    Append(String),
    Double,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<char>()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        (any::<usize>(), "[A-Za-z0-9_=.+/-]")
            .prop_map(|(i, c)| Mutation::Replace(i, c.chars().next().unwrap())),
        "\\PC{1,10}".prop_map(Mutation::Append),
        Just(Mutation::Double),
    ]
}

fn mutate(token: &str, mutations: &[Mutation]) -> String {
    let mut bytes = token.as_bytes().to_vec();
    for m in mutations {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match m {
            Mutation::Flip(i, x) if !bytes.is_empty() => {
                let i = i % bytes.len();
                bytes[i] ^= x;
            }
            Mutation::Flip(..) => {}
            Mutation::Truncate(i) => bytes.truncate(at(*i, bytes.len())),
            Mutation::Insert(i, c) => {
                let i = at(*i, bytes.len());
                let mut buf = [0; 4];
                bytes.splice(i..i, c.encode_utf8(&mut buf).bytes());
            }
            Mutation::Replace(i, c) if !bytes.is_empty() => {
                let i = i % bytes.len();
                bytes[i] = *c as u8;
            }
            Mutation::Replace(..) => {}
            Mutation::Append(s) => bytes.extend(s.bytes()),
            Mutation::Double => bytes.extend(bytes.clone()),
        }
    }
    // A header or query string is text: the adapter would have refused anything else.
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Base64url decoding that ignores padding and the unused low bits of the last character, so
/// two encodings that mean the same bytes compare equal.
fn lenient_b64(s: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

fn same_jwt(a: &str, b: &str) -> bool {
    let parts = |t: &str| -> Option<Vec<Vec<u8>>> { t.split('.').map(lenient_b64).collect() };
    match (parts(a), parts(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlSafeNoPadding::encode_to_string(bytes).unwrap()
}

/// An arbitrary JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,16}".prop_map(Value::String),
        prop::sample::select(vec![
            "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "pods", "v1", "Pod", "default", "",
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "events",
                    "type",
                    "resource",
                    "object",
                    "metadata",
                    "name",
                    "namespace",
                    "uid",
                    "resourceVersion",
                    "apiVersion",
                    "kind",
                    "labels",
                    "items",
                    "resourceTypes",
                    "group",
                    "version",
                    "namespaced",
                    "ownerReferences",
                    "creationTimestamp",
                    "x",
                ])
                .prop_map(String::from),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A pod with one field broken: wrong type, missing, huge, odd text.
fn broken_pod() -> impl Strategy<Value = Value> {
    let field = prop::sample::select(vec![
        "/apiVersion",
        "/kind",
        "/metadata",
        "/metadata/name",
        "/metadata/namespace",
        "/metadata/uid",
        "/metadata/resourceVersion",
        "/metadata/creationTimestamp",
        "/metadata/labels",
        "/metadata/labels/app",
        "/metadata/ownerReferences",
        "/spec",
    ]);
    let replacement = prop_oneof![
        Just(None),
        json_value().prop_map(Some),
        (10_000usize..300_000).prop_map(|n| Some(json!("y".repeat(n)))),
        prop::sample::select(vec![
            "",
            "..",
            "a/b",
            "UPPER",
            "-x-",
            "🦀",
            "\u{0}",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "9999999999999999999999",
            "-1",
            "v1/v2/v3",
            "/",
        ])
        .prop_map(|s| Some(json!(s))),
    ];
    (
        "[a-z]{1,8}",
        prop::collection::vec((field, replacement), 1..3),
    )
        .prop_map(|(name, edits)| {
            let mut p = pod("default", &format!("f-{name}"), 1000);
            for (field, replacement) in edits {
                let (parent, key) = field.rsplit_once('/').unwrap();
                let parent = if parent.is_empty() {
                    Some(&mut p)
                } else {
                    p.pointer_mut(parent)
                };
                if let Some(Value::Object(m)) = parent {
                    match replacement {
                        Some(v) => m.insert(key.to_owned(), v),
                        None => m.remove(key),
                    };
                }
            }
            p
        })
}

/// Hostile ingest bodies: raw bytes, malformed JSON, deep nesting, duplicate keys, invalid
/// UTF-8, huge strings, wrong shapes, and events/items with broken objects.
fn ingest_body() -> impl Strategy<Value = Vec<u8>> {
    let event = (
        prop::sample::select(vec![
            "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "added", "",
        ]),
        prop::sample::select(vec![
            "pods",
            "deployments",
            "",
            "Pods",
            "pods/status",
            "..",
            "🦀",
        ]),
        broken_pod(),
    )
        .prop_map(|(t, r, o)| json!({"type": t, "resource": r, "object": o}));
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        (1usize..3000, prop::sample::select(vec!["[", "{\"a\":", "{\"events\":["]))
            .prop_map(|(n, open)| open.repeat(n).into_bytes()),
        (1usize..600).prop_map(|n| {
            let deep = format!("{}1{}", "[".repeat(n), "]".repeat(n));
            format!(r#"{{"events":[{{"type":"ADDED","resource":"pods","object":{deep}}}]}}"#)
                .into_bytes()
        }),
        (1usize..400).prop_map(|n| {
            let mut p = pod("default", "deep", 1);
            let mut v = json!(1);
            for _ in 0..n {
                v = json!({ "x": v });
            }
            p["spec"] = v;
            serde_json::to_vec(&json!({"events":[{"type":"ADDED","resource":"pods","object":p}]}))
                .unwrap()
        }),
        Just(br#"{"events":[],"events":[{"type":"ADDED","resource":"pods","object":{}}]}"#.to_vec()),
        Just(
            br#"{"events":[{"type":"ADDED","type":"DELETED","resource":"pods","object":{"metadata":{"name":"a","name":"b"}}}]}"#
                .to_vec()
        ),
        Just(b"{\"events\":[{\"type\":\"ADDED\",\"resource\":\"pods\",\"object\":{\"metadata\":{\"name\":\"\xff\xfe\"}}}]}".to_vec()),
        Just(b"{\"events\":\"\xc3\x28\"}".to_vec()),
        Just(b"\xef\xbb\xbf{\"events\":[]}".to_vec()),
        Just(b"{\"events\":[]} trailing".to_vec()),
        Just(b"{\"items\":[1,2,3]}".to_vec()),
        Just(b"{\"items\":null}".to_vec()),
        Just(b"{\"resourceTypes\":\"pods\"}".to_vec()),
        Just(b"{\"resourceTypes\":[{}]}".to_vec()),
        (1000usize..400_000).prop_map(|n| format!("{{\"events\":\"{}\"}}", "z".repeat(n)).into_bytes()),
        prop::collection::vec(event, 1..4)
            .prop_map(|e| serde_json::to_vec(&json!({ "events": e })).unwrap()),
        prop::collection::vec(broken_pod(), 1..4)
            .prop_map(|items| serde_json::to_vec(&json!({ "items": items })).unwrap()),
    ]
}

// ---------------------------------------------------------------------------------------------
// Properties

/// (1) Random paths (valid and invalid segments, bad escapes, `..`, huge, unicode) with random
/// query strings and methods.
#[test]
fn routes_and_query_parameters_never_fail_the_server() {
    let f = seeded();
    check((method(), path(), query()), |(m, p, q)| {
        let target = if q.is_empty() { p } else { format!("{p}?{q}") };
        f.probe_admin(m, &target, Vec::new())?;
        Ok(())
    });
}

/// (1) The read API's real endpoints with random query strings: parameters reach the planner.
#[test]
fn list_query_parameters_never_fail_the_server() {
    let f = seeded();
    let endpoints = prop::sample::select(vec![
        PODS,
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/pods",
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/web/pods",
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/web/pods/p1",
        "/apis/clusterpedia.io/v1beta1/collectionresources/workloads",
        "/apis/cluster.clusterpedia.io/v1alpha2/clusters",
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1",
    ]);
    check((endpoints, query()), |(e, q)| {
        let status = f.probe_admin(Method::Get, &format!("{e}?{q}"), Vec::new())?;
        // 405 is fine here: `watch` is refused as a method the API does not serve.
        prop_assert!(status != 401, "{}", status);
        Ok(())
    });
}

/// (1) The change feed with random `since`/`continue`/`limit`/`resources`, including mutated
/// real cursors.
#[test]
fn change_feed_parameters_never_fail_the_server() {
    let f = seeded();
    let (s, page) = f.admin(Method::Get, &format!("{CHANGES}?limit=2"), Vec::new());
    assert_eq!(s, 200);
    let page: Value = serde_json::from_slice(&page).unwrap();
    let cursor = page["metadata"]["continue"]
        .as_str()
        .unwrap_or_else(|| panic!("no cursor in {page}"))
        .to_owned();
    let since = prop_oneof![
        param_value(),
        prop::collection::vec(mutation(), 0..3).prop_map(move |m| mutate(&cursor, &m)),
    ];
    let resources = prop_oneof![
        param_value(),
        prop::sample::select(vec![
            "pods",
            "v1/pods",
            "apps/v1/deployments",
            "pods,pods",
            "/"
        ])
        .prop_map(String::from),
    ];
    let limit = prop_oneof![
        1 => param_value(),
        1 => (0u64..10).prop_map(|n| n.to_string()),
    ];
    check(
        (
            prop::sample::select(vec!["since", "continue", "before"]),
            prop::option::of(since),
            prop::option::of(limit),
            prop::option::of(resources),
            prop::option::weighted(0.3, query()),
        ),
        |(key, since, limit, resources, extra)| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in [(key, since), ("limit", limit), ("resources", resources)] {
                if let Some(v) = v {
                    q.append_pair(k, &v);
                }
            }
            let mut target = format!("{CHANGES}?{}", q.finish());
            if let Some(extra) = extra {
                target = format!("{target}&{extra}");
            }
            let status = f.probe_admin(Method::Get, &target, Vec::new())?;
            prop_assert!(
                status != 401 && status != 404 && status != 405,
                "{}",
                status
            );
            Ok(())
        },
    );
}

/// (2) Continue tokens: a real one from a paged list, mutated, and random ones.
#[test]
fn mutated_continue_tokens_are_refused_or_honoured() {
    let f = seeded();
    let (s, page) = f.admin(Method::Get, &format!("{PODS}?limit=2"), Vec::new());
    assert_eq!(s, 200);
    let page: Value = serde_json::from_slice(&page).unwrap();
    let token = page["metadata"]["continue"]
        .as_str()
        .unwrap_or_else(|| panic!("no continue in {page}"))
        .to_owned();
    let tokens = prop_oneof![
        3 => prop::collection::vec(mutation(), 1..4).prop_map(move |m| mutate(&token, &m)),
        1 => param_value(),
        1 => "[A-Za-z0-9_-]{0,200}",
    ];
    let extra = prop::sample::select(vec![
        "",
        "&namespaces=web",
        "&orderby=name%20desc",
        "&withRemainingCount",
    ]);
    check(
        (tokens, 0u32..5, any::<bool>(), extra),
        |(t, limit, encode, extra)| {
            let t = if encode {
                form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()
            } else {
                t
            };
            let target = format!("{PODS}?limit={limit}&continue={t}{extra}");
            let status = f.probe_admin(Method::Get, &target, Vec::new())?;
            prop_assert!(
                status == 200 || status == 400 || status == 410,
                "{}",
                status
            );
            Ok(())
        },
    );
}

/// (3) Random Authorization headers and random bearer strings, including huge ones.
#[test]
fn random_credentials_are_unauthorized() {
    let f = seeded();
    let header = prop_oneof![
        "\\PC{0,100}",
        "Bearer [A-Za-z0-9_.-]{0,300}",
        "Bearer [A-Za-z0-9_-]{1,60}\\.[A-Za-z0-9_-]{1,60}\\.[A-Za-z0-9_-]{0,60}",
        prop::sample::select(vec![
            "",
            "Bearer",
            "Bearer ",
            "Bearer  ",
            "bearer x",
            "Basic dXNlcjpwYXNz",
            "Bearer ..",
            "Bearer a.b.c",
            "Bearer e30.e30.",
            "Bearer e30.e30.e30",
            "Token abc",
        ])
        .prop_map(String::from),
        (1000usize..200_000).prop_map(|n| format!("Bearer {}", "A".repeat(n))),
        (100usize..20_000).prop_map(|n| format!("Bearer {}", "a.".repeat(n))),
    ];
    let target = prop::sample::select(vec![
        PODS,
        CHANGES,
        "/apis/clusterpedia.io/v1beta1/resources",
    ]);
    check((header, target), |(h, t)| {
        let status = f.probe(Method::Get, t, Some(&h), Vec::new())?;
        prop_assert_eq!(status, 401);
        Ok(())
    });
}

/// (3) A valid token with bytes flipped, truncated, inserted: refused unless the mutation left
/// the decoded token unchanged (base64url's unused trailing bits, surrounding whitespace).
#[test]
fn mutated_tokens_are_unauthorized() {
    let f = seeded();
    let valid = f.h.admin.clone();
    check(prop::collection::vec(mutation(), 1..4), |m| {
        let t = mutate(&valid, &m);
        let status = f.probe(Method::Get, PODS, Some(&format!("Bearer {t}")), Vec::new())?;
        if status == 200 {
            // The header value is trimmed (surrounding whitespace is not part of the token).
            prop_assert!(
                same_jwt(t.trim(), &valid),
                "a changed token was accepted: {:?}",
                t
            );
        } else {
            prop_assert!(status == 401 || status == 403, "{}", status);
        }
        Ok(())
    });
}

/// (3) Forged tokens: `none` and other algorithms (signed with the real secret, or not at all)
/// over valid or random claims must be refused.
#[test]
fn wrong_algorithm_tokens_are_unauthorized() {
    let f = seeded();
    let valid_claims = {
        let payload = f.h.admin.split('.').nth(1).unwrap();
        String::from_utf8(lenient_b64(payload).unwrap()).unwrap()
    };
    let header = prop_oneof![
        prop::sample::select(vec![
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"None"}"#,
            r#"{"alg":"NONE"}"#,
            r#"{"alg":"HS384","typ":"JWT"}"#,
            r#"{"alg":"HS512","typ":"JWT"}"#,
            r#"{"alg":"RS256","typ":"JWT"}"#,
            r#"{"alg":"ES256","typ":"JWT"}"#,
            r#"{"alg":"EdDSA","typ":"JWT"}"#,
            r#"{"alg":"hs256","typ":"JWT"}"#,
            r#"{"alg":"HS256 ","typ":"JWT"}"#,
            r#"{"alg":256}"#,
            r#"{"alg":null}"#,
            r#"{"typ":"JWT"}"#,
            r#"[]"#,
            r#""HS256""#,
            r#"{"alg":"RS256","kid":"../../etc/passwd"}"#,
        ])
        .prop_map(String::from),
        "\\PC{0,40}",
    ];
    let claims = prop_oneof![
        3 => Just(valid_claims),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => "\\PC{0,40}",
    ];
    let signature = prop::sample::select(vec!["empty", "hs256", "random"]);
    check(
        (
            header,
            claims,
            signature,
            prop::collection::vec(any::<u8>(), 0..64),
        ),
        |(header, claims, signature, random)| {
            let unsigned = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
            let sig = match signature {
                "empty" => String::new(),
                "hs256" => b64(&hmac_sha256::HMAC::mac(
                    unsigned.as_bytes(),
                    SECRET.as_bytes(),
                )),
                _ => b64(&random),
            };
            let token = format!("{unsigned}.{sig}");
            let status = f.probe(
                Method::Get,
                PODS,
                Some(&format!("Bearer {token}")),
                Vec::new(),
            )?;
            prop_assert_eq!(status, 401, "{} {}", header, claims);
            Ok(())
        },
    );
}

/// (3) Correctly signed HS256 tokens with hostile claims: a wrong issuer, audience or time is
/// 401; odd scopes and cluster lists (huge included) are 401/403/404 or a success.
#[test]
fn signed_tokens_with_hostile_claims_never_fail_the_server() {
    let f = seeded();
    let now = edgepedia::clock::now_unix();
    let claim_value = prop_oneof![
        json_value(),
        prop::sample::select(vec![
            "inventory:read",
            "inventory:write",
            "inventory:secrets",
            "inventory:read inventory:write",
            "edgepedia",
            "",
            "c1",
            "*",
        ])
        .prop_map(|s| json!(s)),
        (1000usize..50_000).prop_map(|n| json!("inventory:read ".repeat(n / 15))),
        (100usize..5000).prop_map(|n| json!((0..n).map(|i| format!("c{i}")).collect::<Vec<_>>())),
    ];
    let claims = prop::collection::btree_map(
        prop::sample::select(vec![
            "scope", "clusters", "iss", "aud", "exp", "nbf", "iat", "sub", "jti", "scp",
        ]),
        claim_value,
        0..3,
    );
    let base = prop::sample::select(vec![
        "valid",
        "none",
        "expired",
        "wrong-iss",
        "wrong-aud",
        "future",
    ]);
    let target = prop::sample::select(vec![
        PODS,
        CHANGES,
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/web/pods/p1",
    ]);
    check((base, claims, target), |(base, extra, target)| {
        let mut c = json!({"iss":"edgepedia","aud":"edgepedia","iat":now,"exp":now + 3600,
            "scope":"inventory:read"});
        match base {
            "none" => c = json!({}),
            "expired" => c["exp"] = json!(now - 3600),
            "wrong-iss" => c["iss"] = json!("someone-else"),
            "wrong-aud" => c["aud"] = json!(["other"]),
            "future" => c["nbf"] = json!(now + 3600),
            _ => {}
        }
        for (k, v) in extra {
            c[k] = v;
        }
        let unsigned = format!(
            "{}.{}",
            b64(br#"{"alg":"HS256","typ":"JWT"}"#),
            b64(c.to_string().as_bytes())
        );
        let sig = b64(&hmac_sha256::HMAC::mac(
            unsigned.as_bytes(),
            SECRET.as_bytes(),
        ));
        let status = f.probe(
            Method::Get,
            target,
            Some(&format!("Bearer {unsigned}.{sig}")),
            Vec::new(),
        )?;
        prop_assert!(
            // 404: a get by name in a cluster the token does not cover is "not found".
            status == 200 || status == 401 || status == 403 || status == 404,
            "{} for claims {}",
            status,
            c
        );
        Ok(())
    });
}

/// (4) Hostile bodies to every ingest endpoint: never a 500, and a refused body changes nothing.
#[test]
fn hostile_ingest_bodies_are_refused_without_changing_data() {
    let f = seeded();
    let session = f.session.clone();
    let endpoint = prop::sample::select(vec![
        EVENTS.to_owned(),
        EVENTS.to_owned(),
        format!("/ingest/v1/clusters/c1/snapshots/{session}/chunks"),
        format!("/ingest/v1/clusters/c1/snapshots/{session}/chunks"),
        "/ingest/v1/clusters/c1/snapshots".to_owned(),
        "/ingest/v1/clusters/c1/snapshots/no-such-session/chunks".to_owned(),
        "/ingest/v1/clusters/c1/snapshots/no-such-session/commit".to_owned(),
        "/ingest/v1/clusters/c1/heartbeat".to_owned(),
    ]);
    check((endpoint, ingest_body()), |(e, body)| {
        f.probe_admin(Method::Post, &e, body)?;
        Ok(())
    });
    // The session the chunks went to still commits (or was refused cleanly), and the seeded
    // objects survived everything.
    let (s, body) = f.admin(
        Method::Get,
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/web/pods/p1",
        Vec::new(),
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
}

/// (4) A batch of valid events with one hostile event anywhere fails as a whole: nothing from
/// the good events is stored.
#[test]
fn one_bad_event_fails_the_whole_batch() {
    let f = seeded();
    let bad = (
        prop::sample::select(vec!["ADDED", "MODIFIED", "DELETED"]),
        broken_pod(),
    )
        .prop_filter("must be invalid", |(_, p)| {
            // Keep only objects that are certainly invalid: no name, uid or metadata.
            p.pointer("/metadata/name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
                || p.pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
        });
    check(
        (bad, 0usize..4, 0usize..4, "[a-z]{1,6}"),
        |((t, p), before, after, name)| {
            let ev = |t: &str, o: Value| json!({"type": t, "resource": "pods", "object": o});
            let mut events: Vec<Value> = (0..before)
                .map(|i| ev("ADDED", pod("batch", &format!("{name}-b{i}"), 1)))
                .collect();
            events.push(ev(t, p));
            events
                .extend((0..after).map(|i| ev("ADDED", pod("batch", &format!("{name}-a{i}"), 1))));
            let body = serde_json::to_vec(&json!({ "events": events })).unwrap();
            let status = f.probe_admin(Method::Post, EVENTS, body)?;
            prop_assert!((400..500).contains(&status), "accepted: {}", status);
            Ok(())
        },
    );
}
