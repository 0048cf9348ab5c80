//! Spin's runtime configuration file (`spin up --runtime-config-file`), as far as the local
//! runtime can honour it: where each SQLite database and key-value store label lives. The
//! syntax and the path rules are Spin's own (`crates/runtime-config`, `crates/sqlite`,
//! `crates/key-value-spin`, `crates/key-value-redis`), so one file serves both runtimes:
//!
//! - `[sqlite_database.<label>]`, `type = "spin"`, `path`: a local SQLite file. A relative
//!   path is resolved against the working directory, as Spin's SQLite resolver does.
//!   `type = "libsql"` (`url`, `token`) is checked, but this runtime has no libSQL client.
//! - `[key_value_store.<label>]`, `type = "spin"`, `path`: Spin's key-value SQLite file; a
//!   relative path is resolved against the runtime config file's directory (Spin's rule for
//!   key-value stores, unlike SQLite's). `type = "redis"`, `url`: a Redis server (plain
//!   `redis://`; TLS `rediss://` is Spin's only).
//! - A label the file does not configure keeps Spin's default in the state dir; one the
//!   manifest does not use is checked, then ignored.
//!
//! Stricter than Spin where Spin would quietly do something else than asked: a `spin` entry
//! without `path` (an in-memory database in Spin, which this runtime does not offer), unknown
//! keys in a table (Spin ignores them in key-value tables, so a misspelt `path` silently
//! yields an in-memory store there) and Spin's other sections (variable providers, outbound
//! limits, …), which this runtime does not implement, are errors.

use crate::manifest::App;
use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where each store label the manifest uses lives.
#[derive(Debug)]
pub struct Stores {
    pub sqlite: BTreeMap<String, PathBuf>,
    pub key_value: BTreeMap<String, KvLocation>,
    /// Labels configured in the file that the manifest does not use.
    pub ignored: Vec<String>,
}

/// The backend of one key-value store label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvLocation {
    /// Spin's key-value SQLite file (table `spin_key_value`, rows keyed by label).
    Sqlite(PathBuf),
    /// A `redis://` URL; it may carry a password, so it is never printed whole.
    Redis(String),
}

impl Stores {
    /// `spin up`'s layout in the state dir: the default database in `sqlite_db.db`, others in
    /// `<label>.db`, every key-value label's rows in `sqlite_key_value.db`.
    pub fn spin_defaults(app: &App, state_dir: &Path) -> Self {
        let sqlite = app
            .sqlite_databases
            .iter()
            .map(|label| {
                let file = if label == "default" {
                    "sqlite_db.db".to_owned()
                } else {
                    format!("{label}.db")
                };
                (label.clone(), state_dir.join(file))
            })
            .collect();
        let key_value = app
            .key_value_stores
            .iter()
            .map(|label| {
                let file = state_dir.join("sqlite_key_value.db");
                (label.clone(), KvLocation::Sqlite(file))
            })
            .collect();
        Self {
            sqlite,
            key_value,
            ignored: Vec::new(),
        }
    }

    /// One line for the start-up log: where each store is, without credentials.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .sqlite
            .iter()
            .map(|(label, path)| format!("sqlite_database.{label} = {}", path.display()))
            .collect();
        parts.extend(self.key_value.iter().map(|(label, location)| {
            let at = match location {
                KvLocation::Sqlite(path) => path.display().to_string(),
                KvLocation::Redis(url) => format!("Redis at {}", redis_address(url)),
            };
            format!("key_value_store.{label} = {at}")
        }));
        if !self.ignored.is_empty() {
            parts.push(format!(
                "not used by the manifest, ignored: {}",
                self.ignored.join(", ")
            ));
        }
        parts.join("; ")
    }
}

/// Scheme, host and port of a Redis URL, never its user or password.
pub fn redis_address(url: &str) -> String {
    match redis::parse_redis_url(url) {
        Some(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        None => "(invalid URL)".to_owned(),
    }
}

/// A parsed runtime config file.
#[derive(Debug)]
pub struct RuntimeConfig {
    file: PathBuf,
    sqlite: BTreeMap<String, Entry<PathBuf>>,
    key_value: BTreeMap<String, Entry<KvLocation>>,
}

/// One configured label: something this runtime serves, or something valid for Spin that it
/// cannot (why), which is an error only if the manifest uses the label.
#[derive(Debug)]
enum Entry<T> {
    Served(T),
    SpinOnly(String),
}

/// A file that is valid for `spin up` but asks for something this runtime cannot do: kept
/// apart from malformed files, so nobody "fixes" a correct file.
#[derive(Debug)]
pub struct Unsupported(String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}; real `spin up --runtime-config-file` supports it, the local runtime does not",
            self.0
        )
    }
}

impl std::error::Error for Unsupported {}

/// Spin's other top-level keys: valid there, not implemented here.
const SPIN_ONLY_KEYS: [&str; 13] = [
    "state_dir",
    "log_dir",
    "max_instance_memory",
    "variables_provider",
    "config_provider",
    "llm_compute",
    "outbound_networking",
    "client_tls",
    "outbound_http",
    "outbound_redis",
    "outbound_pg",
    "outbound_mysql",
    "outbound_mqtt",
];

pub fn load(path: &Path) -> Result<RuntimeConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading runtime config file {}", path.display()))?;
    let context = || format!("runtime config file {}", path.display());
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{}: not valid TOML", context()))?;
    let working_dir = std::env::current_dir().context("reading the working directory")?;
    parse(table, path, &working_dir).with_context(context)
}

/// The file's directory anchors relative key-value paths, `working_dir` relative SQLite paths.
fn parse(table: toml::Table, file: &Path, working_dir: &Path) -> Result<RuntimeConfig> {
    let file = std::path::absolute(file)?;
    let file_dir = file.parent().unwrap_or(Path::new("/")).to_owned();
    let mut config = RuntimeConfig {
        file,
        sqlite: BTreeMap::new(),
        key_value: BTreeMap::new(),
    };
    for (key, value) in table {
        match key.as_str() {
            "sqlite_database" => {
                for (label, (kind, fields)) in labelled(&key, value)? {
                    let entry = sqlite_entry(&kind, fields, working_dir)
                        .with_context(|| format!("[sqlite_database.{label}]"))?;
                    config.sqlite.insert(label, entry);
                }
            }
            "key_value_store" => {
                for (label, (kind, fields)) in labelled(&key, value)? {
                    let entry = key_value_entry(&kind, fields, &file_dir)
                        .with_context(|| format!("[key_value_store.{label}]"))?;
                    config.key_value.insert(label, entry);
                }
            }
            spin if SPIN_ONLY_KEYS.contains(&spin) => {
                return Err(Unsupported(format!("`{spin}` (Spin runtime configuration)")).into())
            }
            other => bail!(
                "unknown key `{other}` (edgepedia-host reads [sqlite_database.<label>] and \
                 [key_value_store.<label>])"
            ),
        }
    }
    Ok(config)
}

/// The `<label>` tables of a section, each split into its `type` and its other fields.
fn labelled(section: &str, value: toml::Value) -> Result<Vec<(String, (String, toml::Table))>> {
    let toml::Value::Table(labels) = value else {
        bail!("`{section}` must be a table of [{section}.<label>] tables")
    };
    labels
        .into_iter()
        .map(|(label, value)| {
            let toml::Value::Table(mut fields) = value else {
                bail!("[{section}.{label}] must be a table")
            };
            let kind = match fields.remove("type") {
                Some(toml::Value::String(kind)) => kind,
                Some(_) => bail!("[{section}.{label}]: `type` must be a string"),
                None => bail!("[{section}.{label}]: missing `type`"),
            };
            Ok((label, (kind, fields)))
        })
        .collect()
}

/// Deserializes a table's fields, refusing unknown ones (by name, in the error).
fn fields<T: DeserializeOwned>(kind: &str, fields: toml::Table) -> Result<T> {
    toml::Value::Table(fields)
        .try_into()
        .with_context(|| format!("type = \"{kind}\""))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpinSqlite {
    path: Option<PathBuf>,
    /// Spin's guard against `ATTACH`ing other files; accepted so Spin files load, but this
    /// runtime does not restrict `ATTACH`.
    #[serde(default, rename = "allow_attach_file")]
    _allow_attach_file: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LibSql {
    url: String,
    #[serde(rename = "token")]
    _token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpinKeyValue {
    path: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedisKeyValue {
    url: String,
}

fn sqlite_entry(kind: &str, table: toml::Table, working_dir: &Path) -> Result<Entry<PathBuf>> {
    match kind {
        "spin" => {
            let spin: SpinSqlite = fields(kind, table)?;
            Ok(match spin.path {
                Some(path) => Entry::Served(working_dir.join(path)),
                None => Entry::SpinOnly(IN_MEMORY.to_owned()),
            })
        }
        "libsql" => {
            let libsql: LibSql = fields(kind, table)?;
            // Spin's own check: it talks to libSQL over HTTP(S) only.
            if !(libsql.url.starts_with("https://") || libsql.url.starts_with("http://")) {
                bail!("type = \"libsql\": `url` must start with https:// or http://");
            }
            Ok(Entry::SpinOnly(
                "type = \"libsql\" (a libSQL/Turso database over HTTP) needs a libSQL client \
                 (to run locally, use type = \"spin\" with a `path`)"
                    .to_owned(),
            ))
        }
        other => bail!("unknown type {other:?} (Spin's SQLite types are \"spin\" and \"libsql\")"),
    }
}

fn key_value_entry(kind: &str, table: toml::Table, file_dir: &Path) -> Result<Entry<KvLocation>> {
    match kind {
        "spin" => {
            let spin: SpinKeyValue = fields(kind, table)?;
            Ok(match spin.path {
                Some(path) => Entry::Served(KvLocation::Sqlite(file_dir.join(path))),
                None => Entry::SpinOnly(IN_MEMORY.to_owned()),
            })
        }
        "redis" => {
            let redis: RedisKeyValue = fields(kind, table)?;
            match redis::parse_redis_url(&redis.url) {
                None => bail!("type = \"redis\": `url` is not a Redis URL (redis://host:port)"),
                Some(url) if matches!(url.scheme(), "rediss" | "valkeys") => Ok(Entry::SpinOnly(
                    "type = \"redis\" over TLS (rediss://) needs a TLS Redis client".to_owned(),
                )),
                Some(_) => Ok(Entry::Served(KvLocation::Redis(redis.url))),
            }
        }
        "azure_cosmos" | "aws_dynamo" => Ok(Entry::SpinOnly(format!(
            "type = \"{kind}\": edgepedia-host serves key-value stores of type \"spin\" and \
             \"redis\" only"
        ))),
        other => bail!(
            "unknown type {other:?} (Spin's key-value types are \"spin\", \"redis\", \
             \"azure_cosmos\" and \"aws_dynamo\")"
        ),
    }
}

const IN_MEMORY: &str =
    "type = \"spin\" without `path` is an in-memory store in Spin (set `path` to run locally)";

impl RuntimeConfig {
    /// Where each label the manifest uses lives: this file's entry, else Spin's default.
    pub fn stores(&self, app: &App, state_dir: &Path) -> Result<Stores> {
        self.resolve(app, state_dir)
            .with_context(|| format!("runtime config file {}", self.file.display()))
    }

    fn resolve(&self, app: &App, state_dir: &Path) -> Result<Stores> {
        let mut stores = Stores::spin_defaults(app, state_dir);
        let mut ignored = resolve_labels("sqlite_database", &self.sqlite, &mut stores.sqlite)?;
        ignored.extend(resolve_labels(
            "key_value_store",
            &self.key_value,
            &mut stores.key_value,
        )?);
        stores.ignored = ignored;
        Ok(stores)
    }
}

/// One section's labels: each store the manifest uses (a key of `stores`, holding Spin's
/// default) takes this file's entry for its label, if there is one. Returns the file's labels
/// the manifest does not use, as `section.label`.
fn resolve_labels<T: Clone>(
    section: &str,
    entries: &BTreeMap<String, Entry<T>>,
    stores: &mut BTreeMap<String, T>,
) -> Result<Vec<String>> {
    for (label, store) in stores.iter_mut() {
        if let Some(entry) = entries.get(label) {
            *store = served(entry, section, label)?;
        }
    }
    Ok(entries
        .keys()
        .filter(|label| !stores.contains_key(*label))
        .map(|label| format!("{section}.{label}"))
        .collect())
}

fn served<T: Clone>(entry: &Entry<T>, section: &str, label: &str) -> Result<T> {
    match entry {
        Entry::Served(value) => Ok(value.clone()),
        Entry::SpinOnly(why) => Err(Unsupported(format!("[{section}.{label}] {why}")).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> App {
        App {
            source: "x.wasm".into(),
            sqlite_databases: vec!["default".into()],
            key_value_stores: vec!["default".into()],
            allowed_outbound_hosts: vec![],
            variables: Default::default(),
            component_variables: Default::default(),
        }
    }

    fn stores(text: &str) -> Result<Stores> {
        parse(
            toml::from_str(text).unwrap(),
            Path::new("/etc/edgepedia/runtime-config.toml"),
            Path::new("/srv/work"),
        )?
        .stores(&app(), Path::new("/state"))
    }

    fn error(text: &str) -> String {
        format!("{:#}", stores(text).unwrap_err())
    }

    fn is_unsupported(text: &str) -> bool {
        stores(text)
            .unwrap_err()
            .downcast_ref::<Unsupported>()
            .is_some()
    }

    #[test]
    fn without_entries_the_state_dir_defaults_stay() {
        let s = stores("").unwrap();
        assert_eq!(s.sqlite["default"], Path::new("/state/sqlite_db.db"));
        assert_eq!(
            s.key_value["default"],
            KvLocation::Sqlite("/state/sqlite_key_value.db".into())
        );
    }

    #[test]
    fn relative_paths_follow_spins_rules() {
        let s = stores(
            r#"
            [sqlite_database.default]
            type = "spin"
            path = "data/db.sqlite"
            [key_value_store.default]
            type = "spin"
            path = "kv/store.db"
            "#,
        )
        .unwrap();
        // SQLite: against the working directory; key-value: against the file's directory.
        assert_eq!(s.sqlite["default"], Path::new("/srv/work/data/db.sqlite"));
        assert_eq!(
            s.key_value["default"],
            KvLocation::Sqlite("/etc/edgepedia/kv/store.db".into())
        );
        let s = stores(
            "[sqlite_database.default]\ntype = \"spin\"\npath = \"/abs/db.sqlite\"\nallow_attach_file = false",
        )
        .unwrap();
        assert_eq!(s.sqlite["default"], Path::new("/abs/db.sqlite"));
    }

    #[test]
    fn redis_urls_are_kept_and_never_described_with_their_password() {
        let s = stores(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://:hunter2@127.0.0.1:6390/0\"",
        )
        .unwrap();
        assert_eq!(
            s.key_value["default"],
            KvLocation::Redis("redis://:hunter2@127.0.0.1:6390/0".into())
        );
        let line = s.describe();
        assert!(line.contains("Redis at redis://127.0.0.1:6390"), "{line}");
        assert!(!line.contains("hunter2"), "{line}");
        assert!(
            error("[key_value_store.default]\ntype = \"redis\"\nurl = \"http://x\"")
                .contains("not a Redis URL")
        );
    }

    #[test]
    fn labels_the_manifest_does_not_use_are_checked_then_ignored() {
        let s = stores(
            r#"
            [sqlite_database.reports]
            type = "libsql"
            url = "https://reports.example.com"
            token = "t"
            [key_value_store.cache]
            type = "aws_dynamo"
            region = "eu-west-1"
            "#,
        )
        .unwrap();
        assert_eq!(
            s.ignored,
            ["sqlite_database.reports", "key_value_store.cache"]
        );
        assert!(s.describe().contains("ignored: sqlite_database.reports"));
        assert!(error("[key_value_store.cache]\ntype = \"memcached\"").contains("memcached"));
    }

    #[test]
    fn spin_only_configuration_is_a_distinct_error() {
        let libsql = "[sqlite_database.default]\ntype = \"libsql\"\nurl = \"https://db.example.com\"\ntoken = \"secret-token\"";
        assert!(is_unsupported(libsql));
        let message = error(libsql);
        assert!(message.contains("[sqlite_database.default]") && message.contains("libsql"));
        assert!(message.contains("spin up"), "{message}");
        assert!(!message.contains("secret-token"), "{message}");
        assert!(is_unsupported("[sqlite_database.default]\ntype = \"spin\""));
        assert!(is_unsupported(
            "[key_value_store.default]\ntype = \"azure_cosmos\""
        ));
        assert!(is_unsupported(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"rediss://cache:6380\""
        ));
        assert!(is_unsupported("[[variables_provider]]\ntype = \"vault\""));
        assert!(is_unsupported("state_dir = \".spin\""));
    }

    #[test]
    fn malformed_files_name_the_problem() {
        let cases = [
            ("[sqlite_database.default]\ntype = \"postgres\"", "unknown type \"postgres\""),
            ("[key_value_store.default]\ntype = \"memcached\"", "unknown type \"memcached\""),
            ("[sqlite_database.default]\npath = \"x.db\"", "missing `type`"),
            ("[sqlite_database.default]\ntype = \"spin\"\npth = \"x.db\"", "unknown field `pth`"),
            ("[key_value_store.default]\ntype = \"redis\"", "missing field `url`"),
            ("[sqlite_database.default]\ntype = \"libsql\"\nurl = \"libsql://db\"\ntoken = \"t\"", "https://"),
            ("sqlite_database = 3", "must be a table"),
            ("[databases.default]\ntype = \"spin\"", "unknown key `databases`"),
        ];
        for (text, want) in cases {
            assert!(!is_unsupported(text), "{text}");
            let message = error(text);
            assert!(message.contains(want), "{text}: {message}");
        }
    }

    #[test]
    fn the_shipped_examples_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/runtime-config");
        let mut seen = Vec::new();
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let config = load(&path).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            let stores = config.stores(&app(), Path::new("/state"));
            match name.as_str() {
                "libsql.toml" => {
                    let e = stores.unwrap_err();
                    assert!(e.downcast_ref::<Unsupported>().is_some(), "{e:#}");
                }
                "redis-kv.toml" => assert!(matches!(
                    stores.unwrap().key_value["default"],
                    KvLocation::Redis(_)
                )),
                "local.toml" => {
                    let stores = stores.unwrap();
                    assert!(!stores.sqlite["default"].starts_with("/state"));
                    assert!(matches!(
                        &stores.key_value["default"],
                        KvLocation::Sqlite(p) if !p.starts_with("/state")
                    ));
                }
                other => panic!("{other}: add it to this test"),
            }
            seen.push(name);
        }
        seen.sort();
        assert_eq!(seen, ["libsql.toml", "local.toml", "redis-kv.toml"]);
    }
}
