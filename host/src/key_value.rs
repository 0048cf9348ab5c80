//! Spin's key-value store (`fermyon:spin/key-value@2.0.0`) as `spin up` keeps it: every store
//! label in one SQLite file, table `spin_key_value (store, key, value)`. Labels the component
//! does not list in `key_value_stores` are refused with `access-denied`.

use crate::spin_imports::{blocking, key_value};
use crate::sqlite::{ConnectionMode, ConnectionPool};
use crate::state::HostState;
use std::path::Path;
use wasmtime::component::Resource;

/// An open key-value `store` resource.
pub struct KvHandle {
    label: String,
}

/// Opens the key-value file and creates Spin's table in it. Key-value connections stay
/// pooled: Spin keeps one per store, not one per request.
pub fn open(path: &Path) -> anyhow::Result<ConnectionPool> {
    let pool = ConnectionPool::new(path, ConnectionMode::Pooled)?;
    let conn = pool.take()?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS spin_key_value (store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key))",
    )?;
    pool.give_back(conn);
    Ok(pool)
}

impl HostState {
    /// Runs one statement for the store behind `handle`, on the blocking pool.
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

impl key_value::Host for HostState {}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spin_imports::SpinResources;
    use key_value::HostStore as _;
    use std::sync::Arc;

    #[tokio::test]
    async fn stores_are_checked_and_values_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let app = crate::manifest::App {
            source: "x.wasm".into(),
            sqlite_databases: vec![],
            key_value_stores: vec!["default".into()],
            allowed_outbound_hosts: vec![],
            variables: Default::default(),
            component_variables: Default::default(),
        };
        let spin =
            SpinResources::open(&app, dir.path(), Default::default(), ConnectionMode::Pooled)
                .unwrap();
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
        assert!(s.exists(h(), "a".into()).await.unwrap());
        assert_eq!(s.get_keys(h()).await.unwrap(), ["a", "k"]);
        s.delete(h(), "k".into()).await.unwrap();
        assert!(!s.exists(h(), "k".into()).await.unwrap());
        assert!(dir.path().join("sqlite_key_value.db").exists());
    }
}
