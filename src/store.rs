//! The storage boundary. The engine speaks SQL through [`Store`]; the Spin adapter implements
//! it over `spin_sdk::sqlite`, and [`rusqlite_store`] implements it natively so every engine
//! module is tested against real SQLite. Spin's API returns whole result sets, so callers page.

use std::fmt;

#[cfg(not(target_arch = "wasm32"))]
pub mod rusqlite_store;

/// A bound SQL parameter or a result cell.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl SqlValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// Text cells moved out without copying (objects are the bulk of every response).
    pub fn into_string(self) -> Option<String> {
        match self {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        SqlValue::Text(s.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(s: String) -> Self {
        SqlValue::Text(s)
    }
}

impl From<i64> for SqlValue {
    fn from(i: i64) -> Self {
        SqlValue::Integer(i)
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// A failed statement. The text is for logs only; users see a generic 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    /// The statement named a table or column the database does not have yet: a new database,
    /// or one an older version created (see [`crate::migrations`]).
    pub fn is_schema_miss(&self) -> bool {
        self.0.contains("no such table") || self.0.contains("no such column")
    }

    /// The backend refused or stopped the statement for a reason that passes on its own (see
    /// [`TRANSIENT`]). The statement's transaction, if any, is rolled back.
    pub fn is_transient(&self) -> bool {
        let text = self.0.to_ascii_lowercase();
        TRANSIENT.iter().any(|needle| text.contains(needle))
    }
}

/// Error texts (lowercased) of failures that pass on their own: SQLite's busy and
/// interrupted (a writer past the busy timeout; a statement time budget); sqld's forced
/// rollback of a transaction that held the write lock 5 s while another writer waited, and
/// its expired or unknown streams (10 s idle; Turso answers "stream not found") — docs/
/// DECISIONS.md, "libSQL and Redis".
const TRANSIENT: &[&str] = &[
    "database is locked",
    "database table is locked",
    "busy",
    "interrupt",
    "transaction timed out",
    "transaction_timeout",
    "stream_expired",
    "stream has expired",
    "stream not found",
];

pub type Row = Vec<SqlValue>;

/// One SQLite connection. Statements on the same `Store` share a connection, so
/// `BEGIN`/`COMMIT` issued through [`Store::execute`] span the statements between them.
pub trait Store {
    /// Runs a statement and returns all its rows.
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError>;

    /// Runs a statement whose rows, if any, are not needed.
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<(), StoreError> {
        self.query(sql, params).map(drop)
    }

    /// Drops the connection, so the next statement opens a new one: after a transient
    /// failure, a remote backend's connection may be unusable (libSQL keeps an expired
    /// stream's baton and fails every later statement on it).
    fn reconnect(&self) {}
}

/// How long a writer waits for another one's transaction before giving up (SQLITE_BUSY).
const BUSY_TIMEOUT_MS: i64 = 10_000;
/// Page cache of a writing connection, in KiB: a commit touches `objects`, its indexes and
/// the staged rows, far more than SQLite's default 2 MiB (and on Spin every request's
/// connection starts cold). Writers take turns, so one such cache is in use at a time.
const WRITE_CACHE_KIB: i64 = 64 * 1024;

/// Runs `work` inside `BEGIN IMMEDIATE … COMMIT`, rolling back on any error so a failed
/// request never leaves a partial write. Spin opens each connection with SQLite's defaults,
/// which fail a second writer at once; the busy timeout makes it wait its turn instead. A
/// backend without these pragmas (remote libSQL) ignores or refuses them: both are fine.
pub fn transaction<T, E: From<StoreError>>(
    store: &dyn Store,
    work: impl FnOnce(&dyn Store) -> Result<T, E>,
) -> Result<T, E> {
    let _ = store.execute(&format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"), &[]);
    let _ = store.execute(&format!("PRAGMA cache_size = -{WRITE_CACHE_KIB}"), &[]);
    store.execute("BEGIN IMMEDIATE", &[])?;
    match work(store) {
        Ok(value) => {
            if let Err(e) = store.execute("COMMIT", &[]) {
                let _ = store.execute("ROLLBACK", &[]);
                return Err(e.into());
            }
            Ok(value)
        }
        Err(e) => {
            let _ = store.execute("ROLLBACK", &[]);
            Err(e)
        }
    }
}
