//! The parsed form of a filter pattern, and its canonical text.
//!
//! Printing a tree and parsing the text again gives the same tree (the property tests check it):
//! that text is what travels to the grep function in its environment. Positions (`At`) are kept
//! for error messages after parsing and take no part in equality.

use std::fmt::{self, Display, Formatter, Write};

/// A byte offset into the pattern, for error messages; every `At` equals every other.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct At(pub usize);

impl PartialEq for At {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pattern {
    /// Words and quoted phrases; no terms at all is the empty pattern, which matches everything.
    Terms(Vec<Term>),
    /// A regular expression on its own: `%ERROR [0-9]+%`.
    Regex(Regex),
    /// `{ $.status = 500 && $.user.id EXISTS }`
    Json(Expr<Cond>),
    /// `[ip, user, ..., status = 5*, bytes]`
    Delimited(Vec<Slot>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TermKind {
    /// `ERROR`: must appear.
    Required,
    /// `?ERROR`: any of these must appear (ignored when the pattern has other terms, as AWS does).
    Optional,
    /// `-ERROR`: must not appear.
    Excluded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Term {
    pub kind: TermKind,
    pub text: String,
}

impl Term {
    /// `" "` matches every event, as the AWS page says; ktail treats every blank phrase as no term.
    pub fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }
}

/// The text between `%` and `%`, as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Regex {
    pub source: String,
    pub at: At,
}

/// `||` of `&&` of leaves, flattened: an `Or` has no `Or` child, an `And` no `And` child, and
/// neither has fewer than two children.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr<A> {
    Or(Vec<Expr<A>>),
    And(Vec<Expr<A>>),
    Leaf(A),
}

impl<A> Expr<A> {
    pub fn or(items: Vec<Expr<A>>) -> Self {
        Self::join(items, true)
    }

    pub fn and(items: Vec<Expr<A>>) -> Self {
        Self::join(items, false)
    }

    fn join(items: Vec<Expr<A>>, or: bool) -> Self {
        let mut flat = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Expr::Or(inner) if or => flat.extend(inner),
                Expr::And(inner) if !or => flat.extend(inner),
                other => flat.push(other),
            }
        }
        if flat.len() == 1
            && let Some(only) = flat.pop()
        {
            return only;
        }
        if or { Expr::Or(flat) } else { Expr::And(flat) }
    }

    /// Every leaf, left to right.
    pub fn leaves(&self) -> Vec<&A> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a A>) {
        match self {
            Expr::Or(items) | Expr::And(items) => items.iter().for_each(|e| e.collect(out)),
            Expr::Leaf(leaf) => out.push(leaf),
        }
    }

    /// Evaluates with `leaf` deciding each leaf, short-circuiting left to right.
    pub fn eval(&self, leaf: &mut impl FnMut(&A) -> bool) -> bool {
        match self {
            Expr::Or(items) => items.iter().any(|e| e.eval(leaf)),
            Expr::And(items) => items.iter().all(|e| e.eval(leaf)),
            Expr::Leaf(a) => leaf(a),
        }
    }
}

/// One JSON condition: `$.user.id = 1`, `$.flag IS TRUE`, `$.x NOT EXISTS`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cond {
    pub selector: Selector,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Selector {
    pub segments: Vec<Segment>,
    pub at: At,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// `.name` or `['name']`
    Name(String),
    /// `[0]`
    Index(usize),
    /// `.*` or `[*]` (the same: any member of an object or element of an array)
    Wildcard { bracket: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    Compare(Op, Value),
    IsNull,
    IsTrue,
    IsFalse,
    Exists,
    NotExists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn is_ordering(self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }

    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Eq => ordering == Equal,
            Op::Ne => ordering != Equal,
            Op::Lt => ordering == Less,
            Op::Le => ordering != Greater,
            Op::Gt => ordering == Greater,
            Op::Ge => ordering != Less,
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// An unquoted number: `500`, `-1.5`, `1e+3`.
    Number(Number),
    /// Text, quoted or not, with `*` wildcards at either end.
    Text(Glob),
    /// `%regex%`
    Regex(Regex),
}

#[derive(Debug, Clone)]
pub(crate) struct Number {
    /// As written (printed back as written).
    pub text: String,
    pub value: f64,
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// Text with an optional `*` at the start and at the end. A `*` anywhere else is a literal star:
/// the archived AWS page says "Ev*ent will only match the actual string Ev*ent".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    pub any_prefix: bool,
    pub any_suffix: bool,
    pub middle: String,
}

impl Glob {
    pub fn new(raw: &str) -> Self {
        let (any_prefix, rest) = match raw.strip_prefix('*') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let (any_suffix, middle) = match rest.strip_suffix('*') {
            Some(middle) => (true, middle),
            None => (false, rest),
        };
        Glob {
            any_prefix,
            any_suffix,
            middle: middle.to_owned(),
        }
    }

    pub fn raw(&self) -> String {
        let mut raw = String::with_capacity(self.middle.len() + 2);
        if self.any_prefix {
            raw.push('*');
        }
        raw.push_str(&self.middle);
        if self.any_suffix {
            raw.push('*');
        }
        raw
    }

    pub fn matches(&self, text: &[u8]) -> bool {
        let middle = self.middle.as_bytes();
        match (self.any_prefix, self.any_suffix) {
            (false, false) => text == middle,
            (false, true) => text.starts_with(middle),
            (true, false) => text.ends_with(middle),
            (true, true) => memchr::memmem::find(text, middle).is_some(),
        }
    }
}

/// One position of a space-delimited pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Slot {
    /// `...`: any number of fields.
    Ellipsis,
    /// An empty position (`[a, , b]` or a trailing comma): one field, unnamed.
    Unnamed,
    /// `name` or a condition whose leftmost field names the position: `status = 4* && bytes > 0`.
    Field(FieldSlot),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldSlot {
    pub name: String,
    pub at: At,
    pub cond: Option<Expr<FieldCmp>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldCmp {
    pub field: String,
    pub at: At,
    pub op: Op,
    pub value: Value,
}

// ---- canonical text -------------------------------------------------------------------------

impl Display for Pattern {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Terms(terms) => {
                for (i, term) in terms.iter().enumerate() {
                    if i > 0 {
                        f.write_char(' ')?;
                    }
                    match term.kind {
                        TermKind::Required => {}
                        TermKind::Optional => f.write_char('?')?,
                        TermKind::Excluded => f.write_char('-')?,
                    }
                    if is_word(&term.text) {
                        f.write_str(&term.text)?;
                    } else {
                        write_quoted(f, &term.text)?;
                    }
                }
                Ok(())
            }
            Pattern::Regex(regex) => regex.fmt(f),
            Pattern::Json(expr) => write!(f, "{{ {expr} }}"),
            Pattern::Delimited(slots) => {
                f.write_char('[')?;
                for (i, slot) in slots.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match slot {
                        Slot::Ellipsis => f.write_str("...")?,
                        Slot::Unnamed => {}
                        Slot::Field(FieldSlot { cond: Some(c), .. }) => c.fmt(f)?,
                        Slot::Field(FieldSlot { name, .. }) => f.write_str(name)?,
                    }
                }
                f.write_char(']')
            }
        }
    }
}

impl<A: Display> Display for Expr<A> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Or(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" || ")?;
                    }
                    item.fmt(f)?;
                }
                Ok(())
            }
            Expr::And(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" && ")?;
                    }
                    match item {
                        Expr::Or(_) => write!(f, "({item})")?,
                        _ => item.fmt(f)?,
                    }
                }
                Ok(())
            }
            Expr::Leaf(leaf) => leaf.fmt(f),
        }
    }
}

impl Display for Cond {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.selector.fmt(f)?;
        match &self.test {
            Test::Compare(op, value) => write!(f, " {op} {value}"),
            Test::IsNull => f.write_str(" IS NULL"),
            Test::IsTrue => f.write_str(" IS TRUE"),
            Test::IsFalse => f.write_str(" IS FALSE"),
            Test::Exists => f.write_str(" EXISTS"),
            Test::NotExists => f.write_str(" NOT EXISTS"),
        }
    }
}

impl Display for Selector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('$')?;
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Name(name) if is_property(name) => write!(f, ".{name}")?,
                Segment::Name(name) => {
                    // `$.['cluster.name']`, as the AWS page writes a first bracketed name.
                    if i == 0 {
                        f.write_char('.')?;
                    }
                    f.write_str("['")?;
                    for c in name.chars() {
                        if c == '\'' || c == '\\' {
                            f.write_char('\\')?;
                        }
                        f.write_char(c)?;
                    }
                    f.write_str("']")?;
                }
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Wildcard { bracket: true } => f.write_str("[*]")?,
                Segment::Wildcard { bracket: false } => f.write_str(".*")?,
            }
        }
        Ok(())
    }
}

impl Display for Op {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        })
    }
}

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(n) => f.write_str(&n.text),
            Value::Regex(regex) => regex.fmt(f),
            Value::Text(glob) => {
                let raw = glob.raw();
                let bare = !raw.is_empty()
                    && raw.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '*' | '-' | '/' | ':')
                    })
                    && !is_number(&raw);
                if bare {
                    f.write_str(&raw)
                } else {
                    write_quoted(f, &raw)
                }
            }
        }
    }
}

impl Display for Regex {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "%{}%", self.source)
    }
}

impl Display for FieldCmp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.field, self.op, self.value)
    }
}

fn write_quoted(f: &mut Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

/// Letters, digits and `_`: a term that needs no quotes.
pub(crate) fn is_word(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A JSON property name that needs no brackets, and a space-delimited field name.
pub(crate) fn is_property(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`, the documented number forms.
pub(crate) fn is_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}
