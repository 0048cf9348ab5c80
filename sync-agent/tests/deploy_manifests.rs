//! Everything under deploy/, whatever is there when this runs: the agent's manifests
//! (deploy/agent/), the edge on SpinKube (deploy/spinkube/) and Spin runtime configs (*.toml).
//!
//! - Every YAML document parses and is a named Kubernetes object. Kustomize's own files (the
//!   Kustomization, and transformer configs named under its `configurations:`) are exempt
//!   from the name.
//! - Every kustomization names only files that exist, and `kubectl kustomize` renders it.
//! - A SpinApp has the fields spin-operator needs and only fields its CRD knows. Its variables
//!   are ones spin.toml declares. Every Secret it names (`secretKeyRef`,
//!   `runtimeConfig.loadFromSecret`) is one its kustomization generates or holds, with the
//!   key it asks for, and stays resolved after kustomize renders it (hash-suffixed names).
//! - Every TOML file parses and uses only what Spin's runtime config knows:
//!   `sqlite_database.<label>` (type spin|libsql) and `key_value_store.<label>` (type
//!   spin|redis), with their keys, for labels spin.toml declares.
//! - The ClusterRole grants the agent exactly what `sync-agent run` syncs by default.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn deploy() -> PathBuf {
    repo().join("deploy")
}

/// Every file under `dir`, recursively, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn has_ext(path: &Path, exts: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.contains(&e))
}

fn rel(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn yaml_documents(text: &str, what: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_else(|e| panic!("{what} is not valid YAML: {e}"))
}

fn yaml_file(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    yaml_documents(&text, &rel(path))
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn str_list(v: &Value, key: &str) -> Vec<String> {
    match &v[key] {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .unwrap_or_else(|| panic!("`{key}` entry {i} is not a string"))
                    .to_owned()
            })
            .collect(),
        other => panic!("`{key}` is not a list: {other}"),
    }
}

/// `spin.toml`: the declared variables, SQLite database labels and key-value store labels.
struct Manifest {
    variables: BTreeSet<String>,
    sqlite_labels: BTreeSet<String>,
    kv_labels: BTreeSet<String>,
}

fn spin_manifest() -> Manifest {
    let text = std::fs::read_to_string(repo().join("spin.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&text).unwrap();
    let variables = manifest["variables"]
        .as_table()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let (mut sqlite_labels, mut kv_labels) = (BTreeSet::new(), BTreeSet::new());
    for component in manifest["component"].as_table().unwrap().values() {
        for (field, labels) in [
            ("sqlite_databases", &mut sqlite_labels),
            ("key_value_stores", &mut kv_labels),
        ] {
            if let Some(list) = component.get(field).and_then(|l| l.as_array()) {
                labels.extend(list.iter().map(|l| l.as_str().unwrap().to_owned()));
            }
        }
    }
    Manifest {
        variables,
        sqlite_labels,
        kv_labels,
    }
}

/// A kustomization and what it puts together.
struct Kustomization {
    dir: PathBuf,
    body: Value,
    /// Every object of its `resources:` (files directly, directories through their own
    /// kustomization).
    objects: Vec<Value>,
    /// Secret name (before any hash suffix) → the keys it holds.
    secrets: BTreeMap<String, BTreeSet<String>>,
}

fn kustomization_files() -> Vec<PathBuf> {
    files_under(&deploy())
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n == "kustomization.yaml" || n == "kustomization.yml")
        })
        .collect()
}

/// A kustomize file reference: `key=path` or `path`. Returns (key, path).
fn key_and_path(entry: &str) -> (String, String) {
    match entry.split_once('=') {
        Some((key, path)) => (key.to_owned(), path.to_owned()),
        None => (
            Path::new(entry)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            entry.to_owned(),
        ),
    }
}

/// Keys of an env file as kustomize reads it: `KEY=VALUE` lines; blank and `#` lines skipped.
fn env_file_keys(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", rel(path)))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.split_once('=')
                .unwrap_or_else(|| panic!("{}: `{l}` is not KEY=VALUE", rel(path)))
                .0
                .to_owned()
        })
        .collect()
}

fn load_kustomization(file: &Path) -> Kustomization {
    let dir = file.parent().unwrap().to_path_buf();
    let mut docs = yaml_file(file);
    assert_eq!(docs.len(), 1, "{}: one document", rel(file));
    let body = docs.remove(0);
    assert_eq!(body["kind"], "Kustomization", "{}", rel(file));
    for field in ["resources", "configurations"] {
        for entry in str_list(&body, field) {
            assert!(
                !entry.contains("://"),
                "{}: remote {field} entry {entry}: keep deploy/ self-contained",
                rel(file)
            );
            let path = dir.join(&entry);
            assert!(
                path.exists(),
                "{}: {field} entry {entry} does not exist",
                rel(file)
            );
        }
    }
    let mut objects = Vec::new();
    let mut secrets = BTreeMap::new();
    for entry in str_list(&body, "resources") {
        let path = dir.join(&entry);
        if path.is_dir() {
            let inner = ["kustomization.yaml", "kustomization.yml"]
                .iter()
                .map(|n| path.join(n))
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("{}: {entry} has no kustomization", rel(file)));
            let inner = load_kustomization(&inner);
            objects.extend(inner.objects);
            secrets.extend(inner.secrets);
        } else {
            objects.extend(yaml_file(&path));
        }
    }
    for object in &objects {
        if object["kind"] == "Secret" {
            let keys = ["data", "stringData"]
                .iter()
                .filter_map(|f| object[f].as_object())
                .flat_map(|m| m.keys().cloned())
                .collect();
            secrets.insert(str_at(object, "/metadata/name").unwrap().to_owned(), keys);
        }
    }
    for generator in body["secretGenerator"].as_array().into_iter().flatten() {
        let name = str_at(generator, "/name")
            .unwrap_or_else(|| panic!("{}: a secretGenerator without a name", rel(file)));
        let mut keys = BTreeSet::new();
        for entry in str_list(generator, "files") {
            let (key, path) = key_and_path(&entry);
            assert!(
                dir.join(&path).is_file(),
                "{}: secretGenerator {name}: file {path} does not exist",
                rel(file)
            );
            keys.insert(key);
        }
        for entry in str_list(generator, "envs") {
            keys.extend(env_file_keys(&dir.join(entry)));
        }
        for entry in str_list(generator, "literals") {
            keys.insert(entry.split_once('=').unwrap().0.to_owned());
        }
        assert!(
            !keys.is_empty(),
            "{}: secretGenerator {name} holds no key",
            rel(file)
        );
        secrets.insert(name.to_owned(), keys);
    }
    Kustomization {
        dir,
        body,
        objects,
        secrets,
    }
}

/// Files kustomize reads as its own configuration (`configurations:`), not manifests.
fn kustomize_configs() -> BTreeSet<PathBuf> {
    kustomization_files()
        .iter()
        .flat_map(|file| {
            let body = yaml_file(file).remove(0);
            let dir = file.parent().unwrap().to_path_buf();
            str_list(&body, "configurations")
                .into_iter()
                .map(move |c| dir.join(c).canonicalize().unwrap())
        })
        .collect()
}

#[test]
fn every_yaml_document_under_deploy_is_a_named_kubernetes_object() {
    let configs = kustomize_configs();
    let mut checked = Vec::new();
    for path in files_under(&deploy()) {
        if !has_ext(&path, &["yaml", "yml"]) || configs.contains(&path.canonicalize().unwrap()) {
            continue;
        }
        let docs = yaml_file(&path);
        assert!(!docs.is_empty(), "{}: no YAML document", rel(&path));
        for doc in &docs {
            assert!(
                doc.is_object(),
                "{}: a document is not a mapping",
                rel(&path)
            );
            let api_version = str_at(doc, "/apiVersion");
            let kind = str_at(doc, "/kind");
            assert!(
                api_version.is_some() && kind.is_some(),
                "{}: a document without apiVersion or kind",
                rel(&path)
            );
            if kind != Some("Kustomization") {
                assert!(
                    str_at(doc, "/metadata/name").is_some(),
                    "{}: {} without metadata.name",
                    rel(&path),
                    kind.unwrap()
                );
            }
        }
        checked.push(rel(&path));
    }
    // The walk found what is known to be there.
    for known in [
        "deploy/agent/deployment.yaml",
        "deploy/spinkube/spinapp.yaml",
    ] {
        assert!(
            checked.iter().any(|c| c == known),
            "{known} not checked: {checked:?}"
        );
    }
    // A kustomize transformer config is exempt above only because a kustomization names it.
    for config in &configs {
        let docs = yaml_file(config);
        assert!(
            docs.len() == 1 && docs[0].is_object(),
            "{}: not one mapping",
            rel(config)
        );
    }
}

/// The fields of spin-operator's `SpinAppSpec` (api/v1alpha1/spinapp_types.go). The API server
/// silently drops any other field, so a typo would go unnoticed.
const SPINAPP_SPEC_FIELDS: &[&str] = &[
    "executor",
    "image",
    "imagePullSecrets",
    "checks",
    "replicas",
    "enableAutoscaling",
    "runtimeConfig",
    "volumes",
    "volumeMounts",
    "variables",
    "serviceAnnotations",
    "deploymentAnnotations",
    "podAnnotations",
    "podLabels",
    "resources",
    "components",
    "serviceAccountName",
    "invocationLimits",
];

/// Every Secret reference in a SpinApp: (field, secret name, key).
fn spinapp_secret_refs(app: &Value) -> Vec<(String, String, String)> {
    let mut refs = Vec::new();
    if let Some(name) = app.pointer("/spec/runtimeConfig/loadFromSecret") {
        refs.push((
            "runtimeConfig.loadFromSecret".to_owned(),
            name.as_str().unwrap().to_owned(),
            "runtime-config.toml".to_owned(),
        ));
    }
    for variable in app["spec"]["variables"].as_array().into_iter().flatten() {
        if let Some(selector) = variable.pointer("/valueFrom/secretKeyRef") {
            refs.push((
                format!("variables[{}]", variable["name"]),
                str_at(selector, "/name").unwrap().to_owned(),
                str_at(selector, "/key").unwrap().to_owned(),
            ));
        }
    }
    refs
}

fn check_spinapp(app: &Value, manifest: &Manifest, at: &str) {
    assert_eq!(app["apiVersion"], "core.spinkube.dev/v1alpha1", "{at}");
    let spec = app["spec"]
        .as_object()
        .unwrap_or_else(|| panic!("{at}: no spec"));
    for field in spec.keys() {
        assert!(
            SPINAPP_SPEC_FIELDS.contains(&field.as_str()),
            "{at}: spec.{field} is not a SpinApp field"
        );
    }
    let image = str_at(app, "/spec/image").unwrap_or_else(|| panic!("{at}: no spec.image"));
    assert!(
        image.contains('/') && image.contains(':'),
        "{at}: spec.image {image} is not a registry reference with a tag"
    );
    assert_eq!(app["spec"]["executor"], "containerd-shim-spin", "{at}");
    let autoscaled = app["spec"]["enableAutoscaling"] == true;
    match app["spec"]["replicas"].as_i64() {
        Some(n) => assert!(
            n >= 1 && !autoscaled,
            "{at}: replicas must be ≥ 1 and not set with autoscaling"
        ),
        None => assert!(autoscaled, "{at}: no spec.replicas"),
    }
    assert!(
        str_at(app, "/spec/runtimeConfig/loadFromSecret").is_some(),
        "{at}: no spec.runtimeConfig.loadFromSecret: replicas would each keep their own local \
         SQLite"
    );
    let mut seen = BTreeSet::new();
    for variable in app["spec"]["variables"]
        .as_array()
        .unwrap_or_else(|| panic!("{at}: no spec.variables"))
    {
        let name = str_at(variable, "/name").unwrap_or_else(|| panic!("{at}: unnamed variable"));
        assert!(seen.insert(name), "{at}: variable {name} set twice");
        assert!(
            manifest.variables.contains(name),
            "{at}: variable {name} is not declared in spin.toml"
        );
        let has_value = variable.get("value").is_some();
        let has_ref = variable.get("valueFrom").is_some();
        assert!(
            has_value != has_ref,
            "{at}: variable {name} needs exactly one of value and valueFrom"
        );
        if has_value {
            assert!(
                variable["value"].is_string(),
                "{at}: variable {name}: value must be a string (quote numbers)"
            );
        } else {
            let selector = variable
                .pointer("/valueFrom/secretKeyRef")
                .unwrap_or_else(|| {
                    panic!("{at}: variable {name}: valueFrom is not a secretKeyRef")
                });
            assert!(
                str_at(selector, "/name").is_some() && str_at(selector, "/key").is_some(),
                "{at}: variable {name}: secretKeyRef needs name and key"
            );
        }
    }
    // A Secret carries the JWT key material: it never sits in plain sight in the SpinApp.
    for secret_variable in ["jwt_hs256_secret"] {
        if let Some(v) = app["spec"]["variables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == secret_variable)
        {
            assert!(
                v.pointer("/valueFrom/secretKeyRef").is_some(),
                "{at}: {secret_variable} must come from a Secret"
            );
        }
    }
}

#[test]
fn spinapps_are_complete_and_name_only_secrets_their_kustomization_has() {
    let manifest = spin_manifest();
    let mut apps = 0;
    for file in kustomization_files() {
        let k = load_kustomization(&file);
        for app in k.objects.iter().filter(|o| o["kind"] == "SpinApp") {
            let at = format!(
                "{}: SpinApp {}",
                rel(&k.dir),
                str_at(app, "/metadata/name").unwrap()
            );
            check_spinapp(app, &manifest, &at);
            for (field, secret, key) in spinapp_secret_refs(app) {
                let keys = k.secrets.get(&secret).unwrap_or_else(|| {
                    panic!(
                        "{at}: {field} names Secret {secret}, which the kustomization does not \
                         have (it has {:?})",
                        k.secrets.keys()
                    )
                });
                assert!(
                    keys.contains(&key),
                    "{at}: {field} wants key {key} of Secret {secret}, which holds {keys:?}"
                );
            }
            apps += 1;
        }
    }
    assert!(apps >= 1, "no SpinApp under deploy/");
}

/// The generated runtime config of each SpinApp is a file under deploy/: the TOML test below
/// checks it like any other. This makes sure that file is the one the Secret is built from.
fn runtime_config_files_of_spinapps() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for file in kustomization_files() {
        let k = load_kustomization(&file);
        for app in k.objects.iter().filter(|o| o["kind"] == "SpinApp") {
            let Some(secret) = str_at(app, "/spec/runtimeConfig/loadFromSecret") else {
                continue;
            };
            for generator in k.body["secretGenerator"].as_array().into_iter().flatten() {
                if generator["name"] != secret {
                    continue;
                }
                for entry in str_list(generator, "files") {
                    let (key, path) = key_and_path(&entry);
                    if key == "runtime-config.toml" {
                        out.push(k.dir.join(path));
                    }
                }
            }
        }
    }
    out
}

/// `kubectl kustomize` (kustomize v5 in kubectl; CI has kubectl): the real renderer.
fn render(dir: &Path) -> Vec<Value> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl must be installed (v1.32 at /usr/bin/kubectl; .ci/run checks it)");
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        rel(dir),
        String::from_utf8_lossy(&out.stderr)
    );
    yaml_documents(
        &String::from_utf8(out.stdout).unwrap(),
        &format!("kubectl kustomize {}", rel(dir)),
    )
}

#[test]
fn kustomizations_render_and_spinapp_secret_references_survive_the_hash_suffix() {
    let files = kustomization_files();
    assert!(files.len() >= 2, "{files:?}");
    for file in files {
        let dir = file.parent().unwrap();
        let rendered = render(dir);
        assert!(!rendered.is_empty(), "{}: renders nothing", rel(dir));
        let secrets: BTreeMap<(String, String), BTreeSet<String>> = rendered
            .iter()
            .filter(|o| o["kind"] == "Secret")
            .map(|o| {
                let keys = ["data", "stringData"]
                    .iter()
                    .filter_map(|f| o[f].as_object())
                    .flat_map(|m| m.keys().cloned())
                    .collect();
                (
                    (
                        str_at(o, "/metadata/namespace").unwrap_or("").to_owned(),
                        str_at(o, "/metadata/name").unwrap().to_owned(),
                    ),
                    keys,
                )
            })
            .collect();
        for app in rendered.iter().filter(|o| o["kind"] == "SpinApp") {
            let namespace = str_at(app, "/metadata/namespace").unwrap_or("").to_owned();
            for (field, secret, key) in spinapp_secret_refs(app) {
                let keys = secrets
                    .get(&(namespace.clone(), secret.clone()))
                    .unwrap_or_else(|| {
                        panic!(
                            "{}: rendered SpinApp's {field} names Secret {namespace}/{secret}, \
                             not among the rendered {:?}",
                            rel(dir),
                            secrets.keys()
                        )
                    });
                assert!(keys.contains(&key), "{}: {secret} lacks {key}", rel(dir));
            }
        }
    }
}

/// Keys each runtime-config backend accepts, and which of them it needs (Spin's
/// crates/sqlite and crates/key-value-*: `spin` and `libsql` deny unknown fields).
fn backend_keys(
    section: &str,
    kind: &str,
) -> Option<(&'static [&'static str], &'static [&'static str])> {
    match (section, kind) {
        ("sqlite_database", "spin") => Some((&["path", "allow_attach_file"], &[])),
        ("sqlite_database", "libsql") => Some((&["url", "token"], &["url", "token"])),
        ("key_value_store", "spin") => Some((&["path"], &[])),
        ("key_value_store", "redis") => Some((&["url"], &["url"])),
        _ => None,
    }
}

fn runtime_config(path: &Path) -> toml::Table {
    toml::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not valid TOML: {e}", rel(path)))
}

#[test]
fn runtime_configs_use_only_what_spin_knows_for_labels_spin_toml_declares() {
    let manifest = spin_manifest();
    let tomls: Vec<PathBuf> = files_under(&deploy())
        .into_iter()
        .filter(|p| has_ext(p, &["toml"]))
        .collect();
    for generated in runtime_config_files_of_spinapps() {
        assert!(
            tomls.contains(&generated),
            "{} (a SpinApp's runtime config) is not a .toml under deploy/",
            rel(&generated)
        );
    }
    assert!(!tomls.is_empty(), "no runtime config under deploy/");
    for path in tomls {
        let at = rel(&path);
        let config = runtime_config(&path);
        assert!(!config.is_empty(), "{at}: empty");
        for (section, labels) in &config {
            let declared = match section.as_str() {
                "sqlite_database" => &manifest.sqlite_labels,
                "key_value_store" => &manifest.kv_labels,
                other => panic!(
                    "{at}: [{other}] is not a runtime config this app uses (sqlite_database, \
                     key_value_store)"
                ),
            };
            let labels = labels
                .as_table()
                .unwrap_or_else(|| panic!("{at}: {section} is not a table of labels"));
            for (label, store) in labels {
                let at = format!("{at}: [{section}.{label}]");
                assert!(
                    declared.contains(label),
                    "{at}: spin.toml declares no such label (it has {declared:?})"
                );
                let store = store
                    .as_table()
                    .unwrap_or_else(|| panic!("{at}: not a table"));
                let kind = store
                    .get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or_else(|| panic!("{at}: no type"));
                let (known, required) = backend_keys(section, kind)
                    .unwrap_or_else(|| panic!("{at}: unknown type {kind}"));
                for key in store.keys().filter(|k| *k != "type") {
                    assert!(
                        known.contains(&key.as_str()),
                        "{at}: {key} is not a key of type {kind} (known: {known:?})"
                    );
                }
                for key in required {
                    let value = store.get(*key).and_then(|v| v.as_str());
                    assert!(
                        value.is_some_and(|v| !v.is_empty()),
                        "{at}: type {kind} needs a non-empty {key}"
                    );
                }
                if let Some(attach) = store.get("allow_attach_file") {
                    assert!(
                        attach.is_bool(),
                        "{at}: allow_attach_file must be a boolean"
                    );
                }
                if let Some(p) = store.get("path") {
                    assert!(p.is_str(), "{at}: path must be a string");
                }
                let url = store.get("url").and_then(|u| u.as_str()).unwrap_or("");
                match kind {
                    // Spin talks to libSQL over HTTP(S) only.
                    "libsql" => assert!(
                        url.starts_with("https://") || url.starts_with("http://"),
                        "{at}: libSQL url {url} must be http(s)://"
                    ),
                    "redis" => assert!(
                        url.starts_with("redis://") || url.starts_with("rediss://"),
                        "{at}: Redis url {url} must be redis:// or rediss://"
                    ),
                    _ => {}
                }
            }
        }
    }
}

/// deploy/spinkube/runtime-config.toml is the union of deploy/runtime-config/*.toml (one file
/// per backend; `spin up` and SpinKube take exactly one runtime config). The tables must keep
/// the same labels, types and keys. Values are placeholders and may differ.
#[test]
fn the_spinkube_runtime_config_keeps_in_step_with_deploy_runtime_config() {
    let combined = runtime_config(&deploy().join("spinkube/runtime-config.toml"));
    let separate_dir = deploy().join("runtime-config");
    let separate: Vec<PathBuf> = if separate_dir.is_dir() {
        files_under(&separate_dir)
            .into_iter()
            .filter(|p| has_ext(p, &["toml"]))
            .collect()
    } else {
        Vec::new()
    };
    let shape = |store: &toml::Value| -> (String, BTreeSet<String>) {
        let t = store.as_table().unwrap();
        (
            t["type"].as_str().unwrap().to_owned(),
            t.keys().cloned().collect(),
        )
    };
    for path in &separate {
        for (section, labels) in runtime_config(path) {
            for (label, store) in labels.as_table().unwrap() {
                let (kind, keys) = shape(store);
                if !["libsql", "redis"].contains(&kind.as_str()) {
                    continue; // a local (`spin`) alternative: not for shared replicas
                }
                let mine = combined
                    .get(&section)
                    .and_then(|s| s.get(label))
                    .unwrap_or_else(|| {
                        panic!(
                            "deploy/spinkube/runtime-config.toml lacks [{section}.{label}] of {}",
                            rel(path)
                        )
                    });
                assert_eq!(
                    shape(mine),
                    (kind, keys),
                    "[{section}.{label}] differs from {}",
                    rel(path)
                );
            }
        }
    }
    // Replicas share one inventory only on remote backends.
    assert_eq!(
        combined["sqlite_database"]["default"]["type"].as_str(),
        Some("libsql")
    );
    assert_eq!(
        combined["key_value_store"]["default"]["type"].as_str(),
        Some("redis")
    );
}

#[test]
fn the_cluster_role_covers_every_built_in_type_read_only() {
    let docs = yaml_file(&deploy().join("agent/clusterrole.yaml"));
    let role = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("a ClusterRole");
    let rules = role["rules"].as_array().expect("rules");
    assert!(!rules.is_empty(), "no rules in the ClusterRole");
    for rule in rules {
        let verbs: BTreeSet<String> = str_list(rule, "verbs").into_iter().collect();
        let read: BTreeSet<String> = ["get", "list", "watch"].map(String::from).into();
        assert_eq!(
            verbs, read,
            "a rule that is not exactly get/list/watch: {rule}"
        );
    }
    for t in edgepedia_api::catalog::BUILTIN {
        let covered = rules.iter().any(|rule| {
            str_list(rule, "apiGroups").iter().any(|g| g == t.group)
                && str_list(rule, "resources").iter().any(|r| r == t.resource)
        });
        assert!(
            covered,
            "{}/{} is not in clusterrole.yaml",
            t.group, t.resource
        );
    }
}
