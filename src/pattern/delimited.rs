//! The space-delimited evaluator.
//!
//! A record splits into fields at runs of whitespace; a field that starts with `"` runs to the
//! next unescaped `"`, one that starts with `[` to the next `]`, and its value is what lies
//! between them ("Characters between brackets and double quotation marks are considered single
//! fields"). The pattern's positions take one field each and `...` any number of them.
//!
//! Guesses where the AWS pages are silent, each taken from their examples:
//! - A pattern without `...` needs at least as many fields as positions; its last position takes
//!   the rest of the record when there are more (`[w1=ERROR, w2]` matches the AWS example
//!   `ERROR 09/25/2014 12:00:02 Failed to process request`, which has six fields).
//! - A pattern with `...` binds every field: its other positions take exactly one field each.
//!   With several `...`, the leftmost placement that satisfies the conditions wins.
//! - A condition on a field holds only for a value it can compare: numbers with numbers.

use std::ops::Range;

use super::ast::{Expr, FieldCmp, FieldSlot, Op, Slot};
use super::eval::Value;

/// The most positions one space-delimited pattern may hold (a ktail limit).
pub(crate) const MAX_SLOTS: usize = 64;

/// How many ways of splitting a record among several `...` the search tries before it gives up
/// on the record, when conditions compare different fields (a ktail limit; patterns whose
/// conditions each look at their own field never search).
const SEARCH_BUDGET: usize = 100_000;

#[derive(Debug, Clone)]
pub(crate) struct DelimitedMatcher {
    /// `true` for `...` (consecutive ones merged).
    ellipsis: Vec<bool>,
    /// Each position's condition, its leaves pointing at positions.
    conds: Vec<Option<Expr<Cmp>>>,
    /// Whether a position's condition looks only at its own field (or it has none).
    self_only: Vec<bool>,
    /// The runs of positions between `...`s.
    groups: Vec<Range<usize>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Cmp {
    slot: usize,
    op: Op,
    value: Value,
}

#[derive(Debug, Clone, Copy, Default)]
struct Field {
    /// Where the field starts in the record, quote or bracket included.
    raw_start: usize,
    /// Its value, without quotes or brackets.
    start: usize,
    end: usize,
}

/// A position's value: one field, or the record from a field on.
#[derive(Debug, Clone, Copy)]
enum Bound {
    Field(usize),
    Rest(usize),
}

impl DelimitedMatcher {
    pub fn compile(slots: &[Slot]) -> Result<Self, (usize, String)> {
        // `..., ...` is `...`.
        let slots: Vec<&Slot> = slots
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                !(matches!(s, Slot::Ellipsis) && *i > 0 && matches!(slots[i - 1], Slot::Ellipsis))
            })
            .map(|(_, s)| s)
            .collect();
        let mut names: Vec<Option<&str>> = Vec::with_capacity(slots.len());
        for slot in &slots {
            let name = match slot {
                Slot::Field(f) => {
                    if names.contains(&Some(f.name.as_str())) {
                        return Err((f.at.0, format!("field name `{}` appears twice", f.name)));
                    }
                    Some(f.name.as_str())
                }
                Slot::Ellipsis | Slot::Unnamed => None,
            };
            names.push(name);
        }
        if slots.len() > MAX_SLOTS {
            return Err((
                0,
                format!("at most {MAX_SLOTS} fields in [ ] (a ktail limit)"),
            ));
        }
        let mut conds = Vec::with_capacity(slots.len());
        let mut self_only = Vec::with_capacity(slots.len());
        for (i, slot) in slots.iter().enumerate() {
            let cond = match slot {
                Slot::Field(FieldSlot {
                    cond: Some(cond), ..
                }) => Some(compile_cond(cond, &names)?),
                _ => None,
            };
            self_only.push(
                cond.as_ref()
                    .is_none_or(|c| c.leaves().iter().all(|cmp| cmp.slot == i)),
            );
            conds.push(cond);
        }
        let ellipsis: Vec<bool> = slots.iter().map(|s| matches!(s, Slot::Ellipsis)).collect();
        let mut groups = Vec::new();
        let mut start = 0;
        for (i, is_ellipsis) in ellipsis.iter().chain([&true]).enumerate() {
            if *is_ellipsis {
                if start < i {
                    groups.push(start..i);
                }
                start = i + 1;
            }
        }
        Ok(DelimitedMatcher {
            ellipsis,
            conds,
            self_only,
            groups,
        })
    }

    pub fn matches(&self, record: &[u8]) -> bool {
        let record = trim_end(record);
        let mut fields = Fields::default();
        split(record, &mut fields);
        let mut bound = [Bound::Field(0); MAX_SLOTS];
        let n = fields.len();
        let slots = self.ellipsis.len();
        if !self.ellipsis.contains(&true) {
            if n < slots {
                return false;
            }
            for (i, b) in bound.iter_mut().enumerate().take(slots) {
                *b = Bound::Field(i);
            }
            if n > slots {
                bound[slots - 1] = Bound::Rest(slots - 1);
            }
            return self.conditions_hold(record, &fields, &bound, false);
        }
        if self.place(record, &fields, &mut bound)
            && self.conditions_hold(record, &fields, &bound, true)
        {
            return true;
        }
        // Conditions across fields failed on the leftmost placement: search the others.
        !self.self_only.iter().all(|s| *s) && {
            let mut budget = SEARCH_BUDGET;
            self.search(record, &fields, &mut bound, 0, 0, &mut budget)
        }
    }

    /// Places each run of positions between `...`s at the leftmost fields where the conditions
    /// on its own fields hold (after the previous run; the first run at the start and the last at
    /// the end of the record unless `...` frees them). Leftmost is never worse for later runs,
    /// so this finds a placement whenever there is one, as glob matching does with `*`.
    fn place(&self, record: &[u8], fields: &Fields, bound: &mut [Bound; MAX_SLOTS]) -> bool {
        let n = fields.len();
        let (mut groups, mut pos, mut end) = (&self.groups[..], 0, n);
        if !self.ellipsis[0]
            && let Some((first, rest)) = groups.split_first()
        {
            if first.len() > n || !self.group_at(first, 0, record, fields, bound) {
                return false;
            }
            (groups, pos) = (rest, first.len());
        }
        if self.ellipsis.last() == Some(&false)
            && let Some((last, rest)) = groups.split_last()
        {
            let Some(start) = n.checked_sub(last.len()).filter(|s| *s >= pos) else {
                return false;
            };
            if !self.group_at(last, start, record, fields, bound) {
                return false;
            }
            (groups, end) = (rest, start);
        }
        for group in groups {
            let mut start = pos;
            loop {
                if start + group.len() > end {
                    return false;
                }
                if self.group_at(group, start, record, fields, bound) {
                    break;
                }
                start += 1;
            }
            pos = start + group.len();
        }
        true
    }

    /// Binds `group` to the fields from `start`; whether their own conditions hold.
    fn group_at(
        &self,
        group: &Range<usize>,
        start: usize,
        record: &[u8],
        fields: &Fields,
        bound: &mut [Bound; MAX_SLOTS],
    ) -> bool {
        group.clone().enumerate().all(|(j, slot)| {
            bound[slot] = Bound::Field(start + j);
            !self.self_only[slot]
                || self.conds[slot]
                    .as_ref()
                    .is_none_or(|c| self.cond_holds(c, record, fields, bound))
        })
    }

    /// Tries every split of the fields among the `...` positions (within `budget` steps).
    fn search(
        &self,
        record: &[u8],
        fields: &Fields,
        bound: &mut [Bound; MAX_SLOTS],
        slot: usize,
        field: usize,
        budget: &mut usize,
    ) -> bool {
        let Some(left) = budget.checked_sub(1) else {
            return false;
        };
        *budget = left;
        let n = fields.len();
        if slot == self.ellipsis.len() {
            return field == n && self.conditions_hold(record, fields, bound, false);
        }
        if !self.ellipsis[slot] {
            return field < n && {
                bound[slot] = Bound::Field(field);
                self.search(record, fields, bound, slot + 1, field + 1, budget)
            };
        }
        let after = &self.ellipsis[slot + 1..];
        let needed = after.iter().filter(|e| !**e).count();
        let Some(spare) = n.checked_sub(field + needed) else {
            return false;
        };
        (0..=spare).any(|take| self.search(record, fields, bound, slot + 1, field + take, budget))
    }

    /// Whether every condition holds (only those across fields when `cross_only`).
    fn conditions_hold(
        &self,
        record: &[u8],
        fields: &Fields,
        bound: &[Bound; MAX_SLOTS],
        cross_only: bool,
    ) -> bool {
        self.conds
            .iter()
            .zip(&self.self_only)
            .filter(|(_, self_only)| !cross_only || !**self_only)
            .all(|(cond, _)| {
                cond.as_ref()
                    .is_none_or(|c| self.cond_holds(c, record, fields, bound))
            })
    }

    fn cond_holds(
        &self,
        cond: &Expr<Cmp>,
        record: &[u8],
        fields: &Fields,
        bound: &[Bound; MAX_SLOTS],
    ) -> bool {
        cond.eval(&mut |cmp| {
            let text = match bound[cmp.slot] {
                Bound::Field(i) => {
                    let f = fields.get(i);
                    &record[f.start..f.end]
                }
                Bound::Rest(i) => &record[fields.get(i).raw_start..],
            };
            cmp.value.holds_for_text(cmp.op, text)
        })
    }
}

fn compile_cond(
    cond: &Expr<FieldCmp>,
    names: &[Option<&str>],
) -> Result<Expr<Cmp>, (usize, String)> {
    Ok(match cond {
        Expr::Or(items) => Expr::Or(
            items
                .iter()
                .map(|e| compile_cond(e, names))
                .collect::<Result<_, _>>()?,
        ),
        Expr::And(items) => Expr::And(
            items
                .iter()
                .map(|e| compile_cond(e, names))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Leaf(cmp) => {
            let Some(slot) = names.iter().position(|n| *n == Some(cmp.field.as_str())) else {
                return Err((
                    cmp.at.0,
                    format!("`{}` is not one of the fields in [ ]", cmp.field),
                ));
            };
            Expr::Leaf(Cmp {
                slot,
                op: cmp.op,
                value: Value::compile(&cmp.value)?,
            })
        }
    })
}

fn trim_end(record: &[u8]) -> &[u8] {
    let end = record
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &record[..end]
}

/// The fields of a record: the first 32 on the stack, any more on the heap.
#[derive(Default)]
struct Fields {
    inline: [Field; 32],
    len: usize,
    spill: Vec<Field>,
}

impl Fields {
    fn push(&mut self, field: Field) {
        if self.len < self.inline.len() {
            self.inline[self.len] = field;
        } else {
            self.spill.push(field);
        }
        self.len += 1;
    }

    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, i: usize) -> Field {
        match self.inline.get(i) {
            Some(f) => *f,
            None => self.spill[i - self.inline.len()],
        }
    }
}

fn split(record: &[u8], fields: &mut Fields) {
    let len = record.len();
    let mut i = 0;
    loop {
        while i < len && record[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= len {
            return;
        }
        let raw_start = i;
        match record[i] {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < len && record[j] != b'"' {
                    j += if record[j] == b'\\' { 2 } else { 1 };
                }
                let end = j.min(len);
                fields.push(Field {
                    raw_start,
                    start,
                    end,
                });
                i = (end + 1).min(len);
            }
            b'[' => {
                let start = i + 1;
                let end = record[start..]
                    .iter()
                    .position(|&b| b == b']')
                    .map_or(len, |p| start + p);
                fields.push(Field {
                    raw_start,
                    start,
                    end,
                });
                i = (end + 1).min(len);
            }
            _ => {
                let end = record[i..]
                    .iter()
                    .position(u8::is_ascii_whitespace)
                    .map_or(len, |p| i + p);
                fields.push(Field {
                    raw_start,
                    start: i,
                    end,
                });
                i = end;
            }
        }
    }
}
