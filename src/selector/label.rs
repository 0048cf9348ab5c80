//! `labelSelector`: Kubernetes label selector syntax with Kubernetes' key and value rules.
//! Terms with Clusterpedia's reserved prefixes (`search.clusterpedia.io/…`,
//! `internalstorage.clusterpedia.io/…`) are returned apart: they are query parameters in
//! label form, not labels.

use super::{parse_requirements, Operator, Requirement};
use edgepedia_api::names::is_dns1123_subdomain;

/// Prefixes whose terms are parameters, not label requirements.
pub const PARAMETER_PREFIXES: &[&str] = &[
    "search.clusterpedia.io/",
    "internalstorage.clusterpedia.io/",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
}

/// A parsed `labelSelector`: label requirements plus the parameter terms it carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedLabelSelector {
    pub labels: LabelSelector,
    pub parameters: Vec<Requirement>,
}

pub fn parse(input: &str) -> Result<ParsedLabelSelector, String> {
    let mut parsed = ParsedLabelSelector::default();
    for requirement in parse_requirements(input)? {
        if PARAMETER_PREFIXES
            .iter()
            .any(|p| requirement.key.starts_with(p))
        {
            parsed.parameters.push(requirement);
            continue;
        }
        check_key(&requirement.key)?;
        for value in &requirement.values {
            check_value(value)?;
        }
        if matches!(requirement.operator, Operator::Equals | Operator::NotEquals)
            && requirement.values.len() != 1
        {
            return Err(format!("{}: exactly one value expected", requirement.key));
        }
        parsed.labels.requirements.push(requirement);
    }
    Ok(parsed)
}

/// `[prefix/]name`: prefix a DNS subdomain, name ≤ 63 of `[A-Za-z0-9_.-]`, alphanumeric ends.
fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if !is_dns1123_subdomain(prefix) {
            return Err(format!(
                "invalid label key {key:?}: prefix must be a DNS subdomain"
            ));
        }
    }
    if !is_qualified_name_part(name) {
        return Err(format!(
            "invalid label key {key:?}: name part must be 1-63 characters of [A-Za-z0-9_.-], starting and ending alphanumeric"
        ));
    }
    Ok(())
}

fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_qualified_name_part(value) {
        Ok(())
    } else {
        Err(format!(
            "invalid label value {value:?}: must be at most 63 characters of [A-Za-z0-9_.-], starting and ending alphanumeric"
        ))
    }
}

fn is_qualified_name_part(s: &str) -> bool {
    let bytes = s.as_bytes();
    !s.is_empty()
        && s.len() <= 63
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_parameter_terms_from_labels() {
        let p = parse("app.kubernetes.io/name=web,search.clusterpedia.io/clusters in (c1,c2),tier")
            .unwrap();
        assert_eq!(p.labels.requirements.len(), 2);
        assert_eq!(p.parameters.len(), 1);
        assert_eq!(p.parameters[0].values, ["c1", "c2"]);
    }

    #[test]
    fn enforces_kubernetes_key_and_value_rules() {
        for bad in [
            "-a=b",
            "a=b c",
            "Bad_Prefix/x=y",
            &format!("{}=v", "k".repeat(64)),
            "a=b;c",
            "a='x'",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("a=").is_ok(), "empty values are legal");
    }
}
