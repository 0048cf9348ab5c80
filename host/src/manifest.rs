//! The parts of `spin.toml` (manifest v2) the local runtime honours: the HTTP component's
//! source and route, its SQLite databases and key-value stores, variables and outbound hosts.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct RawManifest {
    spin_manifest_version: u32,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    trigger: Triggers,
    component: BTreeMap<String, RawComponent>,
}

#[derive(Debug, Deserialize)]
struct Triggers {
    http: Vec<HttpTrigger>,
}

#[derive(Debug, Deserialize)]
struct HttpTrigger {
    route: String,
    component: String,
}

/// An application variable: a default, or required; secrets are never printed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VariableDecl {
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Deserialize)]
struct RawComponent {
    source: String,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
}

/// The one HTTP component we serve, with paths resolved against the manifest's directory.
#[derive(Debug, Clone)]
pub struct App {
    pub source: PathBuf,
    pub sqlite_databases: Vec<String>,
    pub key_value_stores: Vec<String>,
    /// As written: entries may be templates (`{{ jwt_jwks_origin }}`), expanded by
    /// `variables::allowed_outbound_hosts`.
    pub allowed_outbound_hosts: Vec<String>,
    /// Application variables.
    pub variables: BTreeMap<String, VariableDecl>,
    /// Component variables: name → template such as `{{ jwt_issuer }}`.
    pub component_variables: BTreeMap<String, String>,
}

pub fn load(path: &Path) -> Result<App> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let raw: RawManifest =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if raw.spin_manifest_version != 2 {
        bail!(
            "{}: only spin_manifest_version = 2 is supported",
            path.display()
        );
    }
    let [trigger] = raw.trigger.http.as_slice() else {
        bail!(
            "{}: exactly one [[trigger.http]] is supported",
            path.display()
        );
    };
    let component = raw
        .component
        .get(&trigger.component)
        .with_context(|| format!("trigger names unknown component {:?}", trigger.component))?;
    if trigger.route != "/..." {
        bail!(
            "{}: the local runtime serves the component at route \"/...\" only (found {:?})",
            path.display(),
            trigger.route
        );
    }
    let base = path.parent().unwrap_or(Path::new("."));
    Ok(App {
        source: base.join(&component.source),
        sqlite_databases: component.sqlite_databases.clone(),
        key_value_stores: component.key_value_stores.clone(),
        allowed_outbound_hosts: component.allowed_outbound_hosts.clone(),
        variables: raw.variables,
        component_variables: component.variables.clone(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_project_manifest() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spin.toml");
        let app = super::load(&path).unwrap();
        assert_eq!(app.sqlite_databases, ["default"]);
        // Optional since public keys / a JWKS URL can replace it; still a secret.
        assert!(
            app.variables["jwt_hs256_secret"].secret && !app.variables["jwt_hs256_secret"].required
        );
        assert_eq!(app.allowed_outbound_hosts, ["{{ jwt_jwks_origin }}"]);
        assert_eq!(app.component_variables["jwt_issuer"], "{{ jwt_issuer }}");
        assert!(app
            .source
            .ends_with("target/wasm32-wasip2/release/edgepedia.wasm"));
    }
}
