//! The runtime as users and tests meet it: the real `edgepedia-host` binary serving the real
//! component (`make build` builds both), over real HTTP on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Host {
    child: Child,
    base: String,
    /// What the host printed on stdout before it listened (the dev token, …).
    banner: String,
    stderr: std::sync::mpsc::Receiver<String>,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(state: &Path, args: &[&str]) -> Command {
    command_for(Path::new("spin.toml"), state, args)
}

/// The host serving `manifest` (relative to the repository, or absolute).
fn command_for(manifest: &Path, state: &Path, args: &[&str]) -> Command {
    let bin = std::env::var_os("EDGEPEDIA_HOST_BIN").map_or_else(
        || repo().join("target/native/edgepedia-host"),
        PathBuf::from,
    );
    assert!(
        bin.exists(),
        "{} is missing: run `make build`",
        bin.display()
    );
    let mut c = Command::new(bin);
    c.current_dir(repo())
        .arg("--manifest")
        .arg(manifest)
        .args(["--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state)
        .args(args)
        .env_remove("SPIN_VARIABLE_JWT_HS256_SECRET")
        .env_remove("EDGEPEDIA_TLS_LISTEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn start(mut command: Command) -> Host {
    let mut child = command.spawn().unwrap();
    let (sender, stderr) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    let base = loop {
        let line = lines.next().expect("host exited before listening").unwrap();
        if let Some(url) = line.strip_prefix("edgepedia-host listening on ") {
            break url.to_owned();
        }
        banner.push_str(&line);
        banner.push('\n');
    };
    std::thread::spawn(move || for _ in lines {});
    Host {
        child,
        base,
        banner,
        stderr,
    }
}

impl Host {
    fn token(&self) -> String {
        self.banner
            .lines()
            .find_map(|l| l.strip_prefix("export TOKEN="))
            .expect("a dev token")
            .to_owned()
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> (u16, serde_json::Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}")).unwrap_or_default();
        let response = match method {
            "GET" => agent.get(&url).header("Authorization", &auth).call(),
            _ => agent.post(&url).header("Authorization", &auth).send(body),
        }
        .unwrap();
        let status = response.status().as_u16();
        let text = response.into_body().read_to_string().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
        )
    }

    fn stderr_text(&self, wait: Duration) -> String {
        let mut text = String::new();
        while let Ok(line) = self.stderr.recv_timeout(wait) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    /// SIGTERM, then the exit status.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let status = self.child.wait().unwrap();
        let stderr = self.stderr_text(Duration::from_millis(200));
        (status, stderr)
    }
}

/// One `GET /healthz` on an open connection (keep-alive), returning the status code.
fn raw_get(conn: &mut TcpStream) -> u16 {
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    status.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn keep_alive_persistence_compile_cache_dev_token_and_graceful_shutdown() {
    let state = tempfile::tempdir().unwrap();
    let host = start(command(state.path(), &["--dev-secret"]));
    let token = host.token();
    let port: u16 = host.base.rsplit(':').next().unwrap().parse().unwrap();
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    for _ in 0..100 {
        assert_eq!(raw_get(&mut conn), 200, "one connection, many requests");
    }
    // Write through the component into SQLite.
    let begin = br#"{"resourceTypes":[{"group":"","version":"v1","resource":"pods","kind":"Pod","namespaced":true}]}"#;
    let (status, session) = host.call(
        "POST",
        "/ingest/v1/clusters/c1/snapshots",
        Some(&token),
        begin,
    );
    assert_eq!(status, 201, "{session}");
    let id = session["session"].as_str().unwrap().to_owned();
    let pod = br#"{"items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"d","uid":"u"}}]}"#;
    assert_eq!(
        host.call(
            "POST",
            &format!("/ingest/v1/clusters/c1/snapshots/{id}/chunks"),
            Some(&token),
            pod
        )
        .0,
        200
    );
    assert_eq!(
        host.call(
            "POST",
            &format!("/ingest/v1/clusters/c1/snapshots/{id}/commit"),
            Some(&token),
            b""
        )
        .0,
        200
    );
    let (status, stderr) = host.terminate();
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(
        state.path().join("sqlite_db.db").exists()
            && state.path().join("sqlite_key_value.db").exists()
    );

    // Restarted: the compile cache is used, the dev secret (and so the token) is the same,
    // and the data is still there.
    let host = start(command(state.path(), &["--dev-secret"]));
    assert_eq!(host.token().split('.').next(), token.split('.').next());
    let (status, got) = host.call(
        "GET",
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/d/pods/p",
        Some(&token),
        b"",
    );
    assert_eq!((status, got["metadata"]["uid"].as_str()), (200, Some("u")));
    let stderr = host.stderr_text(Duration::from_millis(100));
    assert!(stderr.contains("(compile cache)"), "{stderr}");
}

#[test]
fn missing_required_variable_stops_start_up() {
    // The project's manifest has no required variable any more (the HS256 secret is one key
    // source among three): check the rule on a copy that makes the secret required again.
    let state = tempfile::tempdir().unwrap();
    let manifest = state.path().join("spin.toml");
    let text = std::fs::read_to_string(repo().join("spin.toml"))
        .unwrap()
        .replace(
            r#"jwt_hs256_secret = { default = "", secret = true }"#,
            r#"jwt_hs256_secret = { required = true, secret = true }"#,
        );
    assert!(text.contains("required = true"));
    std::fs::write(&manifest, text).unwrap();
    let out = command_for(&manifest, state.path(), &[]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SPIN_VARIABLE_JWT_HS256_SECRET"),
        "{stderr}"
    );
}

#[test]
fn variables_come_from_the_environment_over_defaults() {
    use jwt_simple::prelude::*;
    let state = tempfile::tempdir().unwrap();
    let mut c = command(state.path(), &[]);
    c.env(
        "SPIN_VARIABLE_JWT_HS256_SECRET",
        "env-secret-0123456789abcdef",
    )
    .env("SPIN_VARIABLE_JWT_ISSUER", "https://issuer.example");
    let host = start(c);
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Scope {
        scope: String,
    }
    let mint = |issuer: &str| {
        let claims = Claims::with_custom_claims(
            Scope {
                scope: "inventory:read".into(),
            },
            Duration::from_hours(1),
        )
        .with_issuer(issuer)
        .with_audience("edgepedia");
        HS256Key::from_bytes(b"env-secret-0123456789abcdef")
            .authenticate(claims)
            .unwrap()
    };
    let path = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";
    assert_eq!(
        host.call("GET", path, Some(&mint("https://issuer.example")), b"")
            .0,
        200
    );
    assert_eq!(
        host.call("GET", path, Some(&mint("edgepedia")), b"").0,
        401,
        "the default issuer was overridden"
    );
}

#[test]
fn oversized_and_stalled_requests_get_status_answers_and_the_host_keeps_serving() {
    let state = tempfile::tempdir().unwrap();
    let mut c = command(
        state.path(),
        &["--max-body-bytes", "1000", "--request-timeout-ms", "500"],
    );
    c.env("SPIN_VARIABLE_JWT_HS256_SECRET", "s");
    let host = start(c);
    let (status, body) = host.call("POST", "/ingest/v1/clusters/c1/events", None, &[b' '; 2000]);
    assert_eq!(
        (status, body["reason"].as_str(), body["kind"].as_str()),
        (413, Some("RequestEntityTooLarge"), Some("Status"))
    );
    // A body that never arrives: the guest waits for it, the deadline answers 504.
    let port: u16 = host.base.rsplit(':').next().unwrap().parse().unwrap();
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.write_all(b"POST /ingest/v1/clusters/c1/events HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"ev").unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut response = vec![0; 512];
    let n = conn.read(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response[..n]);
    assert!(text.starts_with("HTTP/1.1 504"), "{text}");
    assert!(text.contains("\"reason\":\"Timeout\""), "{text}");
    let mut fresh = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(raw_get(&mut fresh), 200);
}

/// A minimal HTTP component in the text format whose handler body is `body` (a core Wasm
/// instruction sequence), written with a manifest into `dir`; returns the manifest's path.
/// The real component has no way to trap on purpose, so the trap path is driven by this one.
fn tiny_component(dir: &Path, body: &str) -> PathBuf {
    let wat = format!(
        r#"(component
            (import "wasi:http/types@0.2.0" (instance $types
                (export "incoming-request" (type (sub resource)))
                (export "response-outparam" (type (sub resource)))))
            (alias export $types "incoming-request" (type $request))
            (alias export $types "response-outparam" (type $outparam))
            (core module $m (func (export "handle") (param i32 i32) {body}))
            (core instance $i (instantiate $m))
            (func $handle (param "request" (own $request)) (param "response-out" (own $outparam))
                (canon lift (core func $i "handle")))
            (instance $handler (export "handle" (func $handle)))
            (export "wasi:http/incoming-handler@0.2.0" (instance $handler)))"#
    );
    std::fs::write(dir.join("tiny.wasm"), wat::parse_str(wat).unwrap()).unwrap();
    let manifest = dir.join("spin.toml");
    std::fs::write(
        &manifest,
        r#"spin_manifest_version = 2
[application]
name = "tiny"
[[trigger.http]]
route = "/..."
component = "tiny"
[component.tiny]
source = "tiny.wasm"
"#,
    )
    .unwrap();
    manifest
}

/// One raw HTTP/1.1 exchange on `conn`: the status code and the body as JSON.
fn raw_status(conn: &mut TcpStream, request: &[u8]) -> (u16, serde_json::Value) {
    conn.write_all(request).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let code = status.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, serde_json::from_slice(&body).unwrap_or_default())
}

#[test]
fn a_trapping_guest_is_a_500_status_and_the_host_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = tiny_component(dir.path(), "unreachable");
    let host = start(command_for(&manifest, dir.path(), &[]));
    let port: u16 = host.base.rsplit(':').next().unwrap().parse().unwrap();
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    for _ in 0..3 {
        let (code, body) = raw_status(&mut conn, b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(code, 500, "{body}");
        assert_eq!(
            (
                body["kind"].as_str(),
                body["reason"].as_str(),
                &body["code"]
            ),
            (
                Some("Status"),
                Some("InternalError"),
                &serde_json::json!(500)
            )
        );
        assert!(
            !body["message"].as_str().unwrap().contains("unreachable"),
            "no internals in the message: {body}"
        );
    }
    // Still accepting new connections, and it logged why.
    let mut fresh = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (code, _) = raw_status(&mut fresh, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(code, 500);
    let (status, stderr) = host.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        stderr.contains("guest failed") && stderr.contains("unreachable"),
        "{stderr}"
    );
}

#[test]
fn a_guest_that_spins_forever_is_stopped_with_a_504_status() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = tiny_component(dir.path(), "(loop (br 0))");
    let host = start(command_for(
        &manifest,
        dir.path(),
        &["--request-timeout-ms", "300"],
    ));
    let port: u16 = host.base.rsplit(':').next().unwrap().parse().unwrap();
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    for _ in 0..2 {
        let (code, body) = raw_status(&mut conn, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!((code, body["reason"].as_str()), (504, Some("Timeout")));
    }
}

#[test]
fn a_chunked_body_over_the_cap_is_a_413_status() {
    let state = tempfile::tempdir().unwrap();
    let host = start(command(
        state.path(),
        &["--max-body-bytes", "1000", "--dev-secret"],
    ));
    let port: u16 = host.base.rsplit(':').next().unwrap().parse().unwrap();
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // No Content-Length: the cap is only found while the body streams in.
    let mut request = format!(
        "POST /ingest/v1/clusters/c1/events HTTP/1.1\r\nHost: t\r\n\
         Authorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        host.token()
    )
    .into_bytes();
    for _ in 0..4 {
        request.extend_from_slice(b"190\r\n");
        request.extend_from_slice(&[b' '; 400]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let (code, body) = raw_status(&mut conn, &request);
    assert_eq!(
        (code, body["reason"].as_str()),
        (413, Some("RequestEntityTooLarge")),
        "{body}"
    );
    let mut fresh = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(raw_get(&mut fresh), 200);
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    let state = tempfile::tempdir().unwrap();
    let mut host = start(command(state.path(), &["--dev-secret"]));
    let port: u16 = host.base.rsplit(':').next().unwrap().parse().unwrap();
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = br#"{"events":[]}"#;
    let head = format!(
        "POST /ingest/v1/clusters/c1/events HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        host.token(),
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(&body[..5]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = host.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        host.child.try_wait().unwrap().is_none(),
        "the host waits for the request in flight"
    );
    // The rest of the body arrives after the signal; the answer still comes back whole.
    let (code, answer) = raw_status(&mut conn, &body[5..]);
    assert!((200..300).contains(&code), "{code} {answer}");
    let status = host.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// One request on a fresh connection, read to the end of its answer: the status code, the
/// head (lower-cased) and the body as JSON.
fn exchange(port: u16, request: &[u8]) -> (u16, String, serde_json::Value) {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    conn.write_all(request).unwrap();
    let mut reader = BufReader::new(conn);
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        head.push_str(&line.to_ascii_lowercase());
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    // A Status always has a Content-Length; anything else (a chunked 200) reads as null.
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (code, head, body)
}

/// A `Status` failure with `code` and `reason` whose message names `limit`.
fn assert_status(answer: &(u16, String, serde_json::Value), code: u16, reason: &str, limit: &str) {
    let (got, head, body) = answer;
    assert_eq!(*got, code, "{head}{body}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["apiVersion"], "v1", "{body}");
    assert_eq!(body["metadata"], serde_json::json!({}), "{body}");
    assert_eq!(body["status"], "Failure", "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["reason"], reason, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(limit), "{message} names {limit}");
}

#[test]
fn oversized_heads_uris_and_bodies_get_status_answers_naming_the_limit() {
    let state = tempfile::tempdir().unwrap();
    let host = start(command(state.path(), &["--dev-secret"]));
    let port: u16 = host.base.rsplit(':').next().unwrap().parse().unwrap();
    // The limits the runtime documents (host/src/status.rs, docs/API.md "Limits").
    let (header_limit, uri_limit, body_limit) = ("32768 bytes", "65534 bytes", "8388608 bytes");

    // A 64 KiB header, within what hyper reads: refused by the runtime's own check.
    let big_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let answer = exchange(port, big_header.as_bytes());
    assert_status(&answer, 431, "RequestHeaderFieldsTooLarge", header_limit);
    // More fields than hyper takes: hyper refuses it, the runtime writes the Status.
    let mut many = String::from("GET /healthz HTTP/1.1\r\nHost: t\r\n");
    for i in 0..150 {
        many.push_str(&format!("X-F{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let answer = exchange(port, many.as_bytes());
    assert_status(&answer, 431, "RequestHeaderFieldsTooLarge", header_limit);
    // Just under the header cap is served.
    let fits = format!(
        "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(30 * 1024)
    );
    assert_eq!(exchange(port, fits.as_bytes()).0, 200);

    // An 80 KiB URI: hyper refuses it, the runtime writes the Status.
    let long_uri = format!(
        "GET /healthz?x={} HTTP/1.1\r\nHost: t\r\n\r\n",
        "a".repeat(80 * 1024)
    );
    let answer = exchange(port, long_uri.as_bytes());
    assert_status(&answer, 414, "RequestURITooLong", uri_limit);
    // Bad HTTP is a Status too.
    let answer = exchange(port, b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n");
    assert_status(&answer, 400, "BadRequest", "HTTP/1.1");

    // A body over the default cap, which is the component's: the same 413 wording as the
    // component's own (src/error.rs `ApiError::too_large`).
    let big_body = format!(
        "POST /ingest/v1/clusters/c1/events HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        host.token(),
        8 * 1024 * 1024 + 1
    );
    let answer = exchange(port, big_body.as_bytes());
    assert_status(&answer, 413, "RequestEntityTooLarge", body_limit);
    assert_eq!(
        answer.2["message"],
        "request body is larger than the limit of 8388608 bytes"
    );

    // Still serving.
    let mut fresh = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(raw_get(&mut fresh), 200);
}
