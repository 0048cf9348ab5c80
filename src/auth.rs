//! Bearer JWT → [`Principal`]. The token is verified here (signature, `exp`, `nbf`, `iss`,
//! `aud`); what the principal may see is enforced later, inside the SQL predicate
//! (see [`crate::plan`]), so paging and counts can never look past it.

use crate::error::{ApiError, ApiResult};
use edgepedia_api::ClusterName;
use jwt_simple::prelude::*;
use std::collections::HashSet;

/// Spin variables the component reads (declared in spin.toml).
pub trait Variables {
    fn get(&self, name: &str) -> Option<String>;
}

/// Clock drift tolerated on `exp`/`nbf`.
const LEEWAY_SECONDS: u64 = 60;

/// How tokens are verified, from the Spin variables `jwt_hs256_secret`, `jwt_issuer`,
/// `jwt_audience`.
pub struct AuthConfig {
    hs256: Option<HS256Key>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl AuthConfig {
    pub fn from_variables(vars: &dyn Variables) -> Self {
        let non_empty = |name| vars.get(name).filter(|v| !v.is_empty());
        Self {
            hs256: non_empty("jwt_hs256_secret").map(|s| HS256Key::from_bytes(s.as_bytes())),
            issuer: non_empty("jwt_issuer"),
            audience: non_empty("jwt_audience"),
        }
    }

    /// Verifies the `Authorization` header value. Every failure is the same bare 401.
    pub fn authenticate(&self, authorization: Option<&str>) -> ApiResult<Principal> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        let key = self.hs256.as_ref().ok_or_else(|| {
            eprintln!("edgepedia: no JWT verification key configured (jwt_hs256_secret)");
            ApiError::unauthorized()
        })?;
        let options = VerificationOptions {
            allowed_issuers: self
                .issuer
                .iter()
                .cloned()
                .map(|i| HashSet::from([i]))
                .next(),
            allowed_audiences: self
                .audience
                .iter()
                .cloned()
                .map(|a| HashSet::from([a]))
                .next(),
            time_tolerance: Some(Duration::from_secs(LEEWAY_SECONDS)),
            artificial_time: Some(UnixTimeStamp::from_secs(
                crate::clock::now_unix().max(0) as u64
            )),
            ..Default::default()
        };
        let claims = key
            .verify_token::<ScopeClaims>(token, Some(options))
            .map_err(|_| ApiError::unauthorized())?;
        if claims.expires_at.is_none() {
            return Err(ApiError::unauthorized());
        }
        Principal::from_claims(claims.custom)
    }
}

/// The claims Edgepedia reads besides the registered ones.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ScopeClaims {
    /// Space-delimited (RFC 8693 style).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Array form used by some issuers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
    Secrets,
}

impl Scope {
    fn claim(self) -> &'static str {
        match self {
            Scope::Read => "inventory:read",
            Scope::Write => "inventory:write",
            Scope::Secrets => "inventory:secrets",
        }
    }
}

/// A glob over cluster or namespace names (`prod-*`), applied with SQLite's `GLOB`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern(String);

impl NamePattern {
    /// Names are DNS labels, so a pattern may only hold their characters plus `*` and `?`;
    /// anything else would be a GLOB feature we did not mean to grant.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.*?".contains(&b));
        ok.then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same matching as SQLite `GLOB` for our alphabet.
    pub fn matches(&self, name: &str) -> bool {
        fn glob(p: &[u8], n: &[u8]) -> bool {
            match (p.first(), n.first()) {
                (None, None) => true,
                (Some(b'*'), _) => glob(&p[1..], n) || (!n.is_empty() && glob(p, &n[1..])),
                (Some(b'?'), Some(_)) => glob(&p[1..], &n[1..]),
                (Some(a), Some(b)) if a == b => glob(&p[1..], &n[1..]),
                _ => false,
            }
        }
        glob(self.0.as_bytes(), name.as_bytes())
    }
}

/// Who is calling and what they may touch. `None` patterns mean unrestricted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub(crate) scopes: Vec<Scope>,
    pub clusters: Option<Vec<NamePattern>>,
    pub namespaces: Option<Vec<NamePattern>>,
}

impl Principal {
    fn from_claims(claims: ScopeClaims) -> ApiResult<Self> {
        let words: Vec<String> = claims
            .scope
            .iter()
            .flat_map(|s| s.split_whitespace().map(str::to_owned))
            .chain(claims.scp.into_iter().flatten())
            .collect();
        let scopes = [Scope::Read, Scope::Write, Scope::Secrets]
            .into_iter()
            .filter(|s| words.iter().any(|w| w == s.claim()))
            .collect();
        let patterns = |list: Option<Vec<String>>| -> ApiResult<Option<Vec<NamePattern>>> {
            list.map(|l| {
                l.iter()
                    .map(|p| NamePattern::parse(p).ok_or_else(ApiError::unauthorized))
                    .collect()
            })
            .transpose()
        };
        Ok(Self {
            scopes,
            clusters: patterns(claims.clusters)?,
            namespaces: patterns(claims.namespaces)?,
        })
    }

    /// A principal with every scope and no restriction (tests, benchmarks).
    pub fn unrestricted() -> Self {
        Self {
            scopes: vec![Scope::Read, Scope::Write, Scope::Secrets],
            clusters: None,
            namespaces: None,
        }
    }

    pub fn require(&self, scope: Scope) -> ApiResult<()> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "the token lacks the scope {}",
                scope.claim()
            )))
        }
    }

    /// Write access is per cluster: a token for `cluster-1` cannot push `cluster-2`.
    pub fn require_write(&self, cluster: &ClusterName) -> ApiResult<()> {
        self.require(Scope::Write)?;
        if self.may_see_cluster(cluster.as_str()) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "the token may not write cluster {cluster:?}"
            )))
        }
    }

    pub fn may_see_cluster(&self, cluster: &str) -> bool {
        self.clusters
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|p| p.matches(cluster)))
    }
}

#[cfg(test)]
pub mod tests {
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

    fn config() -> AuthConfig {
        AuthConfig::from_variables(&Vars(vec![
            ("jwt_hs256_secret", SECRET.into()),
            ("jwt_issuer", "edgepedia".into()),
            ("jwt_audience", "edgepedia".into()),
        ]))
    }

    fn token(custom: ScopeClaims, issuer: &str, valid: Duration) -> String {
        let claims = Claims::with_custom_claims(custom, valid)
            .with_issuer(issuer)
            .with_audience("edgepedia");
        HS256Key::from_bytes(SECRET.as_bytes())
            .authenticate(claims)
            .unwrap()
    }

    fn scoped(scope: &str) -> ScopeClaims {
        ScopeClaims {
            scope: Some(scope.into()),
            ..Default::default()
        }
    }

    #[test]
    fn accepts_a_valid_token_and_reads_scopes() {
        let t = token(
            ScopeClaims {
                clusters: Some(vec!["prod-*".into()]),
                ..scoped("inventory:read")
            },
            "edgepedia",
            Duration::from_hours(1),
        );
        let p = config().authenticate(Some(&format!("Bearer {t}"))).unwrap();
        assert!(p.require(Scope::Read).is_ok());
        assert_eq!(p.require(Scope::Write).unwrap_err().code, 403);
        assert!(p.may_see_cluster("prod-eu-1"));
        assert!(!p.may_see_cluster("staging"));
        assert_eq!(
            p.require_write(&ClusterName::parse("prod-1").unwrap())
                .unwrap_err()
                .code,
            403
        );
    }

    #[test]
    fn rejects_missing_forged_foreign_and_none_alg_tokens() {
        let cfg = config();
        assert_eq!(
            cfg.authenticate(None).unwrap_err(),
            ApiError::unauthorized()
        );
        assert_eq!(cfg.authenticate(Some("Basic abc")).unwrap_err().code, 401);
        let wrong_issuer = token(
            scoped("inventory:read"),
            "someone-else",
            Duration::from_hours(1),
        );
        assert_eq!(
            cfg.authenticate(Some(&format!("Bearer {wrong_issuer}")))
                .unwrap_err()
                .code,
            401
        );
        let forged = HS256Key::from_bytes(b"other-secret")
            .authenticate(
                Claims::with_custom_claims(scoped("inventory:read"), Duration::from_hours(1))
                    .with_issuer("edgepedia")
                    .with_audience("edgepedia"),
            )
            .unwrap();
        assert_eq!(
            cfg.authenticate(Some(&format!("Bearer {forged}")))
                .unwrap_err()
                .code,
            401
        );
        // alg: none with the same claims.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJlZGdlcGVkaWEiLCJhdWQiOiJlZGdlcGVkaWEiLCJleHAiOjk5OTk5OTk5OTksInNjb3BlIjoiaW52ZW50b3J5OnJlYWQifQ.";
        assert_eq!(
            cfg.authenticate(Some(&format!("Bearer {none}")))
                .unwrap_err()
                .code,
            401
        );
    }

    #[test]
    fn rejects_expired_tokens_and_tokens_without_exp() {
        let cfg = config();
        let key = HS256Key::from_bytes(SECRET.as_bytes());
        let mut expired =
            Claims::with_custom_claims(scoped("inventory:read"), Duration::from_secs(1))
                .with_issuer("edgepedia")
                .with_audience("edgepedia");
        expired.expires_at = Some(UnixTimeStamp::from_secs(1_000));
        let t = key.authenticate(expired).unwrap();
        assert_eq!(
            cfg.authenticate(Some(&format!("Bearer {t}")))
                .unwrap_err()
                .code,
            401
        );
        let mut no_exp =
            Claims::with_custom_claims(scoped("inventory:read"), Duration::from_secs(1))
                .with_issuer("edgepedia")
                .with_audience("edgepedia");
        no_exp.expires_at = None;
        let t = key.authenticate(no_exp).unwrap();
        assert_eq!(
            cfg.authenticate(Some(&format!("Bearer {t}")))
                .unwrap_err()
                .code,
            401
        );
    }

    #[test]
    fn patterns_glob_like_sqlite() {
        let p = NamePattern::parse("prod-*").unwrap();
        assert!(p.matches("prod-eu-1") && p.matches("prod-") && !p.matches("staging"));
        assert!(NamePattern::parse("a?c").unwrap().matches("abc"));
        assert!(NamePattern::parse("[a]").is_none());
        assert!(NamePattern::parse("Prod").is_none());
    }
}
