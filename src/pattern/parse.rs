//! The filter-pattern grammar, with winnow.
//!
//! Hand-driven recursive descent over winnow's `LocatingSlice` stream: each rule looks at the next
//! character to pick a branch, so the parser never backtracks across a rule and every error is a
//! cut at the position where the unexpected text starts, naming what was expected there.
//!
//! ```text
//! pattern    := json | delimited | regex | terms
//! terms      := ( ['?' | '-'] ( word | "quoted phrase" ) )*
//! regex      := '%' regex-char+ '%'
//! json       := '{' or(cond) '}'
//! cond       := selector ( op value | IS (NULL|TRUE|FALSE) | EXISTS | NOT EXISTS )
//! selector   := '$' ( '.' name | '.*' | ['.'] '[' ( index | '*' | 'name' ) ']' )+
//! delimited  := '[' slot ( ',' slot )* ']'
//! slot       := '...' | name | or(name op value) | (empty)
//! or(x)      := and(x) ( '||' and(x) )*      and(x) := prim(x) ( '&&' prim(x) )*
//! prim(x)    := '(' or(x) ')' | x
//! value      := number | word-with-*-wildcards | "quoted text" | %regex%
//! ```

use winnow::error::{ContextError, ErrMode, StrContext, StrContextValue};
use winnow::prelude::*;
use winnow::stream::{LocatingSlice, Location, Stream};

use super::ast::{
    At, Cond, Expr, FieldCmp, FieldSlot, Glob, Number, Op, Pattern, Regex, Segment, Selector, Slot,
    Term, TermKind, Test, Value, is_number, is_property,
};

type Input<'a> = LocatingSlice<&'a str>;
type Res<T> = ModalResult<T>;

/// Symbols a CloudWatch Logs regular expression may contain besides letters and digits: the
/// documented symbol characters and operators, plus the space the AWS examples use.
const REGEX_SYMBOLS: &str = ":_#=@/;,- ^$?[]{}|\\*+.";

/// Characters that end an unquoted value.
const VALUE_STOPS: &str = "\"%,[](){}&|=!<>";

/// Parses `src`; on failure, the byte offset where the unexpected text starts and what was
/// expected there.
pub(crate) fn parse(src: &str) -> Result<Pattern, (usize, String)> {
    pattern.parse(LocatingSlice::new(src)).map_err(|e| {
        let expected = e
            .inner()
            .context()
            .find_map(|c| match c {
                StrContext::Expected(StrContextValue::Description(what)) => Some(*what),
                _ => None,
            })
            .unwrap_or("the end of the pattern");
        (e.offset(), format!("expected {expected}"))
    })
}

fn cut(what: &'static str) -> ErrMode<ContextError> {
    let mut e = ContextError::new();
    e.push(StrContext::Expected(StrContextValue::Description(what)));
    ErrMode::Cut(e)
}

fn peek(input: &Input<'_>) -> Option<char> {
    input.peek_token()
}

fn rest<'a>(input: &Input<'a>) -> &'a str {
    input.as_ref()
}

fn at(input: &Input<'_>) -> At {
    At(input.current_token_start())
}

fn eat(input: &mut Input<'_>, token: &str) -> bool {
    if rest(input).starts_with(token) {
        input.next_slice(token.len());
        true
    } else {
        false
    }
}

/// `keyword`, in any case, not followed by a letter, digit or `_`.
fn eat_keyword(input: &mut Input<'_>, keyword: &str) -> bool {
    let text = rest(input);
    let matches = text
        .get(..keyword.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(keyword))
        && !text[keyword.len()..]
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    if matches {
        input.next_slice(keyword.len());
    }
    matches
}

fn ws(input: &mut Input<'_>) {
    let n = rest(input).len() - rest(input).trim_start().len();
    input.next_slice(n);
}

/// The longest prefix whose characters satisfy `keep`.
fn take_while<'a>(input: &mut Input<'a>, keep: impl Fn(char) -> bool) -> &'a str {
    let text = rest(input);
    let n = text.find(|c| !keep(c)).unwrap_or(text.len());
    input.next_slice(n)
}

fn pattern(input: &mut Input<'_>) -> Res<Pattern> {
    ws(input);
    let parsed = match peek(input) {
        Some('{') => Pattern::Json(json(input)?),
        Some('[') => Pattern::Delimited(delimited(input)?),
        Some('%') => Pattern::Regex(regex(input)?),
        _ => Pattern::Terms(terms(input)?),
    };
    ws(input);
    if !rest(input).is_empty() {
        return Err(cut(match parsed {
            Pattern::Regex(_) => "the end of the pattern (a %regex% must be the whole pattern)",
            _ => "the end of the pattern",
        }));
    }
    Ok(parsed)
}

fn terms(input: &mut Input<'_>) -> Res<Vec<Term>> {
    let mut terms = Vec::new();
    loop {
        ws(input);
        let kind = match peek(input) {
            None => return Ok(terms),
            Some('?') => TermKind::Optional,
            Some('-') => TermKind::Excluded,
            Some(_) => TermKind::Required,
        };
        if kind != TermKind::Required {
            input.next_token();
        }
        let text = match peek(input) {
            Some('"') => quoted(input)?,
            Some('%') => {
                return Err(cut(
                    "a term (a %regex% must be the whole pattern; quote a term that starts with %)",
                ));
            }
            Some(c) if !c.is_whitespace() => {
                take_while(input, |c| !c.is_whitespace() && c != '"').to_owned()
            }
            _ => return Err(cut("a term or \"quoted phrase\" right after ? or -")),
        };
        terms.push(Term { kind, text });
    }
}

/// A double-quoted string; `\"` and `\\` are escapes, any other backslash is literal.
fn quoted(input: &mut Input<'_>) -> Res<String> {
    input.next_token();
    let mut text = String::new();
    loop {
        match input.next_token() {
            None => return Err(cut("a closing \"")),
            Some('"') => return Ok(text),
            Some('\\') => match peek(input) {
                Some(c @ ('"' | '\\')) => {
                    input.next_token();
                    text.push(c);
                }
                _ => text.push('\\'),
            },
            Some(c) => text.push(c),
        }
    }
}

fn regex(input: &mut Input<'_>) -> Res<Regex> {
    let start = at(input);
    input.next_token();
    let source = take_while(input, |c| {
        c != '%' && (c.is_ascii_alphanumeric() || REGEX_SYMBOLS.contains(c))
    });
    match peek(input) {
        Some('%') => {}
        None => return Err(cut("the closing % of the regular expression")),
        Some(_) => {
            return Err(cut(
                "a character CloudWatch Logs allows in a regular expression: letters, digits, \
                 space, : _ # = @ / ; , - and the operators ^ $ ? [ ] { } | \\ * + . \
                 (no parentheses, no multi-byte characters; \\xhh matches any ASCII character)",
            ));
        }
    }
    if source.is_empty() {
        return Err(cut("a regular expression between the % signs"));
    }
    input.next_token();
    Ok(Regex {
        source: source.to_owned(),
        at: start,
    })
}

// ---- && / || / ( ) --------------------------------------------------------------------------

type Leaf<A> = fn(&mut Input<'_>) -> Res<A>;

fn or_expr<A>(input: &mut Input<'_>, leaf: Leaf<A>) -> Res<Expr<A>> {
    let mut items = vec![and_expr(input, leaf)?];
    loop {
        let checkpoint = input.checkpoint();
        ws(input);
        if !eat(input, "||") {
            input.reset(&checkpoint);
            return Ok(Expr::or(items));
        }
        ws(input);
        items.push(and_expr(input, leaf)?);
    }
}

fn and_expr<A>(input: &mut Input<'_>, leaf: Leaf<A>) -> Res<Expr<A>> {
    let mut items = vec![primary(input, leaf)?];
    loop {
        let checkpoint = input.checkpoint();
        ws(input);
        if !eat(input, "&&") {
            input.reset(&checkpoint);
            return Ok(Expr::and(items));
        }
        ws(input);
        items.push(primary(input, leaf)?);
    }
}

fn primary<A>(input: &mut Input<'_>, leaf: Leaf<A>) -> Res<Expr<A>> {
    if !eat(input, "(") {
        return Ok(Expr::Leaf(leaf(input)?));
    }
    ws(input);
    let inner = or_expr(input, leaf)?;
    ws(input);
    if !eat(input, ")") {
        return Err(cut("&&, || or the closing )"));
    }
    Ok(inner)
}

// ---- JSON -----------------------------------------------------------------------------------

fn json(input: &mut Input<'_>) -> Res<Expr<Cond>> {
    input.next_token();
    ws(input);
    let expr = or_expr(input, cond)?;
    ws(input);
    if !eat(input, "}") {
        return Err(cut("&&, || or the closing }"));
    }
    Ok(expr)
}

fn cond(input: &mut Input<'_>) -> Res<Cond> {
    let selector = selector(input)?;
    ws(input);
    let test = if eat_keyword(input, "IS") {
        ws(input);
        if eat_keyword(input, "NULL") {
            Test::IsNull
        } else if eat_keyword(input, "TRUE") {
            Test::IsTrue
        } else if eat_keyword(input, "FALSE") {
            Test::IsFalse
        } else {
            return Err(cut("NULL, TRUE or FALSE after IS"));
        }
    } else if eat_keyword(input, "NOT") {
        ws(input);
        if !eat_keyword(input, "EXISTS") {
            return Err(cut("EXISTS after NOT"));
        }
        Test::NotExists
    } else if eat_keyword(input, "EXISTS") {
        Test::Exists
    } else {
        let Some(op) = op(input) else {
            return Err(cut(
                "a comparison operator (=, !=, <, <=, >, >=), IS, EXISTS or NOT EXISTS",
            ));
        };
        ws(input);
        Test::Compare(op, value(input, op)?)
    };
    Ok(Cond { selector, test })
}

fn selector(input: &mut Input<'_>) -> Res<Selector> {
    let start = at(input);
    if !eat(input, "$") {
        return Err(cut("a property selector such as $.status"));
    }
    let mut segments = Vec::new();
    loop {
        if eat(input, ".") {
            if eat(input, "*") {
                segments.push(Segment::Wildcard { bracket: false });
            } else if peek(input) == Some('[') {
                segments.push(bracketed(input)?);
            } else {
                let name = take_while(input, |c| c.is_ascii_alphanumeric() || "_-".contains(c));
                if name.is_empty() {
                    return Err(cut("a property name, * or ['name'] after ."));
                }
                segments.push(Segment::Name(name.to_owned()));
            }
        } else if peek(input) == Some('[') {
            segments.push(bracketed(input)?);
        } else {
            break;
        }
    }
    if segments.is_empty() {
        return Err(cut("a property after $, such as $.status"));
    }
    Ok(Selector {
        segments,
        at: start,
    })
}

/// `[0]`, `[*]` or `['name']` (double quotes work too).
fn bracketed(input: &mut Input<'_>) -> Res<Segment> {
    input.next_token();
    let segment = if eat(input, "*") {
        Segment::Wildcard { bracket: true }
    } else if let Some(quote @ ('\'' | '"')) = peek(input) {
        input.next_token();
        let mut name = String::new();
        loop {
            match input.next_token() {
                None => return Err(cut("the closing quote of the property name")),
                Some(c) if c == quote => break,
                Some('\\') => match peek(input) {
                    Some(c) if c == quote || c == '\\' => {
                        input.next_token();
                        name.push(c);
                    }
                    _ => name.push('\\'),
                },
                Some(c) => name.push(c),
            }
        }
        Segment::Name(name)
    } else {
        let digits = take_while(input, |c| c.is_ascii_digit());
        match digits.parse() {
            Ok(index) => Segment::Index(index),
            Err(_) => return Err(cut("an array index, * or a quoted property name after [")),
        }
    };
    if !eat(input, "]") {
        return Err(cut("the closing ]"));
    }
    Ok(segment)
}

fn op(input: &mut Input<'_>) -> Option<Op> {
    const OPS: [(&str, Op); 6] = [
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("=", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    OPS.iter()
        .find(|(token, _)| eat(input, token))
        .map(|(_, op)| *op)
}

fn value(input: &mut Input<'_>, op: Op) -> Res<Value> {
    let checkpoint = input.checkpoint();
    let value = match peek(input) {
        Some('"') => Value::Text(Glob::new(&quoted(input)?)),
        Some('%') => Value::Regex(regex(input)?),
        _ => {
            let bare = take_while(input, |c| !c.is_whitespace() && !VALUE_STOPS.contains(c));
            if bare.is_empty() {
                return Err(cut(
                    "a value: a number, text, \"quoted text\", * or a %regex%",
                ));
            }
            match bare.parse::<f64>() {
                Ok(value) if is_number(bare) => Value::Number(Number {
                    text: bare.to_owned(),
                    value,
                }),
                _ => Value::Text(Glob::new(bare)),
            }
        }
    };
    if op.is_ordering() && !matches!(value, Value::Number(_)) {
        input.reset(&checkpoint);
        return Err(cut("a number (<, <=, > and >= compare numbers)"));
    }
    Ok(value)
}

// ---- space-delimited ------------------------------------------------------------------------

fn delimited(input: &mut Input<'_>) -> Res<Vec<Slot>> {
    input.next_token();
    let mut slots = Vec::new();
    loop {
        ws(input);
        slots.push(slot(input)?);
        ws(input);
        if eat(input, ",") {
            continue;
        }
        if peek(input) == Some(']') {
            break;
        }
        return Err(cut("&&, ||, a comma or the closing ]"));
    }
    if slots.iter().all(|s| matches!(s, Slot::Unnamed)) {
        return Err(cut("a field name or ... inside [ ]"));
    }
    input.next_token();
    Ok(slots)
}

fn slot(input: &mut Input<'_>) -> Res<Slot> {
    match peek(input) {
        Some(',' | ']') => return Ok(Slot::Unnamed),
        None => return Err(cut("a field name, ... or the closing ]")),
        _ => {}
    }
    if eat(input, "...") {
        return Ok(Slot::Ellipsis);
    }
    let start = at(input);
    let checkpoint = input.checkpoint();
    let name = take_while(input, |c| c.is_ascii_alphanumeric() || "_-".contains(c));
    if !name.is_empty() {
        let name = name.to_owned();
        let after = input.checkpoint();
        ws(input);
        if matches!(peek(input), Some(',' | ']')) {
            input.reset(&after);
            return Ok(Slot::Field(FieldSlot {
                name,
                at: start,
                cond: None,
            }));
        }
    }
    input.reset(&checkpoint);
    let cond = or_expr(input, field_cmp)?;
    let name = cond
        .leaves()
        .first()
        .map(|cmp| cmp.field.clone())
        .unwrap_or_default();
    Ok(Slot::Field(FieldSlot {
        name,
        at: start,
        cond: Some(cond),
    }))
}

fn field_cmp(input: &mut Input<'_>) -> Res<FieldCmp> {
    let start = at(input);
    let field = take_while(input, |c| c.is_ascii_alphanumeric() || "_-".contains(c));
    if !is_property(field) {
        return Err(cut("a field name"));
    }
    let field = field.to_owned();
    ws(input);
    let Some(op) = op(input) else {
        return Err(cut("a comparison operator (=, !=, <, <=, >, >=)"));
    };
    ws(input);
    let value = value(input, op)?;
    Ok(FieldCmp {
        field,
        at: start,
        op,
        value,
    })
}
