//! Overload through the real runtime: requests beyond `--max-concurrent-requests` are
//! answered 429 with `Retry-After` at once (never queued without bound), and the slot comes
//! back when the request holding it ends; a stalled body gets 408; a query over the
//! runtime's statement time budget gets 503 with `Retry-After`. The instance pool (Spin's
//! pooling allocator) never runs out before the bound does.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::Server;

fn healthz(s: &Server) -> ureq::http::Response<ureq::Body> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent.get(&s.url("/healthz")).call().unwrap()
}

#[test]
fn beyond_the_concurrency_bound_requests_get_429_with_retry_after() {
    let s = Server::start_with_env(&[("EDGEPEDIA_MAX_CONCURRENT_REQUESTS", "1")]);
    assert_eq!(healthz(&s).status(), 200);

    // A request whose body never finishes holds the only slot (its instance waits for it).
    let stalled = hold_the_slot(&s);

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut refused = loop {
        let r = healthz(&s);
        if r.status() == 429 {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "never refused while the slot was held"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(refused.headers().get("retry-after").unwrap(), "1");
    let body: serde_json::Value =
        serde_json::from_str(&refused.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "TooManyRequests");
    assert_eq!(body["code"], 429);

    // The client goes away: its request ends and the slot is free again.
    drop(stalled);
    let deadline = Instant::now() + Duration::from_secs(5);
    while healthz(&s).status() != 200 {
        assert!(Instant::now() < deadline, "the slot never came back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends a request whose body never finishes, so it holds a slot until the client goes away.
/// The slot of the request before it (the health check) comes back only once that guest has
/// finished, a little after its answer; a stalled request that came too soon is refused at
/// once (429), so it is sent again until one is not answered within a short wait.
fn hold_the_slot(s: &Server) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stalled = TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
        write!(
            stalled,
            "POST /ingest/v1/clusters/c1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"ev"
        )
        .unwrap();
        stalled.flush().unwrap();
        stalled
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut head = [0u8; 12];
        match stalled.read(&mut head) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return stalled
            }
            answered => assert!(
                Instant::now() < deadline,
                "the stalled request was answered every time: {answered:?} {:?}",
                String::from_utf8_lossy(&head)
            ),
        }
    }
}

/// Sends the head of a POST and 4 bytes of its 100-byte body, then waits for the answer.
fn stalled_upload(s: &Server) -> (String, Duration) {
    let mut stalled = TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
    stalled
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let started = Instant::now();
    write!(
        stalled,
        "POST /ingest/v1/clusters/c1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"ev",
        support::admin_token()
    )
    .unwrap();
    stalled.flush().unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"code\"") {
        let n = stalled
            .read(&mut buf)
            .expect("an answer before the read timeout");
        assert!(
            n > 0,
            "closed without an answer: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

/// The runtime's own idle deadline (a defence for any component).
#[test]
fn a_stalled_request_body_gets_408_from_the_runtime() {
    let s = Server::start_with_env(&[("EDGEPEDIA_BODY_IDLE_TIMEOUT_MS", "500")]);
    let (text, took) = stalled_upload(&s);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"reason\":\"Timeout\""), "{text}");
    assert!(
        took < Duration::from_secs(10),
        "answered long before the 30 s request deadline"
    );
}

/// The component's own deadline (`request_body_idle_timeout_ms`), which is what holds on real
/// Spin: here the runtime would wait 60 s, so an early 408 can only come from the component.
#[test]
fn a_stalled_request_body_gets_408_from_the_component() {
    let s = Server::start_with_env(&[
        ("EDGEPEDIA_BODY_IDLE_TIMEOUT_MS", "60000"),
        ("SPIN_VARIABLE_REQUEST_BODY_IDLE_TIMEOUT_MS", "500"),
    ]);
    let (text, took) = stalled_upload(&s);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("nothing arrived for 500 ms"), "{text}");
    assert!(
        took < Duration::from_secs(10),
        "answered long before the runtime's deadlines"
    );
}

/// A whereSQL whose LIKE backtracks over long runs of one letter costs ~30 M comparisons per
/// object here: seconds for the whole table, minutes on a large one. SQLite interrupts it at
/// the runtime's statement budget; the component answers 503 + Retry-After (not 500, not a
/// request held until its deadline), and the next request is served as usual.
#[test]
fn a_query_over_the_statement_budget_gets_503_with_retry_after() {
    let s = Server::start_with_env(&[("EDGEPEDIA_SQL_STATEMENT_TIMEOUT_MS", "300")]);
    let run = "a".repeat(20_000);
    let items: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("cm{i:03}"), "namespace": "default",
                             "uid": format!("uid-cm{i:03}"), "resourceVersion": "1"},
                "data": {"run": run}})
        })
        .collect();
    let file = s.state.path().join("configmaps.json");
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(&file, serde_json::to_vec(&list).unwrap()).unwrap();
    let pushed = s.push("c1", &file, &[]);
    assert!(pushed.status.success(), "{pushed:?}");

    let configmaps = "/apis/clusterpedia.io/v1beta1/resources/api/v1/configmaps";
    let (status, all) = s.get(&format!("{configmaps}?limit=500"));
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["items"].as_array().map(Vec::len), Some(items.len()));

    let pattern = format!("%{}b%", "a".repeat(1_500));
    let where_sql = format!("json_extract(object, '$') LIKE '{pattern}'");
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("whereSQL", &where_sql)
        .finish();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut slow = agent
        .get(&s.url(&format!("{configmaps}?{query}")))
        .header(
            "Authorization",
            &format!("Bearer {}", support::admin_token()),
        )
        .call()
        .unwrap();
    assert_eq!(slow.status(), 503);
    assert_eq!(slow.headers().get("retry-after").unwrap(), "1");
    let body: serde_json::Value =
        serde_json::from_str(&slow.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "ServiceUnavailable");
    assert_eq!(body["details"]["retryAfterSeconds"], 1);

    let (status, again) = s.get(&format!("{configmaps}?names=cm007"));
    assert_eq!(status, 200, "{again}");
    assert_eq!(support::keys(&again), ["c1/default/cm007"]);
}

/// With Spin's pooling allocator sized to the concurrency bound, bursts far past the bound are
/// answered 200 or 429, never 500 (an exhausted pool would fail instantiation), and every
/// instance goes back to the pool: many more requests than pool slots all succeed in turn.
/// `--disable-pooling` (fresh mappings per instance) serves the same way.
#[test]
fn bursts_past_the_bound_never_exhaust_the_instance_pool() {
    const CAP: usize = 2;
    for pooling in [true, false] {
        let cap = CAP.to_string();
        let mut env = vec![("EDGEPEDIA_MAX_CONCURRENT_REQUESTS", cap.as_str())];
        if !pooling {
            env.push(("EDGEPEDIA_DISABLE_POOLING", "true"));
        }
        let s = Server::start_with_env(&env);
        for _ in 0..5 {
            let statuses: Vec<u16> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..8 * CAP)
                    .map(|_| {
                        scope.spawn(|| {
                            s.get("/apis/clusterpedia.io/v1beta1/resources/api/v1/pods")
                                .0
                        })
                    })
                    .collect();
                workers.into_iter().map(|w| w.join().unwrap()).collect()
            });
            assert!(!statuses.is_empty());
            assert!(
                statuses.iter().all(|&code| code == 200 || code == 429),
                "pooling {pooling}: {statuses:?}"
            );
            assert!(statuses.contains(&200), "pooling {pooling}: {statuses:?}");
        }
        // Sequentially, 10× the pool's slots: each request's instance was given back.
        for i in 0..(20 * CAP) {
            assert_eq!(healthz(&s).status(), 200, "pooling {pooling}, request {i}");
        }
    }
}
