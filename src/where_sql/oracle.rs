//! TEMPORARY differential oracle: the sqlparser-based parser this module replaced. Not committed.
use super::{column, is_json_path, refuse, Cond, Operand, MAX_DEPTH, MAX_IN_ITEMS};
use crate::error::ApiResult;
use crate::store::SqlValue;
use sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, InTarget,
    ObjectNamePart, UnaryOperator, Value,
};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};
pub(super) fn old_parse(input: &str) -> ApiResult<Cond> {
    if input.len() > super::MAX_LEN {
        return Err(refuse(format!("longer than {} bytes", super::MAX_LEN)));
    }
    let dialect = SQLiteDialect {};
    let tokens = Tokenizer::new(&dialect, input)
        .tokenize()
        .map_err(|e| refuse(format!("cannot parse: {e}")))?;
    for token in &tokens {
        match token {
            Token::Whitespace(
                Whitespace::SingleLineComment { .. } | Whitespace::MultiLineComment(_),
            ) => return Err(refuse("comments are not allowed")),
            Token::SemiColon => return Err(refuse("only one expression is allowed (found ';')")),
            _ => {}
        }
    }
    let mut parser = Parser::new(&dialect).with_tokens(tokens);
    let expr = parser
        .parse_expr()
        .map_err(|e| refuse(format!("cannot parse: {e}")))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(refuse(format!(
            "unexpected {} after the expression: only one condition is allowed (no UNION, ORDER BY, LIMIT, …)",
            next.token
        )));
    }
    condition(&expr, 0)
}

fn condition(expr: &Expr, depth: usize) -> ApiResult<Cond> {
    if depth > MAX_DEPTH {
        return Err(refuse(format!("nested deeper than {MAX_DEPTH} levels")));
    }
    let next = depth + 1;
    Ok(match expr {
        Expr::Nested(inner) => condition(inner, next)?,
        Expr::BinaryOp {
            op: op @ (BinaryOperator::And | BinaryOperator::Or),
            ..
        } => {
            let parts = chain(expr, op)
                .into_iter()
                .map(|e| condition(e, next))
                .collect::<ApiResult<Vec<_>>>()?;
            if *op == BinaryOperator::And {
                Cond::And(parts)
            } else {
                Cond::Or(parts)
            }
        }
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::Eq => Cond::Compare(operand(left, next)?, "=", operand(right, next)?),
            BinaryOperator::NotEq => {
                Cond::Compare(operand(left, next)?, "!=", operand(right, next)?)
            }
            BinaryOperator::Lt => Cond::Compare(operand(left, next)?, "<", operand(right, next)?),
            BinaryOperator::LtEq => {
                Cond::Compare(operand(left, next)?, "<=", operand(right, next)?)
            }
            BinaryOperator::Gt => Cond::Compare(operand(left, next)?, ">", operand(right, next)?),
            BinaryOperator::GtEq => {
                Cond::Compare(operand(left, next)?, ">=", operand(right, next)?)
            }
            other => return Err(refuse(format!("{} is not allowed", operator_name(other)))),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => Cond::Not(Box::new(condition(expr, next)?)),
        Expr::IsNull(e) => Cond::IsNull {
            expr: operand(e, next)?,
            negated: false,
        },
        Expr::IsNotNull(e) => Cond::IsNull {
            expr: operand(e, next)?,
            negated: true,
        },
        Expr::In {
            expr,
            target,
            negated,
            ..
        } => match target {
            InTarget::List(items) => {
                if items.len() > MAX_IN_ITEMS {
                    return Err(refuse(format!(
                        "IN lists are limited to {MAX_IN_ITEMS} items"
                    )));
                }
                Cond::In {
                    expr: operand(expr, next)?,
                    list: items
                        .iter()
                        .map(|i| operand(i, next))
                        .collect::<ApiResult<_>>()?,
                    negated: *negated,
                }
            }
            InTarget::Subquery(_) => return Err(refuse("subqueries are not allowed")),
            _ => return Err(refuse("only IN (value, …) lists are allowed")),
        },
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => Cond::Between {
            expr: operand(expr, next)?,
            low: operand(low, next)?,
            high: operand(high, next)?,
            negated: *negated,
        },
        Expr::Like {
            negated,
            any: false,
            expr,
            pattern,
            escape_char,
        } => Cond::Like {
            expr: operand(expr, next)?,
            pattern: operand(pattern, next)?,
            escape: escape_char.as_deref().map(escape).transpose()?,
            negated: *negated,
        },
        Expr::Subquery(_) | Expr::Exists { .. } => {
            return Err(refuse("subqueries are not allowed"))
        }
        other => {
            return Err(refuse(format!(
                "{} is not allowed here; expected a condition",
                describe(other)
            )))
        }
    })
}

/// The operands of a chain of one operator (`a OR b OR c`), left to right. sqlparser builds
/// such chains left-deep without recursing, so they are walked iteratively here too.
fn chain<'a>(expr: &'a Expr, op: &BinaryOperator) -> Vec<&'a Expr> {
    let mut rights = Vec::new();
    let mut left = expr;
    while let Expr::BinaryOp {
        left: l,
        op: o,
        right,
    } = left
    {
        if o != op {
            break;
        }
        rights.push(right.as_ref());
        left = l;
    }
    rights.push(left);
    rights.reverse();
    rights
}

fn operand(expr: &Expr, depth: usize) -> ApiResult<Operand> {
    if depth > MAX_DEPTH {
        return Err(refuse(format!("nested deeper than {MAX_DEPTH} levels")));
    }
    Ok(match expr {
        Expr::Nested(inner) => operand(inner, depth + 1)?,
        Expr::Identifier(ident) => column(&ident.value)?,
        Expr::CompoundIdentifier(parts) => match parts.as_slice() {
            [table, col] if table.value.eq_ignore_ascii_case("objects") => column(&col.value)?,
            _ => return Err(refuse(
                "qualified names are not allowed: only the columns of this resource can be used",
            )),
        },
        Expr::Value(v) => Operand::Literal(literal(&v.value)?),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match expr.as_ref() {
            Expr::Value(v) => match literal(&v.value)? {
                SqlValue::Integer(i) => Operand::Literal(SqlValue::Integer(-i)),
                SqlValue::Real(f) => Operand::Literal(SqlValue::Real(-f)),
                _ => return Err(refuse("'-' applies to numbers only")),
            },
            _ => return Err(refuse("arithmetic is not allowed")),
        },
        Expr::Function(f) => {
            let name = match f.name.0.as_slice() {
                [ObjectNamePart::Identifier(ident)] => ident.value.to_ascii_lowercase(),
                _ => return Err(refuse("qualified function names are not allowed")),
            };
            if name != "json_extract" {
                return Err(refuse(format!(
                    "function {name}() is not allowed; only json_extract(object, '$.path')"
                )));
            }
            let args = match &f.args {
                FunctionArguments::List(list)
                    if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
                {
                    &list.args
                }
                FunctionArguments::Subquery(_) => return Err(refuse("subqueries are not allowed")),
                _ => return Err(refuse("json_extract takes exactly (object, '$.path')")),
            };
            if f.filter.is_some()
                || f.over.is_some()
                || !f.within_group.is_empty()
                || !matches!(f.parameters, FunctionArguments::None)
            {
                return Err(refuse("json_extract takes exactly (object, '$.path')"));
            }
            match args.as_slice() {
                [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Identifier(obj))), FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(path)))]
                    if obj.value.eq_ignore_ascii_case("object") =>
                {
                    match &path.value {
                        Value::SingleQuotedString(p) if is_json_path(p) => Operand::Json(p.clone()),
                        _ => return Err(refuse("the json_extract path must be a literal like '$.status.phase' or '$.metadata.labels.\"app\"'")),
                    }
                }
                _ => return Err(refuse("json_extract takes exactly (object, '$.path')")),
            }
        }
        Expr::Subquery(_) | Expr::Exists { .. } => {
            return Err(refuse("subqueries are not allowed"))
        }
        Expr::BinaryOp { op, .. } => {
            return Err(refuse(format!(
                "{} is not allowed in a value",
                operator_name(op)
            )))
        }
        other => return Err(refuse(format!("{} is not allowed", describe(other)))),
    })
}

/// `ESCAPE` takes one character, as a string literal (SQLite fails the query otherwise).
fn escape(expr: &Expr) -> ApiResult<Operand> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) if s.chars().count() == 1 => {
                Ok(Operand::Literal(SqlValue::Text(s.clone())))
            }
            _ => Err(refuse(
                "ESCAPE takes a single character in quotes, like ESCAPE '!'",
            )),
        },
        _ => Err(refuse(
            "ESCAPE takes a single character in quotes, like ESCAPE '!'",
        )),
    }
}
fn literal(value: &Value) -> ApiResult<SqlValue> {
    Ok(match value {
        Value::SingleQuotedString(s) => SqlValue::Text(s.clone()),
        Value::Number(n, _) => match n.parse::<i64>() {
            Ok(i) => SqlValue::Integer(i),
            Err(_) => match n.parse::<f64>() {
                Ok(f) if f.is_finite() => SqlValue::Real(f),
                Ok(_) => {
                    return Err(refuse(format!(
                        "the number {n} is out of range (not a finite number)"
                    )))
                }
                Err(_) => return Err(refuse(format!("cannot read the number {n}"))),
            },
        },
        Value::Null => SqlValue::Null,
        Value::Boolean(b) => SqlValue::Integer(i64::from(*b)),
        Value::Placeholder(p) => return Err(refuse(format!("placeholders ({p}) are not allowed"))),
        Value::DoubleQuotedString(s) => {
            return Err(refuse(format!(
                "unknown column {s:?}; write text in single quotes"
            )))
        }
        _ => {
            return Err(refuse(
                "this kind of literal is not allowed; use 'text', numbers, NULL, TRUE or FALSE",
            ))
        }
    })
}
/// A readable name for a refused construct. Kept to a fixed vocabulary: formatting the
/// parsed AST back to SQL would pull sqlparser's whole printer into the component.
fn describe(expr: &Expr) -> &'static str {
    match expr {
        Expr::Case { .. } => "CASE",
        Expr::Cast { .. } => "CAST",
        Expr::Collate { .. } => "COLLATE",
        Expr::Function(_) => "a function call",
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => "a bare column",
        Expr::Value(_) => "a bare value",
        Expr::Like { any: true, .. } | Expr::ILike { .. } => "ILIKE / LIKE ANY",
        Expr::RLike { .. } => "REGEXP",
        Expr::SimilarTo { .. } => "SIMILAR TO",
        Expr::UnaryOp { .. } => "this unary operator",
        Expr::Tuple(_) => "a tuple",
        _ => "this kind of expression",
    }
}

/// "operator X" for messages, spelled out for the operators users are likely to try.
fn operator_name(op: &BinaryOperator) -> String {
    let name = match op {
        BinaryOperator::StringConcat => "||",
        BinaryOperator::Plus => "+",
        BinaryOperator::Minus => "-",
        BinaryOperator::Multiply => "*",
        BinaryOperator::Divide => "/",
        BinaryOperator::Modulo => "%",
        BinaryOperator::BitwiseOr => "|",
        BinaryOperator::BitwiseAnd => "&",
        BinaryOperator::BitwiseXor => "^",
        BinaryOperator::Regexp => "REGEXP",
        BinaryOperator::Match => "MATCH",
        BinaryOperator::Glob => "GLOB",
        BinaryOperator::Eq => "=",
        BinaryOperator::NotEq => "!=",
        BinaryOperator::Lt => "<",
        BinaryOperator::LtEq => "<=",
        BinaryOperator::Gt => ">",
        BinaryOperator::GtEq => ">=",
        BinaryOperator::And => "AND",
        BinaryOperator::Or => "OR",
        BinaryOperator::Xor => "XOR",
        BinaryOperator::Arrow => "->",
        BinaryOperator::LongArrow => "->>",
        BinaryOperator::PGBitwiseShiftLeft => "<<",
        BinaryOperator::PGBitwiseShiftRight => ">>",
        _ => return "this operator".to_owned(),
    };
    format!("operator {name}")
}

#[cfg(test)]
mod differential {
    use super::*;
    use crate::where_sql::WhereSql;

    struct Rng(u64);
    impl Rng {
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
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
    }

    const COLS: &[&str] = &[
        "name",
        "NAME",
        "\"group\"",
        "`group`",
        "[group]",
        "group",
        "objects.name",
        "objects.\"group\"",
        "OBJECTS . kind",
        "cluster",
        "uid",
        "created_at",
        "object",
        "password",
        "objects.object",
        "main.objects.name",
        "\"NULL\"",
        "rowid",
        "[Name]",
        "namespace",
        "owner_uid",
        "resource_version",
        "version",
        "resource",
        "kind",
        "clusters.name",
        "objects.*",
        "objects.",
    ];
    const JSON: &[&str] = &[
        "json_extract(object, '$.a')",
        "JSON_EXTRACT(object,'$.metadata.labels.\"app.kubernetes.io/name\"')",
        "json_extract(\"object\", '$')",
        "json_extract ( [object] , '$.a[0]' )",
        "json_extract(object,'$..a')",
        "json_extract(object, name)",
        "json_extract(object)",
        "json_extract(object, '$.a', '$.b')",
        "\"json_extract\"(object,'$.x')",
        "upper(name)",
        "count(*)",
        "json_extract(object, 1)",
        "json_extract(object, NULL)",
        "json_extract(objects.object, '$.a')",
        "json_extract(object, ('$.a'))",
        "json_extract((object), '$.a')",
        "json_extract(object, '$.a')FILTER(WHERE 1)",
        "main.json_extract(object, '$.a')",
    ];
    const LITS: &[&str] = &[
        "'a'",
        "'it''s'",
        "''",
        "'--'",
        "';'",
        "1",
        "0",
        "-1",
        "- 1",
        "1.5",
        ".5",
        "1.",
        "1e3",
        "1.5e3",
        "1E+3",
        "2e-1",
        "1e999",
        "-1e999",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "0x41",
        "X'41'",
        "1L",
        "1_000",
        "NULL",
        "null",
        "TRUE",
        "false",
        "?",
        ":p",
        "$1",
        "@x",
        "-'a'",
        "-NULL",
        "+1",
        "- -1",
        "-(1)",
        "(-1)",
        "1.e5",
        "1e",
        "00012",
        "-0",
        "-0.0",
        "1__0",
        "'a''",
        "\"a\"",
        "x'4'",
        "'\u{ff1b}'",
        "'\u{0}'",
        "N'a'",
        "1LIKE",
        "1AND",
        "'x'",
        "(('y'))",
        "0.0",
        "1.5.2",
        "1e+",
        "x'00'",
        "X''",
        "0x",
        "''''",
        "'a\\'",
        "?1",
        "name\u{a0}",
        "1l",
    ];
    const OPS: &[&str] = &["=", "==", "!=", "<>", "<", "<=", ">", ">="];
    const SOUP: &[&str] = &[
        "=",
        "==",
        "!=",
        "<>",
        "<",
        "<=",
        ">",
        ">=",
        "IS",
        "IS NOT",
        "NOT",
        "IN",
        "NOT IN",
        "LIKE",
        "NOT LIKE",
        "BETWEEN",
        "NOT BETWEEN",
        "ESCAPE",
        "AND",
        "OR",
        "NOTNULL",
        "NOT NULL",
        "ISNULL",
        "GLOB",
        "||",
        "+",
        "-",
        "*",
        "(",
        ")",
        ",",
        ".",
        "name",
        "'a'",
        "1",
        "NULL",
        "TRUE",
        "json_extract",
        "object",
        "'$.a'",
        "IN ()",
        "SELECT",
        "EXISTS",
        "CAST",
        "CASE",
        "COLLATE",
        "DISTINCT",
        "FROM",
        "1AND",
        "'x'OR",
        "~",
        "->",
        "->>",
        "!",
        "::",
        "[",
        "]",
        "\"",
        "`",
        "'",
        "X",
        "0x",
        "e5",
        "_",
        "$",
        "@",
        ":",
        "?",
        "/",
        "%",
        "&",
        "|",
        "^",
        "<<",
        ">>",
        "--",
        "/*",
        "*/",
        ";",
        "\u{a0}",
        "\u{200b}",
        "\t",
        "\n",
        "\u{b}",
        "\u{c}",
        "\u{0}",
        "is not distinct from",
        "REGEXP",
        "MATCH",
        "ILIKE",
        "SIMILAR TO",
        "ANY",
        "ALL",
        "UNNEST",
        "VALUES",
        "WITH",
        "objects",
        "AS",
        "TEXT",
        "DATE",
        "INTERVAL",
        "nOt",
        "aNd",
        "Or",
        "in",
        "like",
        "between",
        "escape",
    ];

    fn val(r: &mut Rng, d: usize) -> String {
        match r.below(if d == 0 { 3 } else { 4 }) {
            0 => r.pick(COLS).to_owned(),
            1 => r.pick(JSON).to_owned(),
            2 => r.pick(LITS).to_owned(),
            _ => format!("({})", val(r, d - 1)),
        }
    }

    fn cond(r: &mut Rng, d: usize) -> String {
        let not = |r: &mut Rng| if r.chance(30) { "NOT " } else { "" };
        match r.below(if d == 0 { 6 } else { 11 }) {
            0 => format!("{} {} {}", val(r, d), r.pick(OPS), val(r, d)),
            1 => {
                let n = r.below(4);
                let items: Vec<String> = (0..n).map(|_| val(r, d)).collect();
                format!("{} {}IN ({})", val(r, d), not(r), items.join(", "))
            }
            2 => {
                let esc = if r.chance(30) {
                    format!(
                        " ESCAPE {}",
                        r.pick(&["'!'", "'ab'", "''", "name", "'\\'", "1", "NULL"])
                    )
                } else {
                    String::new()
                };
                format!("{} {}LIKE {}{esc}", val(r, d), not(r), val(r, d))
            }
            3 => format!(
                "{} {}BETWEEN {} AND {}",
                val(r, d),
                not(r),
                val(r, d),
                val(r, d)
            ),
            4 => format!(
                "{} {}",
                val(r, d),
                r.pick(&[
                    "IS NULL",
                    "IS NOT NULL",
                    "NOTNULL",
                    "NOT NULL",
                    "ISNULL",
                    "IS 'a'",
                    "IS TRUE"
                ])
            ),
            5 => val(r, d),
            6 | 7 => format!("NOT {}", cond(r, d - 1)),
            8 => format!("({})", cond(r, d - 1)),
            _ => {
                let n = 2 + r.below(3);
                let op = if r.chance(50) { " AND " } else { " OR " };
                let parts: Vec<String> = (0..n).map(|_| cond(r, d - 1)).collect();
                parts.join(op)
            }
        }
    }

    fn mutate(r: &mut Rng, s: &str) -> String {
        let mut chars: Vec<char> = s.chars().collect();
        for _ in 0..1 + r.below(3) {
            let at = r.below(chars.len() + 1);
            match r.below(4) {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 => {
                    let ins: Vec<char> = r.pick(SOUP).chars().collect();
                    for (i, c) in ins.into_iter().enumerate() {
                        chars.insert(at + i, c);
                    }
                }
                2 => chars.truncate(at),
                _ => {
                    let c = r.pick(&[
                        "'", "(", ")", " ", "-", ".", ",", "\"", "[", "e", "0", "N", ";",
                    ]);
                    chars.insert(at, c.chars().next().unwrap());
                }
            }
        }
        chars.into_iter().collect()
    }

    fn check(input: &str, mismatches: &mut Vec<String>, stats: &mut [usize; 2]) {
        let old = old_parse(input);
        let new = WhereSql::parse(input).map(|w| w.0);
        match (&old, &new) {
            (Ok(a), Ok(b)) if a == b => stats[0] += 1,
            (Ok(_), Err(b))
                if b.message.contains("cannot read the number") && b.message.ends_with('L') =>
            {
                stats[1] += 1
            }
            (Ok(_), Err(b)) if b.message.contains("unexpected FILTER") => stats[1] += 1,
            (Err(a), Err(b)) => {
                assert_eq!((a.code, b.code), (400, 400));
                assert!(b.message.starts_with("whereSQL: "));
                stats[1] += 1;
            }
            _ => mismatches.push(format!(
                "{input:?}\n   old: {:?}\n   new: {:?}",
                old.as_ref().map_err(|e| &e.message),
                new.as_ref().map_err(|e| &e.message)
            )),
        }
    }

    #[test]
    fn differential_against_sqlparser() {
        let iterations: usize = std::env::var("DIFF_N")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(20000);
        let seed: u64 = std::env::var("DIFF_SEED")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let mut r = Rng(seed);
        let mut mismatches = Vec::new();
        let mut stats = [0usize; 2];
        for i in 0..iterations {
            let input = match i % 4 {
                0 | 1 => cond(&mut r, 3),
                2 => {
                    let c = cond(&mut r, 3);
                    mutate(&mut r, &c)
                }
                _ => {
                    let n = 1 + r.below(8);
                    let sep = if r.chance(70) { " " } else { "" };
                    (0..n).map(|_| r.pick(SOUP)).collect::<Vec<_>>().join(sep)
                }
            };
            check(&input, &mut mismatches, &mut stats);
        }
        // Nesting thresholds.
        for n in [40, 45, 47, 48, 49, 50, 55, 60, 63, 64, 65] {
            let parens = format!("{}name = 'a'{}", "(".repeat(n), ")".repeat(n));
            let nots = format!("{}name = 'a'", "NOT ".repeat(n));
            let vals = format!("name = {}'a'{}", "(".repeat(n), ")".repeat(n));
            let ins = format!("name IN ({}'a'{})", "name IN (".repeat(n), ")".repeat(n));
            eprintln!(
                "depth {n}: parens old {} new {}; NOTs old {} new {}; value parens old {} new {}; nested IN old {} new {}",
                old_parse(&parens).is_ok(), WhereSql::parse(&parens).is_ok(),
                old_parse(&nots).is_ok(), WhereSql::parse(&nots).is_ok(),
                old_parse(&vals).is_ok(), WhereSql::parse(&vals).is_ok(),
                old_parse(&ins).is_ok(), WhereSql::parse(&ins).is_ok(),
            );
        }
        eprintln!(
            "agree ok {} / err {}; mismatches {}",
            stats[0],
            stats[1],
            mismatches.len()
        );
        let mut seen = std::collections::BTreeSet::new();
        for m in &mismatches {
            if seen.len() < 60 && seen.insert(m.clone()) {
                eprintln!("{m}");
            }
        }
        assert!(mismatches.is_empty());
    }
}

#[cfg(test)]
mod wording {
    use super::*;
    use crate::where_sql::WhereSql;

    #[test]
    fn list_wording_differences() {
        let long = format!("name = '{}'", "x".repeat(super::super::MAX_LEN));
        let deep = format!("{}cluster = 'a'{}", "(".repeat(200), ")".repeat(200));
        let many = format!("name IN ({})", vec!["'x'"; MAX_IN_ITEMS + 1].join(","));
        let inputs = [
            "cluster = 'a' UNION SELECT name FROM objects",
            "'; DROP TABLE objects; --",
            "1=1; DELETE FROM objects",
            "cluster = 'a' OR 1=1 --",
            "cluster = 'a' /* comment */",
            "(SELECT count(*) FROM objects) > 0",
            "EXISTS (SELECT 1)",
            "name IN (SELECT name FROM clusters)",
            "name = (SELECT name FROM sqlite_master)",
            "sqlite_master.name = 'objects'",
            "load_extension('evil')",
            "load_extension('evil') = 1",
            "sqlite_version() = '3'",
            "randomblob(10) = x",
            "PRAGMA table_info(objects)",
            "ATTACH DATABASE '/tmp/x' AS x",
            "json_extract(secret_data, '$.x') = 1",
            "json_extract(object, '$.a'') OR 1=1 --') = 1",
            "json_extract(object, '$.a)') = 1",
            "json_extract(object, name) = 1",
            "json_extract(object, '$.a', '$.b') = 1",
            "json_extract(object) = 1",
            "json(object) = '{}'",
            "object = '{}'",
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
            "password = 'x'",
            "name = \"a\"",
            "cluster",
            "'a'",
            "1",
            "",
            "cluster = 'a' ORDER BY name",
            "cluster = 'a' LIMIT 1",
            "cluster = 'a') OR (1=1",
            "name\u{0}= 'a'",
            "cluster = 'a'\u{ff1b} DROP TABLE objects",
            "\u{200b}cluster = 'a'",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "name IN (VALUES ('a'))",
            "json_extract(object, '$.a') FILTER (WHERE 1) = 1",
            "json_extract(DISTINCT object, '$.a') = 1",
            "json_extract(object, '$..a') = 1",
            "object -> '$.a' = 1",
            "object ->> '$.a' = 1",
            "count(*) > 0",
            "likelihood(name = 'a', 0.5)",
            "name IS 'a'",
            "name IS NOT DISTINCT FROM 'a'",
            "1 = 1 = 1",
            "name LIKE 'a' ESCAPE name",
            "name LIKE 'a' ESCAPE 'ab'",
            "-1e999 = name",
            "name = 1e400",
            "name ILIKE 'a'",
            "name SIMILAR TO 'a'",
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
            "name = 1_000",
            "name = 1L",
            "name = 'a' AND",
            "(name = 'a'",
            "name IN ('a',)",
            "name IN 'a'",
            "name BETWEEN 1 OR 2",
            "name = - 'a'",
            "+1 = 1",
            "name IS TRUE",
            "name NOT GLOB 'x'",
            "\"unterminated = 1",
            "json_extract(object, '$.a')",
            "NOT name",
            "name = (kind = 'a')",
            "name = 1.5.2",
            "name = 'a' name = 'b'",
            "objects.* = 1",
            "name = -(1)",
            "name = - -1",
            "AND = 1",
            "name = NOT 1",
            &long,
            &deep,
            &many,
        ];
        for input in inputs {
            let old = old_parse(input)
                .err()
                .map(|e| e.message)
                .unwrap_or_else(|| "OK".into());
            let new = WhereSql::parse(input)
                .err()
                .map(|e| e.message)
                .unwrap_or_else(|| "OK".into());
            if old != new {
                let shown: String = input.chars().take(60).collect();
                eprintln!("{shown:?}\n   old: {old}\n   new: {new}");
            }
        }
    }
}
