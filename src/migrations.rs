//! Versioned schema migrations, applied by the component itself on first use of a database.
//! Requests do not probe the schema: a statement that fails for a missing table or column
//! makes the engine migrate and run the request again (`engine::handle_with`). So every
//! migration must add a table or column that the new code uses, and nothing else can tell a
//! database that lacks it. The DDL runs once, inside a transaction, and re-checks the version
//! so concurrent instances cannot apply a migration twice.

use crate::store::{transaction, SqlValue, Store, StoreError};

/// (version, SQL) in order. The SQL files are the same ones `spin up --sqlite @file` accepts.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_write_scopes.sql")),
    (3, include_str!("../migrations/0003_cluster_heartbeat.sql")),
    (4, include_str!("../migrations/0004_change_feed.sql")),
];

pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Brings the schema up to date; a no-op (one query) when it already is.
pub fn ensure_schema(store: &dyn Store) -> Result<(), StoreError> {
    if current_version(store).unwrap_or(0) >= latest_version() {
        return Ok(());
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

    #[test]
    fn splits_statements_and_drops_comments() {
        let parts =
            statements("-- a; comment\nCREATE TABLE a (x); -- trailing\n\nCREATE TABLE b (y);\n");
        assert_eq!(parts, vec!["CREATE TABLE a (x)", "CREATE TABLE b (y)"]);
    }
}
