//! `sync-agent token` as users run it: the printed token verifies with the secret and carries
//! the claims the edge reads. (tests/e2e_auth_keys.rs also sends one to the real component.)

use jwt_simple::prelude::*;
use std::process::Command;

#[derive(Serialize, Deserialize)]
struct Edge {
    scope: String,
    clusters: Option<Vec<String>>,
    namespaces: Option<Vec<String>>,
}

fn agent() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sync-agent"));
    c.env_remove("EDGEPEDIA_JWT_SECRET");
    c
}

fn run(c: &mut Command) -> (bool, String, String) {
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn verify(token: &str, secret: &str, issuer: &str) -> JWTClaims<Edge> {
    let options = VerificationOptions {
        allowed_issuers: Some([issuer.to_owned()].into()),
        allowed_audiences: Some(["edgepedia".to_owned()].into()),
        ..Default::default()
    };
    HS256Key::from_bytes(secret.as_bytes())
        .verify_token::<Edge>(token, Some(options))
        .unwrap()
}

#[test]
fn mints_a_read_token_by_default_from_the_environment() {
    let (ok, token, err) = run(agent()
        .arg("token")
        .env("EDGEPEDIA_JWT_SECRET", "env-secret-0123456789abcdef0123"));
    assert!(ok, "{err}");
    let claims = verify(&token, "env-secret-0123456789abcdef0123", "edgepedia");
    assert_eq!(claims.custom.scope, "inventory:read");
    assert!(claims.custom.clusters.is_none() && claims.custom.namespaces.is_none());
    let lifetime = claims.expires_at.unwrap().as_secs() - claims.issued_at.unwrap().as_secs();
    assert_eq!(lifetime, 3600);
}

#[test]
fn scopes_globs_issuer_and_ttl_from_flags_and_a_secret_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "file-secret-0123456789abcdef012\n").unwrap();
    let (ok, token, err) = run(agent()
        .args(["token", "--secret-file"])
        .arg(&file)
        .args([
            "--scope",
            "inventory:read inventory:write",
            "--scope",
            "inventory:secrets",
        ])
        .args(["--cluster", "prod-*", "--cluster", "staging"])
        .args(["--namespace", "team-a"])
        .args(["--issuer", "https://issuer.example", "--ttl", "30m"])
        .args(["--subject", "ci"])
        // The file on the command line wins over the environment.
        .env("EDGEPEDIA_JWT_SECRET", "env-secret-0123456789abcdef0123"));
    assert!(ok, "{err}");
    let claims = verify(
        &token,
        "file-secret-0123456789abcdef012",
        "https://issuer.example",
    );
    assert_eq!(
        claims.custom.scope,
        "inventory:read inventory:write inventory:secrets"
    );
    assert_eq!(claims.custom.clusters.unwrap(), ["prod-*", "staging"]);
    assert_eq!(claims.custom.namespaces.unwrap(), ["team-a"]);
    assert_eq!(claims.subject.as_deref(), Some("ci"));
    let lifetime = claims.expires_at.unwrap().as_secs() - claims.issued_at.unwrap().as_secs();
    assert_eq!(lifetime, 1800);
}

#[test]
fn refuses_what_the_edge_would_not_accept() {
    let (ok, _, err) = run(agent().arg("token"));
    assert!(!ok && err.contains("--secret-file"), "{err}");
    for bad in [
        &["--scope", "inventory:admin"][..],
        &["--ttl", "1y"],
        &["--cluster", "Prod"],
        &["--namespace", "a b"],
    ] {
        let (ok, out, err) = run(agent().args(["token", "--secret", "s"]).args(bad));
        assert!(!ok && out.is_empty(), "{bad:?}: {err}");
    }
}
