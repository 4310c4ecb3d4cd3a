//! The JSON evaluator: one pass of serde_json over the record, borrowing from it.
//!
//! Every selector of the pattern goes into one tree of property names and array indexes (a
//! wildcard's subtree is merged into its siblings, so a key leads to exactly one node). The walk
//! descends only where the tree has a node and skips everything else with `IgnoredAny`; at a node
//! where a selector ends it takes the value's raw text (`&RawValue`, a slice of the record) and
//! decides that selector's conditions on it (where other selectors go deeper, that value is then
//! parsed once more from its raw text). Nothing is allocated per record unless a compared string
//! holds escapes (it is unescaped into a `String`).
//!
//! A record that is not one complete JSON object matches no JSON pattern (not even `NOT EXISTS`).

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use memchr::memmem::Finder;

use super::ast::{Cond, Expr, Op, Segment, Test};
use super::eval::Value;

/// The most conditions one JSON pattern may hold: the walk keeps one bit per condition.
pub(crate) const MAX_CONDITIONS: usize = 128;

#[derive(Debug, Clone)]
pub(crate) struct JsonMatcher {
    expr: Expr<usize>,
    tests: Vec<Check>,
    nodes: Vec<Node>,
    /// Text one of which every matching record holds, as written or behind a JSON escape: the
    /// literal part of a `=` text comparison, or a property name, that the expression cannot do
    /// without. A record with none of them and no backslash is rejected before it is parsed.
    prefilter: Option<Vec<Finder<'static>>>,
}

#[derive(Debug, Clone)]
enum Check {
    Compare(Op, Value),
    IsNull,
    IsTrue,
    IsFalse,
    Exists,
    NotExists,
}

#[derive(Debug, Clone, Default)]
struct Node {
    /// Conditions whose selector ends here.
    ends: Vec<usize>,
    /// Children by property name, sorted.
    names: Vec<(Box<str>, usize)>,
    /// Children by array index, sorted.
    indexes: Vec<(usize, usize)>,
    /// The child for any other property or element (from wildcards).
    other: Option<usize>,
}

impl Node {
    fn by_name(&self, name: &str) -> Option<usize> {
        match self.names.binary_search_by(|(n, _)| (**n).cmp(name)) {
            Ok(i) => Some(self.names[i].1),
            Err(_) => self.other,
        }
    }

    fn by_index(&self, index: usize) -> Option<usize> {
        match self.indexes.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(i) => Some(self.indexes[i].1),
            Err(_) => self.other,
        }
    }

    fn has_children(&self) -> bool {
        !self.names.is_empty() || !self.indexes.is_empty() || self.other.is_some()
    }
}

/// What the walk found: bit `i` of `hit` when condition `i` held for some value, of `seen` when
/// its selector reached some value.
#[derive(Default)]
struct Found {
    hit: u128,
    seen: u128,
}

impl JsonMatcher {
    pub fn compile(expr: &Expr<Cond>) -> Result<Self, (usize, String)> {
        let conds = expr.leaves();
        if let Some(extra) = conds.get(MAX_CONDITIONS) {
            return Err((
                extra.selector.at.0,
                format!("at most {MAX_CONDITIONS} conditions in a JSON pattern (a ktail limit)"),
            ));
        }
        let mut tests = Vec::with_capacity(conds.len());
        for cond in &conds {
            tests.push(match &cond.test {
                Test::Compare(op, value) => Check::Compare(*op, Value::compile(value)?),
                Test::IsNull => Check::IsNull,
                Test::IsTrue => Check::IsTrue,
                Test::IsFalse => Check::IsFalse,
                Test::Exists => Check::Exists,
                Test::NotExists => Check::NotExists,
            });
        }
        let paths: Vec<&[Segment]> = conds.iter().map(|c| &c.selector.segments[..]).collect();
        let expr = number_leaves(expr, &mut 0);
        // A condition other than NOT EXISTS needs its selector's property names in the record.
        let keys: Vec<Option<&str>> = conds
            .iter()
            .map(|c| {
                c.selector.segments.iter().rev().find_map(|s| match s {
                    Segment::Name(name) if !name.is_empty() => Some(name.as_str()),
                    _ => None,
                })
            })
            .collect();
        let prefilter = required_text(&expr, &tests, &keys).map(|texts| {
            texts
                .into_iter()
                .map(|t| Finder::new(t).into_owned())
                .collect()
        });
        let mut matcher = JsonMatcher {
            expr,
            tests,
            nodes: Vec::new(),
            prefilter,
        };
        matcher.build(&paths, (0..paths.len()).map(|c| (c, 0)).collect());
        Ok(matcher)
    }

    /// Adds the node for the selectors `items` (condition, segments already matched) and
    /// everything below it; returns its index.
    fn build(&mut self, paths: &[&[Segment]], items: Vec<(usize, usize)>) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node::default());
        let mut node = Node::default();
        let mut names = BTreeSet::new();
        let mut indexes = BTreeSet::new();
        let mut wild = Vec::new();
        let mut deeper = Vec::new();
        for (cond, depth) in items {
            match paths[cond].get(depth) {
                None => node.ends.push(cond),
                Some(segment) => {
                    match segment {
                        Segment::Name(name) => {
                            names.insert(name.as_str());
                        }
                        Segment::Index(index) => {
                            indexes.insert(*index);
                        }
                        Segment::Wildcard { .. } => wild.push((cond, depth + 1)),
                    }
                    deeper.push((cond, depth));
                }
            }
        }
        for name in names {
            let items = deeper
                .iter()
                .filter(|(c, d)| match &paths[*c][*d] {
                    Segment::Name(n) => n == name,
                    Segment::Wildcard { .. } => true,
                    Segment::Index(_) => false,
                })
                .map(|(c, d)| (*c, d + 1))
                .collect();
            let child = self.build(paths, items);
            node.names.push((name.into(), child));
        }
        for index in indexes {
            let items = deeper
                .iter()
                .filter(|(c, d)| match &paths[*c][*d] {
                    Segment::Index(i) => *i == index,
                    Segment::Wildcard { .. } => true,
                    Segment::Name(_) => false,
                })
                .map(|(c, d)| (*c, d + 1))
                .collect();
            let child = self.build(paths, items);
            node.indexes.push((index, child));
        }
        if !wild.is_empty() {
            node.other = Some(self.build(paths, wild));
        }
        self.nodes[id] = node;
        id
    }

    pub fn matches(&self, record: &[u8]) -> bool {
        if let Some(texts) = &self.prefilter
            && !texts.iter().any(|t| t.find(record).is_some())
            && memchr::memchr(b'\\', record).is_none()
        {
            return false;
        }
        // serde_json skips the strings it ignores without checking their UTF-8.
        let Ok(record) = std::str::from_utf8(record) else {
            return false;
        };
        let mut found = Found::default();
        let mut de = serde_json::Deserializer::from_str(record);
        let walked = Root {
            matcher: self,
            found: &mut found,
        }
        .deserialize(&mut de);
        if !matches!(walked, Ok(true)) || de.end().is_err() {
            return false;
        }
        let bit = |set: u128, i: usize| set & (1 << i) != 0;
        self.expr.eval(&mut |&i| match self.tests[i] {
            Check::Exists => bit(found.seen, i),
            Check::NotExists => !bit(found.seen, i),
            _ => bit(found.hit, i),
        })
    }

    /// Decides the conditions ending at `node` on a value's raw text.
    fn check(&self, node: &Node, raw: &str, found: &mut Found) {
        for &i in &node.ends {
            found.seen |= 1 << i;
            if self.holds(&self.tests[i], raw) {
                found.hit |= 1 << i;
            }
        }
    }

    fn holds(&self, check: &Check, raw: &str) -> bool {
        match check {
            Check::IsNull => raw == "null",
            Check::IsTrue => raw == "true",
            Check::IsFalse => raw == "false",
            Check::Exists | Check::NotExists => true,
            // "The SELECTOR must point to a value node (string or number) in the JSON. If it
            // points to an array or object, the filter will not be applied" (archived AWS page):
            // every comparison is false there, and on true, false and null.
            Check::Compare(op, value) => match raw.as_bytes().first() {
                Some(b'"') => {
                    let inner = &raw[1..raw.len() - 1];
                    if inner.contains('\\') {
                        serde_json::from_str::<String>(raw)
                            .is_ok_and(|s| value.holds_for_text(*op, s.as_bytes()))
                    } else {
                        value.holds_for_text(*op, inner.as_bytes())
                    }
                }
                Some(b'-' | b'0'..=b'9') => raw
                    .parse::<f64>()
                    .is_ok_and(|n| value.holds_for_number(*op, raw.as_bytes(), n)),
                _ => false,
            },
        }
    }
}

/// Texts one of which a record must hold for `expr` to match it (before JSON unescaping), if
/// there are any: from `= text` comparisons (a string or a number's digits as written), else
/// the last property name of a selector that must be there.
fn required_text<'t>(
    expr: &Expr<usize>,
    tests: &'t [Check],
    keys: &[Option<&'t str>],
) -> Option<Vec<&'t [u8]>> {
    required(expr, tests, keys).map(|r| r.texts)
}

struct Required<'t> {
    texts: Vec<&'t [u8]>,
    /// All values, no property names: values are rarer, as most records hold the same keys.
    values: bool,
}

fn required<'t>(
    expr: &Expr<usize>,
    tests: &'t [Check],
    keys: &[Option<&'t str>],
) -> Option<Required<'t>> {
    match expr {
        Expr::Leaf(i) => match &tests[*i] {
            Check::Compare(Op::Eq, Value::Text(glob)) if !glob.middle.is_empty() => {
                Some(Required {
                    texts: vec![glob.middle.as_bytes()],
                    values: true,
                })
            }
            Check::NotExists => None,
            _ => keys[*i].map(|key| Required {
                texts: vec![key.as_bytes()],
                values: false,
            }),
        },
        // Any one of the conditions will do: values first, then the longest shortest text.
        Expr::And(items) => items
            .iter()
            .filter_map(|e| required(e, tests, keys))
            .max_by_key(|r| (r.values, r.texts.iter().map(|t| t.len()).min())),
        Expr::Or(items) => {
            let mut all = Required {
                texts: Vec::new(),
                values: true,
            };
            for item in items {
                let r = required(item, tests, keys)?;
                all.texts.extend(r.texts);
                all.values &= r.values;
            }
            Some(all)
        }
    }
}

/// The expression with each leaf replaced by its position among the leaves.
fn number_leaves(expr: &Expr<Cond>, next: &mut usize) -> Expr<usize> {
    match expr {
        Expr::Or(items) => Expr::Or(items.iter().map(|e| number_leaves(e, next)).collect()),
        Expr::And(items) => Expr::And(items.iter().map(|e| number_leaves(e, next)).collect()),
        Expr::Leaf(_) => {
            *next += 1;
            Expr::Leaf(*next - 1)
        }
    }
}

// ---- the walk -------------------------------------------------------------------------------

/// The record's top level: `Ok(true)` when it is an object (and was walked).
struct Root<'m, 'f> {
    matcher: &'m JsonMatcher,
    found: &'f mut Found,
}

impl<'de> DeserializeSeed<'de> for Root<'_, '_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Root<'_, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        Walk {
            matcher: self.matcher,
            node: 0,
            found: self.found,
        }
        .visit_map(map)
        .map(|()| true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// Walks a value below `node`, which has children.
struct Walk<'m, 'f> {
    matcher: &'m JsonMatcher,
    node: usize,
    found: &'f mut Found,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let node = &self.matcher.nodes[self.node];
        while let Some(child) = map.next_key_seed(Key(node))? {
            match child {
                Some(child) => map.next_value_seed(Child {
                    matcher: self.matcher,
                    node: child,
                    found: &mut *self.found,
                })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let node = &self.matcher.nodes[self.node];
        for index in 0.. {
            let more = match node.by_index(index) {
                Some(child) => seq
                    .next_element_seed(Child {
                        matcher: self.matcher,
                        node: child,
                        found: &mut *self.found,
                    })?
                    .is_some(),
                None => seq.next_element::<IgnoredAny>()?.is_some(),
            };
            if !more {
                break;
            }
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A property name, resolved to the child node it leads to (if any) without keeping it.
struct Key<'m>(&'m Node);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Option<usize>, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a property name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.by_name(key))
    }
}

/// The value at a node: its raw text where conditions end here, a walk where selectors go on.
struct Child<'m, 'f> {
    matcher: &'m JsonMatcher,
    node: usize,
    found: &'f mut Found,
}

impl<'de> DeserializeSeed<'de> for Child<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        let node = &self.matcher.nodes[self.node];
        let walk = Walk {
            matcher: self.matcher,
            node: self.node,
            found: self.found,
        };
        if node.ends.is_empty() {
            return de.deserialize_any(walk);
        }
        let raw = <&RawValue>::deserialize(de)?;
        let text = raw.get();
        walk.matcher.check(node, text, walk.found);
        if node.has_children() && matches!(text.as_bytes().first(), Some(b'{' | b'[')) {
            let mut inner = serde_json::Deserializer::from_str(text);
            walk.deserialize(&mut inner).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}
