//! The Spin interfaces the component may import, bound from Spin's own WIT (copied from
//! spin-sdk 5.2), and what they share across requests. The host sides live in `sqlite`,
//! `key_value` and `variables`.

pub use crate::key_value::KvHandle;
use crate::key_value::KvStore;
use crate::sqlite::{ConnectionMode, ConnectionPool};
pub use crate::sqlite::{SqliteHandle, SqliteHandleV3};
use crate::state::HostState;
use crate::variables::Resolved;
use anyhow::Context;
use std::collections::BTreeMap;
#[cfg(test)]
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

/// What the runtime shares across requests: a connection pool per SQLite database label, a
/// backend per key-value store label, and the resolved variables.
pub struct SpinResources {
    pub sqlite: BTreeMap<String, Arc<ConnectionPool>>,
    pub key_value: BTreeMap<String, Arc<KvStore>>,
    pub variables: Resolved,
}

impl SpinResources {
    /// Opens (creating when missing) the files `spin up` would use in `state_dir`.
    #[cfg(test)]
    pub fn open(
        app: &crate::manifest::App,
        state_dir: &Path,
        variables: Resolved,
        sqlite_mode: ConnectionMode,
    ) -> anyhow::Result<Self> {
        let stores = crate::runtime_config::Stores::spin_defaults(app, state_dir);
        Self::open_stores(&stores, variables, sqlite_mode)
    }

    /// Opens every store where `stores` puts it, creating missing files and their directories
    /// as Spin does, so a bad path fails at start-up rather than per request.
    pub fn open_stores(
        stores: &crate::runtime_config::Stores,
        variables: Resolved,
        sqlite_mode: ConnectionMode,
    ) -> anyhow::Result<Self> {
        let mut sqlite = BTreeMap::new();
        for (label, path) in &stores.sqlite {
            let open = || {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                ConnectionPool::new(path, sqlite_mode)
            };
            let pool = open()
                .with_context(|| format!("sqlite_database.{label}: opening {}", path.display()))?;
            sqlite.insert(label.clone(), Arc::new(pool));
        }
        Ok(Self {
            sqlite,
            key_value: crate::key_value::open_stores(&stores.key_value)?,
            variables,
        })
    }
}

/// Runs SQLite work on the blocking pool, never on the async executor.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(work).await.ok()
}
