//! Kubernetes selector grammar, shared by label and field selectors:
//! `key=v`, `key==v`, `key!=v`, `key in (a,b)`, `key notin (a,b)`, `key`, `!key`, joined by
//! commas. The two selector kinds differ only in which keys and operators they accept.

pub mod field;
pub mod label;

/// Most requirements one selector may hold: per `labelSelector` or `fieldSelector` parameter,
/// and for all of a request's parameters of that name together (`params.rs`). Each requirement
/// is one more `AND` in the query; Kubernetes selectors rarely have more than a handful.
pub const MAX_REQUIREMENTS: usize = 64;
/// Most values in one `in (…)` or `notin (…)` set.
pub const MAX_SET_VALUES: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// One parsed requirement; `values` is empty for Exists/DoesNotExist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

/// Splits a selector into requirements. Errors are the message for a 400.
pub fn parse_requirements(input: &str) -> Result<Vec<Requirement>, String> {
    let mut out = Vec::new();
    let terms = split_terms(input)?;
    if terms.len() > MAX_REQUIREMENTS {
        return Err(format!(
            "{} requirements, more than the limit of {MAX_REQUIREMENTS} per selector",
            terms.len()
        ));
    }
    for term in terms {
        let term = term.trim();
        if term.is_empty() {
            return Err(format!("empty requirement in {input:?}"));
        }
        out.push(parse_term(term)?);
    }
    Ok(out)
}

/// Commas separate requirements except inside `( … )`.
fn split_terms(input: &str) -> Result<Vec<&str>, String> {
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("unbalanced ')' in {input:?}"))?
            }
            ',' if depth == 0 => {
                terms.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced '(' in {input:?}"));
    }
    if !input.trim().is_empty() {
        terms.push(&input[start..]);
    }
    Ok(terms)
}

fn parse_term(term: &str) -> Result<Requirement, String> {
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement {
            key: key.trim().to_owned(),
            operator: Operator::DoesNotExist,
            values: vec![],
        });
    }
    for (token, operator) in [
        ("!=", Operator::NotEquals),
        ("==", Operator::Equals),
        ("=", Operator::Equals),
    ] {
        if let Some((key, value)) = term.split_once(token) {
            return Ok(Requirement {
                key: key.trim().to_owned(),
                operator,
                values: vec![value.trim().to_owned()],
            });
        }
    }
    let words: Vec<&str> = term.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words.as_slice() {
        let rest = rest.trim_start();
        for (word, operator) in [("notin", Operator::NotIn), ("in", Operator::In)] {
            if let Some(set) = rest.strip_prefix(word) {
                let set = set.trim();
                let inner = set
                    .strip_prefix('(')
                    .and_then(|s| s.strip_suffix(')'))
                    .ok_or_else(|| {
                        format!("{term:?}: expected a parenthesized set after {word:?}")
                    })?;
                let values: Vec<String> = inner.split(',').map(|v| v.trim().to_owned()).collect();
                if values.iter().all(String::is_empty) {
                    return Err(format!("{term:?}: the set of values must not be empty"));
                }
                if values.len() > MAX_SET_VALUES {
                    return Err(format!(
                        "{key:?} {word} (…): {} values, more than the limit of {MAX_SET_VALUES} per set",
                        values.len()
                    ));
                }
                return Ok(Requirement {
                    key: (*key).to_owned(),
                    operator,
                    values,
                });
            }
        }
        return Err(format!(
            "{term:?}: unknown operator (use =, ==, !=, in, notin)"
        ));
    }
    Ok(Requirement {
        key: term.to_owned(),
        operator: Operator::Exists,
        values: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(key: &str, operator: Operator, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn parses_the_full_grammar() {
        let r =
            parse_requirements("app=web, tier==db,env!=prod,zone in (a, b),x notin (c),has,!gone")
                .unwrap();
        assert_eq!(
            r,
            vec![
                req("app", Operator::Equals, &["web"]),
                req("tier", Operator::Equals, &["db"]),
                req("env", Operator::NotEquals, &["prod"]),
                req("zone", Operator::In, &["a", "b"]),
                req("x", Operator::NotIn, &["c"]),
                req("has", Operator::Exists, &[]),
                req("gone", Operator::DoesNotExist, &[]),
            ]
        );
        assert_eq!(parse_requirements("").unwrap(), vec![]);
    }

    #[test]
    fn rejects_malformed_selectors() {
        for bad in [
            "a in (b",
            "a in b",
            "a,,b",
            "a in ()",
            "a ~ b",
            "a)",
            "a in (x))",
        ] {
            assert!(parse_requirements(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn caps_requirements_and_set_values() {
        let terms = |n: usize| vec!["a"; n].join(",");
        assert_eq!(
            parse_requirements(&terms(MAX_REQUIREMENTS)).unwrap().len(),
            64
        );
        let err = parse_requirements(&terms(MAX_REQUIREMENTS + 1)).unwrap_err();
        assert!(err.contains("limit of 64 per selector"), "{err}");
        let set = |n: usize| format!("a in ({})", vec!["v"; n].join(","));
        assert_eq!(
            parse_requirements(&set(MAX_SET_VALUES)).unwrap()[0]
                .values
                .len(),
            128
        );
        let err = parse_requirements(&set(MAX_SET_VALUES + 1)).unwrap_err();
        assert!(err.contains("limit of 128 per set"), "{err}");
        assert!(
            parse_requirements(&format!("a notin ({})", vec!["v"; 129].join(",")))
                .unwrap_err()
                .contains("notin")
        );
    }
}
