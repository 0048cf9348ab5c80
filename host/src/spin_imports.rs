//! Host side of the Spin interfaces the component imports, with Spin's semantics:
//! `fermyon:spin/sqlite` (a file per database label, one connection per opened handle so
//! transactions span statements), `fermyon:spin/key-value` (Spin's `spin_key_value` table)
//! and `fermyon:spin/variables`. SQLite work runs on the blocking pool, never on the executor.

use crate::state::HostState;
use crate::variables::Resolved;
use rusqlite::types::{Value as SqlValue, ValueRef};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use wasmtime::component::{HasSelf, Linker, Resource};

wasmtime::component::bindgen!({
    path: "wit",
    world: "edgepedia:host/spin-imports",
    imports: { default: async },
    with: {
        "fermyon:spin/sqlite.connection": SqliteHandle,
        "fermyon:spin/key-value.store": KvHandle,
    },
});

use fermyon::spin::{key_value, sqlite, variables};

pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    sqlite::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    key_value::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    variables::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    Ok(())
}

/// A few idle connections per database: opening SQLite per request is wasted work.
pub struct ConnectionPool {
    path: std::path::PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl ConnectionPool {
    pub fn new(path: &Path) -> anyhow::Result<Self> {
        let pool = Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        };
        let first = pool.connect()?;
        pool.give_back(first);
        Ok(pool)
    }

    fn connect(&self) -> rusqlite::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open(&self.path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(conn)
    }

    fn take(&self) -> rusqlite::Result<rusqlite::Connection> {
        match self.idle.lock().map(|mut idle| idle.pop()) {
            Ok(Some(conn)) => Ok(conn),
            _ => self.connect(),
        }
    }

    /// Returns a connection; one left inside a transaction (a guest that trapped mid-way) is
    /// rolled back first so its partial writes never land.
    fn give_back(&self, conn: rusqlite::Connection) {
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < 8 {
                idle.push(conn);
            }
        }
    }
}

/// An open `connection` resource.
pub struct SqliteHandle {
    pool: Arc<ConnectionPool>,
    conn: Option<Arc<Mutex<rusqlite::Connection>>>,
}

/// An open key-value `store` resource.
pub struct KvHandle {
    label: String,
}

/// What the runtime shares across requests.
pub struct SpinResources {
    pub sqlite: BTreeMap<String, Arc<ConnectionPool>>,
    pub key_value: Option<Arc<ConnectionPool>>,
    pub key_value_labels: Vec<String>,
    pub variables: Resolved,
}

impl SpinResources {
    pub fn open(
        app: &crate::manifest::App,
        state_dir: &Path,
        variables: Resolved,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(state_dir)?;
        let mut sqlite = BTreeMap::new();
        for label in &app.sqlite_databases {
            // `spin up` keeps the default database in sqlite_db.db, others in <label>.db.
            let file = if label == "default" {
                "sqlite_db.db".to_owned()
            } else {
                format!("{label}.db")
            };
            sqlite.insert(
                label.clone(),
                Arc::new(ConnectionPool::new(&state_dir.join(file))?),
            );
        }
        let key_value = if app.key_value_stores.is_empty() {
            None
        } else {
            let pool = ConnectionPool::new(&state_dir.join("sqlite_key_value.db"))?;
            let conn = pool.take()?;
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS spin_key_value (store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key))",
            )?;
            pool.give_back(conn);
            Some(Arc::new(pool))
        };
        Ok(Self {
            sqlite,
            key_value,
            key_value_labels: app.key_value_stores.clone(),
            variables,
        })
    }
}

/// Runs SQLite work on the blocking pool.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(work).await.ok()
}

impl sqlite::Host for HostState {}

impl sqlite::HostConnection for HostState {
    async fn open(&mut self, database: String) -> Result<Resource<SqliteHandle>, sqlite::Error> {
        let pool = self
            .spin
            .sqlite
            .get(&database)
            .cloned()
            .ok_or(sqlite::Error::AccessDenied)?;
        self.table
            .push(SqliteHandle { pool, conn: None })
            .map_err(|e| sqlite::Error::Io(e.to_string()))
    }

    async fn execute(
        &mut self,
        handle: Resource<SqliteHandle>,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> Result<sqlite::QueryResult, sqlite::Error> {
        let handle = self
            .table
            .get_mut(&handle)
            .map_err(|_| sqlite::Error::InvalidConnection)?;
        let conn = match &handle.conn {
            Some(conn) => conn.clone(),
            None => {
                let pool = handle.pool.clone();
                let conn = blocking(move || pool.take())
                    .await
                    .ok_or_else(|| sqlite::Error::Io("worker failed".into()))?
                    .map_err(|e| sqlite::Error::Io(e.to_string()))?;
                let conn = Arc::new(Mutex::new(conn));
                handle.conn = Some(conn.clone());
                conn
            }
        };
        blocking(move || {
            let conn = conn
                .lock()
                .map_err(|_| sqlite::Error::Io("connection poisoned".into()))?;
            run_statement(&conn, &statement, parameters)
                .map_err(|e| sqlite::Error::Io(e.to_string()))
        })
        .await
        .unwrap_or_else(|| Err(sqlite::Error::Io("worker failed".into())))
    }

    async fn drop(&mut self, handle: Resource<SqliteHandle>) -> wasmtime::Result<()> {
        let handle = self.table.delete(handle)?;
        if let Some(conn) = handle
            .conn
            .and_then(|c| Arc::try_unwrap(c).ok())
            .and_then(|m| m.into_inner().ok())
        {
            let pool = handle.pool;
            blocking(move || pool.give_back(conn)).await;
        }
        Ok(())
    }
}

fn run_statement(
    conn: &rusqlite::Connection,
    sql: &str,
    parameters: Vec<sqlite::Value>,
) -> rusqlite::Result<sqlite::QueryResult> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let params = parameters.into_iter().map(|p| match p {
        sqlite::Value::Integer(i) => SqlValue::Integer(i),
        sqlite::Value::Real(f) => SqlValue::Real(f),
        sqlite::Value::Text(s) => SqlValue::Text(s),
        sqlite::Value::Blob(b) => SqlValue::Blob(b),
        sqlite::Value::Null => SqlValue::Null,
    });
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            values.push(match row.get_ref(i)? {
                ValueRef::Null => sqlite::Value::Null,
                ValueRef::Integer(i) => sqlite::Value::Integer(i),
                ValueRef::Real(f) => sqlite::Value::Real(f),
                ValueRef::Text(t) => sqlite::Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => sqlite::Value::Blob(b.to_vec()),
            });
        }
        out.push(sqlite::RowResult { values });
    }
    Ok(sqlite::QueryResult { columns, rows: out })
}

impl key_value::Host for HostState {}

impl HostState {
    async fn kv<T: Send + 'static>(
        &mut self,
        handle: &Resource<KvHandle>,
        work: impl FnOnce(&rusqlite::Connection, &str) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, key_value::Error> {
        let label = self
            .table
            .get(handle)
            .map_err(|e| key_value::Error::Other(e.to_string()))?
            .label
            .clone();
        let pool = self
            .spin
            .key_value
            .clone()
            .ok_or(key_value::Error::NoSuchStore)?;
        blocking(move || {
            let conn = pool.take()?;
            let result = work(&conn, &label);
            pool.give_back(conn);
            result
        })
        .await
        .ok_or_else(|| key_value::Error::Other("worker failed".into()))?
        .map_err(|e| key_value::Error::Other(e.to_string()))
    }
}

impl key_value::HostStore for HostState {
    async fn open(&mut self, label: String) -> Result<Resource<KvHandle>, key_value::Error> {
        if !self.spin.key_value_labels.contains(&label) {
            return Err(key_value::Error::AccessDenied);
        }
        self.table
            .push(KvHandle { label })
            .map_err(|e| key_value::Error::Other(e.to_string()))
    }

    async fn get(
        &mut self,
        h: Resource<KvHandle>,
        key: String,
    ) -> Result<Option<Vec<u8>>, key_value::Error> {
        self.kv(&h, move |c, store| {
            use rusqlite::OptionalExtension;
            c.query_row(
                "SELECT value FROM spin_key_value WHERE store = ? AND key = ?",
                (store, &key),
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    async fn set(
        &mut self,
        h: Resource<KvHandle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), key_value::Error> {
        self.kv(&h, move |c, store| {
            c.execute(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?, ?, ?) ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                (store, &key, &value),
            )
            .map(drop)
        })
        .await
    }

    async fn delete(&mut self, h: Resource<KvHandle>, key: String) -> Result<(), key_value::Error> {
        self.kv(&h, move |c, store| {
            c.execute(
                "DELETE FROM spin_key_value WHERE store = ? AND key = ?",
                (store, &key),
            )
            .map(drop)
        })
        .await
    }

    async fn exists(
        &mut self,
        h: Resource<KvHandle>,
        key: String,
    ) -> Result<bool, key_value::Error> {
        self.kv(&h, move |c, store| {
            c.query_row(
                "SELECT count(*) FROM spin_key_value WHERE store = ? AND key = ?",
                (store, &key),
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn get_keys(&mut self, h: Resource<KvHandle>) -> Result<Vec<String>, key_value::Error> {
        self.kv(&h, |c, store| {
            let mut stmt =
                c.prepare("SELECT key FROM spin_key_value WHERE store = ? ORDER BY key")?;
            let keys = stmt.query_map([store], |r| r.get(0))?.collect();
            keys
        })
        .await
    }

    async fn drop(&mut self, h: Resource<KvHandle>) -> wasmtime::Result<()> {
        self.table.delete(h)?;
        Ok(())
    }
}

impl variables::Host for HostState {
    async fn get(&mut self, name: String) -> Result<String, variables::Error> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(variables::Error::InvalidName(name));
        }
        self.spin
            .variables
            .0
            .get(&name)
            .cloned()
            .ok_or(variables::Error::Undefined(name))
    }
}
