//! `fieldSelector`: `metadata.name`, `metadata.namespace` and any JSON field path into the
//! object (`status.phase`, `spec.nodeName`, `metadata.labels['app.kubernetes.io/name']`),
//! with `=`, `==`, `!=` and Clusterpedia's `in`/`notin` extension.

use super::{parse_requirements, Operator};

/// A validated field path, as JSON path segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath(Vec<String>);

impl FieldPath {
    pub fn parse(path: &str) -> Result<Self, String> {
        let invalid = || {
            format!("invalid field path {path:?}: use dot-separated names, e.g. status.phase, or ['key'] for keys with dots")
        };
        let mut segments = Vec::new();
        let mut rest = path;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("['") {
                let (key, tail) = after.split_once("']").ok_or_else(invalid)?;
                if key.is_empty()
                    || !key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
                {
                    return Err(invalid());
                }
                segments.push(key.to_owned());
                rest = tail.strip_prefix('.').unwrap_or(tail);
                continue;
            }
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let segment = &rest[..end];
            if segment.is_empty()
                || !segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
            {
                return Err(invalid());
            }
            segments.push(segment.to_owned());
            rest = &rest[end..];
            rest = rest.strip_prefix('.').unwrap_or(rest);
        }
        if segments.is_empty() {
            return Err(invalid());
        }
        Ok(Self(segments))
    }

    /// `$.a.b."c.d"`: every segment quoted, so no segment can change the path's meaning.
    pub fn json_path(&self) -> String {
        let mut path = String::from("$");
        for s in &self.0 {
            path.push_str(&format!(".\"{s}\""));
        }
        path
    }

    pub fn dotted(&self) -> String {
        self.0.join(".")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub path: FieldPath,
    pub operator: Operator,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    pub requirements: Vec<FieldRequirement>,
}

pub fn parse(input: &str) -> Result<FieldSelector, String> {
    let mut selector = FieldSelector::default();
    for r in parse_requirements(input)? {
        if matches!(r.operator, Operator::Exists | Operator::DoesNotExist) {
            return Err(format!(
                "{:?}: field selectors need an operator (=, ==, !=, in, notin)",
                r.key
            ));
        }
        selector.requirements.push(FieldRequirement {
            path: FieldPath::parse(&r.key)?,
            operator: r.operator,
            values: r.values,
        });
    }
    Ok(selector)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_operators() {
        let s = parse("status.phase=Running,spec.nodeName in (n1,n2),metadata.labels['app.kubernetes.io/name']!=x").unwrap();
        assert_eq!(s.requirements[0].path.json_path(), r#"$."status"."phase""#);
        assert_eq!(s.requirements[1].operator, Operator::In);
        assert_eq!(
            s.requirements[2].path.json_path(),
            r#"$."metadata"."labels"."app.kubernetes.io/name""#
        );
        assert_eq!(
            s.requirements[2].path.dotted(),
            "metadata.labels.app.kubernetes.io/name"
        );
    }

    #[test]
    fn rejects_bad_paths_and_exists() {
        for bad in [
            "status.phase",
            "!x",
            "a..b=1",
            "a\"b=1",
            "a['x\"']=1",
            "a[0]=1",
            "$.a=1",
            ".a=1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
