//! Versioned schema migrations, applied by the component itself on first use of a database.
//! Reads do not probe the schema: a statement that fails for a missing table or column makes
//! the engine migrate and run the request again (`engine::handle_with`). Writes (ingest, where
//! one more statement is noise) probe it first, so a migration that changes only storage (no
//! new table or column, like 0005) is applied by the next write, heartbeats included; reads
//! work on the schema before and after it. The DDL runs once, inside a transaction, and
//! re-checks the version so concurrent instances cannot apply a migration twice.

use crate::store::{transaction, SqlValue, Store, StoreError};

/// (version, SQL) in order. The SQL files are the same ones `spin up --sqlite @file` accepts.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_write_scopes.sql")),
    (3, include_str!("../migrations/0003_cluster_heartbeat.sql")),
    (4, include_str!("../migrations/0004_change_feed.sql")),
    (5, include_str!("../migrations/0005_rowid_tables.sql")),
    (
        6,
        include_str!("../migrations/0006_write_once_snapshots.sql"),
    ),
    (7, include_str!("../migrations/0007_indexes_plans_use.sql")),
    (
        8,
        include_str!("../migrations/0008_cluster_led_indexes.sql"),
    ),
];

/// Page size of a database the component creates. Objects of 2–6 KB sat one to a 4 KiB page
/// (SQLite's default), so every object cost at least a page and a WAL frame of its own; four
/// to a 16 KiB page, a first sync writes a quarter of the frames (and of the system calls
/// that write them) and the file is a quarter smaller (docs/DECISIONS.md, "16 KiB pages,
/// 512-row statements").
pub const PAGE_SIZE_BYTES: i64 = 16 * 1024;

pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Brings the schema up to date; a no-op (one query) when it already is. Only a missing
/// `schema_migrations` means version 0: a probe the database found busy fails the request
/// (503, the client retries) instead of queueing for the write lock to migrate nothing.
pub fn ensure_schema(store: &dyn Store) -> Result<(), StoreError> {
    let current = match current_version(store) {
        Ok(version) => version,
        Err(e) if e.is_schema_miss() => 0,
        Err(e) => return Err(e),
    };
    if current >= latest_version() {
        return Ok(());
    }
    // A new file gets its page size before anything is written to it (switching to WAL
    // writes the header); an existing one keeps its own, which SQLite cannot change in WAL.
    if current == 0 {
        let _ = store.execute(&format!("PRAGMA page_size = {PAGE_SIZE_BYTES}"), &[]);
    }
    // WAL (kept in the file) lets readers run beside the one writer. Spin opens connections
    // with SQLite's defaults, so the component sets it, once; backends without the pragma
    // (remote libSQL) refuse or ignore it.
    let _ = store.query("PRAGMA journal_mode = WAL", &[]);
    store.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        &[],
    )?;
    transaction(store, |tx| {
        let current = current_version(tx)?;
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            for statement in statements(sql) {
                tx.execute(&statement, &[])?;
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                &[
                    SqlValue::Integer(*version),
                    SqlValue::Integer(crate::clock::now_unix()),
                ],
            )?;
        }
        Ok(())
    })
}

fn current_version(store: &dyn Store) -> Result<i64, StoreError> {
    let rows = store.query("SELECT max(version) FROM schema_migrations", &[])?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(SqlValue::as_i64)
        .unwrap_or(0))
}

/// Splits a migration file into statements. Our files keep `;` only at statement ends and
/// use `--` line comments, which Spin's one-statement-per-call API cannot take.
fn statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .map(|line| line.split_once("--").map_or(line, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rusqlite_store::RusqliteStore;

    #[test]
    fn migrates_once_and_is_idempotent() {
        let store = RusqliteStore::open_in_memory().unwrap();
        ensure_schema(&store).unwrap();
        ensure_schema(&store).unwrap();
        assert_eq!(current_version(&store).unwrap(), latest_version());
        let applied = store
            .query("SELECT count(*) FROM schema_migrations", &[])
            .unwrap();
        assert_eq!(applied[0][0], SqlValue::Integer(MIGRATIONS.len() as i64));
        // The tables exist and are usable.
        store.query("SELECT count(*) FROM objects", &[]).unwrap();
    }

    /// The component creates a file with its page size; a file that already holds tables
    /// (as `spin up --sqlite @file` leaves it) keeps SQLite's default and migrates as before.
    #[test]
    fn a_new_file_gets_the_page_size_and_an_existing_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let page_size =
            |store: &RusqliteStore| store.query("PRAGMA page_size", &[]).unwrap()[0][0].as_i64();
        let fresh = RusqliteStore::open(&dir.path().join("new.db")).unwrap();
        ensure_schema(&fresh).unwrap();
        assert_eq!(page_size(&fresh), Some(PAGE_SIZE_BYTES));
        let older = RusqliteStore::open(&dir.path().join("old.db")).unwrap();
        older.execute("CREATE TABLE kept (x)", &[]).unwrap();
        let default = page_size(&older);
        assert_ne!(default, Some(PAGE_SIZE_BYTES));
        ensure_schema(&older).unwrap();
        assert_eq!(page_size(&older), default);
        assert_eq!(current_version(&older).unwrap(), latest_version());
    }

    /// A database at version 4 (objects WITHOUT ROWID) keeps every object and its keys when a
    /// write brings it to the latest version, and its objects' cluster gets the `clusters` row
    /// that lists across clusters seek by (0008).
    #[test]
    fn an_older_database_keeps_its_objects_across_the_rowid_rebuild() {
        let store = RusqliteStore::open_in_memory().unwrap();
        store
            .execute(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
                &[],
            )
            .unwrap();
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= 4) {
            for statement in statements(sql) {
                store.execute(&statement, &[]).unwrap();
            }
            store
                .execute(
                    "INSERT INTO schema_migrations VALUES (?, 0)",
                    &[SqlValue::Integer(*version)],
                )
                .unwrap();
        }
        let insert = "INSERT INTO objects (api_group, version, resource, kind, cluster, namespace, name, uid, synced_at, object) \
                      VALUES ('', 'v1', 'pods', 'Pod', 'c', 'ns', ?, ?, 1, '{}')";
        for name in ["a", "b"] {
            store
                .execute(insert, &[name.into(), format!("uid-{name}").into()])
                .unwrap();
        }
        ensure_schema(&store).unwrap();
        assert_eq!(current_version(&store).unwrap(), latest_version());
        let rows = store
            .query("SELECT name, uid FROM objects ORDER BY name", &[])
            .unwrap();
        assert_eq!(
            rows,
            vec![
                vec![SqlValue::from("a"), SqlValue::from("uid-a")],
                vec![SqlValue::from("b"), SqlValue::from("uid-b")]
            ]
        );
        let sql = store
            .query("SELECT sql FROM sqlite_master WHERE name = 'objects'", &[])
            .unwrap();
        assert!(!sql[0][0].as_str().unwrap().contains("WITHOUT ROWID"));
        // The key is still unique.
        assert!(store
            .execute(insert, &["a".into(), "uid-x".into()])
            .is_err());
        assert_eq!(
            store.query("SELECT name FROM clusters", &[]).unwrap(),
            vec![vec![SqlValue::from("c")]]
        );
    }

    /// Answers "database is locked" to the version probe, and records what else it is asked.
    struct BusyProbe {
        inner: RusqliteStore,
        asked: std::cell::RefCell<Vec<String>>,
    }

    impl Store for BusyProbe {
        fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, StoreError> {
            self.asked.borrow_mut().push(sql.to_owned());
            if sql.contains("max(version)") {
                return Err(StoreError("database is locked".into()));
            }
            self.inner.query(sql, params)
        }
    }

    #[test]
    fn a_busy_probe_fails_transiently_and_migrates_nothing() {
        let store = BusyProbe {
            inner: RusqliteStore::open_in_memory().unwrap(),
            asked: Default::default(),
        };
        ensure_schema(&store.inner).unwrap();
        let e = ensure_schema(&store).unwrap_err();
        assert!(e.is_transient(), "{e:?}");
        assert_eq!(
            *store.asked.borrow(),
            ["SELECT max(version) FROM schema_migrations"]
        );
    }

    #[test]
    fn splits_statements_and_drops_comments() {
        let parts =
            statements("-- a; comment\nCREATE TABLE a (x); -- trailing\n\nCREATE TABLE b (y);\n");
        assert_eq!(parts, vec!["CREATE TABLE a (x)", "CREATE TABLE b (y)"]);
    }
}
