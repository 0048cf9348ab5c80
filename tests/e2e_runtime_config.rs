//! Spin runtime config files on the local runtime (`--runtime-config-file`, or
//! EDGEPEDIA_RUNTIME_CONFIG_FILE as here), end to end: the real host serving the real `.wasm`,
//! the real agent, a real `redis-server` (Debian's package; .ci/run installs it, and without it
//! these tests fail) and a JWKS provider on 127.0.0.1. What lands where is read back with
//! rusqlite and redis-cli, independently of the host.

mod support;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use jwt_simple::prelude::RS256KeyPair;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::fixture::{expected, kind_is};
use support::redis_server::{free_port, RedisServer};
use support::{keys, Server};

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";
/// The component's KV keys for the key set and its last fetch (src/auth/jwks.rs).
const JWKS_CACHE_KEY: &str = "edgepedia:auth:jwks";
const JWKS_ATTEMPT_KEY: &str = "edgepedia:auth:jwks:last-fetch";

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("runtime-config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn sqlite_and_key_value_files_go_where_the_config_puts_them() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("inventory/edgepedia.db");
    let config = write_config(
        data.path(),
        &format!(
            "[sqlite_database.default]\ntype = \"spin\"\npath = \"{}\"\n\n\
             [key_value_store.default]\ntype = \"spin\"\npath = \"kv/cache.db\"\n",
            db.display()
        ),
    );
    let server =
        Server::start_with_env(&[("EDGEPEDIA_RUNTIME_CONFIG_FILE", config.to_str().unwrap())]);
    server.push_fixtures(&[]);
    assert_eq!(keys(&server.get(PODS).1), expected(kind_is("Pod")));

    // Every fixture object is a row of the configured file.
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("{}: {e}", db.display()));
    let mut stored: Vec<String> = conn
        .prepare("SELECT cluster || '/' || namespace || '/' || name FROM objects")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    stored.sort();
    assert_eq!(stored, expected(|_, _| true));

    // A relative key-value path is relative to the config file's directory (Spin's rule), and
    // Spin's default files in the state dir are never created.
    assert!(data.path().join("kv/cache.db").exists());
    for default in ["sqlite_db.db", "sqlite_key_value.db"] {
        assert!(
            !server.state.path().join(default).exists(),
            "{default} was created in the state dir"
        );
    }
}

/// A JWKS provider serving one fixture RSA key (kid `a`); counts its requests.
struct Jwks {
    origin: String,
    hits: Arc<AtomicUsize>,
}

impl Jwks {
    fn start() -> Self {
        let pem = fixture_key("rsa-a");
        let mut jwk: Value =
            serde_json::from_str(&RS256KeyPair::from_pem(&pem).unwrap().public_key().to_jwk())
                .unwrap();
        jwk["kid"] = "a".into();
        let body = json!({ "keys": [jwk] }).to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=300\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { origin, hits }
    }

    fn url(&self) -> String {
        format!("{}/.well-known/jwks", self.origin)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn fixture_key(name: &str) -> String {
    std::fs::read_to_string(support::repo().join(format!("tests/fixtures/keys/{name}.pem")))
        .unwrap()
}

/// An RS256 token for kid `a`, signed with `jsonwebtoken` (not the verifier's library).
fn rs256_token() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("a".into());
    let claims = json!({
        "iss": "edgepedia", "aud": "edgepedia", "iat": now, "exp": now + 600,
        "scope": "inventory:read",
    });
    let key = EncodingKey::from_rsa_pem(fixture_key("rsa-a").as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

#[test]
fn the_components_key_value_store_is_redis_when_the_config_says_so() {
    let redis = RedisServer::start();
    let jwks = Jwks::start();
    let data = tempfile::tempdir().unwrap();
    let config = write_config(
        data.path(),
        &format!(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:{}\"\n",
            redis.port
        ),
    );
    let url = jwks.url();
    let server = Server::start_with_env(&[
        ("EDGEPEDIA_RUNTIME_CONFIG_FILE", config.to_str().unwrap()),
        ("SPIN_VARIABLE_JWT_JWKS_URL", url.as_str()),
        ("SPIN_VARIABLE_JWT_JWKS_ORIGIN", jwks.origin.as_str()),
    ]);
    let token = rs256_token();
    assert_eq!(redis.cli(&["EXISTS", JWKS_CACHE_KEY]), "0");

    // The first JWKS-authenticated request fetches the key set and caches it, in Redis, under
    // the component's own key (Spin's Redis store adds no prefix).
    assert_eq!(server.get_as(PODS, Some(&token)).0, 200);
    assert_eq!(jwks.hits(), 1);
    let cached: Value = serde_json::from_str(&redis.cli(&["GET", JWKS_CACHE_KEY]))
        .expect("the cached key set in Redis is JSON");
    assert_eq!(cached["url"], url);
    assert!(
        cached["jwks"].as_str().unwrap().contains("\"kid\":\"a\""),
        "{cached}"
    );
    assert!(!server.state.path().join("sqlite_key_value.db").exists());

    // The next request is served from Redis: no fetch.
    assert_eq!(server.get_as(PODS, Some(&token)).0, 200);
    assert_eq!(jwks.hits(), 1);

    // With the cache and its rate-limit mark gone from Redis, the component fetches again and
    // caches the set there again: it reads Redis, not a copy of its own.
    assert_eq!(
        redis.cli(&["DEL", JWKS_CACHE_KEY, JWKS_ATTEMPT_KEY]),
        "2",
        "both keys were in Redis"
    );
    assert_eq!(server.get_as(PODS, Some(&token)).0, 200);
    assert_eq!(jwks.hits(), 2);
    assert_eq!(redis.cli(&["EXISTS", JWKS_CACHE_KEY]), "1");
}

/// Runs the host on `config`; it must exit non-zero before serving. Returns its stderr.
fn host_refuses(config: &Path, state: &Path) -> String {
    let host = std::env::var_os("EDGEPEDIA_HOST_BIN").map_or_else(
        || support::repo().join("target/native/edgepedia-host"),
        PathBuf::from,
    );
    let mut child = Command::new(host)
        .arg("--manifest")
        .arg(support::repo().join("spin.toml"))
        .args(["--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state)
        .arg("--runtime-config-file")
        .arg(config)
        .env("SPIN_VARIABLE_JWT_HS256_SECRET", support::SECRET)
        .env_remove("EDGEPEDIA_TLS_LISTEN")
        .env_remove("EDGEPEDIA_RUNTIME_CONFIG_FILE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start edgepedia-host");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "edgepedia-host accepted {} and kept running",
                config.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "exit status {status}: {stderr}");
    stderr
}

#[test]
fn bad_runtime_config_files_stop_the_host_with_the_problem_named() {
    let closed_port = free_port();
    let unreachable = format!(
        "[key_value_store.default]\ntype = \"redis\"\n\
         url = \"redis://:pw-not-logged@127.0.0.1:{closed_port}\"\n"
    );
    let unreachable_named = format!("cannot reach Redis at redis://127.0.0.1:{closed_port}");
    let cases: [(&str, &[&str]); 6] = [
        (
            "[sqlite_database.default]\ntype = \"postgres\"\n",
            &[
                "runtime config file",
                "[sqlite_database.default]",
                "unknown type \"postgres\"",
            ],
        ),
        (
            "[key_value_store.default]\ntype = \"memcached\"\n",
            &[
                "runtime config file",
                "[key_value_store.default]",
                "unknown type \"memcached\"",
            ],
        ),
        (
            "[sqlite_database.default]\ntype = \"spin\"\npth = \"x.db\"\n",
            &[
                "runtime config file",
                "[sqlite_database.default]",
                "unknown field `pth`",
            ],
        ),
        (
            "[sqlite_database.default\ntype = \"spin\"\n",
            &["runtime config file", "not valid TOML"],
        ),
        (
            "[databases.default]\ntype = \"spin\"\n",
            &["runtime config file", "unknown key `databases`"],
        ),
        (
            &unreachable,
            &["key_value_store.default", &unreachable_named],
        ),
    ];
    for (text, wanted) in cases {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let config = write_config(dir.path(), text);
        let stderr = host_refuses(&config, &state);
        for want in wanted {
            assert!(
                stderr.contains(want),
                "{text}\n→ wanted {want:?} in: {stderr}"
            );
        }
        assert!(!stderr.contains("pw-not-logged"), "{stderr}");
    }

    // A missing file.
    let dir = tempfile::tempdir().unwrap();
    let stderr = host_refuses(&dir.path().join("absent.toml"), dir.path());
    assert!(stderr.contains("reading runtime config file"), "{stderr}");

    // The shipped libSQL config is valid for Spin: it is reported as unsupported here, not as
    // malformed, and its token stays out of the message. The file is read before any store
    // is opened, so nothing is created.
    let libsql = support::repo().join("deploy/runtime-config/libsql.toml");
    let state = dir.path().join("state");
    let stderr = host_refuses(&libsql, &state);
    for want in [
        "runtime config file",
        "[sqlite_database.default]",
        "type = \"libsql\"",
        "real `spin up --runtime-config-file` supports it",
    ] {
        assert!(stderr.contains(want), "wanted {want:?} in: {stderr}");
    }
    assert!(!stderr.contains("your-libsql-auth-token"), "{stderr}");
    assert!(!state.join("sqlite_db.db").exists());
}
