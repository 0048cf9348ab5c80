//! Which rows of `objects` exist for readers (DESIGN §9.1). A snapshot session writes the
//! objects it changes straight into `objects` under its generation, and marks each row they
//! replace (or that its commit deletes) with `dead_gen`. Every generation still in
//! `snapshot_sessions` — open, or aborted and not yet cleaned up — is pending: its rows are
//! hidden and its marks have no effect yet. So a commit, which deletes its session's row,
//! swaps all of it in at once, and readers never see half a snapshot or an object twice.
//!
//! Every statement that reads `objects` ANDs [`live`] (or [`live_as`] for an alias), so the
//! rule lives here and nowhere else.

/// The rule for rows named without a qualifier (`FROM objects`).
pub fn live() -> String {
    rule("")
}

/// The rule for rows of `objects` under the alias `alias` (`JOIN objects o`).
pub fn live_as(alias: &str) -> String {
    rule(&format!("{alias}."))
}

/// The rule itself, its columns prefixed with `qualifier` (empty, or `alias.`).
fn rule(qualifier: &str) -> String {
    format!(
        "{qualifier}gen NOT IN (SELECT gen FROM snapshot_sessions) \
         AND ({qualifier}dead_gen IS NULL OR {qualifier}dead_gen IN (SELECT gen FROM snapshot_sessions))"
    )
}

/// `SELECT` of how many live rows `rows` (`FROM objects WHERE …`, its parameters numbered so
/// they can be read twice) holds, computed so an index that has `gen` answers it without
/// reading rows: all rows not pending, minus the few (not yet collected) marked dead.
pub fn count_live(rows: &str) -> String {
    format!(
        "SELECT (SELECT count(*) {rows} AND gen NOT IN (SELECT gen FROM snapshot_sessions)) \
         - (SELECT count(*) {rows} AND gen NOT IN (SELECT gen FROM snapshot_sessions) \
            AND dead_gen IS NOT NULL AND dead_gen NOT IN (SELECT gen FROM snapshot_sessions))"
    )
}
