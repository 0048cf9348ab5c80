//! Bearer JWT → [`Principal`]. The token is verified in [`config`] (signature by the key's own
//! type, `exp`, `nbf`, `iss`, `aud`); what the principal may see is enforced later, inside the
//! SQL predicate (see [`crate::plan`]), so paging and counts can never look past it.
//!
//! - [`config`]: Spin variables → [`AuthConfig`], and the verification pipeline.
//! - [`keys`]: public keys (PEM, JWK Set) and which of them may verify a given token.
//! - [`jwks`]: an identity provider's key set, fetched over outbound HTTP and cached in KV.

pub mod config;
pub mod jwks;
pub mod keys;

pub use config::AuthConfig;
pub use jwks::{HttpResponse, NoPlatform, Platform};

use crate::error::{ApiError, ApiResult};
use edgepedia_api::ClusterName;
use serde::{Deserialize, Serialize};

/// Spin variables the component reads (declared in spin.toml).
pub trait Variables {
    fn get(&self, name: &str) -> Option<String>;
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
        glob(self.0.as_bytes(), name.as_bytes())
    }
}

/// `*` (any run) and `?` (one byte) wildcards, everything else literal. Iterative with one
/// backtrack point, so a pattern with many stars stays linear-ish on long input (subjects come
/// from tokens).
pub(crate) fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Who is calling and what they may touch. `None` patterns mean unrestricted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub(crate) scopes: Vec<Scope>,
    pub clusters: Option<Vec<NamePattern>>,
    pub namespaces: Option<Vec<NamePattern>>,
}

impl Principal {
    pub(crate) fn from_claims(claims: ScopeClaims) -> ApiResult<Self> {
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
mod tests {
    use super::*;

    #[test]
    fn patterns_glob_like_sqlite() {
        let p = NamePattern::parse("prod-*").unwrap();
        assert!(p.matches("prod-eu-1") && p.matches("prod-") && !p.matches("staging"));
        assert!(NamePattern::parse("a?c").unwrap().matches("abc"));
        assert!(NamePattern::parse("[a]").is_none());
        assert!(NamePattern::parse("Prod").is_none());
        assert!(glob(b"repo:org/*:ref:*", b"repo:org/x:ref:refs/heads/main"));
        assert!(!glob(b"repo:org/*", b"repo:org-evil/x"));
        assert!(glob(b"*a*b*c*", b"xxaxxbxxc") && !glob(b"*a*b*c*d", b"xxaxxbxxc"));
        let long = vec![b'a'; 8192];
        assert!(!glob(b"*a*a*a*a*a*a*a*a*b", &long));
    }
}
