//! Validated names. A cluster name ends up in URLs, annotations and kubeconfig context names,
//! so it follows the Kubernetes DNS-1123 subdomain rules.

use std::fmt;

/// Why a name was rejected; the message is meant for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError(pub String);

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NameError {}

/// A cluster name: lowercase alphanumerics, `-` and `.`, starting and ending alphanumeric,
/// at most 253 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterName(String);

impl ClusterName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if is_dns1123_subdomain(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(NameError(format!(
                "invalid cluster name {s:?}: must be a lowercase RFC 1123 subdomain \
                 (a-z, 0-9, '-', '.'; start and end alphanumeric; at most 253 characters)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClusterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// True when `s` is a valid Kubernetes DNS-1123 subdomain (the rule for most object names).
pub fn is_dns1123_subdomain(s: &str) -> bool {
    let bytes = s.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !s.is_empty()
        && s.len() <= 253
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(b) || *b == b'-' || *b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_names_and_rejects_others() {
        for ok in ["a", "prod-eu-1", "cluster.example.com", "0x"] {
            assert!(ClusterName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "Prod",
            "a_b",
            "a/b",
            "a b",
            &"x".repeat(254),
        ] {
            assert!(ClusterName::parse(bad).is_err(), "{bad}");
        }
    }
}
