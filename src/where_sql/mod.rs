//! Clusterpedia's `whereSQL`, made safe: the text is read by a small hand-written lexer and
//! recursive-descent parser that know only the allowlist of DESIGN §3, straight into our own
//! AST ([`Cond`]), and rendered back with every literal bound as a parameter. The result is
//! ANDed with the caller's authorization predicate by the planner. Only allowlisted column
//! names and fixed operator text come from code; nothing from the input is spliced into SQL.
//!
//! Allowed: the columns cluster, namespace, name, group, version, resource, kind, uid,
//! owner_uid, created_at, resource_version; `json_extract(object, '$.path')`; `=`, `==`, `!=`,
//! `<>`, `<`, `<=`, `>`, `>=`, `[NOT] IN (values…)`, `[NOT] LIKE` (with `ESCAPE`),
//! `[NOT] BETWEEN`, `IS [NOT] NULL` (also SQLite's `NOTNULL` and `NOT NULL`), `AND`, `OR`,
//! `NOT`, parentheses; string, number, NULL and boolean literals. SQL precedence: a comparison
//! binds tighter than `NOT`, `NOT` than `AND`, `AND` than `OR`. Everything else is a 400 naming
//! what was refused.
//!
//! Decisions:
//! - `group` works bare (`group = 'apps'`), quoted (`"group"`, `` `group` ``, `[group]`) or as
//!   `objects.group`; it is the stored column `api_group`. `objects.` is the only qualifier.
//!   Column names are ASCII-case-insensitive; `object` is only usable inside `json_extract`.
//! - No arithmetic, concatenation, bitwise or JSON (`->`, `->>`) operators; only a `-` directly
//!   on a number literal. TRUE/FALSE bind as 1/0; numbers are integers when they fit `i64`,
//!   else finite reals; `1e999`, `1_000`, `1L`, blobs (`X'41'`, `0x41`) and placeholders
//!   (`?`, `:name`) are refused.
//! - `ESCAPE` takes one character in single quotes (SQLite fails the query otherwise).
//! - JSON paths: `$` alone (the whole object, which the caller may read anyway), then `.key`
//!   (`[A-Za-z0-9_-]+`), `."quoted key"` (adds `.` and `/`, for label and annotation keys) and
//!   `[N]` segments. The path is bound as a parameter too.
//! - Comments and `;` are found in the token stream (so `'--'` inside a string is fine) and
//!   refused before parsing; anything after the one expression is refused.
//! - Lexing follows SQLite's rules as the general SQL parser used before this one applied them
//!   (docs/DECISIONS.md), so the same texts are accepted: from U+0080 on every character is an
//!   identifier character (look-alike `;` or invisible characters make an unknown name), and a
//!   number ends where its digits do (`1AND` is `1 AND`).
//! - Limits: 4096 bytes, nesting 24 (parentheses, NOTs and IN lists, counted by the parser, so
//!   it never recurses deeper), 1000 items per IN list. A chain of one operator
//!   (`a OR b OR …`) is one flat node, so long chains are not held to the nesting limit; it is
//!   rendered as balanced groups, so SQLite's expression depth limit (1000) is never reached
//!   either.

mod lexer;
mod parser;

use crate::error::{ApiError, ApiResult};
use crate::store::SqlValue;
use lexer::Token;

pub const MAX_LEN: usize = 4096;
const MAX_DEPTH: usize = 24;
const MAX_IN_ITEMS: usize = 1000;

/// (name in whereSQL, stored column).
const COLUMNS: &[(&str, &str)] = &[
    ("cluster", "cluster"),
    ("namespace", "namespace"),
    ("name", "name"),
    ("group", "api_group"),
    ("version", "version"),
    ("resource", "resource"),
    ("kind", "kind"),
    ("uid", "uid"),
    ("owner_uid", "owner_uid"),
    ("created_at", "created_at"),
    ("resource_version", "resource_version"),
];

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Column(&'static str),
    /// `json_extract(object, path)`.
    Json(String),
    Literal(SqlValue),
}

#[derive(Debug, Clone, PartialEq)]
enum Cond {
    /// Two or more conditions; chains are kept flat (`a OR b OR c …` is one node), so a long
    /// chain does not count against the nesting limit.
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Compare(Operand, &'static str, Operand),
    In {
        expr: Operand,
        list: Vec<Operand>,
        negated: bool,
    },
    Like {
        expr: Operand,
        pattern: Operand,
        escape: Option<Operand>,
        negated: bool,
    },
    Between {
        expr: Operand,
        low: Operand,
        high: Operand,
        negated: bool,
    },
    IsNull {
        expr: Operand,
        negated: bool,
    },
}

/// A validated whereSQL expression.
#[derive(Debug, Clone, PartialEq)]
pub struct WhereSql(Cond);

fn refuse(message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("whereSQL: {message}"))
}

impl WhereSql {
    pub fn parse(input: &str) -> ApiResult<Self> {
        if input.len() > MAX_LEN {
            return Err(refuse(format!("longer than {MAX_LEN} bytes")));
        }
        let tokens = lexer::lex(input)?;
        for token in &tokens {
            match token {
                Token::Comment => return Err(refuse("comments are not allowed")),
                Token::Punct(";") => {
                    return Err(refuse("only one expression is allowed (found ';')"))
                }
                _ => {}
            }
        }
        parser::parse(&tokens).map(Self)
    }

    /// SQL over the `objects` columns, parenthesized, with `?` for every literal (pushed onto
    /// `params` in order).
    pub fn to_sql(&self, params: &mut Vec<SqlValue>) -> String {
        render(&self.0, params)
    }
}

fn column(name: &str) -> ApiResult<Operand> {
    if name.eq_ignore_ascii_case("object") {
        return Err(refuse(
            "the object column is only allowed as json_extract(object, '$.path')",
        ));
    }
    COLUMNS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, c)| Operand::Column(c))
        .ok_or_else(|| {
            let allowed: Vec<&str> = COLUMNS.iter().map(|(n, _)| *n).collect();
            refuse(format!(
                "unknown column {name:?}; allowed: {}",
                allowed.join(", ")
            ))
        })
}

/// `$`, then `.key`, `."quoted key"` or `[index]` segments.
fn is_json_path(path: &str) -> bool {
    let Some(mut rest) = path.strip_prefix('$') else {
        return false;
    };
    let key_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix(".\"") {
            let Some(end) = r.find('"') else { return false };
            let key = &r[..end];
            if key.is_empty() || !key.chars().all(|c| key_char(c) || c == '.' || c == '/') {
                return false;
            }
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(|c: char| !key_char(c)).unwrap_or(r.len());
            if end == 0 {
                return false;
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else { return false };
            if end == 0 || !r[..end].bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            rest = &r[end + 1..];
        } else {
            return false;
        }
    }
    true
}

fn render_operand(o: &Operand, params: &mut Vec<SqlValue>) -> String {
    match o {
        Operand::Column(c) => (*c).to_owned(),
        Operand::Json(path) => {
            params.push(SqlValue::Text(path.clone()));
            "json_extract(object, ?)".to_owned()
        }
        Operand::Literal(v) => {
            params.push(v.clone());
            "?".to_owned()
        }
    }
}

/// Longest chain written flat.
const FLAT_CHAIN: usize = 8;

/// A chain of one operator. SQLite parses `a OR b OR c …` left-deep, one tree level per
/// operand, and refuses trees deeper than 1000 ("Expression tree is too large"), counting the
/// planner's own clauses around ours: a longer chain is written as balanced halves instead
/// (the same condition: AND and OR are associative), so its depth grows as log₂ of its length.
fn join(parts: &[Cond], op: &str, params: &mut Vec<SqlValue>) -> String {
    if parts.len() > FLAT_CHAIN {
        let (left, right) = parts.split_at(parts.len() / 2);
        let left = join(left, op, params);
        let right = join(right, op, params);
        return format!("({left}{op}{right})");
    }
    let parts: Vec<String> = parts.iter().map(|p| render(p, params)).collect();
    format!("({})", parts.join(op))
}

fn render(c: &Cond, params: &mut Vec<SqlValue>) -> String {
    let not = |negated: bool| if negated { "NOT " } else { "" };
    match c {
        Cond::And(parts) => join(parts, " AND ", params),
        Cond::Or(parts) => join(parts, " OR ", params),
        Cond::Not(a) => format!("(NOT {})", render(a, params)),
        Cond::Compare(l, op, r) => format!(
            "({} {op} {})",
            render_operand(l, params),
            render_operand(r, params)
        ),
        Cond::In {
            expr,
            list,
            negated,
        } => {
            let e = render_operand(expr, params);
            let items: Vec<String> = list.iter().map(|i| render_operand(i, params)).collect();
            format!("({e} {}IN ({}))", not(*negated), items.join(", "))
        }
        Cond::Like {
            expr,
            pattern,
            escape,
            negated,
        } => {
            let e = render_operand(expr, params);
            let p = render_operand(pattern, params);
            match escape {
                Some(esc) => format!(
                    "({e} {}LIKE {p} ESCAPE {})",
                    not(*negated),
                    render_operand(esc, params)
                ),
                None => format!("({e} {}LIKE {p})", not(*negated)),
            }
        }
        Cond::Between {
            expr,
            low,
            high,
            negated,
        } => {
            let e = render_operand(expr, params);
            let lo = render_operand(low, params);
            let hi = render_operand(high, params);
            format!("({e} {}BETWEEN {lo} AND {hi})", not(*negated))
        }
        Cond::IsNull { expr, negated } => format!(
            "({} IS {}NULL)",
            render_operand(expr, params),
            not(*negated)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rusqlite_store::RusqliteStore;
    use crate::store::Store;

    fn store() -> RusqliteStore {
        let store = RusqliteStore::open_in_memory().unwrap();
        crate::migrations::ensure_schema(&store).unwrap();
        for (cluster, ns, name, group, phase, created) in [
            (
                "global",
                "web",
                "a",
                "apps",
                "Running",
                "2024-01-01T00:00:00Z",
            ),
            (
                "c1",
                "kube-system",
                "b",
                "apps",
                "Pending",
                "2024-06-01T00:00:00Z",
            ),
            ("c1", "default", "c", "", "Running", "2025-01-01T00:00:00Z"),
            (
                "c2",
                "web",
                "d_x",
                "batch",
                "Failed",
                "2025-06-01T00:00:00Z",
            ),
        ] {
            let object = format!(
                r#"{{"metadata":{{"labels":{{"app.kubernetes.io/name":"{name}"}}}},"status":{{"phase":"{phase}"}},"spec":{{"replicas":{}}}}}"#,
                name.len()
            );
            store
                .execute(
                    "INSERT INTO objects (api_group, version, resource, kind, cluster, namespace, name, uid, synced_at, created_at, object)
                     VALUES (?, 'v1', 'things', 'Thing', ?, ?, ?, ?, 0, ?, ?)",
                    &[group.into(), cluster.into(), ns.into(), name.into(), format!("uid-{name}").into(), created.into(), object.into()],
                )
                .unwrap();
        }
        store
    }

    fn names(store: &RusqliteStore, input: &str) -> Vec<String> {
        let w = WhereSql::parse(input).unwrap_or_else(|e| panic!("{input}: {}", e.message));
        let mut params = Vec::new();
        let sql = format!(
            "SELECT name FROM objects WHERE {} ORDER BY name",
            w.to_sql(&mut params)
        );
        store
            .query(&sql, &params)
            .unwrap()
            .into_iter()
            .map(|r| r[0].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_seed_example_binds_three_parameters() {
        let w = WhereSql::parse("(cluster='global') OR (namespace IN ('kube-system','default'))")
            .unwrap();
        let mut params = Vec::new();
        assert_eq!(
            w.to_sql(&mut params),
            "((cluster = ?) OR (namespace IN (?, ?)))"
        );
        assert_eq!(
            params,
            vec![
                SqlValue::from("global"),
                SqlValue::from("kube-system"),
                SqlValue::from("default")
            ]
        );
        assert_eq!(
            names(
                &store(),
                "(cluster='global') OR (namespace IN ('kube-system','default'))"
            ),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn every_allowed_construct_selects_the_right_rows() {
        let s = store();
        for (input, want) in [
            ("cluster = 'c1'", vec!["b", "c"]),
            ("cluster == 'c1' AND NOT namespace = 'default'", vec!["b"]),
            ("cluster != 'c1'", vec!["a", "d_x"]),
            ("cluster <> 'c1' AND name >= 'b'", vec!["d_x"]),
            ("\"group\" = 'apps'", vec!["a", "b"]),
            ("objects.namespace NOT IN ('web')", vec!["b", "c"]),
            ("name LIKE 'd%'", vec!["d_x"]),
            ("name LIKE 'd!_%' ESCAPE '!'", vec!["d_x"]),
            ("name NOT LIKE '%x'", vec!["a", "b", "c"]),
            ("created_at BETWEEN '2024-03-01' AND '2025-03-01'", vec!["b", "c"]),
            ("created_at NOT BETWEEN '2024-03-01' AND '2025-03-01'", vec!["a", "d_x"]),
            ("owner_uid IS NULL AND uid IS NOT NULL", vec!["a", "b", "c", "d_x"]),
            ("json_extract(object, '$.status.phase') = 'Running'", vec!["a", "c"]),
            ("json_extract(object, '$.spec.replicas') > 1", vec!["d_x"]),
            ("json_extract(object, '$.metadata.labels.\"app.kubernetes.io/name\"') IN ('a', 'c')", vec!["a", "c"]),
            ("((cluster = 'c2') OR (cluster = 'global')) AND TRUE = 1", vec!["a", "d_x"]),
            ("json_extract(object, '$.spec.replicas') = -1 OR 1 = 1", vec!["a", "b", "c", "d_x"]),
            ("group = 'apps' AND `Cluster` = 'c1'", vec!["b"]),
            ("[group] = 'batch' OR objects.\"GROUP\" = ''", vec!["c", "d_x"]),
            ("JSON_EXTRACT(object, '$.spec.replicas') BETWEEN 1.5 AND 2.5", vec![]),
            ("json_extract(object, '$.spec.replicas') >= 1.0 AND kind = 'Thing'", vec!["a", "b", "c", "d_x"]),
            ("json_extract(object, '$') LIKE '%Pending%'", vec!["b"]),
            ("json_extract(object, '$.metadata.labels') IS NOT NULL AND json_extract(object, '$.nope[0]') IS NULL", vec!["a", "b", "c", "d_x"]),
            ("namespace IN ()", vec![]),
            ("NOT (cluster = 'c1' OR cluster = 'c2') AND resource_version IS NULL", vec!["a"]),
            ("'web' = namespace AND name < 'b'", vec!["a"]),
            ("name LIKE 'D%' AND name NOT IN ('a', 'b', 'c')", vec!["d_x"]),
            ("cluster = 'c1' AND (namespace = 'default' OR (namespace = 'kube-system' AND NOT name = 'x'))", vec!["b", "c"]),
            ("FALSE = 1 OR uid = 'uid-c'", vec!["c"]),
        ] {
            assert_eq!(names(&s, input), want, "{input}");
        }
        // A long chain of one operator is flat, not nested: it is not held to the depth limit.
        let chain: Vec<String> = (0..200).map(|i| format!("name = 'n{i}'")).collect();
        let chain = format!("{} OR name = 'c'", chain.join(" OR "));
        assert_eq!(names(&s, &chain), ["c"]);
    }

    /// Exact rendering: only our column names and fixed operator text, every literal a `?`.
    #[test]
    fn each_construct_renders_with_bound_parameters() {
        use SqlValue::{Integer, Null, Real, Text};
        let t = |s: &str| Text(s.to_owned());
        for (input, sql, want) in [
            ("cluster == 'a'", "(cluster = ?)", vec![t("a")]),
            ("name <> 'a'", "(name != ?)", vec![t("a")]),
            ("name != 'a'", "(name != ?)", vec![t("a")]),
            ("kind < 'a'", "(kind < ?)", vec![t("a")]),
            ("kind <= 'a'", "(kind <= ?)", vec![t("a")]),
            ("kind > 'a'", "(kind > ?)", vec![t("a")]),
            ("kind >= 'a'", "(kind >= ?)", vec![t("a")]),
            ("group = 'apps'", "(api_group = ?)", vec![t("apps")]),
            ("\"group\" = 'apps'", "(api_group = ?)", vec![t("apps")]),
            ("objects.version = 'v1'", "(version = ?)", vec![t("v1")]),
            (
                "RESOURCE IN ('pods', 'nodes')",
                "(resource IN (?, ?))",
                vec![t("pods"), t("nodes")],
            ),
            (
                "uid NOT IN (1, -2, 2.5)",
                "(uid NOT IN (?, ?, ?))",
                vec![Integer(1), Integer(-2), Real(2.5)],
            ),
            ("name LIKE 'a%'", "(name LIKE ?)", vec![t("a%")]),
            (
                "name NOT LIKE 'a!%' ESCAPE '!'",
                "(name NOT LIKE ? ESCAPE ?)",
                vec![t("a!%"), t("!")],
            ),
            (
                "created_at BETWEEN '1' AND '2'",
                "(created_at BETWEEN ? AND ?)",
                vec![t("1"), t("2")],
            ),
            (
                "created_at NOT BETWEEN '1' AND '2'",
                "(created_at NOT BETWEEN ? AND ?)",
                vec![t("1"), t("2")],
            ),
            ("owner_uid IS NULL", "(owner_uid IS NULL)", vec![]),
            ("owner_uid IS NOT NULL", "(owner_uid IS NOT NULL)", vec![]),
            (
                "resource_version = NULL",
                "(resource_version = ?)",
                vec![Null],
            ),
            ("TRUE = FALSE", "(? = ?)", vec![Integer(1), Integer(0)]),
            ("NOT name = 'a'", "(NOT (name = ?))", vec![t("a")]),
            ("name = 'it''s'", "(name = ?)", vec![t("it's")]),
            (
                "name = 'a;b -- c /* d */'",
                "(name = ?)",
                vec![t("a;b -- c /* d */")],
            ),
            (
                "name = 'a' AND kind = 'b' AND uid = 'c'",
                "((name = ?) AND (kind = ?) AND (uid = ?))",
                vec![t("a"), t("b"), t("c")],
            ),
            (
                "name = 'a' OR kind = 'b' AND uid = 'c'",
                "((name = ?) OR ((kind = ?) AND (uid = ?)))",
                vec![t("a"), t("b"), t("c")],
            ),
            ("((name = 'a'))", "(name = ?)", vec![t("a")]),
            (
                "json_extract(object, '$.metadata.labels.\"app.kubernetes.io/name\"') = 'x'",
                "(json_extract(object, ?) = ?)",
                vec![t("$.metadata.labels.\"app.kubernetes.io/name\""), t("x")],
            ),
            (
                "json_extract(object, '$.spec.containers[0].image') LIKE '%:latest'",
                "(json_extract(object, ?) LIKE ?)",
                vec![t("$.spec.containers[0].image"), t("%:latest")],
            ),
            (
                "json_extract(object, '$') IS NOT NULL",
                "(json_extract(object, ?) IS NOT NULL)",
                vec![t("$")],
            ),
        ] {
            let w = WhereSql::parse(input).unwrap_or_else(|e| panic!("{input}: {}", e.message));
            let mut params = Vec::new();
            assert_eq!(w.to_sql(&mut params), sql, "{input}");
            assert_eq!(params, want, "{input}");
            // Nothing from the input is spliced: no quotes, no digits, one `?` per parameter.
            assert!(
                !sql.contains(['\'', '"', ';', '-']) && !sql.contains(|c: char| c.is_ascii_digit())
            );
            assert_eq!(sql.matches('?').count(), params.len(), "{input}");
        }
    }

    #[test]
    fn injection_corpus_is_refused_and_changes_nothing() {
        let s = store();
        let count =
            |s: &RusqliteStore| s.query("SELECT count(*) FROM objects", &[]).unwrap()[0][0].clone();
        let before = count(&s);
        let long = format!("name = '{}'", "x".repeat(MAX_LEN));
        let deep = format!("{}cluster = 'a'{}", "(".repeat(200), ")".repeat(200));
        let many = format!("name IN ({})", vec!["'x'"; MAX_IN_ITEMS + 1].join(","));
        let corpus = [
            "cluster = 'a' UNION SELECT name FROM objects",
            "'; DROP TABLE objects; --",
            "1=1; DELETE FROM objects",
            "cluster = 'a'; DROP TABLE objects",
            "cluster = 'a' OR 1=1 --",
            "cluster = 'a' /* comment */",
            "/**/cluster = 'a'",
            "(SELECT count(*) FROM objects) > 0",
            "EXISTS (SELECT 1)",
            "name IN (SELECT name FROM clusters)",
            "name = (SELECT name FROM sqlite_master)",
            "sqlite_master.name = 'objects'",
            "name IN (SELECT sql FROM sqlite_schema)",
            "load_extension('evil')",
            "load_extension('evil') = 1",
            "sqlite_version() = '3'",
            "randomblob(10) = x",
            "char(65) = name",
            "hex(name) = '61'",
            "upper(name) = 'A'",
            "PRAGMA table_info(objects)",
            "ATTACH DATABASE '/tmp/x' AS x",
            "json_extract(secret_data, '$.x') = 1",
            "json_extract(object, '$.a'') OR 1=1 --') = 1",
            "json_extract(object, '$.a)') = 1",
            "json_extract(object, '$.a\"b') = 1",
            "json_extract(object, name) = 1",
            "json_extract(object, '$.a', '$.b') = 1",
            "json_extract(object) = 1",
            "json(object) = '{}'",
            "object = '{}'",
            "object LIKE '%password%'",
            "X'41' = name",
            "name = :param",
            "name = ?",
            "name = $1",
            "name = @x",
            "cluster COLLATE NOCASE = 'a'",
            "CASE WHEN 1 THEN 1 END = 1",
            "CAST(name AS INTEGER) = 1",
            "name || 'x' = 'ax'",
            "name + 1 = 2",
            "name GLOB '*'",
            "name REGEXP '.*'",
            "name MATCH 'x'",
            "main.objects.name = 'a'",
            "clusters.name = 'a'",
            "`objects`.`object` = 1",
            "[clusters].name = 'a'",
            "password = 'x'",
            "\"password\" = 'x'",
            "name = \"a\"",
            "cluster",
            "'a'",
            "1",
            "",
            "cluster = 'a' ORDER BY name",
            "cluster = 'a' LIMIT 1",
            "cluster = 'a') OR (1=1",
            "name = 'ａ' ; DROP TABLE objects",
            "name\u{0}= 'a'",
            // More unicode: look-alike semicolons and keywords, invisible and bidi characters,
            // a Cyrillic letter in a column name.
            "cluster = 'a'\u{ff1b} DROP TABLE objects",
            "cluster = 'a'\u{037e} DROP TABLE objects",
            "cluster = 'a' \u{ff2f}\u{ff32} 1=1",
            "\u{200b}cluster = 'a'",
            "cluster\u{202e} = 'a'",
            "\u{0441}luster = 'a'",
            "cluster = 'a' \u{2028}; DROP TABLE objects",
            // Other ways out of the allowlist.
            "cluster = 'a' UNION ALL SELECT 1",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "name IN (VALUES ('a'))",
            "rowid = 1",
            "_rowid_ = 1",
            "synced_at > 0",
            "api_group = 'apps'",
            "temp.objects.name = 'a'",
            "objects.object LIKE '%'",
            "json_extract(objects.object, '$.a') = 1",
            "json_extract(object, '$.a' || '') = 1",
            "json_extract(object, '$.a') FILTER (WHERE 1) = 1",
            "json_extract(DISTINCT object, '$.a') = 1",
            "json_extract(object, '$.a b') = 1",
            "json_extract(object, '$.a[-1]') = 1",
            "json_extract(object, '$..a') = 1",
            "json_extract(object, 'a') = 1",
            "json_extract(object, '') = 1",
            "object -> '$.a' = 1",
            "object ->> '$.a' = 1",
            "count(*) > 0",
            "max(name) = 'a'",
            "printf('%s', name) = 'a'",
            "zeroblob(1000000000) = 1",
            "likelihood(name = 'a', 0.5)",
            "name IS 'a'",
            "name IS NOT DISTINCT FROM 'a'",
            "1 = 1 = 1",
            "name LIKE 'a' ESCAPE name",
            "name LIKE 'a' ESCAPE 'ab'",
            "name LIKE 'a' ESCAPE ''",
            "name LIKE 'a' ESCAPE NULL",
            "name LIKE 'a' ESCAPE 1",
            "-1e999 = name",
            "name = 1e400",
            "name ILIKE 'a'",
            "name SIMILAR TO 'a'",
            "1e999 = 1",
            "0x41 = 65",
            "N'a' = name",
            "-name = 'a'",
            "~1 = 1",
            "1 << 2 = 4",
            "1 & 1 = 1",
            "name = 'a' AND TRUE",
            "(name, kind) = ('a', 'b')",
            "name IN (1, (SELECT 1))",
            "name = 'unterminated",
            "NOT",
            &long,
            &deep,
            &many,
        ];
        assert!(corpus.len() >= 100);
        for input in corpus {
            let err = WhereSql::parse(input).expect_err(input);
            assert_eq!(err.code, 400, "{input}");
            assert!(
                err.message.starts_with("whereSQL: "),
                "{input}: {}",
                err.message
            );
        }
        assert_eq!(count(&s), before);
        // Messages name what was refused.
        let message = |input: &str| WhereSql::parse(input).unwrap_err().message;
        assert!(message("upper(name) = 'A'").contains("function upper() is not allowed"));
        assert!(message("password = 'x'").contains("unknown column \"password\""));
        assert!(message("1=1; DELETE FROM objects").contains("';'"));
        assert!(message("cluster = 'a' -- x").contains("comments"));
        assert!(message("EXISTS (SELECT 1)").contains("subqueries"));
        assert!(message(&long).contains("longer than"));
        assert!(message(&deep).contains("whereSQL: "));
        assert!(message(&many).contains("limited to 1000"));
        assert!(message("name || 'x' = 'ax'").contains("operator ||"));
        assert!(message("name IS 'a'").starts_with("whereSQL: "));
        for escape in ["'ab'", "''", "name"] {
            let m = message(&format!("name LIKE 'a%' ESCAPE {escape}"));
            assert!(
                m.contains("ESCAPE takes a single character"),
                "{escape}: {m}"
            );
        }
        assert!(message("name = 1e999").contains("1e999 is out of range"));
        assert!(message("CAST(name AS INTEGER) = 1").contains("CAST"));
        assert!(message("objects.object LIKE '%'").contains("object column"));
        assert!(message("main.objects.name = 'a'").contains("qualified"));
        assert!(message("name = 'a' LIMIT 1").contains("after the expression"));
        assert!(message("name = :param").contains("placeholder"));
    }

    #[test]
    fn long_chains_stay_within_sqlites_expression_depth() {
        let s = store();
        let compare = |name: &str| {
            Cond::Compare(
                Operand::Column("name"),
                "=",
                Operand::Literal(SqlValue::Text(name.to_owned())),
            )
        };
        // Far past SQLite's depth limit of 1000 if written flat, and past any whereSQL that
        // fits MAX_LEN; inside an AND chain of its own too.
        let mut parts: Vec<Cond> = (0..3000).map(|i| compare(&format!("n{i}"))).collect();
        parts.push(compare("c"));
        let or = Cond::Or(parts);
        let and = Cond::And((0..3000).map(|_| or.clone()).take(2).collect());
        for cond in [or, and] {
            let mut params = Vec::new();
            let sql = format!(
                "SELECT name FROM objects WHERE {} ORDER BY name",
                WhereSql(cond).to_sql(&mut params)
            );
            let rows = s.query(&sql, &params).unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0][0].as_str(), Some("c"));
        }
        // The longest chain whereSQL accepts, ANDed after 400 clauses of the planner's.
        let mut input = String::from("name = 'c'");
        while input.len() + " OR name = 'c'".len() <= MAX_LEN {
            input.push_str(" OR name = 'c'");
        }
        let w = WhereSql::parse(&input).unwrap();
        let mut params = Vec::new();
        let clauses = vec!["name IS NOT NULL"; 400].join(" AND ");
        let sql = format!(
            "SELECT name FROM objects WHERE {clauses} AND {}",
            w.to_sql(&mut params)
        );
        assert_eq!(s.query(&sql, &params).unwrap().len(), 1);
        assert_eq!(params.len(), input.matches("'c'").count());
    }

    #[test]
    fn balanced_chains_keep_order_and_meaning() {
        let s = store();
        // Nine or more operands are grouped; the parameters stay in source order.
        let input = "name = 'a' OR name = 'b' OR name = 'zz1' OR name = 'zz2' OR name = 'zz3' \
                     OR name = 'zz4' OR name = 'zz5' OR name = 'zz6' OR name = 'd_x'";
        assert_eq!(names(&s, input), ["a", "b", "d_x"]);
        let mut params = Vec::new();
        let sql = WhereSql::parse(input).unwrap().to_sql(&mut params);
        assert_eq!(sql.matches('(').count(), sql.matches(')').count());
        assert_eq!(params.first(), Some(&SqlValue::Text("a".into())));
        assert_eq!(params.last(), Some(&SqlValue::Text("d_x".into())));
        let not_all = format!("NOT ({})", input.replace(" OR ", " AND "));
        assert_eq!(names(&s, &not_all), ["a", "b", "c", "d_x"]);
    }
}
