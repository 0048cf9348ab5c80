//! [`Store`] over rusqlite, for native tests and benchmarks: the same SQLite engine Spin uses.

use super::{Row, SqlValue, Store, StoreError};
use rusqlite::types::{Value, ValueRef};

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
        let bound = params.iter().map(|p| match p {
            SqlValue::Null => Value::Null,
            SqlValue::Integer(i) => Value::Integer(*i),
            SqlValue::Real(f) => Value::Real(*f),
            SqlValue::Text(s) => Value::Text(s.clone()),
            SqlValue::Blob(b) => Value::Blob(b.clone()),
        });
        let mut rows = stmt
            .query(rusqlite::params_from_iter(bound))
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
