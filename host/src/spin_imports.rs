//! The Spin interfaces the component may import, bound from Spin's own WIT (copied from
//! spin-sdk 5.2), and what they share across requests. The host sides live in `sqlite`,
//! `key_value` and `variables`.

pub use crate::key_value::KvHandle;
use crate::sqlite::{ConnectionMode, ConnectionPool};
pub use crate::sqlite::{SqliteHandle, SqliteHandleV3};
use crate::state::HostState;
use crate::variables::Resolved;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

wasmtime::component::bindgen!({
    path: "wit",
    world: "edgepedia:host/spin-imports",
    imports: { default: async },
    with: {
        "fermyon:spin/sqlite.connection": SqliteHandle,
        "spin:sqlite/sqlite.connection": SqliteHandleV3,
        "fermyon:spin/key-value.store": KvHandle,
    },
});

pub use fermyon::spin::{key_value, sqlite as sqlite_v2, variables};
pub use spin::sqlite::sqlite as sqlite_v3;

pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    sqlite_v2::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    sqlite_v3::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    key_value::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    variables::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    Ok(())
}

/// What the runtime shares across requests: a connection pool per SQLite database label, the
/// key-value file, and the resolved variables.
pub struct SpinResources {
    pub sqlite: BTreeMap<String, Arc<ConnectionPool>>,
    pub key_value: Option<Arc<ConnectionPool>>,
    pub key_value_labels: Vec<String>,
    pub variables: Resolved,
}

impl SpinResources {
    /// Opens (creating when missing) the files `spin up` would use in `state_dir`.
    pub fn open(
        app: &crate::manifest::App,
        state_dir: &Path,
        variables: Resolved,
        sqlite_mode: ConnectionMode,
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
                Arc::new(ConnectionPool::new(&state_dir.join(file), sqlite_mode)?),
            );
        }
        let key_value = if app.key_value_stores.is_empty() {
            None
        } else {
            Some(Arc::new(crate::key_value::open(
                &state_dir.join("sqlite_key_value.db"),
            )?))
        };
        Ok(Self {
            sqlite,
            key_value,
            key_value_labels: app.key_value_stores.clone(),
            variables,
        })
    }
}

/// Runs SQLite work on the blocking pool, never on the async executor.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(work).await.ok()
}
