//! whereSQL text → tokens, by SQLite's lexical rules as the general SQL parser used before this
//! one applied them (docs/DECISIONS.md), so the same texts split the same way. The whole text is
//! lexed before anything is parsed, so comments and `;` are found as tokens: `'--'` inside a
//! string is text, `--` outside one is a comment. Nothing here decides what is allowed beyond
//! the shape of a token; unknown characters become [`Token::Other`] for the parser to refuse.

use super::refuse;
use crate::error::ApiResult;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    /// An identifier or keyword. `quoted` for `"…"`, `` `…` `` and `[…]`: those are always
    /// names, never keywords.
    Word { text: String, quoted: bool },
    /// `'…'`, with `''` read as one quote.
    Str(String),
    /// An unsigned number as written (`1`, `1.5e3`, `.5`, `1_000`); read by the parser.
    Num(String),
    /// `X'…'` or `0x…`: a blob literal, refused by the parser.
    Blob(String),
    /// `?`, `?1`, `:name`, `@name`, `$name`: refused by the parser.
    Placeholder(String),
    /// Punctuation and operators: `(`, `)`, `,`, `.`, `;`, `=`, `<=`, `||`, `->>`, ….
    Punct(&'static str),
    /// `-- …` or `/* … */`; refused.
    Comment,
    /// Any other character.
    Other(char),
}

impl Token {
    /// An unquoted word equal to `keyword` (ASCII-case-insensitive).
    pub(super) fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self, Token::Word { text, quoted: false } if text.eq_ignore_ascii_case(keyword))
    }
}

/// The token as it would be written, for messages (control and invisible characters escaped).
impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word {
                text,
                quoted: false,
            } => write!(f, "{}", text.escape_debug()),
            Token::Word { text, quoted: true } => write!(f, "\"{}\"", text.escape_debug()),
            Token::Str(s) => write!(f, "'{}'", s.escape_debug()),
            Token::Num(n) => f.write_str(n),
            Token::Blob(b) => write!(f, "X'{}'", b.escape_debug()),
            Token::Placeholder(p) => write!(f, "{}", p.escape_debug()),
            Token::Punct(p) => write!(f, "'{p}'"),
            Token::Comment => f.write_str("a comment"),
            Token::Other(c) => write!(f, "{c:?}"),
        }
    }
}

/// Operators and punctuation, longest first so that `<=` is not read as `<` `=`.
const PUNCT: &[&str] = &[
    "->>", "<<", ">>", "->", "<=", ">=", "<>", "==", "!=", "||", "::", "(", ")", ",", ";", "=",
    "<", ">", "+", "-", "*", "/", "%", "&", "|", "^", "~", "!", ":",
];

/// SQLite's identifier characters: ASCII letters, `_` and everything from U+0080 start one
/// (so look-alike semicolons, invisible and bidi characters end up inside a name, which is then
/// unknown); digits and `$` may follow.
fn ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c >= '\u{80}'
}

fn ident_part(c: char) -> bool {
    ident_start(c) || c.is_ascii_digit() || c == '$'
}

pub(super) fn lex(input: &str) -> ApiResult<Vec<Token>> {
    let chars: Vec<char> = input.chars().collect();
    let mut lexer = Lexer { chars, pos: 0 };
    let mut tokens = Vec::new();
    while let Some(token) = lexer.next_token()? {
        tokens.push(token);
    }
    Ok(tokens)
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn peek(&self) -> Option<char> {
        self.peek_at(0)
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(i, c)| self.peek_at(i) == Some(c))
    }

    fn next_token(&mut self) -> ApiResult<Option<Token>> {
        // ASCII whitespace only: from U+0080 on, characters are identifier characters.
        while self
            .peek()
            .is_some_and(|c| c.is_ascii() && c.is_whitespace())
        {
            self.pos += 1;
        }
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let token = match c {
            '-' if self.peek_at(1) == Some('-') => {
                self.take_while(|c| c != '\n');
                Token::Comment
            }
            '/' if self.peek_at(1) == Some('*') => {
                // Unterminated comments run to the end (as in SQLite): refused all the same.
                self.pos += 2;
                while self.peek().is_some() && !self.starts_with("*/") {
                    self.pos += 1;
                }
                self.pos = (self.pos + 2).min(self.chars.len());
                Token::Comment
            }
            '\'' => {
                self.pos += 1;
                Token::Str(self.quoted('\'', "string")?)
            }
            '"' | '`' | '[' => {
                self.pos += 1;
                let close = match c {
                    '[' => ']',
                    other => other,
                };
                Token::Word {
                    text: self.quoted(close, "quoted name")?,
                    quoted: true,
                }
            }
            'x' | 'X' if self.peek_at(1) == Some('\'') => {
                self.pos += 2;
                Token::Blob(self.blob_body()?)
            }
            '0'..='9' => self.number(),
            '.' if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => self.number(),
            '?' => {
                self.pos += 1;
                Token::Placeholder(format!("?{}", self.take_while(|c| c.is_ascii_digit())))
            }
            ':' | '@' | '$' if self.peek_at(1).is_some_and(ident_part) => {
                self.pos += 1;
                Token::Placeholder(format!("{c}{}", self.take_while(ident_part)))
            }
            c if ident_start(c) => Token::Word {
                text: self.take_while(ident_part),
                quoted: false,
            },
            '.' => {
                self.pos += 1;
                Token::Punct(".")
            }
            _ => match PUNCT.iter().find(|p| self.starts_with(p)) {
                Some(p) => {
                    self.pos += p.chars().count();
                    Token::Punct(p)
                }
                None => {
                    self.pos += 1;
                    Token::Other(c)
                }
            },
        };
        Ok(Some(token))
    }

    /// The rest of a quoted string or name after its opening quote; a doubled `close` is one.
    fn quoted(&mut self, close: char, what: &str) -> ApiResult<String> {
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return Err(refuse(format!("cannot parse: unterminated {what}"))),
                Some(c) if c == close => {
                    self.pos += 1;
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        text.push(close);
                    } else {
                        return Ok(text);
                    }
                }
                Some(c) => {
                    self.pos += 1;
                    text.push(c);
                }
            }
        }
    }

    /// The rest of `X'…'`, where `\` escapes the next character (so where it ends is read as
    /// before).
    fn blob_body(&mut self) -> ApiResult<String> {
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return Err(refuse("cannot parse: unterminated blob literal")),
                Some('\'') if self.peek_at(1) == Some('\'') => {
                    self.pos += 2;
                    text.push('\'');
                }
                Some('\'') => {
                    self.pos += 1;
                    return Ok(text);
                }
                Some('\\') => {
                    self.pos += 1;
                    if let Some(c) = self.peek() {
                        self.pos += 1;
                        text.push(c);
                    }
                }
                Some(c) => {
                    self.pos += 1;
                    text.push(c);
                }
            }
        }
    }

    /// Digits with `_` between them, then `.` and digits, then `e`/`E`, a sign and digits (only
    /// when a digit follows). `0x…` is a blob. What follows is the next token: `1AND` is
    /// `1 AND`, as before (SQLite itself would refuse it).
    fn number(&mut self) -> Token {
        let digits = |lexer: &mut Lexer, text: &mut String| {
            while let Some(c) = lexer.peek() {
                let separator = c == '_'
                    && !text.is_empty()
                    && text.ends_with(|c: char| c.is_ascii_digit())
                    && lexer.peek_at(1).is_some_and(|c| c.is_ascii_digit());
                if !c.is_ascii_digit() && !separator {
                    break;
                }
                text.push(c);
                lexer.pos += 1;
            }
        };
        let mut text = String::new();
        digits(self, &mut text);
        if text == "0" && self.peek() == Some('x') {
            self.pos += 1;
            return Token::Blob(self.take_while(|c| c.is_ascii_hexdigit()));
        }
        if self.peek() == Some('.') {
            self.pos += 1;
            text.push('.');
            let mut fraction = String::new();
            digits(self, &mut fraction);
            text.push_str(&fraction);
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let signed = matches!(self.peek_at(1), Some('+' | '-'));
            let first = self.peek_at(if signed { 2 } else { 1 });
            if first.is_some_and(|c| c.is_ascii_digit()) {
                let prefix = if signed { 2 } else { 1 };
                text.extend(&self.chars[self.pos..self.pos + prefix]);
                self.pos += prefix;
                let mut exponent = String::new();
                digits(self, &mut exponent);
                text.push_str(&exponent);
            }
        }
        // A trailing `L` (a Hive "long") was read as part of the number before. It stays in the
        // token, so `1L` is refused as a number and `1LIKE` is not read as `1 LIKE`.
        if self.peek() == Some('L') {
            self.pos += 1;
            text.push('L');
        }
        Token::Num(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str) -> Token {
        Token::Word {
            text: text.to_owned(),
            quoted: false,
        }
    }

    fn quoted(text: &str) -> Token {
        Token::Word {
            text: text.to_owned(),
            quoted: true,
        }
    }

    #[test]
    fn tokens() {
        use Token::*;
        let num = |n: &str| Num(n.to_owned());
        for (input, want) in [
            (
                "name='it''s'",
                vec![word("name"), Punct("="), Str("it's".into())],
            ),
            ("''''", vec![Str("'".into())]),
            ("''", vec![Str(String::new())]),
            (
                "\"gr\"\"oup\" `a``b` [c]]d]",
                vec![quoted("gr\"oup"), quoted("a`b"), quoted("c]d")],
            ),
            (
                "1 1.5e3 .5 1. 1e999 1E+3 2e-1 1_000",
                vec![
                    num("1"),
                    num("1.5e3"),
                    num(".5"),
                    num("1."),
                    num("1e999"),
                    num("1E+3"),
                    num("2e-1"),
                    num("1_000"),
                ],
            ),
            ("1e 1_", vec![num("1"), word("e"), num("1"), word("_")]),
            (
                "1AND 1and",
                vec![num("1"), word("AND"), num("1"), word("and")],
            ),
            ("1L 1LIKE", vec![num("1L"), num("1L"), word("IKE")]),
            (
                "0x41 X'41' 0X1",
                vec![Blob("41".into()), Blob("41".into()), num("0"), word("X1")],
            ),
            (
                "a<=-1 b<>c d==e f!=g h>=i",
                vec![
                    word("a"),
                    Punct("<="),
                    Punct("-"),
                    num("1"),
                    word("b"),
                    Punct("<>"),
                    word("c"),
                    word("d"),
                    Punct("=="),
                    word("e"),
                    word("f"),
                    Punct("!="),
                    word("g"),
                    word("h"),
                    Punct(">="),
                    word("i"),
                ],
            ),
            (
                "a->>b||c",
                vec![word("a"), Punct("->>"), word("b"), Punct("||"), word("c")],
            ),
            (
                "? ?1 :p @x $1 : @",
                vec![
                    Placeholder("?".into()),
                    Placeholder("?1".into()),
                    Placeholder(":p".into()),
                    Placeholder("@x".into()),
                    Placeholder("$1".into()),
                    Punct(":"),
                    Other('@'),
                ],
            ),
            (
                "objects . name",
                vec![word("objects"), Punct("."), word("name")],
            ),
            (
                "objects.name",
                vec![word("objects"), Punct("."), word("name")],
            ),
            ("a--b\nc", vec![word("a"), Comment, word("c")]),
            (
                "a/*b*/c /* open",
                vec![word("a"), Comment, word("c"), Comment],
            ),
            (
                "'--' '/*' ';'",
                vec![Str("--".into()), Str("/*".into()), Str(";".into())],
            ),
            ("a;b", vec![word("a"), Punct(";"), word("b")]),
            (
                "\u{200b}a\u{ff1b}\u{a0}",
                vec![word("\u{200b}a\u{ff1b}\u{a0}")],
            ),
            ("a\u{0}\u{b}\u{c}b", vec![word("a"), Other('\0'), word("b")]),
            ("a$1 _x", vec![word("a$1"), word("_x")]),
        ] {
            assert_eq!(lex(input).unwrap(), want, "{input}");
        }
        for input in ["'open", "\"open", "[open", "`open", "X'open", "'it''s"] {
            let err = lex(input).unwrap_err();
            assert!(
                err.message.contains("unterminated"),
                "{input}: {}",
                err.message
            );
        }
    }
}
