//! Load (issue "Step 9 reliability"): concurrent keep-alive clients against the real `.wasm` in
//! the real runtime, mixing gets, paged list walks, label and field selectors, whereSQL, the
//! `workloads` collection, the change feed and owner queries, while the real `sync-agent`
//! re-pushes one cluster over and over, alternating between two versions (A and B) of it.
//!
//! Every answer is checked against the generator's truth (tests/support/dataset.rs), never
//! against another answer: the exact set of objects (kind, namespace, name, uid,
//! resourceVersion), the default order, counts (`remainingItemCount`) on the static clusters.
//! For the re-pushed cluster an answer read by one SQL statement must hold, per resource type,
//! exactly A or exactly B (a commit replaces one cluster × type atomically; the agent commits
//! type after type, so an owner query through ReplicaSets may meet the ReplicaSets of one
//! version and the pods of the other, and is checked against each such pair); a paged walk
//! (several statements) must never repeat an object, never return one of neither version, and
//! never skip one that exists in both (docs/API.md "Paging"); a replay of its change feed, once
//! caught up, must give exactly A or B.
//!
//! Reported (not asserted): requests, p50/p99 per query kind, 429s, peak RSS of the host.
//! Asserted: requests were made, every client made progress, no 5xx, no wrong answer, no
//! request left unanswered, every push succeeded, the host kept connections alive (it closed
//! fewer than one per ten requests), and after the run the re-pushed cluster is wholly its last
//! version, by list and by a replay of its feed from the start. 429s (the runtime's concurrency
//! bound) are counted and retried after their `Retry-After`.
//!
//! Sizes (short mode by default, for `make test`):
//! `EDGEPEDIA_LOAD_OBJECTS` (3000) over `EDGEPEDIA_LOAD_CLUSTERS` (20),
//! `EDGEPEDIA_LOAD_CLIENTS` (8) for `EDGEPEDIA_LOAD_SECONDS` (5);
//! `EDGEPEDIA_LOAD_MAX_CONCURRENT` sets the runtime's `--max-concurrent-requests` (its default,
//! 64, when unset); `EDGEPEDIA_LOAD_SEED` replays a query mix. The long run:
//! `EDGEPEDIA_LOAD_OBJECTS=100000 EDGEPEDIA_LOAD_CLIENTS=64 EDGEPEDIA_LOAD_SECONDS=60`.
//! Traffic goes only to the host on 127.0.0.1; every loop ends by count and by time.

mod support;

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::dataset::{self, Obj};
use support::rng::Rng;
use support::{admin_token, Server};

const P: &str = "/apis/clusterpedia.io/v1beta1";
/// Rows the list engine reads per statement (`list::INTERNAL_PAGE`): an answer of at most this
/// many rows is one SQL statement, so one consistent state of the database.
const ONE_STATEMENT: usize = 500;
/// The feed's page size in the replays.
const FEED_LIMIT: usize = 500;
/// Failure messages kept for the report.
const KEPT: usize = 40;

fn env_num(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a number")),
        Err(_) => default,
    }
}

fn enc(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn short(text: &str) -> &str {
    match text.char_indices().nth(300) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// The fields the checks read, of any answer: a list, an object, a `Status`, a `ChangeList`
/// and its changes. Typed parsing (everything else skipped) keeps the clients' own CPU time
/// small next to the host's.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Doc {
    kind: Option<String>,
    reason: Option<String>,
    metadata: Meta,
    items: Option<Vec<Doc>>,
    // A change of the feed.
    #[serde(rename = "type")]
    change: Option<String>,
    cluster: Option<String>,
    resource: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    uid: Option<String>,
    object: Option<Box<Doc>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Meta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    #[serde(rename = "resourceVersion")]
    resource_version: Option<String>,
    annotations: Annotations,
    #[serde(rename = "continue")]
    continue_token: Option<String>,
    #[serde(rename = "remainingItemCount")]
    remaining_item_count: Option<u64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Annotations {
    #[serde(rename = "shadow.clusterpedia.io/cluster-name")]
    cluster: Option<String>,
}

/// An answer: its status, the fields read and the text (for messages).
struct Answer {
    status: u16,
    doc: Doc,
    text: String,
}

// ---------------------------------------------------------------------------------------------
// The truth

/// What identifies one object's state: a version of an object is exactly one of these.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    kind: String,
    namespace: String,
    name: String,
    uid: String,
    rv: String,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}/{} (uid {}, rv {})",
            self.kind, self.namespace, self.name, self.uid, self.rv
        )
    }
}

fn key_of(o: &Obj) -> Key {
    Key {
        kind: o.kind.to_owned(),
        namespace: o.namespace.clone(),
        name: o.name.clone(),
        uid: o.uid.clone(),
        rv: o.resource_version.clone(),
    }
}

struct ClusterTruth {
    name: String,
    /// One version for the static clusters; A and B for the re-pushed one.
    versions: Vec<Vec<Obj>>,
}

struct Truth {
    clusters: Vec<ClusterTruth>,
    /// The re-pushed cluster.
    dynamic: usize,
    groups: usize,
}

/// Per cluster asked about: the objects the answer may hold, one set per version (or per
/// combination of versions of the types a query involves).
struct Expect(BTreeMap<usize, Vec<BTreeSet<Key>>>);

impl Expect {
    /// The most rows the answer can have (the largest version of each cluster).
    fn most(&self) -> usize {
        self.0
            .values()
            .map(|vs| vs.iter().map(BTreeSet::len).max().unwrap_or(0))
            .sum()
    }
}

/// How an answer may relate to the versions of the re-pushed cluster.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rule {
    /// One SQL statement: each cluster × type is exactly one version.
    Exact,
    /// Several statements (pages): no repeats, nothing of no version, nothing skipped that is
    /// in every version. For a cluster with one version this is exact equality too.
    Paged,
}

impl Truth {
    fn index(&self, name: &str) -> Option<usize> {
        self.clusters.iter().position(|c| c.name == name)
    }

    fn all(&self) -> Vec<usize> {
        (0..self.clusters.len()).collect()
    }

    fn expect(&self, clusters: &[usize], select: impl Fn(&[Obj]) -> BTreeSet<Key>) -> Expect {
        Expect(
            clusters
                .iter()
                .map(|&c| {
                    (
                        c,
                        self.clusters[c]
                            .versions
                            .iter()
                            .map(|v| select(v))
                            .collect(),
                    )
                })
                .collect(),
        )
    }

    /// For answers that involve two types (children through their owners): a snapshot push
    /// commits one type at a time, so owners and children may each be of either version.
    fn expect_across(
        &self,
        clusters: &[usize],
        select: impl Fn(&[Obj], &[Obj]) -> BTreeSet<Key>,
    ) -> Expect {
        Expect(
            clusters
                .iter()
                .map(|&c| {
                    let versions = &self.clusters[c].versions;
                    let mut alternatives: Vec<BTreeSet<Key>> = Vec::new();
                    for owners in versions {
                        for children in versions {
                            let set = select(owners, children);
                            if !alternatives.contains(&set) {
                                alternatives.push(set);
                            }
                        }
                    }
                    (c, alternatives)
                })
                .collect(),
        )
    }

    fn expect_where(&self, clusters: &[usize], keep: impl Fn(&Obj) -> bool) -> Expect {
        self.expect(clusters, |objs| {
            objs.iter().filter(|o| keep(o)).map(key_of).collect()
        })
    }

    /// The rule for an answer read in one request: exact when it fits one statement.
    fn one_request_rule(exp: &Expect) -> Rule {
        if exp.most() <= ONE_STATEMENT {
            Rule::Exact
        } else {
            Rule::Paged
        }
    }

    /// Checks `got` against `exp`. Ok(Some(how)) when some cluster × type was none of the
    /// expected answers wholly (allowed by [`Rule::Paged`] only).
    fn verify(
        &self,
        exp: &Expect,
        got: &[Got],
        rule: Rule,
        ordered: bool,
    ) -> Result<Option<String>, String> {
        if ordered {
            for w in got.windows(2) {
                let a = (&w[0].cluster, &w[0].key.namespace, &w[0].key.name);
                let b = (&w[1].cluster, &w[1].key.namespace, &w[1].key.name);
                if a >= b {
                    return Err(format!(
                        "not in the default order (cluster, namespace, name): {a:?} before {b:?}"
                    ));
                }
            }
        }
        let mut seen = BTreeSet::new();
        let mut grouped: BTreeMap<(usize, String), BTreeSet<Key>> = BTreeMap::new();
        for g in got {
            let c = self
                .index(&g.cluster)
                .filter(|c| exp.0.contains_key(c))
                .ok_or_else(|| {
                    format!(
                        "{} of cluster {:?}, which was not asked for",
                        g.key, g.cluster
                    )
                })?;
            if !seen.insert((c, &g.key.kind, &g.key.namespace, &g.key.name)) {
                return Err(format!("{} of {} twice", g.key, g.cluster));
            }
            grouped
                .entry((c, g.key.kind.clone()))
                .or_default()
                .insert(g.key.clone());
        }
        let mut torn = None;
        let empty = BTreeSet::new();
        for (&c, versions) in &exp.0 {
            let cluster = &self.clusters[c].name;
            let mut kinds: BTreeSet<&str> =
                versions.iter().flatten().map(|k| k.kind.as_str()).collect();
            kinds.extend(
                grouped
                    .keys()
                    .filter(|(gc, _)| *gc == c)
                    .map(|(_, k)| k.as_str()),
            );
            for kind in kinds {
                let want: Vec<BTreeSet<&Key>> = versions
                    .iter()
                    .map(|v| v.iter().filter(|k| k.kind == kind).collect())
                    .collect();
                let have: BTreeSet<&Key> = grouped
                    .get(&(c, kind.to_owned()))
                    .unwrap_or(&empty)
                    .iter()
                    .collect();
                if want.contains(&have) {
                    continue;
                }
                if rule == Rule::Exact {
                    return Err(diff(cluster, kind, &want, &have));
                }
                if let Some(k) = have.iter().find(|k| !want.iter().any(|w| w.contains(*k))) {
                    return Err(format!(
                        "{cluster}: {k} is in no version ({})",
                        diff(cluster, kind, &want, &have)
                    ));
                }
                let names = |set: &BTreeSet<&Key>| -> BTreeSet<(String, String)> {
                    set.iter()
                        .map(|k| (k.namespace.clone(), k.name.clone()))
                        .collect()
                };
                let have_names = names(&have);
                let mut always = names(&want[0]);
                for w in &want[1..] {
                    always = always.intersection(&names(w)).cloned().collect();
                }
                if let Some((ns, name)) = always.iter().find(|n| !have_names.contains(*n)) {
                    return Err(format!(
                        "{cluster}: {kind} {ns}/{name}, in every version, is missing ({})",
                        diff(cluster, kind, &want, &have)
                    ));
                }
                torn.get_or_insert_with(|| diff(cluster, kind, &want, &have));
            }
        }
        Ok(torn)
    }
}

/// How `have` differs from the closest version in `want`.
fn diff(cluster: &str, kind: &str, want: &[BTreeSet<&Key>], have: &BTreeSet<&Key>) -> String {
    let (v, w) = want
        .iter()
        .enumerate()
        .min_by_key(|(_, w)| w.symmetric_difference(have).count())
        .unwrap();
    let missing: Vec<String> = w.difference(have).take(3).map(|k| k.to_string()).collect();
    let extra: Vec<String> = have.difference(w).take(3).map(|k| k.to_string()).collect();
    format!(
        "{cluster} {kind}: {} objects, the closest expected answer (#{v} of {}) has {}; \
         missing {missing:?}, unexpected {extra:?}",
        have.len(),
        want.len(),
        w.len()
    )
}

/// One item of an answer.
#[derive(Debug)]
struct Got {
    cluster: String,
    key: Key,
}

fn got_of(item: &Doc) -> Option<Got> {
    let m = &item.metadata;
    Some(Got {
        cluster: m.annotations.cluster.clone()?,
        key: Key {
            kind: item.kind.clone()?,
            namespace: m.namespace.clone().unwrap_or_default(),
            name: m.name.clone()?,
            uid: m.uid.clone()?,
            rv: m.resource_version.clone()?,
        },
    })
}

// ---------------------------------------------------------------------------------------------
// The clients

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Q {
    Get,
    Walk,
    CrossWalk,
    Label,
    Field,
    Where,
    Collection,
    Feed,
    Owner,
    Unpaged,
}

impl Q {
    fn label(self) -> &'static str {
        match self {
            Q::Get => "get by name",
            Q::Walk => "paged walk, one namespace",
            Q::CrossWalk => "paged walk, label selector, all clusters",
            Q::Label => "label selector",
            Q::Field => "field selector",
            Q::Where => "whereSQL",
            Q::Collection => "collection workloads (paged)",
            Q::Feed => "change feed",
            Q::Owner => "owner query",
            Q::Unpaged => "unpaged list of a cluster's pods",
        }
    }
}

/// The mix: each client picks a query kind with these weights.
const MIX: [(Q, usize); 10] = [
    (Q::Get, 5),
    (Q::Walk, 2),
    (Q::CrossWalk, 1),
    (Q::Label, 3),
    (Q::Field, 3),
    (Q::Where, 2),
    (Q::Collection, 1),
    (Q::Feed, 2),
    (Q::Owner, 3),
    (Q::Unpaged, 1),
];

enum Fail {
    /// A 5xx.
    Server(String),
    /// No answer (connection error), or still 429 after every retry.
    Unanswered(String),
    /// An answer that disagrees with the truth.
    Wrong(String),
}

#[derive(Default)]
struct Counters {
    five_xx: AtomicU64,
    wrong: AtomicU64,
    unanswered: AtomicU64,
    too_many: AtomicU64,
}

struct Shared<'t> {
    truth: &'t Truth,
    base: String,
    auth: String,
    deadline: Instant,
    counters: Counters,
    failures: Mutex<Vec<String>>,
}

impl Shared<'_> {
    fn record(&self, q: Q, fail: Fail) {
        let (counter, text) = match fail {
            Fail::Server(t) => (&self.counters.five_xx, format!("5xx: {t}")),
            Fail::Unanswered(t) => (&self.counters.unanswered, format!("unanswered: {t}")),
            Fail::Wrong(t) => (&self.counters.wrong, format!("wrong: {t}")),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut kept = self.failures.lock().unwrap();
        if kept.len() < KEPT {
            kept.push(format!("[{}] {text}", q.label()));
        }
    }
}

/// A client's incremental replay of the re-pushed cluster's change feed (pods of one
/// namespace): the uids it holds now.
struct Replay {
    namespace: String,
    cursor: Option<String>,
    members: BTreeSet<String>,
}

/// What one client did.
#[derive(Default)]
struct Tally {
    requests: u64,
    /// Queries answered and verified.
    verified: u64,
    /// Latency of each answered request (not 429s), in microseconds, by query kind.
    latencies: Vec<(Q, u32)>,
    /// Answers of several statements in which the re-pushed cluster was neither A nor B
    /// wholly (allowed), by query kind.
    spanned: BTreeMap<Q, u64>,
    /// The first such answer of each kind: the request and how it differed.
    spanned_example: BTreeMap<Q, String>,
}

struct Client<'s, 't> {
    shared: &'s Shared<'t>,
    agent: ureq::Agent,
    rng: Rng,
    tally: Tally,
    replay: Replay,
}

fn http_agent() -> ureq::Agent {
    // ureq pools connections (keep-alive) by default; one agent per client thread, so each
    // client reuses its one connection.
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

impl<'s, 't> Client<'s, 't> {
    fn new(shared: &'s Shared<'t>, id: usize, seed: u64) -> Self {
        let namespaces = shared.truth.groups.min(dataset::NAMESPACES);
        Client {
            shared,
            agent: http_agent(),
            rng: Rng((seed ^ (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1),
            tally: Tally::default(),
            replay: Replay {
                namespace: format!("ns-{}", id % namespaces),
                cursor: None,
                members: BTreeSet::new(),
            },
        }
    }

    fn truth(&self) -> &'t Truth {
        self.shared.truth
    }

    /// GET with the admin token; 429s are retried after their `Retry-After`.
    fn get(&mut self, q: Q, path: &str) -> Result<Answer, Fail> {
        let url = format!("{}{path}", self.shared.base);
        for _ in 0..60 {
            let started = Instant::now();
            let response = self
                .agent
                .get(&url)
                .header("Authorization", &self.shared.auth)
                .call()
                .map_err(|e| Fail::Unanswered(format!("GET {path}: {e}")))?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let text = response
                .into_body()
                .with_config()
                .limit(1 << 30)
                .read_to_string()
                .map_err(|e| Fail::Unanswered(format!("GET {path}: reading the body: {e}")))?;
            self.tally.requests += 1;
            if status == 429 {
                self.shared
                    .counters
                    .too_many
                    .fetch_add(1, Ordering::Relaxed);
                let Some(seconds) = retry_after else {
                    return Err(Fail::Wrong(format!("GET {path}: 429 without Retry-After")));
                };
                std::thread::sleep(Duration::from_secs(seconds.min(5)));
                continue;
            }
            let micros = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            self.tally.latencies.push((q, micros));
            if status >= 500 {
                return Err(Fail::Server(format!("GET {path} → {status}: {text:.300}")));
            }
            let doc = serde_json::from_str(&text).map_err(|e| {
                Fail::Wrong(format!(
                    "GET {path} → {status}: not JSON ({e}): {text:.200}"
                ))
            })?;
            return Ok(Answer { status, doc, text });
        }
        Err(Fail::Unanswered(format!("GET {path}: 429 sixty times")))
    }

    /// A 200 answer of kind `kind`.
    fn get_ok(&mut self, q: Q, path: &str, kind: &str) -> Result<Answer, Fail> {
        let answer = self.get(q, path)?;
        if answer.status != 200 || answer.doc.kind.as_deref() != Some(kind) {
            return Err(Fail::Wrong(format!(
                "GET {path} → {}, expected a 200 {kind}: {}",
                answer.status,
                short(&answer.text)
            )));
        }
        Ok(answer)
    }

    fn check(
        &mut self,
        q: Q,
        path: &str,
        exp: &Expect,
        got: &[Got],
        rule: Rule,
        ordered: bool,
    ) -> Result<(), Fail> {
        let spanned = self
            .truth()
            .verify(exp, got, rule, ordered)
            .map_err(|e| Fail::Wrong(format!("GET {path} ({rule:?}): {e}")))?;
        if let Some(how) = spanned {
            *self.tally.spanned.entry(q).or_default() += 1;
            self.tally
                .spanned_example
                .entry(q)
                .or_insert_with(|| format!("GET {path}: {how}"));
        }
        Ok(())
    }

    /// One request for a whole (unpaged) list, checked against `exp`.
    fn list(&mut self, q: Q, path: &str, kind: &str, exp: &Expect) -> Result<(), Fail> {
        let body = self.get_ok(q, path, kind)?;
        if body.doc.metadata.continue_token.is_some() {
            return Err(Fail::Wrong(format!(
                "GET {path}: an unpaged list with a continue token"
            )));
        }
        let got = items_of(path, &body)?;
        self.check(q, path, exp, &got, Truth::one_request_rule(exp), true)
    }

    /// Follows `metadata.continue` from `path` (whose query has `limit`). Returns the items
    /// and, per page, its length and `remainingItemCount`.
    #[allow(clippy::type_complexity)]
    fn walk(
        &mut self,
        q: Q,
        path: &str,
        limit: usize,
        kind: &str,
    ) -> Result<(Vec<Got>, Vec<(usize, Option<u64>)>), Fail> {
        let mut got = Vec::new();
        let mut pages = Vec::new();
        let mut next = path.to_owned();
        for _ in 0..100_000 {
            let body = self.get_ok(q, &next, kind)?;
            let items = items_of(&next, &body)?;
            if items.len() > limit {
                return Err(Fail::Wrong(format!(
                    "GET {next}: {} items, more than the limit",
                    items.len()
                )));
            }
            pages.push((items.len(), body.doc.metadata.remaining_item_count));
            got.extend(items);
            match body.doc.metadata.continue_token.as_deref() {
                Some(token) if !token.is_empty() => {
                    next = format!("{path}&continue={}", enc(token));
                }
                _ => return Ok((got, pages)),
            }
        }
        Err(Fail::Wrong(format!("{path}: the walk never ended")))
    }

    fn pick_cluster(&mut self) -> usize {
        // The re-pushed cluster a quarter of the time.
        if self.rng.below(4) == 0 {
            self.truth().dynamic
        } else {
            self.rng.below(self.truth().clusters.len())
        }
    }

    fn pick_namespace(&mut self) -> String {
        format!(
            "ns-{}",
            self.rng.below(self.truth().groups.min(dataset::NAMESPACES))
        )
    }

    fn pick_group(&mut self) -> usize {
        self.rng.below(self.truth().groups)
    }

    /// A group with a Deployment.
    fn pick_deployment(&mut self) -> usize {
        let d = self.pick_group();
        if dataset::statefulset(d) {
            d - 1
        } else {
            d
        }
    }

    fn run(&mut self, q: Q) -> Result<(), Fail> {
        match q {
            Q::Get => self.q_get(),
            Q::Walk => self.q_walk(),
            Q::CrossWalk => self.q_cross_walk(),
            Q::Label => self.q_label(),
            Q::Field => self.q_field(),
            Q::Where => self.q_where(),
            Q::Collection => self.q_collection(),
            Q::Feed => {
                let c = self.pick_cluster();
                if c == self.truth().dynamic || self.rng.below(2) == 0 {
                    self.q_feed_replay()
                } else {
                    self.q_feed_static(c)
                }
            }
            Q::Owner => self.q_owner(),
            Q::Unpaged => self.q_unpaged(),
        }
    }

    fn q_get(&mut self) -> Result<(), Fail> {
        let truth = self.truth();
        let c = self.pick_cluster();
        let ct = &truth.clusters[c];
        let objs = &ct.versions[self.rng.below(ct.versions.len())];
        let o = &objs[self.rng.below(objs.len())];
        // Per version: the object's (uid, resourceVersion), or None where it does not exist.
        let answers: Vec<Option<(&str, &str)>> = ct
            .versions
            .iter()
            .map(|v| {
                v.iter()
                    .find(|x| x.kind == o.kind && x.namespace == o.namespace && x.name == o.name)
                    .map(|x| (x.uid.as_str(), x.resource_version.as_str()))
            })
            .collect();
        let path = format!(
            "{P}/resources/clusters/{}/{}/namespaces/{}/{}/{}",
            ct.name,
            dataset::prefix_of(o.kind),
            o.namespace,
            dataset::resource_of(o.kind),
            o.name
        );
        let answer = self.get(Q::Get, &path)?;
        let status = answer.status;
        let fine = match status {
            200 => got_of(&answer.doc).is_some_and(|g| {
                g.cluster == ct.name
                    && g.key.kind == o.kind
                    && g.key.namespace == o.namespace
                    && g.key.name == o.name
                    && answers.contains(&Some((g.key.uid.as_str(), g.key.rv.as_str())))
            }),
            404 => answers.contains(&None) && answer.doc.reason.as_deref() == Some("NotFound"),
            _ => false,
        };
        if !fine {
            return Err(Fail::Wrong(format!(
                "GET {path} → {status}: {}; expected one of {answers:?} (None: 404)",
                short(&answer.text)
            )));
        }
        Ok(())
    }

    /// Pods of one namespace of one cluster, in pages, with counts.
    fn q_walk(&mut self) -> Result<(), Fail> {
        let truth = self.truth();
        let c = self.pick_cluster();
        let ns = self.pick_namespace();
        let limit = 5 + self.rng.below(96);
        let path = format!(
            "{P}/resources/clusters/{}/api/v1/namespaces/{ns}/pods?limit={limit}&withRemainingCount",
            truth.clusters[c].name
        );
        let exp = truth.expect_where(&[c], |o| o.kind == "Pod" && o.namespace == ns);
        let (got, pages) = self.walk(Q::Walk, &path, limit, "PodList")?;
        self.check(Q::Walk, &path, &exp, &got, Rule::Paged, true)?;
        if c != truth.dynamic {
            // A static cluster: every page's count adds up to the truth.
            let total = exp.most() as u64;
            let mut before = 0u64;
            for (n, remaining) in pages {
                let said = remaining.unwrap_or(0);
                if before + n as u64 + said != total {
                    return Err(Fail::Wrong(format!(
                        "GET {path}: a page of {n} after {before} items says {said} remain; \
                         the namespace has {total}"
                    )));
                }
                before += n as u64;
            }
        }
        Ok(())
    }

    /// Pods of one app across every cluster, in pages.
    fn q_cross_walk(&mut self) -> Result<(), Fail> {
        let truth = self.truth();
        let app = dataset::app_name(self.pick_group());
        let limit = 5 + self.rng.below(46);
        let path = format!(
            "{P}/resources/api/v1/pods?labelSelector={}&limit={limit}",
            enc(&format!("app={app}"))
        );
        let exp = truth.expect_where(&truth.all(), |o| {
            o.kind == "Pod" && o.app.as_deref() == Some(&app)
        });
        let (got, _) = self.walk(Q::CrossWalk, &path, limit, "PodList")?;
        self.check(Q::CrossWalk, &path, &exp, &got, Rule::Paged, true)
    }

    fn q_label(&mut self) -> Result<(), Fail> {
        let truth = self.truth();
        let c = self.pick_cluster();
        let cluster = &truth.clusters[c].name;
        let (path, kind, exp) = match self.rng.below(4) {
            0 => {
                let (a1, a2) = (
                    dataset::app_name(self.pick_group()),
                    dataset::app_name(self.pick_group()),
                );
                let selector = format!("app in ({a1},{a2}),tier=web");
                (
                    format!(
                        "{P}/resources/clusters/{cluster}/api/v1/pods?labelSelector={}",
                        enc(&selector)
                    ),
                    "PodList",
                    truth.expect_where(&[c], |o| {
                        o.kind == "Pod"
                            && (o.app.as_deref() == Some(&a1) || o.app.as_deref() == Some(&a2))
                            && o.tier.as_deref() == Some("web")
                    }),
                )
            }
            1 => {
                // The pods a rollout replaced (version B of rolled groups): `!=` on a label.
                let d = self.pick_deployment();
                let app = dataset::app_name(d);
                let ns = format!("ns-{}", d % dataset::NAMESPACES);
                let old = dataset::rs_hash(d, 0);
                let selector = format!("app={app},pod-template-hash!={old}");
                (
                    format!(
                        "{P}/resources/clusters/{cluster}/api/v1/namespaces/{ns}/pods?labelSelector={}",
                        enc(&selector)
                    ),
                    "PodList",
                    truth.expect_where(&[c], |o| {
                        o.kind == "Pod"
                            && o.namespace == ns
                            && o.app.as_deref() == Some(&app)
                            && o.hash.as_deref() != Some(old)
                    }),
                )
            }
            2 => {
                let c2 = self.pick_cluster();
                let both = if c2 == c { vec![c] } else { vec![c, c2] };
                let names: Vec<&str> = both
                    .iter()
                    .map(|&i| truth.clusters[i].name.as_str())
                    .collect();
                let selector = "tier=worker,app notin (app-1,app-3)";
                (
                    format!(
                        "{P}/resources/apis/apps/v1/deployments?clusters={}&labelSelector={}",
                        names.join(","),
                        enc(selector)
                    ),
                    "DeploymentList",
                    truth.expect_where(&both, |o| {
                        o.kind == "Deployment"
                            && o.tier.as_deref() == Some("worker")
                            && !matches!(o.app.as_deref(), Some("app-1" | "app-3"))
                    }),
                )
            }
            _ => (
                format!(
                    "{P}/resources/clusters/{cluster}/api/v1/pods?labelSelector={}",
                    enc("!pod-template-hash,tier")
                ),
                "PodList",
                truth.expect_where(&[c], |o| {
                    o.kind == "Pod" && o.hash.is_none() && o.tier.is_some()
                }),
            ),
        };
        self.list(Q::Label, &path, kind, &exp)
    }

    fn q_field(&mut self) -> Result<(), Fail> {
        let truth = self.truth();
        let c = self.pick_cluster();
        let ct = &truth.clusters[c];
        let cluster = &ct.name;
        let (path, exp) = match self.rng.below(3) {
            0 => {
                let ns = self.pick_namespace();
                let node = format!("node-{}", self.rng.below(dataset::NODES));
                let selector = format!("spec.nodeName={node},status.phase=Running");
                (
                    format!(
                        "{P}/resources/clusters/{cluster}/api/v1/namespaces/{ns}/pods?fieldSelector={}",
                        enc(&selector)
                    ),
                    truth.expect_where(&[c], |o| {
                        o.kind == "Pod"
                            && o.namespace == ns
                            && o.node.as_deref() == Some(&node)
                            && o.phase.as_deref() == Some("Running")
                    }),
                )
            }
            1 => {
                let ns = self.pick_namespace();
                let selector = format!("status.phase=Pending,metadata.namespace!={ns}");
                (
                    format!(
                        "{P}/resources/clusters/{cluster}/api/v1/pods?fieldSelector={}",
                        enc(&selector)
                    ),
                    truth.expect_where(&[c], |o| {
                        o.kind == "Pod"
                            && o.phase.as_deref() == Some("Pending")
                            && o.namespace != ns
                    }),
                )
            }
            _ => {
                let objs = &ct.versions[self.rng.below(ct.versions.len())];
                let pods: Vec<&Obj> = objs.iter().filter(|o| o.kind == "Pod").collect();
                let name = pods[self.rng.below(pods.len())].name.clone();
                (
                    format!(
                        "{P}/resources/clusters/{cluster}/api/v1/pods?fieldSelector={}",
                        enc(&format!("metadata.name={name}"))
                    ),
                    truth.expect_where(&[c], |o| o.kind == "Pod" && o.name == name),
                )
            }
        };
        self.list(Q::Field, &path, "PodList", &exp)
    }

    fn q_where(&mut self) -> Result<(), Fail> {
        let truth = self.truth();
        let c = self.pick_cluster();
        let cluster = truth.clusters[c].name.clone();
        let (path, kind, exp) = match self.rng.below(3) {
            0 => {
                let c2 = self.pick_cluster();
                let ns = self.pick_namespace();
                let a = format!("node-{}", self.rng.below(dataset::NODES));
                let b = format!("node-{}", self.rng.below(dataset::NODES));
                let sql = format!(
                    "cluster IN ('{cluster}','{}') AND namespace = '{ns}' AND \
                     json_extract(object, '$.spec.nodeName') IN ('{a}','{b}')",
                    truth.clusters[c2].name
                );
                let both = if c2 == c { vec![c] } else { vec![c, c2] };
                (
                    format!("{P}/resources/api/v1/pods?whereSQL={}", enc(&sql)),
                    "PodList",
                    truth.expect_where(&both, |o| {
                        o.kind == "Pod"
                            && o.namespace == ns
                            && (o.node.as_deref() == Some(&a) || o.node.as_deref() == Some(&b))
                    }),
                )
            }
            1 => {
                let x = 1 + self.rng.below(9);
                let sql = format!(
                    "(cluster = '{cluster}') AND (name LIKE 'app-{x}%' OR namespace IN ('ns-2','ns-3'))"
                );
                let prefix = format!("app-{x}");
                (
                    format!(
                        "{P}/resources/apis/apps/v1/deployments?whereSQL={}",
                        enc(&sql)
                    ),
                    "DeploymentList",
                    truth.expect_where(&[c], |o| {
                        o.kind == "Deployment"
                            && (o.name.starts_with(&prefix)
                                || o.namespace == "ns-2"
                                || o.namespace == "ns-3")
                    }),
                )
            }
            _ => {
                let sql = format!(
                    "cluster = '{cluster}' AND NOT (name LIKE '%-v2') AND namespace BETWEEN 'ns-1' AND 'ns-3'"
                );
                (
                    format!("{P}/resources/api/v1/configmaps?whereSQL={}", enc(&sql)),
                    "ConfigMapList",
                    truth.expect_where(&[c], |o| {
                        o.kind == "ConfigMap"
                            && !o.name.ends_with("-v2")
                            && ("ns-1"..="ns-3").contains(&o.namespace.as_str())
                    }),
                )
            }
        };
        self.list(Q::Where, &path, kind, &exp)
    }

    fn q_collection(&mut self) -> Result<(), Fail> {
        let truth = self.truth();
        let c = self.pick_cluster();
        let limit = 5 + self.rng.below(96);
        let path = format!(
            "{P}/collectionresources/workloads?clusters={}&limit={limit}",
            truth.clusters[c].name
        );
        let exp = truth.expect_where(&[c], |o| dataset::is_workload(o.kind));
        let (got, _) = self.walk(Q::Collection, &path, limit, "CollectionResource")?;
        self.check(Q::Collection, &path, &exp, &got, Rule::Paged, false)
    }

    fn q_owner(&mut self) -> Result<(), Fail> {
        let truth = self.truth();
        let c = self.pick_cluster();
        let ct = &truth.clusters[c];
        let cluster = &ct.name;
        let form = self.rng.below(3);
        let (path, exp) = if form == 2 && truth.groups >= 10 {
            // A StatefulSet's pods by its name, looked up in the namespace of the path.
            let d = 9 + 10 * self.rng.below(truth.groups / 10);
            let (app, ns) = (
                dataset::app_name(d),
                format!("ns-{}", d % dataset::NAMESPACES),
            );
            (
                format!(
                    "{P}/resources/clusters/{cluster}/api/v1/namespaces/{ns}/pods?ownerName={app}&ownerGR=statefulsets.apps"
                ),
                truth.expect(&[c], |objs| {
                    let owner = objs
                        .iter()
                        .find(|o| o.kind == "StatefulSet" && o.name == app && o.namespace == ns)
                        .map(|o| o.uid.clone());
                    objs.iter()
                        .filter(|o| o.kind == "Pod" && o.owner_uid.is_some() && o.owner_uid == owner)
                        .map(key_of)
                        .collect()
                }),
            )
        } else if form == 1 {
            // A ReplicaSet's pods by its uid in version A (B replaces rolled ones).
            let app = dataset::app_name(self.pick_deployment());
            let rs_uid = ct.versions[0]
                .iter()
                .find(|o| o.kind == "ReplicaSet" && o.app.as_deref() == Some(&app))
                .map(|o| o.uid.clone())
                .unwrap();
            (
                format!("{P}/resources/clusters/{cluster}/api/v1/pods?ownerUID={rs_uid}"),
                truth.expect_where(&[c], |o| {
                    o.kind == "Pod" && o.owner_uid.as_deref() == Some(&rs_uid)
                }),
            )
        } else {
            // A Deployment's pods through its ReplicaSets (seniority 1), by name.
            let app = dataset::app_name(self.pick_deployment());
            (
                format!(
                    "{P}/resources/clusters/{cluster}/api/v1/pods?ownerName={app}&ownerGR=deployments.apps&ownerSeniority=1"
                ),
                truth.expect_across(&[c], |owners, children| {
                    let Some(deploy) = owners
                        .iter()
                        .find(|o| o.kind == "Deployment" && o.name == app)
                    else {
                        return BTreeSet::new();
                    };
                    let sets: BTreeSet<&str> = owners
                        .iter()
                        .filter(|o| {
                            o.kind == "ReplicaSet" && o.owner_uid.as_deref() == Some(&deploy.uid)
                        })
                        .map(|o| o.uid.as_str())
                        .collect();
                    children
                        .iter()
                        .filter(|o| {
                            o.kind == "Pod"
                                && o.owner_uid
                                    .as_deref()
                                    .is_some_and(|u| sets.contains(u))
                        })
                        .map(key_of)
                        .collect()
                }),
            )
        };
        self.list(Q::Owner, &path, "PodList", &exp)
    }

    /// All pods of a cluster in one request (streamed beyond one statement's rows).
    fn q_unpaged(&mut self) -> Result<(), Fail> {
        let truth = self.truth();
        let c = self.pick_cluster();
        let meta = self.rng.below(2) == 0;
        let path = format!(
            "{P}/resources/clusters/{}/api/v1/pods{}",
            truth.clusters[c].name,
            if meta { "?onlyMetadata=true" } else { "" }
        );
        let kind = if meta {
            "PartialObjectMetadataList"
        } else {
            "PodList"
        };
        let exp = truth.expect_where(&[c], |o| o.kind == "Pod");
        self.list(Q::Unpaged, &path, kind, &exp)
    }

    /// A static cluster's Deployments in the feed from its start: each ADDED exactly once.
    fn q_feed_static(&mut self, c: usize) -> Result<(), Fail> {
        let truth = self.truth();
        let ct = &truth.clusters[c];
        let limit = 50 + self.rng.below(451);
        let first = format!(
            "{P}/changes?clusters={}&resources=apps/v1/deployments&limit={limit}",
            ct.name
        );
        let want: BTreeMap<&str, &Obj> = ct.versions[0]
            .iter()
            .filter(|o| o.kind == "Deployment")
            .map(|o| (o.uid.as_str(), o))
            .collect();
        let mut seen = BTreeSet::new();
        let mut path = first.clone();
        for _ in 0..10_000 {
            let body = self.get_ok(Q::Feed, &path, "ChangeList")?;
            let items = feed_items(&path, &body)?;
            for item in &items {
                let fine = item.kind == "ADDED"
                    && item.cluster == ct.name
                    && item.resource == "deployments"
                    && want.get(item.uid.as_str()).is_some_and(|o| {
                        o.name == item.name
                            && o.namespace == item.namespace
                            && item.object.as_ref()
                                == Some(&(o.uid.clone(), o.resource_version.clone()))
                    })
                    && seen.insert(item.uid.clone());
                if !fine {
                    return Err(Fail::Wrong(format!(
                        "GET {path}: {item:?} is not the one ADDED of a deployment of {}",
                        ct.name
                    )));
                }
            }
            let cursor = feed_cursor(&path, &body)?;
            if items.len() < limit {
                if seen.len() != want.len() {
                    return Err(Fail::Wrong(format!(
                        "GET {first} and on: {} deployments ADDED, {} pushed",
                        seen.len(),
                        want.len()
                    )));
                }
                return Ok(());
            }
            path = format!("{first}&since={}", enc(&cursor));
        }
        Err(Fail::Wrong(format!("{first}: the feed never caught up")))
    }

    fn q_feed_replay(&mut self) -> Result<(), Fail> {
        self.feed_replay(None)
    }

    /// Catches this client's replay of the re-pushed cluster's feed up, then checks it holds
    /// exactly version A or B (exactly version `settled`, when given).
    fn feed_replay(&mut self, settled: Option<usize>) -> Result<(), Fail> {
        let truth = self.truth();
        let ct = &truth.clusters[truth.dynamic];
        let ns = self.replay.namespace.clone();
        // uid → (name, resourceVersion per version).
        let mut known: BTreeMap<&str, (&str, Vec<&str>)> = BTreeMap::new();
        let mut sets: Vec<BTreeSet<&str>> = Vec::new();
        for v in &ct.versions {
            let mut set = BTreeSet::new();
            for o in v.iter().filter(|o| o.kind == "Pod" && o.namespace == ns) {
                let entry = known
                    .entry(o.uid.as_str())
                    .or_insert((o.name.as_str(), Vec::new()));
                entry.1.push(&o.resource_version);
                set.insert(o.uid.as_str());
            }
            sets.push(set);
        }
        let first = format!(
            "{P}/changes?clusters={}&namespaces={ns}&resources=v1/pods&limit={FEED_LIMIT}",
            ct.name
        );
        for _ in 0..10_000 {
            let path = match &self.replay.cursor {
                Some(cursor) => format!("{first}&since={}", enc(cursor)),
                None => first.clone(),
            };
            let body = self.get_ok(Q::Feed, &path, "ChangeList")?;
            let items = feed_items(&path, &body)?;
            for item in &items {
                let known_one = known.get(item.uid.as_str()).is_some_and(|(name, rvs)| {
                    *name == item.name
                        && item.cluster == ct.name
                        && item.namespace == ns
                        && item.resource == "pods"
                        && item
                            .object
                            .as_ref()
                            .is_none_or(|(uid, rv)| *uid == item.uid && rvs.contains(&rv.as_str()))
                });
                let member = self.replay.members.contains(&item.uid);
                let fits = match item.kind.as_str() {
                    "ADDED" => !member,
                    "MODIFIED" | "DELETED" => member,
                    _ => false,
                };
                if !known_one || !fits {
                    return Err(Fail::Wrong(format!(
                        "GET {path}: {item:?} (the replay holds it: {member}) does not fit \
                         versions A and B of {}",
                        ct.name
                    )));
                }
                if item.kind == "DELETED" {
                    self.replay.members.remove(&item.uid);
                } else {
                    self.replay.members.insert(item.uid.clone());
                }
            }
            self.replay.cursor = Some(feed_cursor(&path, &body)?);
            if items.len() < FEED_LIMIT {
                let have: BTreeSet<&str> = self.replay.members.iter().map(String::as_str).collect();
                let fits = match settled {
                    Some(v) => sets[v] == have,
                    None => sets.contains(&have),
                };
                if !fits {
                    return Err(Fail::Wrong(format!(
                        "{first}: the caught-up replay holds {} pods; A has {}, B {} \
                         (expected: {settled:?}, None = either); not in A: {:?}",
                        have.len(),
                        sets[0].len(),
                        sets.get(1).map_or(0, BTreeSet::len),
                        have.difference(&sets[0]).take(3).collect::<Vec<_>>()
                    )));
                }
                return Ok(());
            }
        }
        Err(Fail::Wrong(format!("{first}: the feed never caught up")))
    }
}

fn items_of(path: &str, body: &Answer) -> Result<Vec<Got>, Fail> {
    parse_items(
        path,
        body,
        "an item without cluster, kind, name, uid or resourceVersion",
        got_of,
    )
}

/// Each of an answer's items through `parse`; `malformed` names an item it refuses.
fn parse_items<T>(
    path: &str,
    body: &Answer,
    malformed: &str,
    parse: impl Fn(&Doc) -> Option<T>,
) -> Result<Vec<T>, Fail> {
    let items = body
        .doc
        .items
        .as_ref()
        .ok_or_else(|| Fail::Wrong(format!("GET {path}: no items: {}", short(&body.text))))?;
    items
        .iter()
        .map(|i| parse(i).ok_or_else(|| Fail::Wrong(format!("GET {path}: {malformed}: {i:?}"))))
        .collect()
}

#[derive(Debug)]
struct Change {
    kind: String,
    cluster: String,
    resource: String,
    namespace: String,
    name: String,
    uid: String,
    /// The current object's (uid, resourceVersion), when the item carries it.
    object: Option<(String, String)>,
}

fn feed_items(path: &str, body: &Answer) -> Result<Vec<Change>, Fail> {
    parse_items(path, body, "a malformed change", change_of)
}

fn change_of(i: &Doc) -> Option<Change> {
    Some(Change {
        kind: i.change.clone()?,
        cluster: i.cluster.clone()?,
        resource: i.resource.clone()?,
        namespace: i.namespace.clone()?,
        name: i.name.clone()?,
        uid: i.uid.clone()?,
        object: i.object.as_ref().map(|o| {
            (
                o.metadata.uid.clone().unwrap_or_default(),
                o.metadata.resource_version.clone().unwrap_or_default(),
            )
        }),
    })
}

fn feed_cursor(path: &str, body: &Answer) -> Result<String, Fail> {
    body.doc
        .metadata
        .continue_token
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Fail::Wrong(format!("GET {path}: a change page without a cursor")))
}

// ---------------------------------------------------------------------------------------------
// The run

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// Sockets in TIME_WAIT (closed connections) with the host's port at either end: (closed by
/// the host, closed by a client).
fn closed_connections(port: u16) -> (usize, usize) {
    let mut by_host = 0;
    let mut by_client = 0;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 4 || fields[3] != "06" {
                continue;
            }
            let port_of = |addr: &str| {
                addr.rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
            };
            if port_of(fields[1]) == Some(port) {
                by_host += 1;
            } else if port_of(fields[2]) == Some(port) {
                by_client += 1;
            }
        }
    }
    (by_host, by_client)
}

/// CPU time of a process (user + system; with its waited-for children when `children`), in
/// seconds, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str, children: bool) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime, stime, cutime, cstime are fields 14–17 of stat(5): 11–14 after the name.
    let ticks: u64 = if children {
        fields.get(11..15).map_or(0, |f| f.iter().sum())
    } else {
        fields.get(11..13).map_or(0, |f| f.iter().sum())
    };
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks as f64 / hz
}

fn push_ok(s: &Server, cluster: &str, file: &std::path::Path) -> Result<(), String> {
    let out = s.push(cluster, file, &["--quiet"]);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "push {cluster} {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn concurrent_clients_get_right_answers_while_an_agent_pushes() {
    let objects = env_num("EDGEPEDIA_LOAD_OBJECTS", 3000) as usize;
    let clusters = (env_num("EDGEPEDIA_LOAD_CLUSTERS", 20) as usize).max(1);
    let clients = (env_num("EDGEPEDIA_LOAD_CLIENTS", 8) as usize).max(1);
    let seconds = env_num("EDGEPEDIA_LOAD_SECONDS", 5);
    let seed = match std::env::var("EDGEPEDIA_LOAD_SEED") {
        Ok(s) => s.parse().expect("EDGEPEDIA_LOAD_SEED: a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    } | 1;
    let per_cluster = objects / clusters;
    let started = Instant::now();
    eprintln!(
        "e2e_load: {clusters} clusters × ~{per_cluster} objects, {clients} clients × {seconds} s, \
         EDGEPEDIA_LOAD_SEED={seed}"
    );

    // The dataset: one List file per cluster, two for the re-pushed one; the truth from them.
    let dir = tempfile::tempdir().unwrap();
    let dynamic = clusters / 3;
    let mut truth = Truth {
        clusters: Vec::new(),
        dynamic,
        groups: dataset::groups_for(per_cluster),
    };
    let mut files = Vec::new();
    for c in 0..clusters {
        let name = dataset::cluster_name(c);
        let versions = if c == dynamic { 2 } else { 1 };
        let mut ct = ClusterTruth {
            name: name.clone(),
            versions: Vec::new(),
        };
        let mut paths = Vec::new();
        for v in 0..versions {
            let path = dir.path().join(format!("{name}-{v}.json"));
            ct.versions.push(dataset::write_list(
                &path,
                &dataset::objects(c, per_cluster, v as u8),
            ));
            paths.push(path);
        }
        truth.clusters.push(ct);
        files.push(paths);
    }
    let total: usize = truth.clusters.iter().map(|c| c.versions[0].len()).sum();
    let dyn_name = truth.clusters[dynamic].name.clone();
    assert_ne!(
        truth.clusters[dynamic].versions[0], truth.clusters[dynamic].versions[1],
        "A and B must differ"
    );
    let generated = started.elapsed();

    let max_concurrent = std::env::var("EDGEPEDIA_LOAD_MAX_CONCURRENT").ok();
    let env: Vec<(&str, &str)> = max_concurrent
        .iter()
        .map(|v| ("EDGEPEDIA_MAX_CONCURRENT_REQUESTS", v.as_str()))
        .collect();
    let server = Server::start_with_env(&env);
    let pid = server.host_pid();
    let port: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    for (c, paths) in files.iter().enumerate() {
        push_ok(&server, &truth.clusters[c].name, &paths[0]).unwrap();
    }
    let loaded = started.elapsed();
    let hwm_after_load = dataset::status_kib(pid, "VmHWM").unwrap_or(0);
    eprintln!(
        "e2e_load: {total} objects generated in {:.1} s and pushed in {:.1} s; host VmHWM {:.1} MiB",
        generated.as_secs_f64(),
        (loaded - generated).as_secs_f64(),
        hwm_after_load as f64 / 1024.0
    );
    let (closed_by_host_before, closed_by_client_before) = closed_connections(port);
    let host_cpu_before = cpu_seconds(&pid.to_string(), false);
    let own_cpu_before = cpu_seconds("self", false);
    let agent_cpu_before = cpu_seconds("self", true) - own_cpu_before;

    let shared = Shared {
        truth: &truth,
        base: server.base.clone(),
        auth: format!("Bearer {}", admin_token()),
        deadline: Instant::now() + Duration::from_secs(seconds),
        counters: Counters::default(),
        failures: Mutex::new(Vec::new()),
    };
    let stop = AtomicBool::new(false);
    let max_rss = AtomicU64::new(0);
    let load_started = Instant::now();
    let (tallies, pushes) = std::thread::scope(|scope| {
        // Peak resident set of the host while the clients run.
        let monitor = scope.spawn(|| {
            for _ in 0..1_000_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if let Some(rss) = dataset::status_kib(pid, "VmRSS") {
                    max_rss.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        // The agent: B, A, B, … until the deadline.
        let pusher = scope.spawn(|| {
            let mut done: Vec<(usize, Duration)> = Vec::new();
            for n in 0..100_000 {
                if Instant::now() >= shared.deadline {
                    break;
                }
                let version = (n + 1) % 2;
                let took = Instant::now();
                if let Err(e) = push_ok(&server, &dyn_name, &files[dynamic][version]) {
                    return Err((done, e));
                }
                done.push((version, took.elapsed()));
            }
            Ok(done)
        });
        let workers: Vec<_> = (0..clients)
            .map(|id| {
                let shared = &shared;
                scope.spawn(move || {
                    let mut client = Client::new(shared, id, seed);
                    let weights: usize = MIX.iter().map(|(_, w)| w).sum();
                    for _ in 0..100_000_000u64 {
                        if Instant::now() >= shared.deadline {
                            break;
                        }
                        let mut pick = client.rng.below(weights);
                        let q = MIX
                            .iter()
                            .find(|(_, w)| {
                                let hit = pick < *w;
                                pick = pick.saturating_sub(*w);
                                hit
                            })
                            .unwrap()
                            .0;
                        match client.run(q) {
                            Ok(()) => client.tally.verified += 1,
                            Err(fail) => shared.record(q, fail),
                        }
                    }
                    client.tally
                })
            })
            .collect();
        let tallies: Vec<Tally> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        let pushes = pusher.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        monitor.join().unwrap();
        (tallies, pushes)
    });
    let load_took = load_started.elapsed();
    let host_cpu = cpu_seconds(&pid.to_string(), false) - host_cpu_before;
    let own_cpu = cpu_seconds("self", false) - own_cpu_before;
    let agent_cpu = cpu_seconds("self", true) - own_cpu - own_cpu_before - agent_cpu_before;
    let hwm = dataset::status_kib(pid, "VmHWM").unwrap_or(0);
    let (closed_by_host, closed_by_client) = closed_connections(port);

    // After the last push, with nothing running: the re-pushed cluster is wholly its last
    // version, by every type, and a replay of its feed from the start agrees.
    let pushes = pushes.unwrap_or_else(|(done, e)| panic!("push {} failed: {e}", done.len() + 1));
    let last = pushes.last().map_or(0, |(v, _)| *v);
    {
        let shared = Shared {
            truth: &truth,
            base: server.base.clone(),
            auth: format!("Bearer {}", admin_token()),
            deadline: Instant::now(),
            counters: Counters::default(),
            failures: Mutex::new(Vec::new()),
        };
        let mut client = Client::new(&shared, 0, seed);
        let mut checked = 0;
        for (kind, resource, prefix, _) in dataset::TYPES {
            let path = format!("{P}/resources/clusters/{dyn_name}/{prefix}/{resource}?limit=200");
            let last_version: BTreeSet<Key> = truth.clusters[dynamic].versions[last]
                .iter()
                .filter(|o| o.kind == kind)
                .map(key_of)
                .collect();
            let exp = Expect(BTreeMap::from([(dynamic, vec![last_version])]));
            let result = client
                .walk(Q::Walk, &path, 200, &format!("{kind}List"))
                .and_then(|(got, _)| client.check(Q::Walk, &path, &exp, &got, Rule::Exact, true));
            if let Err(fail) = result {
                shared.record(Q::Walk, fail);
            }
            checked += exp.most();
        }
        for n in 0..truth.groups.min(dataset::NAMESPACES) {
            client.replay.namespace = format!("ns-{n}");
            client.replay.cursor = None;
            client.replay.members.clear();
            if let Err(fail) = client.feed_replay(Some(last)) {
                shared.record(Q::Feed, fail);
            }
        }
        let failures = shared.failures.into_inner().unwrap();
        assert!(checked > 0, "nothing to check after the run");
        assert!(
            failures.is_empty(),
            "after the run, {dyn_name} is not version {}: {failures:#?}",
            ["A", "B"][last]
        );
    }

    // The figures.
    let requests: u64 = tallies.iter().map(|t| t.requests).sum();
    let verified: u64 = tallies.iter().map(|t| t.verified).sum();
    let mut by_kind: BTreeMap<Q, Vec<u32>> = BTreeMap::new();
    let mut spanned: BTreeMap<Q, u64> = BTreeMap::new();
    let mut spanned_examples = BTreeSet::new();
    for t in &tallies {
        for (q, micros) in &t.latencies {
            by_kind.entry(*q).or_default().push(*micros);
        }
        for (q, n) in &t.spanned {
            *spanned.entry(*q).or_default() += n;
        }
    }
    let mut all: Vec<u32> = by_kind.values().flatten().copied().collect();
    all.sort_unstable();
    for (q, lat) in &mut by_kind {
        lat.sort_unstable();
        eprintln!(
            "e2e_load:   {:<42} {:>7} requests  p50 {:>7.2} ms  p99 {:>8.2} ms  spanned a push: {}",
            q.label(),
            lat.len(),
            percentile(lat, 0.5),
            percentile(lat, 0.99),
            spanned.get(q).copied().unwrap_or(0)
        );
    }
    for t in &tallies {
        for (q, example) in &t.spanned_example {
            if spanned_examples.insert(*q) {
                eprintln!("e2e_load: spanned a push ({}): {example}", q.label());
            }
        }
    }
    let c = &shared.counters;
    let (five_xx, wrong, unanswered, too_many) = (
        c.five_xx.load(Ordering::Relaxed),
        c.wrong.load(Ordering::Relaxed),
        c.unanswered.load(Ordering::Relaxed),
        c.too_many.load(Ordering::Relaxed),
    );
    let push_secs: Vec<f64> = pushes.iter().map(|(_, d)| d.as_secs_f64()).collect();
    eprintln!(
        "e2e_load: SUMMARY {clusters} clusters, {total} objects (+{} in B of {dyn_name}), \
         {clients} clients × {seconds} s: {requests} requests ({:.0}/s), {verified} queries \
         verified, {five_xx} 5xx, {wrong} wrong, {unanswered} unanswered, {too_many} 429s; \
         p50 {:.2} ms, p99 {:.2} ms; host peak RSS {:.1} MiB (VmHWM; {:.1} MiB after the load, \
         max VmRSS {:.1} MiB while the clients ran); {} pushes of {dyn_name} ({} objects each, \
         mean {:.2} s); connections closed during the run: {} by the host, {} by clients; \
         CPU during the run: host {host_cpu:.1} s, test clients {own_cpu:.1} s, agents \
         {agent_cpu:.1} s over {:.1} s; total {:.1} s (data generated and pushed in {:.1} s)",
        truth.clusters[dynamic].versions[1].len(),
        requests as f64 / load_took.as_secs_f64(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        hwm as f64 / 1024.0,
        hwm_after_load as f64 / 1024.0,
        max_rss.load(Ordering::Relaxed) as f64 / 1024.0,
        pushes.len(),
        truth.clusters[dynamic].versions[0].len(),
        push_secs.iter().sum::<f64>() / push_secs.len().max(1) as f64,
        closed_by_host.saturating_sub(closed_by_host_before),
        closed_by_client.saturating_sub(closed_by_client_before),
        load_took.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        loaded.as_secs_f64(),
    );
    let failures = shared.failures.into_inner().unwrap();
    for f in &failures {
        eprintln!("e2e_load: {f}");
    }

    assert!(requests > 0, "no requests were made");
    assert!(!pushes.is_empty(), "the agent never pushed during the run");
    for (id, t) in tallies.iter().enumerate() {
        assert!(
            t.verified > 0,
            "client {id} verified no answer ({} requests)",
            t.requests
        );
    }
    assert_eq!(five_xx, 0, "5xx answers: {failures:#?}");
    assert_eq!(wrong, 0, "wrong answers: {failures:#?}");
    assert_eq!(unanswered, 0, "unanswered requests: {failures:#?}");
    // Keep-alive: the host does not close a connection per request.
    assert!(
        closed_by_host.saturating_sub(closed_by_host_before) as u64 * 10 < requests,
        "the host closed {} connections for {requests} requests",
        closed_by_host.saturating_sub(closed_by_host_before)
    );
}
