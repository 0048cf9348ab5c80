//! Step 5 end to end: every bad request is a 400 `Status` naming what was wrong (and, for the
//! caps of docs/API.md "Limits", the cap), never a 500; a request just under each cap is
//! served, with the answer the fixture itself predicts. Real host, real `.wasm`, real HTTP.

mod support;

use serde_json::Value;
use support::fixture::expected;
use support::{keys, Server};

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";

/// Percent-encodes a query value (everything but unreserved characters).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn pods(query: &str) -> (u16, Value) {
    Server::shared().get(&format!("{PODS}?{query}"))
}

/// A 400 `Status` whose message contains every one of `words`.
fn assert_bad_request(query: &str, words: &[&str]) {
    let (code, body) = pods(query);
    let shown = &query[..query.len().min(120)];
    assert_eq!(code, 400, "{shown}: {body}");
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["status"], "Failure", "{body}");
    assert_eq!(body["reason"], "BadRequest", "{body}");
    assert_eq!(body["code"], 400, "{body}");
    let message = body["message"].as_str().unwrap();
    for word in words {
        assert!(
            message.contains(word),
            "{shown}: {message:?} lacks {word:?}"
        );
    }
}

/// A 200 list of exactly `want` (cluster/namespace/name keys in the default order).
fn assert_pods(query: &str, want: &[String]) {
    let (code, body) = pods(query);
    let shown = &query[..query.len().min(120)];
    assert_eq!(code, 200, "{shown}: {body:.300}");
    assert_eq!(keys(&body), want, "{shown}");
}

fn repeat(term: &str, n: usize) -> String {
    vec![term; n].join(",")
}

fn label<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o["metadata"]["labels"][key].as_str()
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap()
}

fn is_pod(o: &Value) -> bool {
    o["kind"] == "Pod"
}

#[test]
fn where_sql_escape_and_numbers_are_400s() {
    for (escape, what) in [("'ab'", "ESCAPE"), ("''", "ESCAPE"), ("name", "ESCAPE")] {
        let sql = format!("name LIKE 'e%' ESCAPE {escape}");
        assert_bad_request(&format!("whereSQL={}", enc(&sql)), &["whereSQL", what]);
    }
    assert_bad_request(
        &format!("whereSQL={}", enc("name = 1e999")),
        &["whereSQL", "1e999", "not a finite number"],
    );
    assert_bad_request(
        &format!("whereSQL={}", enc("name > -1e999")),
        &["not a finite number"],
    );
    // A one-character ESCAPE works: `_` taken literally.
    let want = expected(|_, o| is_pod(o) && name(o).starts_with("etcd-"));
    assert!(!want.is_empty());
    assert_pods(
        &format!("whereSQL={}", enc("name LIKE 'etcd!-%' ESCAPE '!'")),
        &want,
    );
}

#[test]
fn selector_requirements_are_capped_at_64() {
    let tiered = expected(|_, o| is_pod(o) && label(o, "tier").is_some());
    assert!(!tiered.is_empty());
    assert_pods(&format!("labelSelector={}", repeat("tier", 64)), &tiered);
    // What used to be SQLite's "Expression tree is too large" 500.
    assert_bad_request(
        &format!("labelSelector={}", repeat("a", 1000)),
        &["labelSelector", "limit of 64"],
    );
    assert_bad_request(
        &format!("labelSelector={}", repeat("tier", 65)),
        &["limit of 64"],
    );
    // Repeated parameters count together.
    assert_bad_request(
        &format!("labelSelector={}&labelSelector=tier", repeat("tier", 64)),
        &["labelSelector", "65", "limit of 64"],
    );

    let all = expected(|_, o| is_pod(o));
    let field = enc("metadata.namespace!=no-such-namespace");
    assert_pods(&format!("fieldSelector={}", repeat(&field, 64)), &all);
    assert_bad_request(
        &format!("fieldSelector={}", repeat(&field, 65)),
        &["fieldSelector", "limit of 64"],
    );
    assert_bad_request(
        &format!(
            "fieldSelector={}",
            repeat(&enc("status.phase=Running"), 1000)
        ),
        &["fieldSelector", "limit of 64"],
    );
}

#[test]
fn set_values_are_capped_at_128() {
    let set = |op: &str, n: usize| {
        let mut values: Vec<String> = (1..n).map(|i| format!("v{i}")).collect();
        values.push("control-plane".to_owned());
        enc(&format!("tier {op} ({})", values.join(",")))
    };
    let in_cp = expected(|_, o| is_pod(o) && label(o, "tier") == Some("control-plane"));
    let not_cp = expected(|_, o| is_pod(o) && label(o, "tier") != Some("control-plane"));
    assert!(!in_cp.is_empty() && !not_cp.is_empty());
    assert_pods(&format!("labelSelector={}", set("in", 128)), &in_cp);
    assert_pods(&format!("labelSelector={}", set("notin", 128)), &not_cp);
    for op in ["in", "notin"] {
        assert_bad_request(
            &format!("labelSelector={}", set(op, 129)),
            &["labelSelector", op, "limit of 128"],
        );
    }
    let phases = |n: usize| {
        let mut values: Vec<String> = (1..n).map(|i| format!("P{i}")).collect();
        values.push("Running".to_owned());
        enc(&format!("status.phase in ({})", values.join(",")))
    };
    let running = expected(|_, o| is_pod(o) && o["status"]["phase"] == "Running");
    assert_pods(&format!("fieldSelector={}", phases(128)), &running);
    assert_bad_request(
        &format!("fieldSelector={}", phases(129)),
        &["fieldSelector", "limit of 128"],
    );
}

#[test]
fn list_parameters_are_capped_at_256_values() {
    let all_pods = expected(|_, o| is_pod(o));
    let with = |real: &[&str], n: usize, fake: &dyn Fn(usize) -> String| {
        let mut values: Vec<String> = real.iter().map(|s| s.to_string()).collect();
        values.extend((values.len()..n).map(fake));
        values.join(",")
    };
    let clusters = support::fixture::CLUSTERS;
    let fake_cluster = |i: usize| format!("no-such-cluster-{i}");
    assert_pods(
        &format!("clusters={}", with(&clusters, 256, &fake_cluster)),
        &all_pods,
    );
    assert_bad_request(
        &format!("clusters={}", with(&clusters, 257, &fake_cluster)),
        &["clusters", "257", "limit of 256"],
    );
    // The label-term form adds to the same list.
    assert_bad_request(
        &format!(
            "clusters={}&labelSelector={}",
            with(&clusters, 256, &fake_cluster),
            enc("search.clusterpedia.io/clusters=staging")
        ),
        &["clusters", "limit of 256"],
    );

    let pod_namespaces: Vec<String> = support::fixture::all()
        .iter()
        .filter(|(_, o)| is_pod(o))
        .map(|(_, o)| o["metadata"]["namespace"].as_str().unwrap().to_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .take(8)
        .collect();
    let namespaces: Vec<&str> = pod_namespaces.iter().map(String::as_str).collect();
    let in_namespaces = expected(|_, o| {
        is_pod(o) && namespaces.contains(&o["metadata"]["namespace"].as_str().unwrap())
    });
    let fake = |i: usize| format!("fake-{i}");
    assert_pods(
        &format!("namespaces={}", with(&namespaces, 256, &fake)),
        &in_namespaces,
    );
    assert_bad_request(
        &format!("namespaces={}", with(&namespaces, 257, &fake)),
        &["namespaces", "limit of 256"],
    );

    let etcd: Vec<String> = support::fixture::all()
        .iter()
        .filter(|(_, o)| is_pod(o) && name(o).starts_with("etcd-"))
        .map(|(_, o)| name(o).to_owned())
        .collect();
    let etcd_names: Vec<&str> = etcd.iter().map(String::as_str).collect();
    let by_name = expected(|_, o| is_pod(o) && etcd_names.contains(&name(o)));
    assert!(!by_name.is_empty());
    assert_pods(
        &format!("names={}", with(&etcd_names, 256, &fake)),
        &by_name,
    );
    assert_bad_request(
        &format!("names={}", with(&etcd_names, 257, &fake)),
        &["names", "limit of 256"],
    );

    // Fuzzy names: every substring must match.
    let with_e = expected(|_, o| is_pod(o) && name(o).contains('e'));
    let fuzzy = "internalstorage.clusterpedia.io/fuzzy-name";
    assert_pods(&format!("{fuzzy}={}", repeat("e", 256)), &with_e);
    assert_bad_request(
        &format!("{fuzzy}={}", repeat("e", 257)),
        &[fuzzy, "limit of 256"],
    );
    // A substring longer than any Kubernetes name can match nothing: refused, not scanned.
    assert_pods(&format!("{fuzzy}={}", "e".repeat(253)), &[]);
    assert_bad_request(
        &format!("{fuzzy}={}", "e".repeat(254)),
        &[fuzzy, "limit of 253"],
    );

    let by_name_order = {
        let mut v = all_pods.clone();
        v.sort_by_key(|k| k.rsplit('/').next().unwrap().to_owned());
        v
    };
    let (code, body) = pods(&format!("orderby={}", repeat("name", 16)));
    assert_eq!(code, 200, "{body:.300}");
    let got: Vec<String> = keys(&body)
        .iter()
        .map(|k| k.rsplit('/').next().unwrap().to_owned())
        .collect();
    let want: Vec<String> = by_name_order
        .iter()
        .map(|k| k.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(got, want);
    assert_bad_request(
        &format!("orderby={}", repeat("name", 17)),
        &["orderby", "limit of 16"],
    );
}

/// whereSQL nested to its limit (24 levels, parentheses or an IN list) is served, one level
/// more is a 400. The parser recurses once a level inside the component, whose stack is small
/// (`build.rs`): a stack too small for the deepest accepted text traps, and this is a 500.
#[test]
fn where_sql_nested_to_its_limit_is_served_and_deeper_is_a_400() {
    let nested =
        |levels: usize, inner: &str| format!("{}{inner}{}", "(".repeat(levels), ")".repeat(levels));
    let with_e: Vec<String> = expected(|_, o| is_pod(o) && name(o).contains('e'));
    assert!(
        !with_e.is_empty(),
        "the fixture has pods with an e in their name"
    );
    assert_pods(
        &format!("whereSQL={}", enc(&nested(24, "name LIKE '%e%'"))),
        &with_e,
    );
    let listed: Vec<String> = expected(|_, o| is_pod(o));
    let (first, second) = (name_of(&listed[0]), name_of(&listed[1]));
    assert_pods(
        &format!(
            "whereSQL={}",
            enc(&nested(23, &format!("name IN ('{first}', '{second}')")))
        ),
        &expected(|_, o| is_pod(o) && (name(o) == first || name(o) == second)),
    );
    for deeper in [nested(25, "name LIKE '%e%'"), nested(24, "name IN ('a')")] {
        assert_bad_request(
            &format!("whereSQL={}", enc(&deeper)),
            &["whereSQL", "nested deeper than 24 levels"],
        );
    }
}

/// The name in a `cluster/namespace/name` key.
fn name_of(key: &str) -> &str {
    key.rsplit('/').next().unwrap()
}

#[test]
fn every_cap_at_once_stays_within_sqlites_limits() {
    // The most clauses the caps allow in one query: 64 label and 64 field requirements, 256
    // fuzzy substrings, 256 clusters and the longest whereSQL chain, all on one list.
    let mut where_sql = String::from("name LIKE '%e%'");
    while where_sql.len() + " OR name LIKE '%e%'".len() <= 4096 {
        where_sql.push_str(" OR name LIKE '%e%'");
    }
    let mut clusters: Vec<String> = support::fixture::CLUSTERS
        .iter()
        .map(|c| c.to_string())
        .collect();
    clusters.extend((3..256).map(|i| format!("no-such-cluster-{i}")));
    let query = format!(
        "labelSelector={}&fieldSelector={}&internalstorage.clusterpedia.io/fuzzy-name={}\
         &clusters={}&whereSQL={}&orderby={}&limit=7&withRemainingCount",
        repeat("tier", 64),
        repeat(&enc("metadata.namespace notin (a,b,c,d)"), 64),
        repeat("e", 256),
        clusters.join(","),
        enc(&where_sql),
        repeat(&enc("name desc"), 16),
    );
    assert!(query.len() < 65_534, "{} bytes", query.len());
    let (code, body) = pods(&query);
    assert_eq!(code, 200, "{body:.300}");
    let want = expected(|_, o| is_pod(o) && label(o, "tier").is_some() && name(o).contains('e'));
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), want.len().min(7));
    assert_eq!(
        body["metadata"]["remainingItemCount"].as_u64().unwrap_or(0) as usize,
        want.len().saturating_sub(7)
    );
}
