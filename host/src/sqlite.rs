//! Spin's SQLite (`fermyon:spin/sqlite@2.0.0`, which spin-sdk 5.2 uses, and
//! `spin:sqlite/sqlite@3.0.0`): a file per database label, opened only for labels the
//! component lists in `sqlite_databases`, and one SQLite connection per open `connection`
//! resource, so `BEGIN … COMMIT` across `execute` calls is one transaction.

use crate::spin_imports::{blocking, sqlite_v2 as v2, sqlite_v3 as v3};
use crate::state::HostState;
use rusqlite::types::{Value, ValueRef};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::Resource;

/// How guest connections map to SQLite connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionMode {
    /// As Spin's in-process SQLite does (spin 4.0.2, `crates/sqlite-inproc`): every guest
    /// `open` gets a new `rusqlite::Connection` with SQLite's defaults (no busy timeout, the
    /// file's journal mode), closed when the guest drops it. Each request pays the open, a
    /// cold page cache and a schema parse, as on Spin; the default, so our numbers are Spin's.
    PerGuestConnection,
    /// A few idle connections are kept warm and reused (WAL, busy timeout): faster than Spin,
    /// for comparisons (`--sqlite-pooled`).
    Pooled,
}

/// The SQLite file of one database label and the connections open on it.
pub struct ConnectionPool {
    path: std::path::PathBuf,
    mode: ConnectionMode,
    idle: Mutex<Vec<rusqlite::Connection>>,
    /// Longest one guest statement may run, in milliseconds (0: no limit).
    statement_budget_ms: AtomicU64,
}

impl ConnectionPool {
    /// Opens the file once up front, so a bad state dir fails at start-up, not per request.
    pub fn new(path: &Path, mode: ConnectionMode) -> anyhow::Result<Self> {
        let pool = Self {
            path: path.to_owned(),
            mode,
            idle: Mutex::new(Vec::new()),
            statement_budget_ms: AtomicU64::new(0),
        };
        let first = pool.connect()?;
        pool.give_back(first);
        Ok(pool)
    }

    /// Pooled: the busy timeout makes concurrent writers (one per in-flight request) wait for
    /// each other instead of failing. Per guest connection: SQLite's defaults, as Spin leaves
    /// them. Either way the component sets the rest: WAL, and a new file's page size, which
    /// must come first (switching a new file to WAL here would fix it at SQLite's default).
    fn connect(&self) -> rusqlite::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open(&self.path)?;
        if self.mode == ConnectionMode::Pooled {
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        Ok(conn)
    }

    /// Interrupts any guest statement that has used `budget` of CPU time (SQLITE_INTERRUPT): a
    /// query that would scan for minutes ends with an error the component answers 503,
    /// instead of holding its instance and connection until the request deadline. Spin has no
    /// such limit; the component does not rely on one.
    pub fn set_statement_budget(&self, budget: Option<Duration>) {
        let ms = budget.map_or(0, |b| {
            u64::try_from(b.as_millis()).unwrap_or(u64::MAX).max(1)
        });
        self.statement_budget_ms.store(ms, Ordering::Relaxed);
    }

    fn statement_budget(&self) -> Option<Duration> {
        match self.statement_budget_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    pub fn take(&self) -> rusqlite::Result<rusqlite::Connection> {
        match self.idle.lock().map(|mut idle| idle.pop()) {
            Ok(Some(conn)) => Ok(conn),
            _ => self.connect(),
        }
    }

    /// Returns a connection; one left inside a transaction (a guest that dropped its handle
    /// mid-way) is rolled back first so its partial writes never land. Per guest connection,
    /// it is closed.
    pub fn give_back(&self, conn: rusqlite::Connection) {
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            return;
        }
        if self.mode == ConnectionMode::PerGuestConnection {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < 8 {
                idle.push(conn);
            }
        }
    }
}

/// An open `fermyon:spin/sqlite` connection. The SQLite connection is taken from the pool at
/// the first statement and kept until the guest drops the handle. A guest that traps drops
/// its store, and with it the connection: SQLite rolls an open transaction back on close.
pub struct SqliteHandle {
    pool: Arc<ConnectionPool>,
    conn: Option<Arc<Mutex<rusqlite::Connection>>>,
}

/// An open `spin:sqlite/sqlite@3.0.0` connection: the same thing behind another WIT type.
pub struct SqliteHandleV3(SqliteHandle);

/// Version-neutral failures, mapped onto each interface's `error` variant.
enum Failure {
    AccessDenied,
    InvalidConnection,
    Io(String),
}

type Rows = (Vec<String>, Vec<Vec<Value>>);

impl HostState {
    fn sqlite_open(&mut self, database: &str) -> Result<SqliteHandle, Failure> {
        // Spin answers access-denied for labels the component does not list; every listed
        // label has a file here, so no-such-database cannot happen.
        let pool = self
            .spin
            .sqlite
            .get(database)
            .cloned()
            .ok_or(Failure::AccessDenied)?;
        Ok(SqliteHandle { pool, conn: None })
    }
}

impl SqliteHandle {
    /// One blocking task per statement, as Spin's: the first one also opens the SQLite
    /// connection (Spin opens it on the first statement too, without a task of its own).
    async fn execute(
        &mut self,
        statement: String,
        parameters: Vec<Value>,
    ) -> Result<Rows, Failure> {
        let budget = self.pool.statement_budget();
        let pool = self.pool.clone();
        let open = self.conn.clone();
        let (conn, result) = blocking(move || {
            let conn = match open {
                Some(conn) => conn,
                None => match pool.take() {
                    Ok(conn) => Arc::new(Mutex::new(conn)),
                    Err(e) => return (None, Err(Failure::Io(e.to_string()))),
                },
            };
            let result = match conn.lock() {
                Ok(c) => run_statement(&c, &statement, parameters, budget)
                    .map_err(|e| Failure::Io(e.to_string())),
                Err(_) => Err(Failure::Io("connection poisoned".into())),
            };
            (Some(conn), result)
        })
        .await
        .unwrap_or_else(|| (None, Err(Failure::Io("worker failed".into()))));
        if self.conn.is_none() {
            self.conn = conn;
        }
        result
    }

    /// Reads connection counters (no I/O); 0 before the first statement, as on a fresh
    /// connection.
    fn counter<T: Default>(&self, read: impl FnOnce(&rusqlite::Connection) -> T) -> T {
        self.conn
            .as_ref()
            .and_then(|c| c.lock().ok().map(|c| read(&c)))
            .unwrap_or_default()
    }

    /// Gives the connection back to the pool (rolled back if left mid-transaction).
    async fn close(self) {
        if let Some(conn) = self
            .conn
            .and_then(|c| Arc::try_unwrap(c).ok())
            .and_then(|m| m.into_inner().ok())
        {
            let pool = self.pool;
            blocking(move || pool.give_back(conn)).await;
        }
    }
}

/// SQLite calls the progress handler every this many virtual-machine steps. One step can be
/// long (a LIKE over a large text is one step), so checking often is what keeps the budget;
/// a clock read per 100 steps costs about 1% of a statement's time.
const PROGRESS_STEPS: std::ffi::c_int = 100;

fn run_statement(
    conn: &rusqlite::Connection,
    sql: &str,
    parameters: Vec<Value>,
    budget: Option<Duration>,
) -> rusqlite::Result<Rows> {
    if let Some(budget) = budget {
        // The budget is the statement's own CPU time: with many statements sharing few cores,
        // wall time would also count the waits for a core. The clock is cheap and checked
        // first; the thread's CPU time (a system call) only once wall time is over budget.
        let deadline = Instant::now() + budget;
        let cpu_limit = thread_cpu_time() + budget;
        conn.progress_handler(
            PROGRESS_STEPS,
            Some(move || Instant::now() >= deadline && thread_cpu_time() >= cpu_limit),
        );
    }
    let rows = collect_rows(conn, sql, parameters);
    if budget.is_some() {
        conn.progress_handler(0, None::<fn() -> bool>);
    }
    rows
}

/// CPU time the calling thread has used. A guest statement runs from its first step to its
/// last row on one blocking thread (`run_statement`), so the difference is its own work.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

fn collect_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    parameters: Vec<Value>,
) -> rusqlite::Result<Rows> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(parameters))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            values.push(match row.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(i) => Value::Integer(i),
                ValueRef::Real(f) => Value::Real(f),
                ValueRef::Text(t) => Value::Text(text(t)),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        out.push(values);
    }
    Ok((columns, out))
}

/// A text cell as Spin hands it over (`String::from_utf8(t.to_vec())`): one validation and one
/// copy. `from_utf8_lossy` on every cell cost 12% of the host's time serving pages of pods (its
/// chunk iterator is far slower than `from_utf8`'s); where Spin would panic on invalid UTF-8,
/// the lossy form is kept as the fallback.
fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(valid) => valid.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The two interface versions have identical `value`, `query-result` and `error` shapes but
/// distinct generated types: one macro writes the conversions for each.
macro_rules! conversions {
    ($v:ident) => {
        impl From<Failure> for $v::Error {
            fn from(f: Failure) -> Self {
                match f {
                    Failure::AccessDenied => $v::Error::AccessDenied,
                    Failure::InvalidConnection => $v::Error::InvalidConnection,
                    Failure::Io(message) => $v::Error::Io(message),
                }
            }
        }

        impl From<$v::Value> for Value {
            fn from(value: $v::Value) -> Self {
                match value {
                    $v::Value::Integer(i) => Value::Integer(i),
                    $v::Value::Real(f) => Value::Real(f),
                    $v::Value::Text(s) => Value::Text(s),
                    $v::Value::Blob(b) => Value::Blob(b),
                    $v::Value::Null => Value::Null,
                }
            }
        }

        impl $v::QueryResult {
            fn from_rows((columns, rows): Rows) -> Self {
                let value = |v| match v {
                    Value::Integer(i) => $v::Value::Integer(i),
                    Value::Real(f) => $v::Value::Real(f),
                    Value::Text(s) => $v::Value::Text(s),
                    Value::Blob(b) => $v::Value::Blob(b),
                    Value::Null => $v::Value::Null,
                };
                $v::QueryResult {
                    columns,
                    rows: rows
                        .into_iter()
                        .map(|r| $v::RowResult {
                            values: r.into_iter().map(value).collect(),
                        })
                        .collect(),
                }
            }
        }
    };
}

conversions!(v2);
conversions!(v3);

impl v2::Host for HostState {}

impl v2::HostConnection for HostState {
    async fn open(&mut self, database: String) -> Result<Resource<SqliteHandle>, v2::Error> {
        let handle = self.sqlite_open(&database)?;
        self.table
            .push(handle)
            .map_err(|e| v2::Error::Io(e.to_string()))
    }

    async fn execute(
        &mut self,
        handle: Resource<SqliteHandle>,
        statement: String,
        parameters: Vec<v2::Value>,
    ) -> Result<v2::QueryResult, v2::Error> {
        let handle = self
            .table
            .get_mut(&handle)
            .map_err(|_| Failure::InvalidConnection)?;
        let parameters = parameters.into_iter().map(Value::from).collect();
        let rows = handle.execute(statement, parameters).await?;
        Ok(v2::QueryResult::from_rows(rows))
    }

    async fn drop(&mut self, handle: Resource<SqliteHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?.close().await;
        Ok(())
    }
}

impl v3::Host for HostState {}

impl v3::HostConnection for HostState {
    async fn open(&mut self, database: String) -> Result<Resource<SqliteHandleV3>, v3::Error> {
        let handle = self.sqlite_open(&database)?;
        self.table
            .push(SqliteHandleV3(handle))
            .map_err(|e| v3::Error::Io(e.to_string()))
    }

    async fn execute(
        &mut self,
        handle: Resource<SqliteHandleV3>,
        statement: String,
        parameters: Vec<v3::Value>,
    ) -> Result<v3::QueryResult, v3::Error> {
        let handle = self
            .table
            .get_mut(&handle)
            .map_err(|_| Failure::InvalidConnection)?;
        let parameters = parameters.into_iter().map(Value::from).collect();
        let rows = handle.0.execute(statement, parameters).await?;
        Ok(v3::QueryResult::from_rows(rows))
    }

    async fn last_insert_rowid(&mut self, handle: Resource<SqliteHandleV3>) -> i64 {
        self.table
            .get(&handle)
            .map_or(0, |h| h.0.counter(|c| c.last_insert_rowid()))
    }

    async fn changes(&mut self, handle: Resource<SqliteHandleV3>) -> u64 {
        self.table
            .get(&handle)
            .map_or(0, |h| h.0.counter(|c| c.changes()))
    }

    async fn drop(&mut self, handle: Resource<SqliteHandleV3>) -> wasmtime::Result<()> {
        self.table.delete(handle)?.0.close().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spin_imports::SpinResources;
    use v3::HostConnection as _;

    fn state(dir: &Path, mode: ConnectionMode) -> HostState {
        let app = crate::manifest::App {
            source: "x.wasm".into(),
            sqlite_databases: vec!["default".into()],
            key_value_stores: vec![],
            allowed_outbound_hosts: vec![],
            variables: Default::default(),
            component_variables: Default::default(),
        };
        let spin = SpinResources::open(&app, dir, Default::default(), mode).unwrap();
        HostState::new(Arc::new(spin), Default::default())
    }

    /// Text cells come back byte for byte when they are UTF-8, and with replacement characters,
    /// not a failure, when a file holds something else.
    #[test]
    fn text_cells_are_kept_exact_and_invalid_bytes_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        let (_, rows) = collect_rows(
            &conn,
            "SELECT ?, CAST(x'6f6bff' AS TEXT)",
            vec![Value::Text("naïve ✓ {\"a\":1}".into())],
        )
        .unwrap();
        assert_eq!(
            rows,
            vec![vec![
                Value::Text("naïve ✓ {\"a\":1}".into()),
                Value::Text("ok\u{fffd}".into())
            ]]
        );
    }

    /// A statement that runs past its budget of CPU time ends with SQLite's "interrupted";
    /// a cheap one on the same connection right after runs as usual.
    #[tokio::test]
    async fn a_statement_over_its_budget_is_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = state(dir.path(), ConnectionMode::PerGuestConnection);
        s.spin.sqlite["default"].set_statement_budget(Some(Duration::from_millis(100)));
        let c = s.open("default".into()).await.unwrap();
        let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) \
                       SELECT count(*) FROM n";
        let stopped = s
            .execute(Resource::new_borrow(c.rep()), endless.into(), vec![])
            .await;
        assert!(
            matches!(&stopped, Err(v3::Error::Io(m)) if m.contains("interrupted")),
            "{stopped:?}"
        );
        let quick = s.execute(c, "SELECT 41 + 1".into(), vec![]).await.unwrap();
        assert!(matches!(quick.rows[0].values[0], v3::Value::Integer(42)));
    }

    /// A TEMP table lives and dies with its SQLite connection: it tells whether a new guest
    /// connection got a new SQLite connection (Spin's way) or a reused one (pooled).
    #[tokio::test]
    async fn a_guest_connection_is_a_new_sqlite_connection_unless_pooled() {
        for (mode, reused) in [
            (ConnectionMode::PerGuestConnection, false),
            (ConnectionMode::Pooled, true),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let mut s = state(dir.path(), mode);
            let first = s.open("default".into()).await.unwrap();
            s.execute(
                Resource::new_borrow(first.rep()),
                "CREATE TEMP TABLE marker (x)".into(),
                vec![],
            )
            .await
            .unwrap();
            v3::HostConnection::drop(&mut s, first).await.unwrap();
            let second = s.open("default".into()).await.unwrap();
            let seen = s
                .execute(second, "SELECT count(*) FROM temp.marker".into(), vec![])
                .await;
            assert_eq!(seen.is_ok(), reused, "{mode:?}: {seen:?}");
        }
    }

    #[tokio::test]
    async fn labels_are_checked_and_a_connection_keeps_its_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = state(dir.path(), ConnectionMode::PerGuestConnection);
        assert!(matches!(
            s.open("other".into()).await,
            Err(v3::Error::AccessDenied)
        ));
        let c = s.open("default".into()).await.unwrap();
        let run = async |s: &mut HostState, sql: &str, params: Vec<v3::Value>| {
            s.execute(Resource::new_borrow(c.rep()), sql.into(), params)
                .await
        };
        run(
            &mut s,
            "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)",
            vec![],
        )
        .await
        .unwrap();
        run(&mut s, "BEGIN", vec![]).await.unwrap();
        let row = vec![
            v3::Value::Integer(-7),
            v3::Value::Real(1.5),
            v3::Value::Text("ü".into()),
            v3::Value::Blob(vec![0, 255]),
            v3::Value::Null,
        ];
        run(&mut s, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", row.clone())
            .await
            .unwrap();
        let borrow = || Resource::new_borrow(c.rep());
        assert_eq!(s.last_insert_rowid(borrow()).await, 1);
        assert_eq!(s.changes(borrow()).await, 1);
        // A second connection does not see the uncommitted row: one transaction, one
        // connection.
        let other = s.open("default".into()).await.unwrap();
        let seen = s
            .execute(other, "SELECT count(*) FROM t".into(), vec![])
            .await
            .unwrap();
        assert!(matches!(seen.rows[0].values[0], v3::Value::Integer(0)));
        run(&mut s, "COMMIT", vec![]).await.unwrap();
        let got = run(&mut s, "SELECT * FROM t", vec![]).await.unwrap();
        assert_eq!(got.columns, ["i", "r", "s", "b", "n"]);
        assert_eq!(format!("{:?}", got.rows[0].values), format!("{row:?}"));
        let bad = run(&mut s, "SELECT nope FROM t", vec![]).await;
        assert!(matches!(bad, Err(v3::Error::Io(_))), "{bad:?}");
    }
}
