//! Tokenizer for the filter language.
//!
//! Positions are counted in characters (Unicode scalar values), not bytes, so
//! that error carets line up with what the user typed.

use super::FilterError;

/// A region of the source text, in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// 0-based character offset of the first character.
    pub(crate) start: usize,
    /// Number of characters.
    pub(crate) len: usize,
}

impl Span {
    /// Creates a span.
    pub(crate) fn new(start: usize, len: usize) -> Self {
        Self { start, len }
    }

    /// Offset one past the last character.
    pub(crate) fn end(self) -> usize {
        self.start.saturating_add(self.len)
    }

    /// The smallest span covering `self` and `other`.
    pub(crate) fn to(self, other: Span) -> Span {
        let start = self.start.min(other.start);
        let end = self.end().max(other.end());
        Span::new(start, end.saturating_sub(start))
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// All operators, in documentation order.
    #[cfg(test)]
    pub(crate) const ALL: [CmpOp; 6] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Gt,
        CmpOp::Le,
        CmpOp::Ge,
    ];

    /// The operator as written.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Gt => ">",
            CmpOp::Le => "<=",
            CmpOp::Ge => ">=",
        }
    }

    /// Whether this is `==` or `!=`.
    pub(crate) fn is_equality(self) -> bool {
        matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// An unquoted word: a field name or a bare value.
    Word(String),
    /// A quoted value; `text` excludes the quotes.
    Quoted {
        /// The text between the quotes.
        text: String,
        /// The quote character used (`"` or `'`).
        quote: char,
    },
    /// A comparison operator.
    Cmp(CmpOp),
    /// `&&`
    And,
    /// `||`
    Or,
    /// `!` (not followed by `=`)
    Not,
    /// `(`
    LParen,
    /// `)`
    RParen,
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// What the token is.
    pub(crate) kind: TokenKind,
    /// Where it is in the source.
    pub(crate) span: Span,
}

impl Token {
    /// Describes the token for "found ..." in error messages.
    pub(crate) fn describe(&self) -> String {
        match &self.kind {
            TokenKind::Word(word) => format!("\"{word}\""),
            TokenKind::Quoted { text, quote } => format!("the quoted value {quote}{text}{quote}"),
            TokenKind::Cmp(op) => format!("\"{}\"", op.as_str()),
            TokenKind::And => "\"&&\"".to_owned(),
            TokenKind::Or => "\"||\"".to_owned(),
            TokenKind::Not => "\"!\"".to_owned(),
            TokenKind::LParen => "\"(\"".to_owned(),
            TokenKind::RParen => "\")\"".to_owned(),
        }
    }
}

/// Characters that end a bare word (besides whitespace and quotes).
pub(crate) const SPECIAL: [char; 8] = ['(', ')', '&', '|', '=', '!', '<', '>'];

fn is_quote(c: char) -> bool {
    c == '"' || c == '\''
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || SPECIAL.contains(&c)
}

/// Splits `source` into tokens, or reports the first lexical error.
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).copied();
        let (kind, len) = match c {
            '(' => (TokenKind::LParen, 1),
            ')' => (TokenKind::RParen, 1),
            '&' if next == Some('&') => (TokenKind::And, 2),
            '&' => {
                return Err(FilterError::new(
                    "\"&\" is not an operator",
                    Span::new(i, 1),
                    Some("use \"&&\" to require both conditions".to_owned()),
                ));
            }
            '|' if next == Some('|') => (TokenKind::Or, 2),
            '|' => {
                return Err(FilterError::new(
                    "\"|\" is not an operator",
                    Span::new(i, 1),
                    Some("use \"||\" to accept either condition".to_owned()),
                ));
            }
            '=' if next == Some('=') => (TokenKind::Cmp(CmpOp::Eq), 2),
            '=' => {
                return Err(FilterError::new(
                    "\"=\" is not an operator",
                    Span::new(i, 1),
                    Some("use \"==\" to test for equality".to_owned()),
                ));
            }
            '!' if next == Some('=') => (TokenKind::Cmp(CmpOp::Ne), 2),
            '!' => (TokenKind::Not, 1),
            '<' if next == Some('=') => (TokenKind::Cmp(CmpOp::Le), 2),
            '<' => (TokenKind::Cmp(CmpOp::Lt), 1),
            '>' if next == Some('=') => (TokenKind::Cmp(CmpOp::Ge), 2),
            '>' => (TokenKind::Cmp(CmpOp::Gt), 1),
            quote if is_quote(quote) => lex_quoted(&chars, i, quote)?,
            _ => lex_word(&chars, i)?,
        };
        tokens.push(Token {
            kind,
            span: Span::new(i, len),
        });
        i += len;
    }
    Ok(tokens)
}

/// Lexes a quoted value starting at the quote at `start`.
fn lex_quoted(
    chars: &[char],
    start: usize,
    quote: char,
) -> Result<(TokenKind, usize), FilterError> {
    let body = chars.get(start + 1..).unwrap_or_default();
    match body.iter().position(|&c| c == quote) {
        Some(end) => {
            let text: String = body.iter().take(end).collect();
            Ok((TokenKind::Quoted { text, quote }, end + 2))
        }
        None => Err(FilterError::new(
            "unterminated quote",
            Span::new(start, 1),
            Some(format!(
                "add a closing {quote} after the value that this {quote} starts"
            )),
        )),
    }
}

/// Lexes a bare word starting at `start`.
fn lex_word(chars: &[char], start: usize) -> Result<(TokenKind, usize), FilterError> {
    let mut word = String::new();
    let mut i = start;
    while let Some(&c) = chars.get(i) {
        if ends_word(c) {
            break;
        }
        if is_quote(c) {
            return Err(FilterError::new(
                format!("unexpected {c} in the middle of a value"),
                Span::new(i, 1),
                Some(
                    "quotes must surround the whole value, e.g. model == \"INTEL SSD\"".to_owned(),
                ),
            ));
        }
        word.push(c);
        i += 1;
    }
    Ok((TokenKind::Word(word), i - start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        match tokenize(source) {
            Ok(tokens) => tokens.into_iter().map(|t| t.kind).collect(),
            Err(err) => panic!("unexpected error {err:?}"),
        }
    }

    fn word(w: &str) -> TokenKind {
        TokenKind::Word(w.to_owned())
    }

    #[test]
    fn spacing_does_not_matter() {
        let expected = vec![word("size"), TokenKind::Cmp(CmpOp::Gt), word("10GiB")];
        assert_eq!(kinds("size>10GiB"), expected);
        assert_eq!(kinds("size > 10GiB"), expected);
        assert_eq!(kinds("  size\t>\n10GiB  "), expected);
    }

    #[test]
    fn all_operators() {
        assert_eq!(
            kinds("== != < > <= >= && || ! ( )"),
            vec![
                TokenKind::Cmp(CmpOp::Eq),
                TokenKind::Cmp(CmpOp::Ne),
                TokenKind::Cmp(CmpOp::Lt),
                TokenKind::Cmp(CmpOp::Gt),
                TokenKind::Cmp(CmpOp::Le),
                TokenKind::Cmp(CmpOp::Ge),
                TokenKind::And,
                TokenKind::Or,
                TokenKind::Not,
                TokenKind::LParen,
                TokenKind::RParen,
            ]
        );
        assert_eq!(
            kinds("!(a<=b)"),
            vec![
                TokenKind::Not,
                TokenKind::LParen,
                word("a"),
                TokenKind::Cmp(CmpOp::Le),
                word("b"),
                TokenKind::RParen,
            ]
        );
    }

    #[test]
    fn quoted_values() {
        assert_eq!(
            kinds("\"INTEL SSD\" 'a \"b\"' \"\""),
            vec![
                TokenKind::Quoted {
                    text: "INTEL SSD".to_owned(),
                    quote: '"'
                },
                TokenKind::Quoted {
                    text: "a \"b\"".to_owned(),
                    quote: '\''
                },
                TokenKind::Quoted {
                    text: String::new(),
                    quote: '"'
                },
            ]
        );
    }

    #[test]
    fn spans_are_in_characters() {
        let tokens = tokenize("é == 'ü x' && b").unwrap_or_default();
        let spans: Vec<Span> = tokens.iter().map(|t| t.span).collect();
        assert_eq!(
            spans,
            vec![
                Span::new(0, 1),
                Span::new(2, 2),
                Span::new(5, 5),
                Span::new(11, 2),
                Span::new(14, 1),
            ]
        );
    }

    #[test]
    fn bare_words_stop_at_specials() {
        assert_eq!(
            kinds("a(b)c&&d||e!f"),
            vec![
                word("a"),
                TokenKind::LParen,
                word("b"),
                TokenKind::RParen,
                word("c"),
                TokenKind::And,
                word("d"),
                TokenKind::Or,
                word("e"),
                TokenKind::Not,
                word("f"),
            ]
        );
        assert_eq!(
            kinds("*lxd_disk1 259:0 /dev/sda"),
            vec![word("*lxd_disk1"), word("259:0"), word("/dev/sda")]
        );
    }

    #[test]
    fn lexical_errors() {
        let err = |s: &str| tokenize(s).err();
        assert_eq!(
            err("a & b"),
            Some(FilterError::new(
                "\"&\" is not an operator",
                Span::new(2, 1),
                Some("use \"&&\" to require both conditions".to_owned())
            ))
        );
        assert_eq!(
            err("a | b").map(|e| (e.message, e.offset, e.len)),
            Some(("\"|\" is not an operator".to_owned(), 2, 1))
        );
        assert_eq!(
            err("size = 1").map(|e| (e.message, e.offset, e.len, e.help)),
            Some((
                "\"=\" is not an operator".to_owned(),
                5,
                1,
                Some("use \"==\" to test for equality".to_owned())
            ))
        );
        assert_eq!(
            err("model == \"INTEL SSD").map(|e| (e.message, e.offset, e.len)),
            Some(("unterminated quote".to_owned(), 9, 1))
        );
        assert_eq!(
            err("ü == 'x").map(|e| (e.message, e.offset, e.len)),
            Some(("unterminated quote".to_owned(), 5, 1))
        );
        assert_eq!(
            err("model == INTEL\"SSD\"").map(|e| (e.message, e.offset, e.len)),
            Some(("unexpected \" in the middle of a value".to_owned(), 14, 1))
        );
    }
}
