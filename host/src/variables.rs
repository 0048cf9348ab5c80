//! Spin variables: application variables take their value from `SPIN_VARIABLE_<NAME>`, else
//! their default; component variables are templates over them. Resolved once at start-up, so
//! a missing required variable stops the runtime before it serves anything. The guest reads
//! them through `fermyon:spin/variables@2.0.0`. Templated `allowed_outbound_hosts` entries
//! (`{{ jwt_jwks_origin }}`) expand from the same application variables, as in Spin.

use crate::manifest::App;
use anyhow::{bail, Result};
use std::collections::BTreeMap;

/// Component variable name → resolved value.
#[derive(Debug, Clone, Default)]
pub struct Resolved(pub BTreeMap<String, String>);

/// `overrides` wins over the environment (the dev secret of `--dev-secret`).
pub fn resolve(
    app: &App,
    env: impl Fn(&str) -> Option<String>,
    overrides: &BTreeMap<String, String>,
) -> Result<Resolved> {
    let values = application_values(app, env, overrides)?;
    let mut resolved = BTreeMap::new();
    for (name, template) in &app.component_variables {
        resolved.insert(name.clone(), render(template, &values)?);
    }
    Ok(Resolved(resolved))
}

/// `allowed_outbound_hosts` with `{{ var }}` expanded from the application variables (same
/// resolution as [`resolve`]). Like Spin, an entry that expands to something that is not
/// `scheme://host[:port]` stops the runtime.
pub fn allowed_outbound_hosts(
    app: &App,
    env: impl Fn(&str) -> Option<String>,
    overrides: &BTreeMap<String, String>,
) -> Result<Vec<String>> {
    let values = application_values(app, env, overrides)?;
    app.allowed_outbound_hosts
        .iter()
        .map(|entry| {
            let host = render(entry, &values)?.trim().to_owned();
            match host.split_once("://") {
                Some((scheme, rest)) if !scheme.is_empty() && !rest.is_empty() => Ok(host),
                _ => bail!(
                    "allowed_outbound_hosts entry {entry:?} is {host:?}, not an allowed outbound \
                     host: hosts must be in the form <scheme>://<host>[:<port>]"
                ),
            }
        })
        .collect()
}

/// Application variable name → value: override, else `SPIN_VARIABLE_<NAME>`, else default.
fn application_values(
    app: &App,
    env: impl Fn(&str) -> Option<String>,
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    for (name, decl) in &app.variables {
        let value = overrides
            .get(name)
            .cloned()
            .or_else(|| env(&format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())))
            .or_else(|| decl.default.clone());
        match value {
            Some(v) => {
                values.insert(name.clone(), v);
            }
            None if decl.required => {
                bail!(
                    "required variable {name:?} has no value: set SPIN_VARIABLE_{}",
                    name.to_ascii_uppercase()
                )
            }
            None => {}
        }
    }
    Ok(values)
}

/// `name=value` for each component variable, masked when its template uses a secret
/// application variable: safe to print at start-up.
pub fn describe(app: &App, resolved: &Resolved) -> String {
    resolved
        .0
        .iter()
        .map(|(name, value)| {
            let template = app.component_variables.get(name).map_or("", String::as_str);
            let secret = app
                .variables
                .iter()
                .any(|(var, decl)| decl.secret && template.contains(var.as_str()));
            if secret {
                format!("{name}=(secret)")
            } else {
                format!("{name}={value}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Expands `{{ name }}` references; literal text is kept.
fn render(template: &str, values: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            bail!("unclosed {{{{ in {template:?}")
        };
        let name = rest[start + 2..start + end].trim();
        match values.get(name) {
            Some(v) => out.push_str(v),
            None => bail!("variable template {template:?} refers to {name:?}, which has no value"),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

impl crate::spin_imports::variables::Host for crate::state::HostState {
    async fn get(&mut self, name: String) -> Result<String, crate::spin_imports::variables::Error> {
        use crate::spin_imports::variables::Error;
        // Spin's rule for names: lowercase ASCII letters, digits and underscores.
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(Error::InvalidName(name));
        }
        self.spin
            .variables
            .0
            .get(&name)
            .cloned()
            .ok_or(Error::Undefined(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::VariableDecl;

    fn app() -> App {
        App {
            source: "x.wasm".into(),
            sqlite_databases: vec![],
            key_value_stores: vec![],
            allowed_outbound_hosts: vec![],
            variables: [
                (
                    "secret".to_owned(),
                    VariableDecl {
                        required: true,
                        secret: true,
                        default: None,
                    },
                ),
                (
                    "issuer".to_owned(),
                    VariableDecl {
                        default: Some("edgepedia".into()),
                        ..Default::default()
                    },
                ),
            ]
            .into(),
            component_variables: [
                ("secret".to_owned(), "{{ secret }}".to_owned()),
                ("iss".to_owned(), "https://{{issuer}}/".to_owned()),
            ]
            .into(),
        }
    }

    #[test]
    fn env_overrides_defaults_and_required_ones_must_be_set() {
        let env = |n: &str| (n == "SPIN_VARIABLE_SECRET").then(|| "s3cret".to_owned());
        let r = resolve(&app(), env, &BTreeMap::new()).unwrap();
        assert_eq!(r.0["secret"], "s3cret");
        assert_eq!(r.0["iss"], "https://edgepedia/");
        let err = resolve(&app(), |_| None, &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("SPIN_VARIABLE_SECRET"), "{err}");
        let issuer = |n: &str| match n {
            "SPIN_VARIABLE_SECRET" => Some("x".to_owned()),
            "SPIN_VARIABLE_ISSUER" => Some("other".to_owned()),
            _ => None,
        };
        let r = resolve(&app(), issuer, &BTreeMap::new()).unwrap();
        assert_eq!(r.0["iss"], "https://other/");
        assert_eq!(describe(&app(), &r), "iss=https://other/ secret=(secret)");
    }

    #[test]
    fn templated_outbound_hosts_expand_like_component_variables() {
        let mut app = app();
        app.allowed_outbound_hosts =
            vec!["{{ issuer }}".into(), "https://static.example.com".into()];
        let env = |n: &str| match n {
            "SPIN_VARIABLE_SECRET" => Some("x".to_owned()),
            "SPIN_VARIABLE_ISSUER" => Some("http://127.0.0.1:8080".to_owned()),
            _ => None,
        };
        let hosts = allowed_outbound_hosts(&app, env, &BTreeMap::new()).unwrap();
        assert_eq!(
            hosts,
            ["http://127.0.0.1:8080", "https://static.example.com"]
        );
        // The default ("edgepedia") has no scheme: refused at start, as Spin does.
        let secret_only = |n: &str| (n == "SPIN_VARIABLE_SECRET").then(|| "x".to_owned());
        let err = allowed_outbound_hosts(&app, secret_only, &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("<scheme>://"), "{err}");
        app.allowed_outbound_hosts = vec!["{{ nope }}".into()];
        assert!(allowed_outbound_hosts(&app, secret_only, &BTreeMap::new()).is_err());
    }
}
