//! `sync-agent token`: mints HS256 tokens for development and small setups that share
//! `jwt_hs256_secret` with the edge. Production setups should prefer an identity provider
//! (`jwt_jwks_url`, see docs/auth.md): then no long-lived secret exists at all.

use anyhow::{bail, Context, Result};
use jwt_simple::prelude::*;

/// Scopes the edge understands; anything else is a typo that would silently grant nothing.
pub const SCOPES: [&str; 3] = ["inventory:read", "inventory:write", "inventory:secrets"];

#[derive(Debug)]
pub struct TokenSpec {
    pub secret: String,
    pub scopes: Vec<String>,
    pub clusters: Vec<String>,
    pub namespaces: Vec<String>,
    pub issuer: String,
    pub audience: String,
    pub subject: Option<String>,
    pub ttl_seconds: u64,
}

/// The claims the edge reads besides the registered ones (same names as its `ScopeClaims`).
#[derive(Serialize, Deserialize)]
pub struct EdgeClaims {
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
}

/// `--scope` values: repeatable and/or space-separated; `inventory:read` when none.
pub fn scopes(values: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for word in values.iter().flat_map(|v| v.split_whitespace()) {
        if !SCOPES.contains(&word) {
            bail!("unknown scope {word:?}: use {}", SCOPES.join(", "));
        }
        if !out.iter().any(|s| s == word) {
            out.push(word.to_owned());
        }
    }
    if out.is_empty() {
        out.push("inventory:read".to_owned());
    }
    Ok(out)
}

/// A cluster or namespace glob as the edge accepts it (lowercase DNS characters, `*`, `?`):
/// anything else would make the edge refuse the whole token.
pub fn check_pattern(kind: &str, p: &str) -> Result<()> {
    let ok = !p.is_empty()
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.*?".contains(&b));
    if !ok {
        bail!("--{kind} {p:?}: use lowercase names with * and ? wildcards (e.g. prod-*)");
    }
    Ok(())
}

/// `90s`, `30m`, `1h`, `7d`, or bare seconds.
pub fn parse_ttl(s: &str) -> Result<u64> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .with_context(|| format!("--ttl {s:?}: expected e.g. 30m, 1h, 7d"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("--ttl {s:?}: the unit must be s, m, h or d"),
    };
    match n.checked_mul(unit) {
        Some(0) | None => bail!("--ttl {s:?} must be positive and sane"),
        Some(secs) => Ok(secs),
    }
}

/// Reads the secret from a file (trailing newline dropped), as mounted Kubernetes secrets are.
pub fn read_secret_file(path: &std::path::Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the secret file {}", path.display()))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

pub fn mint(spec: &TokenSpec) -> Result<String> {
    if spec.secret.is_empty() {
        bail!("the secret is empty");
    }
    for c in &spec.clusters {
        check_pattern("cluster", c)?;
    }
    for n in &spec.namespaces {
        check_pattern("namespace", n)?;
    }
    let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let custom = EdgeClaims {
        scope: spec.scopes.join(" "),
        clusters: list(&spec.clusters),
        namespaces: list(&spec.namespaces),
    };
    let mut claims = Claims::with_custom_claims(custom, Duration::from_secs(spec.ttl_seconds))
        .with_issuer(&spec.issuer)
        .with_audience(&spec.audience);
    if let Some(sub) = &spec.subject {
        claims = claims.with_subject(sub);
    }
    HS256Key::from_bytes(spec.secret.as_bytes())
        .authenticate(claims)
        .map_err(|e| anyhow::anyhow!("signing the token: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_scopes_and_patterns() {
        assert_eq!(parse_ttl("1h").unwrap(), 3600);
        assert_eq!(parse_ttl("90").unwrap(), 90);
        assert_eq!(parse_ttl("7d").unwrap(), 604_800);
        assert!(parse_ttl("0h").is_err() && parse_ttl("1y").is_err() && parse_ttl("h").is_err());
        assert_eq!(
            scopes(&[
                "inventory:read inventory:write".into(),
                "inventory:read".into()
            ])
            .unwrap(),
            ["inventory:read", "inventory:write"]
        );
        assert_eq!(scopes(&[]).unwrap(), ["inventory:read"]);
        assert!(scopes(&["inventory:admin".into()]).is_err());
        assert!(check_pattern("cluster", "prod-*").is_ok());
        assert!(check_pattern("cluster", "Prod").is_err());
    }
}
