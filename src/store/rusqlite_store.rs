//! [`Store`] over rusqlite, for native tests and benchmarks: the same SQLite engine Spin uses.

use super::{Row, SqlValue, Store, StoreError};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::ToSql;

pub struct RusqliteStore {
    conn: rusqlite::Connection,
}

impl RusqliteStore {
    pub fn open(path: &std::path::Path) -> Result<Self, StoreError> {
        let conn = rusqlite::Connection::open(path).map_err(to_store_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(to_store_error)?;
        Ok(Self { conn })
    }

    pub fn open_in_memory() -> Result<Self, StoreError> {
        rusqlite::Connection::open_in_memory()
            .map(|conn| Self { conn })
            .map_err(to_store_error)
    }
}

fn to_store_error(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

impl Store for RusqliteStore {
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(to_store_error)?;
        let width = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params))
            .map_err(to_store_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(to_store_error)? {
            let mut cells = Vec::with_capacity(width);
            for i in 0..width {
                cells.push(match row.get_ref(i).map_err(to_store_error)? {
                    ValueRef::Null => SqlValue::Null,
                    ValueRef::Integer(i) => SqlValue::Integer(i),
                    ValueRef::Real(f) => SqlValue::Real(f),
                    ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
                });
            }
            out.push(cells);
        }
        Ok(out)
    }
}

/// Bound by reference: SQLite copies what it keeps, so the native floor copies no text twice.
impl ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            SqlValue::Null => ValueRef::Null,
            SqlValue::Integer(i) => ValueRef::Integer(*i),
            SqlValue::Real(f) => ValueRef::Real(*f),
            SqlValue::Text(s) => ValueRef::Text(s.as_bytes()),
            SqlValue::Blob(b) => ValueRef::Blob(b),
        }))
    }
}
