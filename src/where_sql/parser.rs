//! Tokens → [`Cond`], by recursive descent over the allowlisted grammar only, with SQL's
//! precedence (loosest first):
//!
//! ```text
//! expr      = and ("OR" and)*
//! and       = not ("AND" not)*
//! not       = "NOT" not | predicate
//! predicate = primary [ ("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") primary
//!                     | ["NOT"] "IN" "(" [expr ("," expr)*] ")"
//!                     | ["NOT"] "LIKE" primary ["ESCAPE" string]
//!                     | ["NOT"] "BETWEEN" primary "AND" primary
//!                     | "IS" ["NOT"] "NULL" | "NOTNULL" | "NOT" "NULL" ]
//! primary   = "(" expr ")" | ["-"] number | string | "NULL" | "TRUE" | "FALSE"
//!           | ["objects" "."] column | "json_extract" "(" "object" "," string ")"
//! ```
//!
//! A parenthesized `expr` may be a value (`(name) = 'a'`) or a condition, so the rules return a
//! [`Node`] and each use says which it needs. Only what the grammar names is recognized; every
//! other construct is refused where it starts, by name where users are likely to try it
//! (functions, subqueries, CAST, arithmetic, placeholders). The allowlist (columns, JSON paths,
//! literals) is applied as each piece is read, so no general SQL syntax tree exists at all.

use super::lexer::Token;
use super::{column, is_json_path, refuse, Cond, Operand, MAX_DEPTH, MAX_IN_ITEMS};
use crate::error::ApiResult;
use crate::store::SqlValue;

/// What a rule read: a condition, or a value a condition compares.
enum Node {
    Cond(Cond),
    Value(Operand),
}

/// The whole token list as one condition; anything after it is refused.
pub(super) fn parse(tokens: &[Token]) -> ApiResult<Cond> {
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let node = parser.expr()?;
    if let Some(next) = parser.peek() {
        return Err(refuse(format!(
            "unexpected {next} after the expression: only one condition is allowed (no UNION, ORDER BY, LIMIT, …)"
        )));
    }
    condition(node)
}

fn condition(node: Node) -> ApiResult<Cond> {
    match node {
        Node::Cond(c) => Ok(c),
        Node::Value(v) => {
            let what = match v {
                Operand::Column(_) => "a bare column",
                Operand::Json(_) => "a function call",
                Operand::Literal(_) => "a bare value",
            };
            Err(refuse(format!(
                "{what} is not allowed here; expected a condition"
            )))
        }
    }
}

fn value(node: Node) -> ApiResult<Operand> {
    match node {
        Node::Value(v) => Ok(v),
        Node::Cond(_) => Err(refuse(
            "a condition is not allowed where a value is expected",
        )),
    }
}

/// Comparison operators as written → as rendered.
fn comparison(op: &str) -> Option<&'static str> {
    Some(match op {
        "=" | "==" => "=",
        "!=" | "<>" => "!=",
        "<" => "<",
        "<=" => "<=",
        ">" => ">",
        ">=" => ">=",
        _ => return None,
    })
}

/// Words that start a predicate after a value; a second one after a complete comparison is
/// refused (`a = b = c`, `a = b IS NULL`: SQLite would compare the first comparison's 0 or 1).
const PREDICATE_WORDS: &[&str] = &[
    "IS", "IN", "LIKE", "BETWEEN", "NOTNULL", "GLOB", "REGEXP", "MATCH", "ILIKE", "RLIKE",
    "SIMILAR", "COLLATE",
];

/// Keywords that never name a column or function here: refused as "unexpected" where a value
/// is expected, instead of as unknown columns.
const RESERVED: &[&str] = &[
    "AND", "OR", "NOT", "IN", "IS", "LIKE", "BETWEEN", "ESCAPE", "NOTNULL", "GLOB", "REGEXP",
    "MATCH", "ILIKE", "RLIKE", "SIMILAR", "COLLATE",
];

struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
    /// Open parentheses, IN lists and NOTs around the current rule.
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_at(&self, ahead: usize) -> Option<&Token> {
        self.tokens.get(self.pos + ahead)
    }

    fn next(&mut self) -> Option<&Token> {
        let token = self.tokens.get(self.pos);
        if token.is_some() {
            self.pos += 1;
        }
        token
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|t| t.is_keyword(keyword))
    }

    /// Whether the token after the next one is one of `keywords`.
    fn next_is(&self, keywords: &[&str]) -> bool {
        self.peek_at(1)
            .is_some_and(|t| keywords.iter().any(|k| t.is_keyword(k)))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek_keyword(keyword);
        if found {
            self.pos += 1;
        }
        found
    }

    fn eat_punct(&mut self, punct: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Punct(p)) if *p == punct);
        if found {
            self.pos += 1;
        }
        found
    }

    /// The next token for messages, or "the end of the text".
    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end of the text".to_owned(), Token::to_string)
    }

    fn expect_punct(&mut self, punct: &str, context: &str) -> ApiResult<()> {
        if self.eat_punct(punct) {
            Ok(())
        } else {
            Err(refuse(format!(
                "cannot parse: expected '{punct}' {context}, found {}",
                self.found()
            )))
        }
    }

    /// One level deeper; the limit keeps recursion (and SQLite's own parser) shallow.
    fn descend(&mut self) -> ApiResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(refuse(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// `a OR b OR …`, one flat node like [`Self::and`].
    fn expr(&mut self) -> ApiResult<Node> {
        let first = self.and()?;
        if !self.peek_keyword("OR") {
            return Ok(first);
        }
        let mut parts = vec![condition(first)?];
        while self.eat_keyword("OR") {
            parts.push(condition(self.and()?)?);
        }
        Ok(Node::Cond(Cond::Or(parts)))
    }

    /// `a AND b AND …`. A chain of one operator is one flat node, so it does not count against
    /// the nesting limit; parenthesized groups stay nodes of their own.
    fn and(&mut self) -> ApiResult<Node> {
        let first = self.not()?;
        if !self.peek_keyword("AND") {
            return Ok(first);
        }
        let mut parts = vec![condition(first)?];
        while self.eat_keyword("AND") {
            parts.push(condition(self.not()?)?);
        }
        Ok(Node::Cond(Cond::And(parts)))
    }

    /// `NOT` binds looser than a comparison: `NOT a = 1` is `NOT (a = 1)`.
    fn not(&mut self) -> ApiResult<Node> {
        if !self.eat_keyword("NOT") {
            return self.predicate();
        }
        self.descend()?;
        let inner = condition(self.not()?)?;
        self.depth -= 1;
        Ok(Node::Cond(Cond::Not(Box::new(inner))))
    }

    fn predicate(&mut self) -> ApiResult<Node> {
        let left = self.primary()?;
        let compare = match self.peek() {
            Some(Token::Punct(p)) => comparison(p),
            _ => None,
        };
        let cond = if let Some(op) = compare {
            self.pos += 1;
            let left = value(left)?;
            Cond::Compare(left, op, value(self.primary()?)?)
        } else if self.peek_keyword("IS") {
            self.pos += 1;
            let negated = self.eat_keyword("NOT");
            if !self.eat_keyword("NULL") {
                return Err(refuse(format!(
                    "IS is only allowed as IS NULL or IS NOT NULL (found {}); compare with = or !=",
                    self.found()
                )));
            }
            Cond::IsNull {
                expr: value(left)?,
                negated,
            }
        } else if self.peek_keyword("NOTNULL")
            || (self.peek_keyword("NOT") && self.next_is(&["NULL"]))
        {
            // SQLite's `a NOTNULL` and `a NOT NULL`, accepted before too.
            self.pos += if self.peek_keyword("NOT") { 2 } else { 1 };
            Cond::IsNull {
                expr: value(left)?,
                negated: true,
            }
        } else if ["IN", "LIKE", "BETWEEN"]
            .iter()
            .any(|k| self.peek_keyword(k))
            || (self.peek_keyword("NOT") && self.next_is(&["IN", "LIKE", "BETWEEN"]))
        {
            let negated = self.eat_keyword("NOT");
            let expr = value(left)?;
            if self.eat_keyword("IN") {
                self.in_list(expr, negated)?
            } else if self.eat_keyword("LIKE") {
                self.like(expr, negated)?
            } else {
                self.pos += 1; // BETWEEN
                self.between(expr, negated)?
            }
        } else if let Some(word) = self.predicate_word() {
            return Err(refuse(match word.as_str() {
                "GLOB" | "REGEXP" | "MATCH" => format!("operator {word} is not allowed"),
                "SIMILAR" => "SIMILAR TO is not allowed".to_owned(),
                _ => format!("{word} is not allowed"),
            }));
        } else if self.peek_keyword("NOT") {
            let after = self
                .peek_at(1)
                .map_or_else(|| "the end of the text".to_owned(), Token::to_string);
            return Err(refuse(format!(
                "NOT {after} is not allowed; after a value, NOT takes IN, LIKE, BETWEEN or NULL"
            )));
        } else {
            return Ok(left);
        };
        // One comparison per condition.
        let chained = match self.peek() {
            Some(Token::Punct(p)) => comparison(p).is_some(),
            _ => self.predicate_word().is_some(),
        };
        if chained {
            return Err(refuse(format!(
                "unexpected {} after a comparison: join conditions with AND or OR",
                self.found()
            )));
        }
        Ok(Node::Cond(cond))
    }

    /// The next token, upper-cased, if it is one of [`PREDICATE_WORDS`].
    fn predicate_word(&self) -> Option<String> {
        match self.peek() {
            Some(Token::Word {
                text,
                quoted: false,
            }) if PREDICATE_WORDS.iter().any(|k| text.eq_ignore_ascii_case(k)) => {
                Some(text.to_ascii_uppercase())
            }
            _ => None,
        }
    }

    /// After `BETWEEN`: `low AND high`.
    fn between(&mut self, expr: Operand, negated: bool) -> ApiResult<Cond> {
        let low = value(self.primary()?)?;
        if !self.eat_keyword("AND") {
            return Err(refuse(format!(
                "cannot parse: expected AND in BETWEEN … AND …, found {}",
                self.found()
            )));
        }
        Ok(Cond::Between {
            expr,
            low,
            high: value(self.primary()?)?,
            negated,
        })
    }

    /// After `IN`: a parenthesized list of values, possibly empty (SQLite allows `IN ()`).
    fn in_list(&mut self, expr: Operand, negated: bool) -> ApiResult<Cond> {
        if !self.eat_punct("(") {
            return Err(refuse("only IN (value, …) lists are allowed"));
        }
        if self.starts_subquery() {
            return Err(refuse("subqueries are not allowed"));
        }
        let mut list = Vec::new();
        self.descend()?;
        if !self.eat_punct(")") {
            loop {
                if list.len() == MAX_IN_ITEMS {
                    return Err(refuse(format!(
                        "IN lists are limited to {MAX_IN_ITEMS} items"
                    )));
                }
                list.push(value(self.expr()?)?);
                if self.eat_punct(")") {
                    break;
                }
                self.expect_punct(",", "between IN items")?;
            }
        }
        self.depth -= 1;
        Ok(Cond::In {
            expr,
            list,
            negated,
        })
    }

    /// After `LIKE`: the pattern, then `ESCAPE` with one character in quotes (SQLite fails the
    /// query otherwise).
    fn like(&mut self, expr: Operand, negated: bool) -> ApiResult<Cond> {
        let pattern = value(self.primary()?)?;
        let escape = if self.eat_keyword("ESCAPE") {
            match self.next() {
                Some(Token::Str(s)) if s.chars().count() == 1 => {
                    Some(Operand::Literal(SqlValue::Text(s.clone())))
                }
                _ => {
                    return Err(refuse(
                        "ESCAPE takes a single character in quotes, like ESCAPE '!'",
                    ))
                }
            }
        } else {
            None
        };
        Ok(Cond::Like {
            expr,
            pattern,
            escape,
            negated,
        })
    }

    fn starts_subquery(&self) -> bool {
        ["SELECT", "WITH", "VALUES"]
            .iter()
            .any(|k| self.peek_keyword(k))
    }

    /// A value or a parenthesized expression. Arithmetic and other operators after it are
    /// refused here, so they are named in the message.
    fn primary(&mut self) -> ApiResult<Node> {
        let node = match self.next().cloned() {
            None => {
                return Err(refuse(
                    "cannot parse: expected a value or a condition, found the end of the text",
                ))
            }
            Some(Token::Punct("(")) => {
                if self.starts_subquery() {
                    return Err(refuse("subqueries are not allowed"));
                }
                self.descend()?;
                let inner = self.expr()?;
                self.depth -= 1;
                if self.peek() == Some(&Token::Punct(",")) {
                    return Err(refuse("lists like (a, b) are only allowed after IN"));
                }
                self.expect_punct(")", "to close '('")?;
                inner
            }
            Some(Token::Punct("-")) => {
                let token = self.next().cloned();
                match token.as_ref().map(literal) {
                    Some(Some(literal)) => match literal? {
                        SqlValue::Integer(i) => {
                            Node::Value(Operand::Literal(SqlValue::Integer(-i)))
                        }
                        SqlValue::Real(f) => Node::Value(Operand::Literal(SqlValue::Real(-f))),
                        _ => return Err(refuse("'-' applies to numbers only")),
                    },
                    _ => return Err(refuse("arithmetic is not allowed")),
                }
            }
            Some(Token::Word { text, quoted }) => self.name(text, quoted)?,
            Some(token) => match literal(&token) {
                Some(literal) => Node::Value(Operand::Literal(literal?)),
                None => {
                    return Err(refuse(match token {
                        Token::Punct(p @ ("+" | "~" | "!")) => {
                            format!("operator {p} is not allowed")
                        }
                        other => {
                            format!("cannot parse: expected a value or a condition, found {other}")
                        }
                    }))
                }
            },
        };
        match self.peek() {
            Some(Token::Punct(op))
                if [
                    "||", "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "->", "->>", "::",
                ]
                .contains(op) =>
            {
                Err(refuse(format!("operator {op} is not allowed in a value")))
            }
            _ => Ok(node),
        }
    }

    /// A word in value position: a literal keyword, a column (`objects.` allowed) or a call.
    fn name(&mut self, first: String, quoted: bool) -> ApiResult<Node> {
        if !quoted {
            let upper = first.to_ascii_uppercase();
            match upper.as_str() {
                "NULL" => return Ok(Node::Value(Operand::Literal(SqlValue::Null))),
                "TRUE" => return Ok(Node::Value(Operand::Literal(SqlValue::Integer(1)))),
                "FALSE" => return Ok(Node::Value(Operand::Literal(SqlValue::Integer(0)))),
                "EXISTS" | "SELECT" | "WITH" | "VALUES" => {
                    return Err(refuse("subqueries are not allowed"))
                }
                "CASE" | "CAST" => return Err(refuse(format!("{upper} is not allowed"))),
                word if RESERVED.contains(&word) => {
                    return Err(refuse(format!(
                        "cannot parse: expected a value, found {upper}"
                    )))
                }
                _ => {}
            }
        }
        let mut parts = vec![first];
        while self.eat_punct(".") {
            match self.next() {
                Some(Token::Word { text, .. }) => parts.push(text.clone()),
                _ => {
                    return Err(refuse(
                        "qualified names are not allowed: only the columns of this resource can be used",
                    ))
                }
            }
        }
        if self.peek() == Some(&Token::Punct("(")) {
            return self.call(&parts).map(Node::Value);
        }
        match parts.as_slice() {
            [name] => column(name),
            [table, name] if table.eq_ignore_ascii_case("objects") => column(name),
            _ => Err(refuse(
                "qualified names are not allowed: only the columns of this resource can be used",
            )),
        }
        .map(Node::Value)
    }

    /// `json_extract(object, '$.path')`, exactly; the path is checked and bound, never spliced.
    fn call(&mut self, name: &[String]) -> ApiResult<Operand> {
        let [name] = name else {
            return Err(refuse("qualified function names are not allowed"));
        };
        let name = name.to_ascii_lowercase();
        if name != "json_extract" {
            return Err(refuse(format!(
                "function {name}() is not allowed; only json_extract(object, '$.path')"
            )));
        }
        let shape = || refuse("json_extract takes exactly (object, '$.path')");
        self.pos += 1; // (
        match self.next() {
            Some(Token::Word { text, .. }) if text.eq_ignore_ascii_case("object") => {}
            _ => return Err(shape()),
        }
        if !self.eat_punct(",") {
            return Err(shape());
        }
        let path = match self.next() {
            Some(Token::Str(path)) => path.clone(),
            Some(Token::Punct(")" | ",")) | None => return Err(shape()),
            Some(_) => {
                return Err(refuse(
                    "the json_extract path must be a literal like '$.status.phase' or '$.metadata.labels.\"app\"'",
                ))
            }
        };
        if !self.eat_punct(")") {
            return Err(shape());
        }
        if !is_json_path(&path) {
            return Err(refuse(
                "the json_extract path must be a literal like '$.status.phase' or '$.metadata.labels.\"app\"'",
            ));
        }
        Ok(Operand::Json(path))
    }
}

/// A literal token's value: `None` if the token is no literal, an error if it is one that is
/// refused (blobs, placeholders, numbers out of range).
fn literal(token: &Token) -> Option<ApiResult<SqlValue>> {
    Some(match token {
        Token::Str(s) => Ok(SqlValue::Text(s.clone())),
        Token::Num(n) => number(n),
        Token::Word {
            text,
            quoted: false,
        } => match text.to_ascii_uppercase().as_str() {
            "NULL" => Ok(SqlValue::Null),
            "TRUE" => Ok(SqlValue::Integer(1)),
            "FALSE" => Ok(SqlValue::Integer(0)),
            _ => return None,
        },
        Token::Placeholder(p) => Err(refuse(format!("placeholders ({p}) are not allowed"))),
        Token::Blob(_) => Err(refuse(
            "this kind of literal is not allowed; use 'text', numbers, NULL, TRUE or FALSE",
        )),
        _ => return None,
    })
}

/// An integer if it fits `i64`, else a finite real; `1e999` and `1_000` are refused.
fn number(n: &str) -> ApiResult<SqlValue> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(SqlValue::Integer(i));
    }
    match n.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(SqlValue::Real(f)),
        Ok(_) => Err(refuse(format!(
            "the number {n} is out of range (not a finite number)"
        ))),
        Err(_) => Err(refuse(format!("cannot read the number {n}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{WhereSql, MAX_DEPTH, MAX_LEN};
    use crate::store::rusqlite_store::RusqliteStore;
    use crate::store::{SqlValue, Store};

    /// SQL and parameters, or the error message.
    fn render(input: &str) -> Result<(String, Vec<SqlValue>), String> {
        let w = WhereSql::parse(input).map_err(|e| {
            assert_eq!(e.code, 400, "{input}");
            e.message
        })?;
        let mut params = Vec::new();
        Ok((w.to_sql(&mut params), params))
    }

    fn sql(input: &str) -> String {
        render(input).unwrap_or_else(|e| panic!("{input}: {e}")).0
    }

    fn params(input: &str) -> Vec<SqlValue> {
        render(input).unwrap_or_else(|e| panic!("{input}: {e}")).1
    }

    fn refused(input: &str) -> String {
        match render(input) {
            Ok((sql, _)) => panic!("{input}: accepted as {sql}"),
            Err(message) => message,
        }
    }

    #[test]
    fn sql_precedence() {
        for (input, want) in [
            // NOT binds looser than a comparison (and IS, IN, LIKE, BETWEEN), tighter than AND.
            (
                "NOT name = 'a' AND kind = 'b'",
                "((NOT (name = ?)) AND (kind = ?))",
            ),
            ("NOT name IS NULL", "(NOT (name IS NULL))"),
            ("NOT name IN ('a')", "(NOT (name IN (?)))"),
            (
                "NOT name BETWEEN 1 AND 2 AND kind = 'x'",
                "((NOT (name BETWEEN ? AND ?)) AND (kind = ?))",
            ),
            ("NOT NOT name = 'a'", "(NOT (NOT (name = ?)))"),
            (
                "NOT (name = 'a' OR kind = 'b')",
                "(NOT ((name = ?) OR (kind = ?)))",
            ),
            // AND binds tighter than OR, on either side.
            (
                "name = 'a' AND kind = 'b' OR uid = 'c'",
                "(((name = ?) AND (kind = ?)) OR (uid = ?))",
            ),
            (
                "name = 'a' OR kind = 'b' AND uid = 'c' OR cluster = 'd'",
                "((name = ?) OR ((kind = ?) AND (uid = ?)) OR (cluster = ?))",
            ),
            // Parentheses group; a group stays a node of its own, and redundant ones vanish.
            (
                "(name = 'a' OR kind = 'b') AND uid = 'c'",
                "(((name = ?) OR (kind = ?)) AND (uid = ?))",
            ),
            (
                "name = 'a' AND (kind = 'b' AND uid = 'c')",
                "((name = ?) AND ((kind = ?) AND (uid = ?)))",
            ),
            ("(((name = 'a')))", "(name = ?)"),
            // Values may be parenthesized too.
            ("(name) = ('a')", "(name = ?)"),
            (
                "((json_extract(object, '$.a'))) IS NULL",
                "(json_extract(object, ?) IS NULL)",
            ),
            ("name IN ((1), ('b'))", "(name IN (?, ?))"),
            // BETWEEN's AND is its own; LIKE's ESCAPE ends the predicate.
            (
                "name BETWEEN 'a' AND 'b' AND kind = 'c'",
                "((name BETWEEN ? AND ?) AND (kind = ?))",
            ),
            (
                "name LIKE 'a!%' ESCAPE '!' OR kind = 'c'",
                "((name LIKE ? ESCAPE ?) OR (kind = ?))",
            ),
            // SQLite's postfix NOT NULL / NOTNULL (accepted before too).
            ("name NOTNULL", "(name IS NOT NULL)"),
            (
                "name NOT NULL AND kind IS NOT NULL",
                "((name IS NOT NULL) AND (kind IS NOT NULL))",
            ),
            // Keywords and operators are case-insensitive and need no spaces around them.
            (
                "name='a'and(kind='b')or uid<>'c'",
                "(((name = ?) AND (kind = ?)) OR (uid != ?))",
            ),
            ("name = 1AND kind = 'b'", "((name = ?) AND (kind = ?))"),
            ("name<=-1", "(name <= ?)"),
            (
                "nOt name iN ('a') Or kind lIkE 'b' EsCaPe 'c'",
                "((NOT (name IN (?))) OR (kind LIKE ? ESCAPE ?))",
            ),
            (
                "name\t=\n'a'\r\nAND\x0bkind\x0c=\r'b'",
                "((name = ?) AND (kind = ?))",
            ),
        ] {
            assert_eq!(sql(input), want, "{input}");
        }
    }

    #[test]
    fn strings() {
        let text = |s: &str| vec![SqlValue::Text(s.to_owned())];
        for (input, want) in [
            ("name = 'it''s'", "it's"),
            ("name = ''''", "'"),
            ("name = ''", ""),
            ("name = 'a''''b'", "a''b"),
            ("name = '\"'", "\""),
            ("name = 'a\\'", "a\\"),
            ("name = '--'", "--"),
            ("name = '/* x */'", "/* x */"),
            ("name = ';'", ";"),
            ("name = 'ａ；\u{202e}'", "ａ；\u{202e}"),
            ("name = 'two\nlines'", "two\nlines"),
            ("name = 'NULL'", "NULL"),
            ("name = '?'", "?"),
        ] {
            assert_eq!(params(input), text(want), "{input}");
        }
        for input in ["name = 'a", "name = 'it''s", "name = '''", "name = 'a' 'b'"] {
            refused(input);
        }
    }

    #[test]
    fn identifiers() {
        for input in [
            "group = 'x'",
            "GROUP = 'x'",
            "\"group\" = 'x'",
            "\"Group\" = 'x'",
            "`GROUP` = 'x'",
            "[group] = 'x'",
            "objects.group = 'x'",
            "OBJECTS . \"group\" = 'x'",
            "[objects].[group] = 'x'",
            "`objects`.`group` = 'x'",
        ] {
            assert_eq!(sql(input), "(api_group = ?)", "{input}");
        }
        for input in [
            "json_extract(object, '$.a') = 1",
            "JSON_EXTRACT(OBJECT, '$.a') = 1",
            "\"json_extract\"(\"object\", '$.a') = 1",
            "json_extract ( [object] , '$.a' ) = 1",
        ] {
            assert_eq!(sql(input), "(json_extract(object, ?) = ?)", "{input}");
        }
        // Quoted words are names, never keywords; an escaped quote is part of the name.
        assert!(refused("\"NULL\" IS NULL").contains("unknown column \"NULL\""));
        assert!(refused("name IS \"NULL\"").contains("IS NULL or IS NOT NULL"));
        assert!(refused("\"gr\"\"oup\" = 'x'").contains("unknown column \"gr\\\"oup\""));
        assert!(refused("[group = 'x'").contains("unterminated quoted name"));
        // Look-alikes and invisible characters make a name unknown; they never split tokens.
        assert!(refused("\u{0441}luster = 'a'").contains("unknown column"));
        assert!(refused("name\u{a0}= 'a'").contains("unknown column"));
        assert!(refused("objects.name.x = 'a'").contains("qualified names"));
        assert!(refused("objects.* = 'a'").contains("qualified names"));
        assert!(refused("main.json_extract(object, '$') = 1").contains("qualified function"));
    }

    #[test]
    fn numbers() {
        use SqlValue::{Integer, Real};
        for (input, want) in [
            ("1", Integer(1)),
            ("-1", Integer(-1)),
            ("- 1", Integer(-1)),
            ("-0", Integer(0)),
            ("007", Integer(7)),
            ("1.5e3", Real(1500.0)),
            ("1E+3", Real(1000.0)),
            ("2e-1", Real(0.2)),
            (".5", Real(0.5)),
            ("-.5", Real(-0.5)),
            ("1.", Real(1.0)),
            ("1.e2", Real(100.0)),
            ("9223372036854775807", Integer(i64::MAX)),
            ("-9223372036854775807", Integer(-i64::MAX)),
            // Too big for i64: a real, as before.
            ("9223372036854775808", Real(9223372036854775808.0)),
            ("-9223372036854775808", Real(-9223372036854775808.0)),
            ("1e308", Real(1e308)),
        ] {
            assert_eq!(params(&format!("name = {input}")), vec![want], "{input}");
        }
        for (input, message) in [
            (
                "1e999",
                "the number 1e999 is out of range (not a finite number)",
            ),
            ("-1e999", "the number 1e999 is out of range"),
            ("1_000", "cannot read the number 1_000"),
            ("1L", "cannot read the number 1L"),
            ("0x41", "this kind of literal is not allowed"),
            ("X'41'", "this kind of literal is not allowed"),
            ("x''", "this kind of literal is not allowed"),
            ("1e", "unexpected e after the expression"),
            ("1.5.2", "unexpected .2 after the expression"),
            ("- -1", "arithmetic is not allowed"),
            ("-(1)", "arithmetic is not allowed"),
            ("-'1'", "'-' applies to numbers only"),
            ("-NULL", "'-' applies to numbers only"),
            ("+1", "operator + is not allowed"),
            ("1 - 1", "operator - is not allowed in a value"),
        ] {
            let m = refused(&format!("name = {input}"));
            assert!(m.contains(message), "{input}: {m}");
        }
    }

    /// What was refused is named, in words a user can act on.
    #[test]
    fn messages_name_what_was_refused() {
        for (input, message) in [
            (
                "",
                "expected a value or a condition, found the end of the text",
            ),
            ("name = 'a' AND", "found the end of the text"),
            (
                "(name = 'a'",
                "expected ')' to close '(', found the end of the text",
            ),
            ("name IN ('a',)", "found ')'"),
            (
                "name IN ('a' 'b')",
                "expected ',' between IN items, found 'b'",
            ),
            ("name IN 'a'", "only IN (value, …) lists are allowed"),
            (
                "name BETWEEN 1 OR 2",
                "expected AND in BETWEEN … AND …, found OR",
            ),
            (
                "name IS 'a'",
                "IS is only allowed as IS NULL or IS NOT NULL (found 'a')",
            ),
            ("name IS TRUE", "IS NOT NULL (found TRUE)"),
            ("name NOT GLOB 'a'", "NOT GLOB is not allowed"),
            ("name GLOB 'a'", "operator GLOB is not allowed"),
            ("name ILIKE 'a'", "ILIKE is not allowed"),
            ("name SIMILAR TO 'a'", "SIMILAR TO is not allowed"),
            ("name COLLATE NOCASE = 'a'", "COLLATE is not allowed"),
            (
                "1 = 1 = 1",
                "unexpected '=' after a comparison: join conditions with AND or OR",
            ),
            ("name = 'a' IS NULL", "unexpected IS after a comparison"),
            (
                "name = (kind = 'a')",
                "a condition is not allowed where a value is expected",
            ),
            (
                "(name, kind) IN (('a', 'b'))",
                "lists like (a, b) are only allowed after IN",
            ),
            (
                "name = 'a' AND kind",
                "a bare column is not allowed here; expected a condition",
            ),
            (
                "name = 'a' OR 'b'",
                "a bare value is not allowed here; expected a condition",
            ),
            (
                "json_extract(object, '$')",
                "a function call is not allowed here",
            ),
            ("NOT name", "a bare column is not allowed here"),
            ("name = NOT 1", "expected a value, found NOT"),
            ("AND = 1", "expected a value, found AND"),
            ("CASE WHEN 1 THEN 1 END = 1", "CASE is not allowed"),
            ("name IN (SELECT 1)", "subqueries are not allowed"),
            ("NOT EXISTS (SELECT 1)", "subqueries are not allowed"),
            ("(VALUES (1)) = 1", "subqueries are not allowed"),
            ("substr(name, 1) = 'a'", "function substr() is not allowed"),
            (
                "json_extract(object, name) = 1",
                "the json_extract path must be a literal",
            ),
            (
                "json_extract(object, '$.a b') = 1",
                "the json_extract path must be a literal",
            ),
            (
                "json_extract(object '$.a') = 1",
                "json_extract takes exactly (object, '$.path')",
            ),
            (
                "json_extract(object, '$.a',) = 1",
                "json_extract takes exactly",
            ),
            (
                "json_extract(object, '$.a' = 1",
                "json_extract takes exactly",
            ),
            ("name = ?1", "placeholders (?1) are not allowed"),
            ("name = $x", "placeholders ($x) are not allowed"),
            ("name = @x", "placeholders (@x) are not allowed"),
            ("name -> '$.a' = 1", "operator -> is not allowed in a value"),
            ("name = 'a' || 'b'", "operator || is not allowed in a value"),
            ("name = 'a' -- c", "comments are not allowed"),
            ("name = 'a' /* c", "comments are not allowed"),
            (
                "name = 'a'; --",
                "only one expression is allowed (found ';')",
            ),
            (
                "name = 'a' ORDER BY name",
                "unexpected ORDER after the expression",
            ),
            ("name = 'a' #", "unexpected '#' after the expression"),
            ("name\u{0}= 'a'", "unexpected '\\0' after the expression"),
            (
                "name = 'a' ESCAPE '!'",
                "unexpected ESCAPE after the expression",
            ),
            (
                "name LIKE 'a' ESCAPE ('!')",
                "ESCAPE takes a single character in quotes",
            ),
        ] {
            let m = refused(input);
            assert!(
                m.starts_with("whereSQL: ") && m.contains(message),
                "{input}: {m}"
            );
        }
    }

    /// `MAX_DEPTH` levels of parentheses, NOTs or IN lists parse (and run on SQLite); one more is
    /// refused.
    #[test]
    fn nesting_is_limited() {
        let store = RusqliteStore::open_in_memory().unwrap();
        crate::migrations::ensure_schema(&store).unwrap();
        let parens = |n: usize| format!("{}name = 'a'{}", "(".repeat(n), ")".repeat(n));
        let nots = |n: usize| format!("{}name = 'a'", "NOT ".repeat(n));
        let value = |n: usize| format!("name = {}'a'{}", "(".repeat(n), ")".repeat(n));
        let groups = |n: usize| {
            let mut s = String::from("name = 'a'");
            for i in 0..n {
                let op = if i % 2 == 0 { "AND" } else { "OR" };
                s = format!("kind = 'k' {op} ({s})");
            }
            s
        };
        for build in [&parens as &dyn Fn(usize) -> String, &nots, &value, &groups] {
            let ok = build(MAX_DEPTH);
            let (sql, params) = render(&ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            store
                .query(
                    &format!("SELECT count(*) FROM objects WHERE {sql}"),
                    &params,
                )
                .unwrap();
            let m = refused(&build(MAX_DEPTH + 1));
            assert!(
                m.contains(&format!("nested deeper than {MAX_DEPTH} levels")),
                "{m}"
            );
        }
        // Deeper than any limit: refused without recursing that deep.
        let m = refused(&"(".repeat(MAX_LEN));
        assert!(m.contains("nested deeper"), "{m}");
        let m = refused(&"NOT ".repeat(MAX_LEN / 4));
        assert!(m.contains("nested deeper"), "{m}");
    }

    struct Rng(u64);

    impl Rng {
        /// splitmix64: deterministic, no dependency.
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Whatever the input: a 400 or SQL made only of our column names, fixed operator text and
    /// one `?` per parameter. Never a panic.
    fn check(input: &str) {
        match WhereSql::parse(input) {
            Err(e) => {
                assert_eq!(e.code, 400, "{input:?}");
                assert!(e.message.starts_with("whereSQL: "), "{input:?}");
            }
            Ok(w) => {
                let mut params = Vec::new();
                let sql = w.to_sql(&mut params);
                assert!(
                    sql.chars()
                        .all(|c| c.is_ascii_alphabetic() || " _(),?=!<>".contains(c)),
                    "{input:?} → {sql}"
                );
                assert_eq!(sql.matches('?').count(), params.len(), "{input:?}");
                assert_eq!(sql.matches('(').count(), sql.matches(')').count());
            }
        }
    }

    #[test]
    fn random_input_is_a_400_or_safe_sql_never_a_panic() {
        let corpus = [
            "(cluster='global') OR (namespace IN ('kube-system','default'))",
            "json_extract(object, '$.metadata.labels.\"app.kubernetes.io/name\"') LIKE 'a!%' ESCAPE '!'",
            "NOT created_at NOT BETWEEN '2024' AND '2025' AND owner_uid IS NOT NULL",
            "`group` = 'apps' OR [group] <> 'batch' AND objects.\"kind\" == 'Pod'",
            "json_extract(object, '$.spec.containers[0].image') != 'x' OR uid NOTNULL",
            "name IN (1, -2.5e3, .5, NULL, TRUE, FALSE, 'it''s', (kind))",
            "cluster = 'a' UNION SELECT name FROM objects",
            "'; DROP TABLE objects; --",
            "name = (SELECT name FROM sqlite_master)",
            "json_extract(object, '$.a'') OR 1=1 --') = 1",
            "CAST(name AS INTEGER) = 1 OR X'41' = name OR name = :p",
            "name = 'ａ' ; DROP TABLE objects\u{2028}\u{202e}",
            "((((name = 1e999))))",
        ];
        let mut inputs: Vec<String> = Vec::new();
        for text in corpus {
            // Every prefix and every suffix, at every character boundary.
            for (i, _) in text.char_indices().chain([(text.len(), ' ')]) {
                inputs.push(text[..i].to_owned());
                inputs.push(text[i..].to_owned());
            }
        }
        let mut rng = Rng(0x5eed);
        let alphabet: Vec<char> =
            "abnmeNOTANDORINLIKE0123456789.'\"`[]()-+*/|;,=<>!?:@$_ \t\n\\xX\u{0}\u{a0}\u{ff1b}é"
                .chars()
                .collect();
        for _ in 0..20_000 {
            // Random bytes (as text, as the query string arrives), …
            let bytes: Vec<u8> = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
            inputs.push(String::from_utf8_lossy(&bytes).into_owned());
            // … random characters that matter to the lexer, …
            let n = rng.below(30);
            inputs.push(
                (0..n)
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect(),
            );
            // … and corpus entries with a few characters changed.
            let mut chars: Vec<char> = corpus[rng.below(corpus.len())].chars().collect();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(chars.len());
                chars[at] = alphabet[rng.below(alphabet.len())];
            }
            inputs.push(chars.into_iter().collect());
        }
        for input in &inputs {
            check(input);
        }
    }
}
