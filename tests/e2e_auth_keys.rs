//! Public-key authentication end to end: the real host serving the real `.wasm`, a JWKS
//! provider on 127.0.0.1 (counting its requests), tokens minted by `jsonwebtoken` — a library
//! independent of the verifier (jwt-simple) — with the test-only keys in tests/fixtures/keys/.

mod support;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use jwt_simple::prelude::{ES256KeyPair, RS256KeyPair};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::Server;

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";

fn key(name: &str) -> String {
    std::fs::read_to_string(support::repo().join(format!("tests/fixtures/keys/{name}.pem")))
        .unwrap()
}

/// A key set provider: serves whatever `body` holds, counts requests.
struct Jwks {
    origin: String,
    body: Arc<Mutex<String>>,
    hits: Arc<AtomicUsize>,
}

impl Jwks {
    fn start(body: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let body = Arc::new(Mutex::new(body));
        let hits = Arc::new(AtomicUsize::new(0));
        let (b, h) = (body.clone(), hits.clone());
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
                h.fetch_add(1, Ordering::SeqCst);
                let body = b.lock().unwrap().clone();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: public, max-age=300\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { origin, body, hits }
    }

    fn url(&self) -> String {
        format!("{}/.well-known/jwks", self.origin)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A JWK Set of the named fixture keys (public parts only) with their kids.
fn jwk_set(keys: &[(&str, &str)]) -> String {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(name, kid)| {
            let pem = key(name);
            let jwk = if name.starts_with("ec") {
                ES256KeyPair::from_pem(&pem).unwrap().public_key().to_jwk()
            } else {
                RS256KeyPair::from_pem(&pem).unwrap().public_key().to_jwk()
            };
            let mut v: Value = serde_json::from_str(&jwk).unwrap();
            v["kid"] = (*kid).into();
            v["use"] = "sig".into();
            v
        })
        .collect();
    json!({ "keys": keys }).to_string()
}

/// A token signed by fixture key `name` with `jsonwebtoken`.
fn mint(name: &str, kid: Option<&str>, issuer: &str, extra: Value) -> String {
    let pem = key(name);
    let (alg, key) = if name.starts_with("ec") {
        (
            Algorithm::ES256,
            EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        )
    } else {
        (
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = json!({
        "iss": issuer,
        "aud": "edgepedia",
        "iat": now,
        "exp": now + 600,
        "scope": "inventory:read",
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

fn status(server: &Server, token: &str) -> u16 {
    server.get_as(PODS, Some(token)).0
}

fn jwks_server(jwks: &Jwks, extra: &[(&str, &str)]) -> Server {
    let url = jwks.url();
    let mut env = vec![
        ("SPIN_VARIABLE_JWT_JWKS_URL", url.as_str()),
        ("SPIN_VARIABLE_JWT_JWKS_ORIGIN", jwks.origin.as_str()),
        ("SPIN_VARIABLE_JWT_JWKS_REFETCH_SECONDS", "2"),
    ];
    env.extend_from_slice(extra);
    Server::start_with_env(&env)
}

#[test]
fn jwks_keys_are_cached_rotated_in_and_refetches_are_rate_limited() {
    let jwks = Jwks::start(jwk_set(&[("rsa-a", "a"), ("ec-a", "e")]));
    let server = jwks_server(&jwks, &[]);
    let none = json!({});

    // Key A: one fetch; the second request and an ES256 token from the same set use the cache.
    assert_eq!(
        status(
            &server,
            &mint("rsa-a", Some("a"), "edgepedia", none.clone())
        ),
        200
    );
    assert_eq!(jwks.hits(), 1);
    assert_eq!(
        status(
            &server,
            &mint("rsa-a", Some("a"), "edgepedia", none.clone())
        ),
        200
    );
    assert_eq!(
        status(&server, &mint("ec-a", Some("e"), "edgepedia", none.clone())),
        200
    );
    assert_eq!(
        status(&server, &mint("rsa-a", None, "edgepedia", none.clone())),
        200
    );
    assert_eq!(jwks.hits(), 1);

    // Signed by a key that is not in the set, under a known kid: 401, no refetch.
    assert_eq!(
        status(
            &server,
            &mint("rsa-c", Some("a"), "edgepedia", none.clone())
        ),
        401
    );
    // The right key but the wrong issuer: 401.
    assert_eq!(
        status(&server, &mint("rsa-a", Some("a"), "someone", none.clone())),
        401
    );
    assert_eq!(jwks.hits(), 1);

    // Rotation: the provider adds kid b. Past the (test-sized) refetch interval, the first
    // token with kid b refetches exactly once and is accepted.
    *jwks.body.lock().unwrap() = jwk_set(&[("rsa-a", "a"), ("rsa-b", "b"), ("ec-a", "e")]);
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(
        status(
            &server,
            &mint("rsa-b", Some("b"), "edgepedia", none.clone())
        ),
        200
    );
    assert_eq!(jwks.hits(), 2);
    assert_eq!(
        status(
            &server,
            &mint("rsa-b", Some("b"), "edgepedia", none.clone())
        ),
        200
    );
    assert_eq!(jwks.hits(), 2);

    // A burst of unknown kids: all 401, and at most one more fetch (the interval is 2 s).
    for i in 0..15 {
        let t = mint(
            "rsa-c",
            Some(&format!("random-{i}")),
            "edgepedia",
            none.clone(),
        );
        assert_eq!(status(&server, &t), 401);
    }
    assert!(jwks.hits() <= 3, "{} fetches", jwks.hits());

    // Still working from the cache; a key never published stays refused.
    assert_eq!(
        status(
            &server,
            &mint("rsa-a", Some("a"), "edgepedia", none.clone())
        ),
        200
    );
    assert_eq!(
        status(
            &server,
            &mint("rsa-c", Some("c"), "edgepedia", none.clone())
        ),
        401
    );
    // HS256 (jwt_hs256_secret) keeps working next to the key set.
    assert_eq!(status(&server, &support::admin_token()), 200);
}

#[test]
fn the_host_denies_a_jwks_origin_not_in_allowed_outbound_hosts() {
    let jwks = Jwks::start(jwk_set(&[("rsa-a", "a")]));
    let url = jwks.url();
    // jwt_jwks_origin keeps its default (https://jwks.invalid): the fetch is refused by the
    // runtime before any connection, so the provider never sees a request.
    let server = Server::start_with_env(&[("SPIN_VARIABLE_JWT_JWKS_URL", url.as_str())]);
    let token = mint("rsa-a", Some("a"), "edgepedia", json!({}));
    let (code, body) = server.get_as(PODS, Some(&token));
    assert_eq!(code, 401);
    assert_eq!(body["reason"], "Unauthorized");
    assert_eq!(jwks.hits(), 0);
}

#[test]
fn github_style_tokens_without_scope_get_the_default_scope_by_subject() {
    let jwks = Jwks::start(jwk_set(&[("rsa-a", "gh")]));
    let issuer = jwks.origin.clone();
    let server = jwks_server(
        &jwks,
        &[
            ("SPIN_VARIABLE_JWT_ISSUER", issuer.as_str()),
            ("SPIN_VARIABLE_JWT_DEFAULT_SCOPE", "inventory:read"),
            (
                "SPIN_VARIABLE_JWT_DEFAULT_SCOPE_SUBJECTS",
                "repo:acme/*:ref:refs/heads/main",
            ),
        ],
    );
    // What GitHub Actions issues: no scope claim, sub names repository and ref.
    let gh = |sub: &str| {
        mint(
            "rsa-a",
            Some("gh"),
            &issuer,
            json!({"scope": null, "sub": sub, "repository": "acme/app"}),
        )
    };
    assert_eq!(
        status(&server, &gh("repo:acme/app:ref:refs/heads/main")),
        200
    );
    let (code, body) = server.get_as(PODS, Some(&gh("repo:acme/app:ref:refs/heads/dev")));
    assert_eq!((code, body["reason"].as_str()), (403, Some("Forbidden")));
    assert_eq!(
        status(&server, &gh("repo:acme-evil/app:ref:refs/heads/main")),
        403
    );
    // Writes are not part of the default scope.
    let (code, _) = server.request(
        "POST",
        "/ingest/v1/clusters/c1/events",
        Some(&gh("repo:acme/app:ref:refs/heads/main")),
        None,
        Some(b"{}"),
    );
    assert_eq!(code, 403);
}

#[test]
fn oversized_tokens_empty_issuer_and_algorithm_confusion() {
    let server = Server::start_with_env(&[("SPIN_VARIABLE_JWT_PUBLIC_KEYS", &key("rsa-a.pub"))]);
    assert_eq!(
        status(&server, &mint("rsa-a", None, "edgepedia", json!({}))),
        200
    );
    // Over 8 KiB: 401 before parsing, even though the signature is valid.
    let big = mint(
        "rsa-a",
        None,
        "edgepedia",
        json!({"namespaces": ["x".repeat(9000)]}),
    );
    assert_eq!(status(&server, &big), 401);
    // HS256 signed with the RSA public key's PEM as the HMAC secret.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": "edgepedia", "aud": "edgepedia", "exp": now + 600, "scope": "inventory:read"});
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key("rsa-a.pub").as_bytes()),
    )
    .unwrap();
    assert_eq!(status(&server, &confused), 401);
    // The same claims re-labelled `none` with no signature.
    let payload = confused.split('.').nth(1).unwrap();
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    assert_eq!(status(&server, &none), 401);

    // An issuer of blanks is a misconfiguration: 500 with a generic message, health still up.
    let broken = Server::start_with_env(&[("SPIN_VARIABLE_JWT_ISSUER", " ")]);
    let (code, body) = broken.get_as(PODS, Some(&support::admin_token()));
    assert_eq!(
        (code, body["reason"].as_str()),
        (500, Some("InternalError"))
    );
    assert!(
        !body["message"].as_str().unwrap().contains("issuer"),
        "{body}"
    );
    assert_eq!(broken.get_as("/healthz", None).0, 200);
}

#[test]
fn tokens_minted_by_sync_agent_are_accepted_by_the_component() {
    let server = Server::start();
    let agent = |args: &[&str]| {
        let out = std::process::Command::new(support::agent_bin())
            .arg("token")
            .args(args)
            .env_remove("EDGEPEDIA_JWT_SECRET")
            .env("EDGEPEDIA_JWT_SECRET", support::SECRET)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let read = agent(&["--cluster", "c1", "--ttl", "10m"]);
    assert_eq!(status(&server, &read), 200);
    // A read token cannot write; a write token for c1 cannot push c2.
    let events = |cluster: &str, token: &str| {
        server
            .request(
                "POST",
                &format!("/ingest/v1/clusters/{cluster}/events"),
                Some(token),
                None,
                Some(br#"{"events":[]}"#),
            )
            .0
    };
    assert_eq!(events("c1", &read), 403);
    let write = agent(&[
        "--scope",
        "inventory:read inventory:write",
        "--cluster",
        "c1",
    ]);
    assert_eq!(events("c2", &write), 403);
    assert_ne!(events("c1", &write), 401);
    // Another issuer than the edge's: 401.
    assert_eq!(status(&server, &agent(&["--issuer", "other"])), 401);
}
