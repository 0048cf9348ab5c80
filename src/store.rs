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

    /// [`Store::execute`], handing the parameters over: a backend that must pass the platform
    /// values of its own moves the text in instead of copying it (a chunk's objects, megabytes
    /// a statement).
    fn execute_owned(&self, sql: &str, params: Vec<SqlValue>) -> Result<(), StoreError> {
        self.execute(sql, &params)
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

/// WAL pages after which a writer's commit checkpoints them (SQLite's default: 1,000). On
/// Spin every request's connection is new, and the last one to close checkpoints what is left
/// while the next request's connection waits to open; a writer that checkpoints as it goes
/// (after its commit, without holding the write lock) leaves that close little to do.
const CHECKPOINT_PAGES: i64 = 100;

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
    let _ = store.execute(
        &format!("PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}"),
        &[],
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rusqlite_store::RusqliteStore;

    /// A writer's commit past [`CHECKPOINT_PAGES`] copies its pages into the database file
    /// itself, while another connection keeps the file open (so no close would): the file
    /// grows by what was written. At SQLite's default (1,000 pages) it would all stay in the WAL.
    #[test]
    fn a_write_past_the_checkpoint_threshold_is_checkpointed_by_its_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let writer = RusqliteStore::open(&path).unwrap();
        crate::migrations::ensure_schema(&writer).unwrap();
        let _other = RusqliteStore::open(&path).unwrap();
        let file_len = || std::fs::metadata(&path).unwrap().len();
        let before = file_len();
        let rows = 2 * CHECKPOINT_PAGES;
        let bytes = crate::migrations::PAGE_SIZE_BYTES / 2;
        transaction(&writer, |tx| {
            tx.execute("CREATE TABLE filler (b BLOB)", &[])?;
            tx.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
                 INSERT INTO filler SELECT randomblob(?) FROM n",
                &[rows.into(), bytes.into()],
            )
        })
        .unwrap();
        let grown = file_len() - before;
        assert!(
            grown >= (rows * bytes) as u64,
            "the file grew {grown} bytes for {} written",
            rows * bytes
        );
    }
}
