//! Spin's key-value store (`fermyon:spin/key-value@2.0.0`) on the two backends of Spin's
//! runtime config that this runtime serves. `spin`: a SQLite file with Spin's table
//! `spin_key_value (store, key, value)`, rows keyed by store label (`spin up` keeps every
//! label in `sqlite_key_value.db` by default). `redis`: plain Redis keys — GET, SET, DEL,
//! EXISTS, KEYS * — as Spin's Redis store uses them, so the label is not part of the key and
//! data written by the component under `spin up` reads the same here. Labels the component does
//! not list in `key_value_stores` are refused with `access-denied`.

use crate::runtime_config::{redis_address, KvLocation};
use crate::spin_imports::{blocking, key_value};
use crate::sqlite::{ConnectionMode, ConnectionPool};
use crate::state::HostState;
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::Resource;

/// An open key-value `store` resource.
pub struct KvHandle {
    store: Arc<KvStore>,
}

/// The backend of one store label.
pub enum KvStore {
    Sqlite {
        pool: Arc<ConnectionPool>,
        label: String,
    },
    Redis(RedisStore),
}

/// Opens every label's backend; labels in one SQLite file share its connections.
pub fn open_stores(
    locations: &BTreeMap<String, KvLocation>,
) -> anyhow::Result<BTreeMap<String, Arc<KvStore>>> {
    let mut files: BTreeMap<PathBuf, Arc<ConnectionPool>> = BTreeMap::new();
    let mut stores = BTreeMap::new();
    for (label, location) in locations {
        let store = match location {
            KvLocation::Sqlite(path) => {
                let pool = match files.get(path) {
                    Some(pool) => pool.clone(),
                    None => {
                        let pool = Arc::new(open_sqlite(path).with_context(|| {
                            format!("key_value_store.{label}: opening {}", path.display())
                        })?);
                        files.insert(path.clone(), pool.clone());
                        pool
                    }
                };
                KvStore::Sqlite {
                    pool,
                    label: label.clone(),
                }
            }
            KvLocation::Redis(url) => KvStore::Redis(
                RedisStore::connect(url).with_context(|| format!("key_value_store.{label}"))?,
            ),
        };
        stores.insert(label.clone(), Arc::new(store));
    }
    Ok(stores)
}

/// Opens the key-value file (and its directory, as Spin does) and creates Spin's table in it.
/// Key-value connections stay pooled: Spin keeps one per store, not one per request.
fn open_sqlite(path: &Path) -> anyhow::Result<ConnectionPool> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let pool = ConnectionPool::new(path, ConnectionMode::Pooled)?;
    let conn = pool.take()?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS spin_key_value (store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key))",
    )?;
    pool.give_back(conn);
    Ok(pool)
}

/// A Redis server, through a few idle connections reused across requests; a connection that
/// saw an error is dropped, so the next operation reconnects (a restarted server is picked up).
pub struct RedisStore {
    client: redis::Client,
    idle: Mutex<Vec<redis::Connection>>,
}

/// Connect, read and write timeout: a stalled server fails the operation instead of holding a
/// blocking thread until the request deadline.
const REDIS_TIMEOUT: Duration = Duration::from_secs(5);

impl RedisStore {
    /// Connects once up front, so a wrong URL or a server that is not running stops the host at
    /// start-up instead of failing every request (Spin connects at first use).
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("invalid Redis URL")?;
        let store = Self {
            client,
            idle: Mutex::new(Vec::new()),
        };
        // The error alone: its source repeats its message.
        store
            .run(|c| redis::cmd("PING").query::<()>(c))
            .map_err(|e| anyhow::anyhow!("cannot reach Redis at {}: {e}", redis_address(url)))?;
        Ok(store)
    }

    fn run<T>(
        &self,
        command: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = self.client.get_connection_with_timeout(REDIS_TIMEOUT)?;
                conn.set_read_timeout(Some(REDIS_TIMEOUT))?;
                conn.set_write_timeout(Some(REDIS_TIMEOUT))?;
                conn
            }
        };
        let result = command(&mut conn);
        if result.is_ok() {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < 8 {
                    idle.push(conn);
                }
            }
        }
        result
    }
}

/// Runs one statement on a pooled connection of a key-value file.
fn on_sqlite<T>(
    pool: &ConnectionPool,
    work: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> Result<T, String> {
    let conn = pool.take().map_err(|e| e.to_string())?;
    let result = work(&conn);
    pool.give_back(conn);
    result.map_err(|e| e.to_string())
}

fn on_redis<T: redis::FromRedisValue>(
    redis: &RedisStore,
    command: &str,
    args: &[&[u8]],
) -> Result<T, String> {
    let mut cmd = redis::cmd(command);
    for arg in args {
        cmd.arg(*arg);
    }
    redis.run(|c| cmd.query(c)).map_err(|e| e.to_string())
}

/// The five operations of the WIT `store`, blocking: run on the blocking pool.
impl KvStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        match self {
            Self::Sqlite { pool, label } => on_sqlite(pool, |c| {
                use rusqlite::OptionalExtension;
                c.query_row(
                    "SELECT value FROM spin_key_value WHERE store = ? AND key = ?",
                    (label, key),
                    |r| r.get(0),
                )
                .optional()
            }),
            Self::Redis(redis) => on_redis(redis, "GET", &[key.as_bytes()]),
        }
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        match self {
            Self::Sqlite { pool, label } => on_sqlite(pool, |c| {
                c.execute(
                    "INSERT INTO spin_key_value (store, key, value) VALUES (?, ?, ?) ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                    (label, key, value),
                )
                .map(drop)
            }),
            Self::Redis(redis) => on_redis(redis, "SET", &[key.as_bytes(), value]),
        }
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        match self {
            Self::Sqlite { pool, label } => on_sqlite(pool, |c| {
                c.execute(
                    "DELETE FROM spin_key_value WHERE store = ? AND key = ?",
                    (label, key),
                )
                .map(drop)
            }),
            Self::Redis(redis) => on_redis(redis, "DEL", &[key.as_bytes()]),
        }
    }

    fn exists(&self, key: &str) -> Result<bool, String> {
        match self {
            Self::Sqlite { pool, label } => on_sqlite(pool, |c| {
                c.query_row(
                    "SELECT count(*) FROM spin_key_value WHERE store = ? AND key = ?",
                    (label, key),
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n > 0)
            }),
            Self::Redis(redis) => on_redis(redis, "EXISTS", &[key.as_bytes()]),
        }
    }

    fn get_keys(&self) -> Result<Vec<String>, String> {
        match self {
            Self::Sqlite { pool, label } => on_sqlite(pool, |c| {
                let mut stmt =
                    c.prepare("SELECT key FROM spin_key_value WHERE store = ? ORDER BY key")?;
                let keys = stmt.query_map([label], |r| r.get(0))?.collect();
                keys
            }),
            Self::Redis(redis) => on_redis(redis, "KEYS", &[b"*"]),
        }
    }
}

impl HostState {
    /// Runs one operation on the store behind `handle`, on the blocking pool.
    async fn kv<T: Send + 'static>(
        &mut self,
        handle: &Resource<KvHandle>,
        work: impl FnOnce(&KvStore) -> Result<T, String> + Send + 'static,
    ) -> Result<T, key_value::Error> {
        let store = self
            .table
            .get(handle)
            .map_err(|e| key_value::Error::Other(e.to_string()))?
            .store
            .clone();
        blocking(move || work(&store))
            .await
            .ok_or_else(|| key_value::Error::Other("worker failed".into()))?
            .map_err(key_value::Error::Other)
    }
}

impl key_value::Host for HostState {}

impl key_value::HostStore for HostState {
    async fn open(&mut self, label: String) -> Result<Resource<KvHandle>, key_value::Error> {
        let store = self
            .spin
            .key_value
            .get(&label)
            .cloned()
            .ok_or(key_value::Error::AccessDenied)?;
        self.table
            .push(KvHandle { store })
            .map_err(|e| key_value::Error::Other(e.to_string()))
    }

    async fn get(
        &mut self,
        h: Resource<KvHandle>,
        key: String,
    ) -> Result<Option<Vec<u8>>, key_value::Error> {
        self.kv(&h, move |s| s.get(&key)).await
    }

    async fn set(
        &mut self,
        h: Resource<KvHandle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), key_value::Error> {
        self.kv(&h, move |s| s.set(&key, &value)).await
    }

    async fn delete(&mut self, h: Resource<KvHandle>, key: String) -> Result<(), key_value::Error> {
        self.kv(&h, move |s| s.delete(&key)).await
    }

    async fn exists(
        &mut self,
        h: Resource<KvHandle>,
        key: String,
    ) -> Result<bool, key_value::Error> {
        self.kv(&h, move |s| s.exists(&key)).await
    }

    async fn get_keys(&mut self, h: Resource<KvHandle>) -> Result<Vec<String>, key_value::Error> {
        self.kv(&h, |s| s.get_keys()).await
    }

    async fn drop(&mut self, h: Resource<KvHandle>) -> wasmtime::Result<()> {
        self.table.delete(h)?;
        Ok(())
    }
}

/// The real `redis-server` the workspace's tests start (tests/support/redis_server.rs).
#[cfg(test)]
#[allow(dead_code)] // `cli` serves the end-to-end tests.
#[path = "../../tests/support/redis_server.rs"]
mod redis_server;

#[cfg(test)]
mod tests {
    use super::redis_server::{free_port, RedisServer};
    use super::*;
    use crate::runtime_config::Stores;
    use crate::spin_imports::SpinResources;
    use key_value::HostStore as _;

    /// Drives the WIT operations as the component does; keys are left `a` = "" and `k` absent.
    async fn round_trip(spin: SpinResources) {
        let mut s = HostState::new(Arc::new(spin), Default::default());
        assert!(matches!(
            s.open("cache".into()).await,
            Err(key_value::Error::AccessDenied)
        ));
        let store = s.open("default".into()).await.unwrap();
        let h = || Resource::new_borrow(store.rep());
        assert_eq!(s.get(h(), "k".into()).await.unwrap(), None);
        s.set(h(), "k".into(), b"v1".to_vec()).await.unwrap();
        s.set(h(), "k".into(), b"v2".to_vec()).await.unwrap();
        s.set(h(), "a".into(), vec![]).await.unwrap();
        assert_eq!(s.get(h(), "k".into()).await.unwrap(), Some(b"v2".to_vec()));
        assert_eq!(s.get(h(), "a".into()).await.unwrap(), Some(vec![]));
        assert!(s.exists(h(), "a".into()).await.unwrap());
        let mut keys = s.get_keys(h()).await.unwrap();
        keys.sort();
        assert_eq!(keys, ["a", "k"]);
        s.delete(h(), "k".into()).await.unwrap();
        assert!(!s.exists(h(), "k".into()).await.unwrap());
        assert_eq!(s.get(h(), "k".into()).await.unwrap(), None);
    }

    fn app() -> crate::manifest::App {
        crate::manifest::App {
            source: "x.wasm".into(),
            sqlite_databases: vec![],
            key_value_stores: vec!["default".into()],
            allowed_outbound_hosts: vec![],
            variables: Default::default(),
            component_variables: Default::default(),
        }
    }

    #[tokio::test]
    async fn stores_are_checked_and_values_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let spin = SpinResources::open(
            &app(),
            dir.path(),
            Default::default(),
            ConnectionMode::Pooled,
        )
        .unwrap();
        round_trip(spin).await;
        assert!(dir.path().join("sqlite_key_value.db").exists());
    }

    /// A client of `server`, to read and write behind the store's back.
    fn client(server: &RedisServer) -> redis::Connection {
        redis::Client::open(server.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    fn on_redis_stores(url: String) -> SpinResources {
        let stores = Stores {
            sqlite: BTreeMap::new(),
            key_value: BTreeMap::from([("default".to_owned(), KvLocation::Redis(url))]),
            ignored: vec![],
        };
        SpinResources::open_stores(&stores, Default::default(), ConnectionMode::Pooled).unwrap()
    }

    #[tokio::test]
    async fn redis_stores_round_trip_on_plain_keys() {
        let server = RedisServer::start();
        round_trip(on_redis_stores(server.url())).await;
        // Spin's Redis store keys: the key itself, no label prefix, values as bytes.
        let mut direct = client(&server);
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut direct).unwrap();
        assert_eq!(keys, ["a"]);
        let value: Vec<u8> = redis::cmd("GET").arg("a").query(&mut direct).unwrap();
        assert!(value.is_empty());
        // And what another Spin app wrote there reads back through the store.
        redis::cmd("SET")
            .arg("written-by-spin")
            .arg(&b"\x00\xffbytes"[..])
            .query::<()>(&mut direct)
            .unwrap();
        let mut s = HostState::new(Arc::new(on_redis_stores(server.url())), Default::default());
        let store = s.open("default".into()).await.unwrap();
        let got = s
            .get(Resource::new_borrow(store.rep()), "written-by-spin".into())
            .await
            .unwrap();
        assert_eq!(got.as_deref(), Some(&b"\x00\xffbytes"[..]));
    }

    #[test]
    fn an_unreachable_redis_fails_at_start_naming_it_without_its_password() {
        let port = free_port();
        let error = RedisStore::connect(&format!("redis://:hunter2@127.0.0.1:{port}"))
            .err()
            .expect("nothing listens there");
        let message = format!("{error:#}");
        assert!(
            message.contains(&format!("cannot reach Redis at redis://127.0.0.1:{port}")),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
    }
}
