//! What finished snapshot sessions leave behind, removed a bounded batch per ingest request so
//! no transaction grows with a snapshot's size (DESIGN §9.1): the rows a committed session
//! replaced or deleted, and everything an aborted, expired or superseded one wrote. An ended
//! session keeps its row in `snapshot_sessions` until its leftovers are gone, so its
//! generation stays pending and what it wrote stays hidden ([`crate::live_rows`]).

use super::count;
use crate::error::ApiResult;
use crate::store::{SqlValue, Store};

/// Rows removed (or unmarked) per table per request at most.
const BATCH: i64 = 2_000;

/// Where a session row stands (`snapshot_sessions.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Open,
    /// Aborted by its writer, or expired.
    Ended,
    /// A newer session of the same cluster, types and namespaces claim began.
    Superseded,
}

impl SessionState {
    pub fn code(self) -> i64 {
        match self {
            SessionState::Open => 0,
            SessionState::Ended => 1,
            SessionState::Superseded => 2,
        }
    }
}

/// Ends the open sessions matching `condition` (internal SQL over `snapshot_sessions`, bound
/// by `params`): nothing they wrote ever becomes visible, and it is queued for removal.
pub fn end_sessions(
    tx: &dyn Store,
    condition: &str,
    params: &[SqlValue],
    state: SessionState,
) -> ApiResult<()> {
    let open = SessionState::Open.code();
    tx.execute(
        &format!(
            "INSERT OR IGNORE INTO snapshot_garbage (gen, cluster, aborted) \
             SELECT gen, cluster, 1 FROM snapshot_sessions WHERE state = {open} AND {condition}"
        ),
        params,
    )?;
    let mut with_state: Vec<SqlValue> = vec![state.code().into()];
    with_state.extend_from_slice(params);
    tx.execute(
        &format!("UPDATE snapshot_sessions SET state = ? WHERE state = {open} AND {condition}"),
        &with_state,
    )?;
    Ok(())
}

/// Ends the sessions past their time, and forgets ended ones with nothing left. An ended
/// session's row outlives its leftovers until its expiry, so its writer keeps hearing why it
/// ended (409 superseded) rather than 404.
pub fn expire(tx: &dyn Store, now: i64) -> ApiResult<()> {
    end_sessions(tx, "expires_at < ?", &[now.into()], SessionState::Ended)?;
    tx.execute(
        "DELETE FROM snapshot_sessions WHERE state <> ? AND expires_at < ? \
         AND gen NOT IN (SELECT gen FROM snapshot_garbage)",
        &[SessionState::Open.code().into(), now.into()],
    )?;
    Ok(())
}

/// [`expire`], then [`remove_a_batch`].
pub fn collect(tx: &dyn Store, now: i64) -> ApiResult<()> {
    expire(tx, now)?;
    remove_a_batch(tx)
}

/// Removes one batch of the oldest leftovers. For a transaction that ran [`expire`] already.
pub fn remove_a_batch(tx: &dyn Store) -> ApiResult<()> {
    let Some(row) = tx
        .query(
            "SELECT gen, cluster, aborted FROM snapshot_garbage ORDER BY gen LIMIT 1",
            &[],
        )?
        .into_iter()
        .next()
    else {
        return Ok(());
    };
    let mut cells = row.into_iter();
    let gen = cells.next().and_then(|v| v.as_i64()).unwrap_or(0);
    let cluster = cells.next().unwrap_or(SqlValue::Null);
    let aborted = cells.next().and_then(|v| v.as_i64()) == Some(1);
    let batch: SqlValue = BATCH.into();
    let first_written = "SELECT session, api_group, resource, namespace, name FROM snapshot_written \
                         WHERE session = ? ORDER BY session, api_group, resource, namespace, name LIMIT ?";
    if aborted {
        // What it wrote is found by the names it wrote under; its marks are undone.
        tx.execute(
            &format!(
                "DELETE FROM objects WHERE (api_group, resource, cluster, namespace, name, gen) IN \
                 (SELECT api_group, resource, ?, namespace, name, session FROM ({first_written}))"
            ),
            &[cluster, gen.into(), batch.clone()],
        )?;
        tx.execute(
            "UPDATE objects SET dead_gen = NULL WHERE rowid IN \
             (SELECT rowid FROM objects WHERE dead_gen = ? LIMIT ?)",
            &[gen.into(), batch.clone()],
        )?;
    } else {
        tx.execute(
            "DELETE FROM objects WHERE rowid IN (SELECT rowid FROM objects WHERE dead_gen = ? LIMIT ?)",
            &[gen.into(), batch.clone()],
        )?;
    }
    tx.execute(
        &format!(
            "DELETE FROM snapshot_written WHERE (session, api_group, resource, namespace, name) IN \
             ({first_written})"
        ),
        &[gen.into(), batch.clone()],
    )?;
    tx.execute(
        "DELETE FROM snapshot_seen WHERE (session, api_group, resource, namespace, name) IN \
         (SELECT session, api_group, resource, namespace, name FROM snapshot_seen WHERE session = ? LIMIT ?)",
        &[gen.into(), batch],
    )?;
    let left = count(
        tx,
        "SELECT EXISTS (SELECT 1 FROM objects WHERE dead_gen = ?1) \
         OR EXISTS (SELECT 1 FROM snapshot_written WHERE session = ?1) \
         OR EXISTS (SELECT 1 FROM snapshot_seen WHERE session = ?1)",
        &[gen.into()],
    )?;
    if left == 0 {
        tx.execute("DELETE FROM snapshot_garbage WHERE gen = ?", &[gen.into()])?;
    }
    Ok(())
}
