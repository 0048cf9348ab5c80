//! Spin variables → [`AuthConfig`], and the verification pipeline: size cap, header, the key
//! source chosen by the key type, then claims → [`Principal`].

use super::jwks::{JwksSource, Platform, DEFAULT_REFETCH_SECONDS};
use super::keys::KeySet;
use super::{glob, Principal, ScopeClaims, Variables};
use crate::error::{ApiError, ApiResult};
use jwt_simple::prelude::*;
use std::collections::HashSet;

/// Clock drift tolerated on `exp`/`nbf`.
const LEEWAY_SECONDS: u64 = 60;
/// Longest bearer token accepted; longer ones are refused before any parsing (a token is a
/// few hundred bytes to a couple of KiB; this bounds the work an anonymous caller can cause).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// How tokens are verified, from the Spin variables `jwt_hs256_secret`, `jwt_public_keys`,
/// `jwt_jwks_url`, `jwt_jwks_refetch_seconds`, `jwt_issuer`, `jwt_audience`,
/// `jwt_default_scope` and `jwt_default_scope_subjects`.
pub struct AuthConfig {
    hs256: Option<HS256Key>,
    public_keys: KeySet,
    jwks: Option<JwksSource>,
    issuer: String,
    audience: Option<String>,
    /// Scopes for tokens without `scope`/`scp` whose `sub` matches one of the globs.
    default_scope: Option<(String, Vec<String>)>,
    /// Why no token can be verified: every authenticated request is a 500 then.
    misconfigured: Option<String>,
}

impl AuthConfig {
    pub fn from_variables(vars: &dyn Variables) -> Self {
        let non_empty = |name| {
            vars.get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut problems = Vec::new();
        let issuer = non_empty("jwt_issuer").unwrap_or_else(|| {
            problems.push(
                "jwt_issuer is empty: set it to the issuer your tokens carry (an empty issuer \
                 would accept tokens from anyone holding a key)"
                    .to_owned(),
            );
            String::new()
        });
        let public_keys = match non_empty("jwt_public_keys") {
            Some(text) => KeySet::parse_static(&text).unwrap_or_else(|e| {
                problems.push(format!("jwt_public_keys cannot be used: {e}"));
                KeySet::default()
            }),
            None => KeySet::default(),
        };
        let jwks = non_empty("jwt_jwks_url").and_then(|url| {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                problems.push("jwt_jwks_url must be an https:// URL".to_owned());
                return None;
            }
            let refetch_seconds = match non_empty("jwt_jwks_refetch_seconds") {
                Some(s) => s
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .unwrap_or_else(|| {
                        problems.push("jwt_jwks_refetch_seconds is not a number of seconds".into());
                        DEFAULT_REFETCH_SECONDS
                    }),
                None => DEFAULT_REFETCH_SECONDS,
            };
            Some(JwksSource {
                url,
                refetch_seconds,
            })
        });
        let hs256 = non_empty("jwt_hs256_secret").map(|s| HS256Key::from_bytes(s.as_bytes()));
        if hs256.is_none() && public_keys.0.is_empty() && jwks.is_none() && problems.is_empty() {
            problems.push(
                "no JWT verification key: set jwt_hs256_secret, jwt_public_keys or jwt_jwks_url"
                    .to_owned(),
            );
        }
        let default_scope = non_empty("jwt_default_scope").and_then(|scope| {
            let subjects: Vec<String> = non_empty("jwt_default_scope_subjects")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            if subjects.is_empty() {
                problems.push(
                    "jwt_default_scope needs jwt_default_scope_subjects (sub globs, `*` for \
                     all): an issuer such as GitHub Actions signs tokens for every repository"
                        .to_owned(),
                );
                return None;
            }
            Some((scope, subjects))
        });
        Self {
            hs256,
            public_keys,
            jwks,
            issuer,
            audience: non_empty("jwt_audience"),
            default_scope,
            misconfigured: (!problems.is_empty()).then(|| problems.join("; ")),
        }
    }

    /// Verifies the `Authorization` header value. Every token failure is the same bare 401; a
    /// misconfiguration is a 500 whose reason goes to the log only.
    pub fn authenticate(
        &self,
        platform: &dyn Platform,
        authorization: Option<&str>,
        now: i64,
    ) -> ApiResult<Principal> {
        if let Some(reason) = &self.misconfigured {
            // One log line per request instance (Spin starts one per request).
            static LOGGED: std::sync::Once = std::sync::Once::new();
            LOGGED.call_once(|| eprintln!("edgepedia: authentication misconfigured: {reason}"));
            return Err(ApiError::internal());
        }
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(ApiError::unauthorized());
        }
        let claims = self.verify(platform, token, now)?;
        if claims.expires_at.is_none() {
            return Err(ApiError::unauthorized());
        }
        let mut custom = claims.custom;
        if custom.scope.is_none() && custom.scp.is_none() {
            if let (Some((scope, subjects)), Some(sub)) = (&self.default_scope, &claims.subject) {
                if subjects.iter().any(|p| glob(p.as_bytes(), sub.as_bytes())) {
                    custom.scope = Some(scope.clone());
                }
            }
        }
        Principal::from_claims(custom)
    }

    /// The key source is picked by the header's `alg` among the configured key TYPES; the
    /// chosen key then re-checks `alg` itself (jwt-simple), so the header can only narrow.
    fn verify(
        &self,
        platform: &dyn Platform,
        token: &str,
        now: i64,
    ) -> ApiResult<JWTClaims<ScopeClaims>> {
        let metadata = Token::decode_metadata(token).map_err(|_| ApiError::unauthorized())?;
        let alg = metadata.algorithm();
        let kid = metadata.key_id();
        let options = || VerificationOptions {
            allowed_issuers: Some(HashSet::from([self.issuer.clone()])),
            allowed_audiences: self
                .audience
                .iter()
                .cloned()
                .map(|a| HashSet::from([a]))
                .next(),
            time_tolerance: Some(Duration::from_secs(LEEWAY_SECONDS)),
            artificial_time: Some(UnixTimeStamp::from_secs(now.max(0) as u64)),
            max_token_length: Some(MAX_TOKEN_BYTES),
            ..Default::default()
        };
        if alg == "HS256" {
            let key = self.hs256.as_ref().ok_or_else(ApiError::unauthorized)?;
            return key
                .verify_token::<ScopeClaims>(token, Some(options()))
                .map_err(|_| ApiError::unauthorized());
        }
        if !matches!(alg, "RS256" | "ES256" | "EdDSA" | "Ed25519") {
            // `none`, HS384, PS256, …: no key of ours can verify it; never fetch for it.
            return Err(ApiError::unauthorized());
        }
        for key in self.public_keys.candidates(alg, kid) {
            if let Ok(claims) = key.verify(token, options()) {
                return Ok(claims);
            }
        }
        if let Some(jwks) = &self.jwks {
            if let Some(set) = jwks.keys(platform, kid, now) {
                for key in set.candidates(alg, kid) {
                    if let Ok(claims) = key.verify(token, options()) {
                        return Ok(claims);
                    }
                }
            }
        }
        Err(ApiError::unauthorized())
    }
}

#[cfg(test)]
mod tests {
    use super::super::jwks::tests::FakePlatform;
    use super::super::jwks::NoPlatform;
    use super::super::Scope;
    use super::*;

    pub struct Vars(pub Vec<(&'static str, String)>);

    impl Variables for Vars {
        fn get(&self, name: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        }
    }

    const SECRET: &str = "test-secret-0123456789";
    const RSA_A: &str = include_str!("../../tests/fixtures/keys/rsa-a.pem");
    const RSA_A_PUB: &str = include_str!("../../tests/fixtures/keys/rsa-a.pub.pem");
    const RSA_B: &str = include_str!("../../tests/fixtures/keys/rsa-b.pem");
    const RSA_C: &str = include_str!("../../tests/fixtures/keys/rsa-c.pem");
    const EC_A: &str = include_str!("../../tests/fixtures/keys/ec-a.pem");
    const EC_A_PUB: &str = include_str!("../../tests/fixtures/keys/ec-a.pub.pem");
    const ED_A: &str = include_str!("../../tests/fixtures/keys/ed25519-a.pem");
    const ED_A_PUB: &str = include_str!("../../tests/fixtures/keys/ed25519-a.pub.pem");

    fn now() -> i64 {
        crate::clock::now_unix()
    }

    fn vars(extra: &[(&'static str, &str)]) -> Vars {
        let mut v = vec![
            ("jwt_issuer", "edgepedia".to_owned()),
            ("jwt_audience", "edgepedia".to_owned()),
        ];
        for (k, val) in extra {
            v.retain(|(n, _)| n != k);
            v.push((k, val.to_string()));
        }
        Vars(v)
    }

    fn hs_config() -> AuthConfig {
        AuthConfig::from_variables(&vars(&[("jwt_hs256_secret", SECRET)]))
    }

    fn claims(custom: ScopeClaims) -> JWTClaims<ScopeClaims> {
        Claims::with_custom_claims(custom, Duration::from_hours(1))
            .with_issuer("edgepedia")
            .with_audience("edgepedia")
    }

    fn scoped(scope: &str) -> ScopeClaims {
        ScopeClaims {
            scope: Some(scope.into()),
            ..Default::default()
        }
    }

    fn hs_token(custom: ScopeClaims, issuer: &str) -> String {
        let claims = Claims::with_custom_claims(custom, Duration::from_hours(1))
            .with_issuer(issuer)
            .with_audience("edgepedia");
        HS256Key::from_bytes(SECRET.as_bytes())
            .authenticate(claims)
            .unwrap()
    }

    fn rs(pem: &str, kid: Option<&str>) -> String {
        let mut key = RS256KeyPair::from_pem(pem).unwrap();
        if let Some(kid) = kid {
            key = key.with_key_id(kid);
        }
        key.sign(claims(scoped("inventory:read"))).unwrap()
    }

    fn auth(cfg: &AuthConfig, p: &dyn Platform, token: &str) -> ApiResult<Principal> {
        cfg.authenticate(p, Some(&format!("Bearer {token}")), now())
    }

    fn code(r: ApiResult<Principal>) -> u16 {
        r.map_or_else(|e| e.code, |_| 200)
    }

    /// Splices a new header onto a token's payload and signature.
    fn with_header(token: &str, header: &str) -> String {
        let rest = token.split_once('.').unwrap().1;
        format!(
            "{}.{rest}",
            Base64UrlSafeNoPadding::encode_to_string(header).unwrap()
        )
    }

    #[test]
    fn accepts_a_valid_token_and_reads_scopes() {
        let t = hs_token(
            ScopeClaims {
                clusters: Some(vec!["prod-*".into()]),
                ..scoped("inventory:read")
            },
            "edgepedia",
        );
        let p = auth(&hs_config(), &NoPlatform, &t).unwrap();
        assert!(p.require(Scope::Read).is_ok());
        assert_eq!(p.require(Scope::Write).unwrap_err().code, 403);
        assert!(p.may_see_cluster("prod-eu-1"));
        assert!(!p.may_see_cluster("staging"));
        let prod = edgepedia_api::ClusterName::parse("prod-1").unwrap();
        assert_eq!(p.require_write(&prod).unwrap_err().code, 403);
    }

    #[test]
    fn rejects_missing_forged_foreign_and_none_alg_tokens() {
        let cfg = hs_config();
        assert_eq!(
            cfg.authenticate(&NoPlatform, None, now()).unwrap_err(),
            ApiError::unauthorized()
        );
        assert_eq!(
            code(cfg.authenticate(&NoPlatform, Some("Basic abc"), now())),
            401
        );
        let wrong_issuer = hs_token(scoped("inventory:read"), "someone-else");
        assert_eq!(code(auth(&cfg, &NoPlatform, &wrong_issuer)), 401);
        let forged = HS256Key::from_bytes(b"other-secret")
            .authenticate(claims(scoped("inventory:read")))
            .unwrap();
        assert_eq!(code(auth(&cfg, &NoPlatform, &forged)), 401);
        // alg: none with the same claims.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJlZGdlcGVkaWEiLCJhdWQiOiJlZGdlcGVkaWEiLCJleHAiOjk5OTk5OTk5OTksInNjb3BlIjoiaW52ZW50b3J5OnJlYWQifQ.";
        assert_eq!(code(auth(&cfg, &NoPlatform, none)), 401);
    }

    #[test]
    fn rejects_expired_tokens_and_tokens_without_exp() {
        let key = HS256Key::from_bytes(SECRET.as_bytes());
        let mut expired = claims(scoped("inventory:read"));
        expired.expires_at = Some(UnixTimeStamp::from_secs(1_000));
        let t = key.authenticate(expired).unwrap();
        assert_eq!(code(auth(&hs_config(), &NoPlatform, &t)), 401);
        let mut no_exp = claims(scoped("inventory:read"));
        no_exp.expires_at = None;
        let t = key.authenticate(no_exp).unwrap();
        assert_eq!(code(auth(&hs_config(), &NoPlatform, &t)), 401);
        // Expired RS256 too.
        let cfg = AuthConfig::from_variables(&vars(&[("jwt_public_keys", RSA_A_PUB)]));
        let mut expired = claims(scoped("inventory:read"));
        expired.expires_at = Some(UnixTimeStamp::from_secs(1_000));
        let t = RS256KeyPair::from_pem(RSA_A)
            .unwrap()
            .sign(expired)
            .unwrap();
        assert_eq!(code(auth(&cfg, &NoPlatform, &t)), 401);
    }

    #[test]
    fn static_pem_keys_verify_by_their_own_type() {
        let pems = format!("{RSA_A_PUB}\n{EC_A_PUB}\n{ED_A_PUB}");
        let cfg = AuthConfig::from_variables(&vars(&[("jwt_public_keys", &pems)]));
        let c = || claims(scoped("inventory:read"));
        let rsa = RS256KeyPair::from_pem(RSA_A).unwrap().sign(c()).unwrap();
        let es = ES256KeyPair::from_pem(EC_A).unwrap().sign(c()).unwrap();
        let ed = Ed25519KeyPair::from_pem(ED_A).unwrap().sign(c()).unwrap();
        for t in [&rsa, &es, &ed] {
            let p = auth(&cfg, &NoPlatform, t).unwrap();
            assert!(p.require(Scope::Read).is_ok());
        }
        // A kid on the token does not stop PEM keys (which have none) from being tried.
        assert_eq!(code(auth(&cfg, &NoPlatform, &rs(RSA_A, Some("x")))), 200);
        // Wrong key: signed by RSA key C, which is not configured.
        assert_eq!(code(auth(&cfg, &NoPlatform, &rs(RSA_C, None))), 401);
        // Header alg changed to another configured type: the RS256 signature is checked as
        // ES256 / EdDSA and fails.
        for alg in ["ES256", "EdDSA", "RS384", "PS256"] {
            let t = with_header(&rsa, &format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            assert_eq!(code(auth(&cfg, &NoPlatform, &t)), 401, "{alg}");
        }
        // HS256 is not accepted at all without jwt_hs256_secret.
        let hs = hs_token(scoped("inventory:read"), "edgepedia");
        assert_eq!(code(auth(&cfg, &NoPlatform, &hs)), 401);
    }

    #[test]
    fn algorithm_confusion_hs256_with_the_public_key_as_secret_is_refused() {
        // The classic attack: the verifier holds an RSA public key; the attacker signs HS256
        // with the PEM text as the HMAC secret.
        let c = || claims(scoped("inventory:read inventory:write"));
        for cfg in [
            AuthConfig::from_variables(&vars(&[("jwt_public_keys", RSA_A_PUB)])),
            AuthConfig::from_variables(&vars(&[
                ("jwt_public_keys", RSA_A_PUB),
                ("jwt_hs256_secret", SECRET),
            ])),
        ] {
            for secret in [RSA_A_PUB, RSA_A_PUB.trim()] {
                let t = HS256Key::from_bytes(secret.as_bytes())
                    .authenticate(c())
                    .unwrap();
                assert_eq!(code(auth(&cfg, &NoPlatform, &t)), 401);
            }
        }
    }

    #[test]
    fn jwk_set_keys_are_selected_by_kid() {
        let a = RS256KeyPair::from_pem(RSA_A).unwrap().public_key();
        let b = RS256KeyPair::from_pem(RSA_B).unwrap().public_key();
        let jwk = |k: &RS256PublicKey, kid: &str| {
            let mut v: serde_json::Value = serde_json::from_str(&k.to_jwk()).unwrap();
            v["kid"] = kid.into();
            v
        };
        let set = serde_json::json!({"keys": [jwk(&a, "a"), jwk(&b, "b")]}).to_string();
        let cfg = AuthConfig::from_variables(&vars(&[("jwt_public_keys", &set)]));
        assert_eq!(code(auth(&cfg, &NoPlatform, &rs(RSA_A, Some("a")))), 200);
        assert_eq!(code(auth(&cfg, &NoPlatform, &rs(RSA_B, Some("b")))), 200);
        assert_eq!(code(auth(&cfg, &NoPlatform, &rs(RSA_B, None))), 200);
        // The kid names key a, the signature is b's: kid selects, it does not fall through.
        assert_eq!(code(auth(&cfg, &NoPlatform, &rs(RSA_B, Some("a")))), 401);
        assert_eq!(code(auth(&cfg, &NoPlatform, &rs(RSA_B, Some("zz")))), 401);
    }

    #[test]
    fn oversized_tokens_are_refused_before_parsing() {
        let cfg = hs_config();
        let big = ScopeClaims {
            namespaces: Some(vec!["a".repeat(9000)]),
            ..scoped("inventory:read")
        };
        let t = hs_token(big, "edgepedia");
        assert!(t.len() > MAX_TOKEN_BYTES);
        assert_eq!(code(auth(&cfg, &NoPlatform, &t)), 401);
        // Not even valid base64: still a 401, not a parse error of another kind.
        let junk = "x".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(code(auth(&cfg, &NoPlatform, &junk)), 401);
    }

    #[test]
    fn misconfiguration_is_a_500_for_every_authenticated_request() {
        let t = hs_token(scoped("inventory:read"), "edgepedia");
        for v in [
            vars(&[("jwt_hs256_secret", SECRET), ("jwt_issuer", "")]),
            vars(&[("jwt_hs256_secret", SECRET), ("jwt_issuer", "  ")]),
            vars(&[]),
            vars(&[("jwt_hs256_secret", SECRET), ("jwt_public_keys", "junk")]),
            vars(&[("jwt_hs256_secret", SECRET), ("jwt_public_keys", RSA_A)]),
            vars(&[("jwt_hs256_secret", SECRET), ("jwt_jwks_url", "ftp://x")]),
            vars(&[
                ("jwt_hs256_secret", SECRET),
                ("jwt_default_scope", "inventory:read"),
            ]),
        ] {
            let cfg = AuthConfig::from_variables(&v);
            let e = auth(&cfg, &NoPlatform, &t).unwrap_err();
            assert_eq!(e, ApiError::internal());
            assert_eq!(
                cfg.authenticate(&NoPlatform, None, now()).unwrap_err().code,
                500
            );
        }
    }

    #[test]
    fn default_scope_applies_to_matching_subjects_without_scope() {
        let cfg = AuthConfig::from_variables(&vars(&[
            ("jwt_public_keys", RSA_A_PUB),
            ("jwt_default_scope", "inventory:read"),
            (
                "jwt_default_scope_subjects",
                "repo:acme/*:ref:refs/heads/main, repo:acme/infra:*",
            ),
        ]));
        let key = RS256KeyPair::from_pem(RSA_A).unwrap();
        let sign =
            |sub: &str, custom: ScopeClaims| key.sign(claims(custom).with_subject(sub)).unwrap();
        let main = sign("repo:acme/app:ref:refs/heads/main", ScopeClaims::default());
        let p = auth(&cfg, &NoPlatform, &main).unwrap();
        assert!(p.require(Scope::Read).is_ok() && p.require(Scope::Write).is_err());
        let infra_pr = sign("repo:acme/infra:pull_request", ScopeClaims::default());
        assert!(auth(&cfg, &NoPlatform, &infra_pr)
            .unwrap()
            .require(Scope::Read)
            .is_ok());
        // Other repositories and branches authenticate but get no scope: 403 later.
        for sub in [
            "repo:acme/app:ref:refs/heads/feature",
            "repo:acme-evil/app:ref:refs/heads/main",
            "repo:other/x:ref:refs/heads/main",
        ] {
            let p = auth(&cfg, &NoPlatform, &sign(sub, ScopeClaims::default())).unwrap();
            assert_eq!(p.require(Scope::Read).unwrap_err().code, 403, "{sub}");
        }
        // An explicit scope is never widened.
        let t = sign("repo:acme/app:ref:refs/heads/main", scoped("other:thing"));
        let p = auth(&cfg, &NoPlatform, &t).unwrap();
        assert!(p.require(Scope::Read).is_err());
    }

    fn jwks_config(refetch: &str) -> AuthConfig {
        AuthConfig::from_variables(&vars(&[
            ("jwt_jwks_url", "https://issuer.example/jwks"),
            ("jwt_jwks_refetch_seconds", refetch),
        ]))
    }

    fn jwks_of(keys: &[(&str, &str)]) -> String {
        let keys: Vec<serde_json::Value> = keys
            .iter()
            .map(|(pem, kid)| {
                let jwk = if *pem == EC_A {
                    ES256KeyPair::from_pem(pem).unwrap().public_key().to_jwk()
                } else {
                    RS256KeyPair::from_pem(pem).unwrap().public_key().to_jwk()
                };
                let mut v: serde_json::Value = serde_json::from_str(&jwk).unwrap();
                v["kid"] = (*kid).into();
                v
            })
            .collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    #[test]
    fn jwks_is_cached_refetched_on_unknown_kid_and_rate_limited() {
        let cfg = jwks_config("60");
        let platform = FakePlatform::default();
        *platform.jwks.borrow_mut() = Some(jwks_of(&[(RSA_A, "a"), (EC_A, "e")]));
        let t0 = now();
        let at =
            |token: &str, t: i64| cfg.authenticate(&platform, Some(&format!("Bearer {token}")), t);
        assert_eq!(code(at(&rs(RSA_A, Some("a")), t0)), 200);
        assert_eq!(*platform.fetches.borrow(), 1);
        // ES256 from the same set, and RS256 again: served from the KV cache.
        let es = ES256KeyPair::from_pem(EC_A)
            .unwrap()
            .with_key_id("e")
            .sign(claims(scoped("inventory:read")))
            .unwrap();
        assert_eq!(code(at(&es, t0)), 200);
        assert_eq!(code(at(&rs(RSA_A, Some("a")), t0 + 1)), 200);
        assert_eq!(*platform.fetches.borrow(), 1);
        // A known kid with a foreign signature: 401 without a refetch.
        assert_eq!(code(at(&rs(RSA_C, Some("a")), t0 + 2)), 401);
        assert_eq!(*platform.fetches.borrow(), 1);
        // Rotation: kid b appears. Within 60 s of the last fetch, no refetch: 401.
        *platform.jwks.borrow_mut() = Some(jwks_of(&[(RSA_A, "a"), (RSA_B, "b")]));
        assert_eq!(code(at(&rs(RSA_B, Some("b")), t0 + 10)), 401);
        assert_eq!(*platform.fetches.borrow(), 1);
        // After 60 s: exactly one refetch, then b works from the cache.
        assert_eq!(code(at(&rs(RSA_B, Some("b")), t0 + 61)), 200);
        assert_eq!(*platform.fetches.borrow(), 2);
        // A burst of random kids: no fetch within the interval.
        for i in 0..20 {
            assert_eq!(code(at(&rs(RSA_C, Some(&format!("r{i}"))), t0 + 62)), 401);
        }
        assert_eq!(*platform.fetches.borrow(), 2);
        // The provider goes down after expiry (max-age=600): the stale set is used.
        *platform.jwks.borrow_mut() = None;
        assert_eq!(code(at(&rs(RSA_B, Some("b")), t0 + 61 + 700)), 200);
        assert_eq!(*platform.fetches.borrow(), 3);
    }

    #[test]
    fn jwks_fetch_failure_without_cache_is_a_401() {
        let cfg = jwks_config("60");
        let platform = FakePlatform::default();
        assert_eq!(
            code(cfg.authenticate(
                &platform,
                Some(&format!("Bearer {}", rs(RSA_A, Some("a")))),
                now()
            )),
            401
        );
        assert_eq!(*platform.fetches.borrow(), 1);
        // No platform (native engine): 401 too, never a panic.
        assert_eq!(code(auth(&cfg, &NoPlatform, &rs(RSA_A, Some("a")))), 401);
        // alg none / HS256 never trigger a fetch.
        let hs = hs_token(scoped("inventory:read"), "edgepedia");
        assert_eq!(
            code(cfg.authenticate(&platform, Some(&format!("Bearer {hs}")), now() + 100)),
            401
        );
        assert_eq!(*platform.fetches.borrow(), 1);
    }
}
