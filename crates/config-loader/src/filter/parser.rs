//! The filter AST, the recursive-descent parser, the type checker and the
//! canonical printer.
//!
//! Parsing happens in two passes. The syntax pass builds an untyped tree and
//! stops at the first syntax error (nothing sensible can follow it). The type
//! pass then checks every clause (field name, operator, value) and collects
//! *all* the clause errors, so that a user sees every bad clause at once.

use std::fmt;

use super::lexer::{CmpOp, Span, Token, TokenKind, tokenize};
use super::value::{ValueError, bool_value, size_value, unsigned_value};
use super::{Field, FieldKind, FilterError, FilterWarning};

/// Maximum nesting of parentheses and `!`, to bound recursion.
pub(crate) const MAX_DEPTH: usize = 64;

/// A typed value in a clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// A glob pattern for a text field, as written (case preserved).
    Text(String),
    /// A number (sizes are stored in bytes).
    Unsigned(u64),
    /// A boolean.
    Bool(bool),
}

/// One comparison `field op value`.
///
/// Invariant (guaranteed by the type pass): the value matches the field's
/// kind, and text and boolean fields only use `==` or `!=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clause {
    /// The disk field.
    pub(crate) field: Field,
    /// The comparison.
    pub(crate) op: CmpOp,
    /// What the field is compared with.
    pub(crate) value: Value,
}

/// A checked filter expression.
///
/// `And` and `Or` always hold at least two operands when built by the parser.
/// Parentheses do not create nodes, but they do shape the tree:
/// `(a && b) && c` is `And[And[a, b], c]` while `a && b && c` is `And[a, b, c]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expr {
    /// A single comparison.
    Clause(Clause),
    /// Negation.
    Not(Box<Expr>),
    /// All operands must match.
    And(Vec<Expr>),
    /// At least one operand must match.
    Or(Vec<Expr>),
}

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.field.name(), self.op.as_str())?;
        match &self.value {
            Value::Text(text) => {
                // The parser never produces a value holding both kinds of quote
                // (there are no escapes), so one of the two always works.
                let quote = if text.contains('"') { '\'' } else { '"' };
                write!(f, "{quote}{text}{quote}")
            }
            Value::Unsigned(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Writes `items` separated by `separator`, parenthesising nested `&&`/`||`.
fn join(f: &mut fmt::Formatter<'_>, items: &[Expr], separator: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        match item {
            Expr::And(_) | Expr::Or(_) => write!(f, "({item})")?,
            Expr::Clause(_) | Expr::Not(_) => write!(f, "{item}")?,
        }
    }
    Ok(())
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Clause(clause) => write!(f, "{clause}"),
            Expr::Not(inner) => match inner.as_ref() {
                Expr::Not(_) => write!(f, "!{inner}"),
                Expr::Clause(_) | Expr::And(_) | Expr::Or(_) => write!(f, "!({inner})"),
            },
            Expr::And(items) => join(f, items, " && "),
            Expr::Or(items) => join(f, items, " || "),
        }
    }
}

/// `&&` or `||`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinOp {
    And,
    Or,
}

impl BinOp {
    fn as_str(self) -> &'static str {
        match self {
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }

    fn quoted(self) -> &'static str {
        match self {
            BinOp::And => "\"&&\"",
            BinOp::Or => "\"||\"",
        }
    }
}

/// A clause before type checking.
#[derive(Debug, Clone)]
struct RawClause {
    field: String,
    field_span: Span,
    op: CmpOp,
    op_span: Span,
    value: String,
    value_span: Span,
}

/// The untyped tree built by the syntax pass.
#[derive(Debug, Clone)]
enum Raw {
    Clause(RawClause),
    Not(Box<Raw>),
    And(Vec<Raw>),
    Or(Vec<Raw>),
}

/// Builds the `||` of `&&` groups from a flat operand/operator sequence.
fn build(operands: Vec<(Raw, Span)>, ops: &[(BinOp, Span)]) -> Raw {
    fn collapse(mut items: Vec<Raw>, make: fn(Vec<Raw>) -> Raw) -> Raw {
        if items.len() == 1
            && let Some(item) = items.pop()
        {
            return item;
        }
        make(items)
    }
    let mut or_terms = Vec::new();
    let mut and_terms = Vec::new();
    let mut operands = operands.into_iter().map(|(raw, _)| raw);
    if let Some(first) = operands.next() {
        and_terms.push(first);
    }
    for ((op, _), operand) in ops.iter().zip(operands) {
        if *op == BinOp::Or {
            or_terms.push(collapse(std::mem::take(&mut and_terms), Raw::And));
        }
        and_terms.push(operand);
    }
    or_terms.push(collapse(and_terms, Raw::And));
    collapse(or_terms, Raw::Or)
}

/// The syntax pass.
struct Parser<'a> {
    tokens: &'a [Token],
    chars: &'a [char],
    pos: usize,
    depth: usize,
    warnings: Vec<FilterWarning>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.pos)
    }

    /// The token `back` positions before the current one.
    fn previous(&self, back: usize) -> Option<&'a Token> {
        self.pos.checked_sub(back).and_then(|i| self.tokens.get(i))
    }

    /// The empty span at the end of the input.
    fn eof(&self) -> Span {
        Span::new(self.chars.len(), 0)
    }

    /// The source text covered by `span`.
    fn text(&self, span: Span) -> String {
        self.chars.iter().skip(span.start).take(span.len).collect()
    }

    /// `group := unary ( ("&&" | "||") unary )*`, up to the end of the
    /// input (top level, `open` is `None`) or the `)` matching `open`.
    fn group(&mut self, open: Option<Span>) -> Result<Raw, FilterError> {
        let mut operands = vec![self.unary(open.map(|_| "\"(\""))?];
        let mut ops = Vec::new();
        loop {
            let Some(token) = self.peek() else {
                return match open {
                    Some(open) => Err(FilterError::new(
                        "unbalanced parenthesis",
                        open,
                        Some("add a \")\" to close this \"(\"".to_owned()),
                    )),
                    None => Ok(self.finish_group(operands, &ops)),
                };
            };
            let op = match token.kind {
                TokenKind::And => BinOp::And,
                TokenKind::Or => BinOp::Or,
                TokenKind::RParen if open.is_some() => {
                    self.pos += 1;
                    return Ok(self.finish_group(operands, &ops));
                }
                TokenKind::RParen => {
                    return Err(FilterError::new(
                        "unbalanced parenthesis",
                        token.span,
                        Some("remove this \")\" or add a matching \"(\" before it".to_owned()),
                    ));
                }
                _ => return Err(self.expected_connective(token, open.is_some())),
            };
            self.pos += 1;
            ops.push((op, token.span));
            operands.push(self.unary(Some(op.quoted()))?);
        }
    }

    fn finish_group(&mut self, operands: Vec<(Raw, Span)>, ops: &[(BinOp, Span)]) -> Raw {
        self.check_precedence(&operands, ops);
        build(operands, ops)
    }

    /// Warns when MicroCloud's left-to-right evaluation would read this
    /// parenthesis-free group differently: an `&&` after an `||`.
    fn check_precedence(&mut self, operands: &[(Raw, Span)], ops: &[(BinOp, Span)]) {
        let Some(first_or) = ops.iter().position(|(op, _)| *op == BinOp::Or) else {
            return;
        };
        let Some(&(_, and_span)) = ops.iter().skip(first_or).find(|(op, _)| *op == BinOp::And)
        else {
            return;
        };
        let texts: Vec<String> = operands.iter().map(|(_, span)| self.text(*span)).collect();
        let mut rest = texts.iter();
        let first = rest.next().cloned().unwrap_or_default();

        // MicroCloud: strictly left to right.
        let mut theirs = first.clone();
        let mut pending_or = false;
        // Ours: `&&` groups joined by `||`.
        let mut groups = vec![vec![first]];
        for ((op, _), text) in ops.iter().zip(rest) {
            match op {
                BinOp::And => {
                    if pending_or {
                        theirs = format!("({theirs})");
                        pending_or = false;
                    }
                    if let Some(group) = groups.last_mut() {
                        group.push(text.clone());
                    }
                }
                BinOp::Or => {
                    pending_or = true;
                    groups.push(vec![text.clone()]);
                }
            }
            theirs = format!("{theirs} {} {text}", op.as_str());
        }
        let ours = groups
            .iter()
            .map(|group| {
                let joined = group.join(" && ");
                if group.len() > 1 {
                    format!("({joined})")
                } else {
                    joined
                }
            })
            .collect::<Vec<_>>()
            .join(" || ");
        self.warnings.push(FilterWarning {
            message: format!(
                "\"&&\" binds tighter than \"||\" here, but MicroCloud evaluates left to right; \
                 it would read this as \"{theirs}\""
            ),
            offset: and_span.start,
            len: and_span.len,
            help: Some(format!(
                "add parentheses to make the intent explicit: \"{ours}\""
            )),
        });
    }

    /// Enters one level of `!` or `(`.
    fn enter(&mut self, span: Span) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::new(
                "the filter is nested too deeply",
                span,
                Some(format!(
                    "use at most {MAX_DEPTH} levels of parentheses and \"!\""
                )),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// `unary := "!" unary | "(" group ")" | clause`.
    ///
    /// `after` names the token before this position, for error messages.
    fn unary(&mut self, after: Option<&str>) -> Result<(Raw, Span), FilterError> {
        let Some(token) = self.peek() else {
            return Err(expected_condition(after, None, self.eof()));
        };
        match &token.kind {
            TokenKind::Not => {
                self.enter(token.span)?;
                self.pos += 1;
                let (inner, span) = self.unary(Some("\"!\""))?;
                self.leave();
                Ok((Raw::Not(Box::new(inner)), token.span.to(span)))
            }
            TokenKind::LParen => {
                self.enter(token.span)?;
                self.pos += 1;
                let inner = self.group(Some(token.span))?;
                self.leave();
                let close = self.previous(1).map_or(token.span, |t| t.span);
                Ok((inner, token.span.to(close)))
            }
            TokenKind::Word(field) => self.clause(field, token.span),
            TokenKind::Quoted { .. } => Err(FilterError::new(
                format!("expected a field name, found {}", token.describe()),
                token.span,
                Some("field names are not quoted, e.g. model == \"INTEL SSD\"".to_owned()),
            )),
            TokenKind::Cmp(_) | TokenKind::And | TokenKind::Or | TokenKind::RParen => {
                Err(expected_condition(after, Some(token), token.span))
            }
        }
    }

    /// `clause := FIELD OP VALUE`; the current token is the field word.
    fn clause(&mut self, field: &str, field_span: Span) -> Result<(Raw, Span), FilterError> {
        self.pos += 1;
        let (op, op_span) = match self.peek() {
            Some(Token {
                kind: TokenKind::Cmp(op),
                span,
            }) => (*op, *span),
            found => {
                let (suffix, span) = match found {
                    Some(token) => (format!(", found {}", token.describe()), token.span),
                    None => (String::new(), self.eof()),
                };
                return Err(FilterError::new(
                    format!("expected a comparison operator after \"{field}\"{suffix}"),
                    span,
                    Some(format!(
                        "compare the field with ==, !=, <, >, <= or >=, e.g. {field} == value"
                    )),
                ));
            }
        };
        self.pos += 1;
        let (value, value_span) = match self.peek() {
            Some(Token {
                kind: TokenKind::Word(text) | TokenKind::Quoted { text, .. },
                span,
            }) => (text.clone(), *span),
            Some(token) => {
                return Err(FilterError::new(
                    format!(
                        "expected a value after \"{}\", found {}",
                        op.as_str(),
                        token.describe()
                    ),
                    token.span,
                    Some(
                        "values that contain spaces or any of ( ) & | = ! < > must be quoted"
                            .to_owned(),
                    ),
                ));
            }
            None => {
                return Err(FilterError::new(
                    format!("expected a value after \"{}\"", op.as_str()),
                    self.eof(),
                    None,
                ));
            }
        };
        self.pos += 1;
        let clause = RawClause {
            field: field.to_owned(),
            field_span,
            op,
            op_span,
            value,
            value_span,
        };
        Ok((Raw::Clause(clause), field_span.to(value_span)))
    }

    /// The error for an unexpected `token` right after a complete operand.
    fn expected_connective(&self, token: &Token, in_group: bool) -> FilterError {
        let expected = if in_group {
            "\"&&\", \"||\" or \")\""
        } else {
            "\"&&\" or \"||\""
        };
        let last = self.previous(1);
        let after = match last.map(|t| &t.kind) {
            Some(TokenKind::RParen) => "\")\"",
            _ => "the clause",
        };
        let help = match (last.map(|t| &t.kind), &token.kind) {
            (Some(TokenKind::Word(_)), TokenKind::Word(_)) => self.quote_hint(),
            (Some(TokenKind::Quoted { .. }), TokenKind::Word(_)) => {
                Some("put the whole value inside the quotes".to_owned())
            }
            (_, TokenKind::Cmp(_)) => {
                Some("a clause compares one field with one value, e.g. size > 10GiB".to_owned())
            }
            _ => Some("join conditions with \"&&\" or \"||\"".to_owned()),
        };
        FilterError::new(
            format!(
                "expected {expected} after {after}, found {}",
                token.describe()
            ),
            token.span,
            help,
        )
    }

    /// For `model == INTEL SSD`: suggests `model == "INTEL SSD"`.
    fn quote_hint(&self) -> Option<String> {
        let field = self.previous(3)?;
        let op = self.previous(2)?;
        let value = self.previous(1)?;
        let (TokenKind::Word(field), TokenKind::Cmp(op)) = (&field.kind, &op.kind) else {
            return None;
        };
        let last_word = self
            .tokens
            .iter()
            .skip(self.pos)
            .take_while(|t| matches!(t.kind, TokenKind::Word(_)))
            .last()?;
        let text = self.text(value.span.to(last_word.span));
        let quote = if text.contains('"') { '\'' } else { '"' };
        Some(format!(
            "quote values that contain spaces: {field} {} {quote}{text}{quote}",
            op.as_str()
        ))
    }
}

/// The error for a missing condition (after `after`, before `found`).
fn expected_condition(after: Option<&str>, found: Option<&Token>, span: Span) -> FilterError {
    let mut message = "expected a condition".to_owned();
    if let Some(after) = after {
        message.push_str(" after ");
        message.push_str(after);
    }
    if let Some(found) = found {
        message.push_str(", found ");
        message.push_str(&found.describe());
    }
    FilterError::new(
        message,
        span,
        Some("a condition looks like: type == nvme".to_owned()),
    )
}

/// The type pass: checks a subtree, pushing one error per bad clause.
fn check(raw: Raw, errors: &mut Vec<FilterError>) -> Option<Expr> {
    match raw {
        Raw::Clause(clause) => check_clause(clause, errors).map(Expr::Clause),
        Raw::Not(inner) => check(*inner, errors).map(|e| Expr::Not(Box::new(e))),
        Raw::And(items) => check_all(items, errors).map(Expr::And),
        Raw::Or(items) => check_all(items, errors).map(Expr::Or),
    }
}

fn check_all(items: Vec<Raw>, errors: &mut Vec<FilterError>) -> Option<Vec<Expr>> {
    let mut checked = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        match check(item, errors) {
            Some(expr) => checked.push(expr),
            None => ok = false,
        }
    }
    ok.then_some(checked)
}

fn check_clause(clause: RawClause, errors: &mut Vec<FilterError>) -> Option<Clause> {
    let Some(field) = Field::from_name(&clause.field) else {
        errors.push(unknown_field(&clause.field, clause.field_span));
        return None;
    };
    let kind = field.kind();
    let kind_name = match kind {
        FieldKind::Text => "text",
        FieldKind::Unsigned => "numeric",
        FieldKind::Bool => "boolean",
    };
    if kind != FieldKind::Unsigned && !clause.op.is_equality() {
        errors.push(FilterError::new(
            format!(
                "operator \"{}\" cannot be used with the {kind_name} field \"{}\"",
                clause.op.as_str(),
                field.name()
            ),
            clause.op_span,
            Some(format!("{kind_name} fields only support == and !=")),
        ));
        return None;
    }
    let value = match kind {
        FieldKind::Text => Ok(Value::Text(clause.value)),
        FieldKind::Unsigned if field == Field::Size => {
            size_value(&clause.value).map(Value::Unsigned)
        }
        FieldKind::Unsigned => unsigned_value(&clause.value, field.name()).map(Value::Unsigned),
        FieldKind::Bool => bool_value(&clause.value).map(Value::Bool),
    };
    match value {
        Ok(value) => Some(Clause {
            field,
            op: clause.op,
            value,
        }),
        Err(ValueError { message, help }) => {
            errors.push(FilterError::new(message, clause.value_span, Some(help)));
            None
        }
    }
}

/// The error for a field name that is not a filterable disk field.
fn unknown_field(name: &str, span: Span) -> FilterError {
    if name == "partitions" {
        return FilterError::new(
            "the field \"partitions\" cannot be filtered",
            span,
            Some(
                "disks that have partitions are never candidates, so there is nothing to filter"
                    .to_owned(),
            ),
        );
    }
    let lower = name.to_lowercase();
    let threshold = if lower.chars().count() <= 3 { 1 } else { 2 };
    let best = Field::ALL
        .iter()
        .map(|field| (strsim::damerau_levenshtein(&lower, field.name()), *field))
        .min_by_key(|(distance, _)| *distance);
    let help = match best {
        Some((0, field)) => format!(
            "field names are lowercase: did you mean \"{}\"?",
            field.name()
        ),
        Some((distance, field)) if distance <= threshold => {
            format!("did you mean \"{}\"?", field.name())
        }
        _ => {
            let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
            format!("valid fields are: {}", names.join(", "))
        }
    };
    FilterError::new(format!("unknown field \"{name}\""), span, Some(help))
}

/// Parses and checks `source`.
///
/// Returns the first syntax error, or every clause error, or the expression
/// and its compatibility warnings (sorted by position).
pub(crate) fn parse(source: &str) -> Result<(Expr, Vec<FilterWarning>), Vec<FilterError>> {
    let chars: Vec<char> = source.chars().collect();
    if chars.iter().all(|c| c.is_whitespace()) {
        return Err(vec![FilterError::new(
            "the filter is empty",
            Span::new(0, chars.len()),
            Some("write at least one condition, e.g. type == nvme".to_owned()),
        )]);
    }
    let tokens = tokenize(source).map_err(|e| vec![e])?;
    let mut parser = Parser {
        tokens: &tokens,
        chars: &chars,
        pos: 0,
        depth: 0,
        warnings: Vec::new(),
    };
    let raw = parser.group(None).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    match check(raw, &mut errors) {
        Some(expr) if errors.is_empty() => {
            let mut warnings = parser.warnings;
            warnings.sort_by_key(|w| (w.offset, w.len));
            Ok((expr, warnings))
        }
        _ => Err(errors),
    }
}
