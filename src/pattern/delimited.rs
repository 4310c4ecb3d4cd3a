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
//! - A condition on a field holds only for a value it can compare: numbers with numbers.

use super::ast::{Expr, FieldCmp, Op, Slot};
use super::eval::Value;

/// The most positions one space-delimited pattern may hold (a ktail limit).
pub(crate) const MAX_SLOTS: usize = 64;

#[derive(Debug, Clone)]
pub(crate) struct DelimitedMatcher {
    /// `true` for `...`
    ellipsis: Vec<bool>,
    /// Each position's condition, its leaves pointing at positions.
    conds: Vec<Expr<Cmp>>,
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
        let mut names: Vec<Option<&str>> = Vec::with_capacity(slots.len());
        for slot in slots {
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
        let mut conds = Vec::new();
        for slot in slots {
            let Slot::Field(field) = slot else { continue };
            let Some(cond) = &field.cond else { continue };
            conds.push(compile_cond(cond, &names)?);
        }
        Ok(DelimitedMatcher {
            ellipsis: slots.iter().map(|s| matches!(s, Slot::Ellipsis)).collect(),
            conds,
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
            return self.conditions_hold(record, &fields, &bound);
        }
        self.assign(record, &fields, &mut bound, 0, 0)
    }

    /// Binds positions `slot..` to fields `field..`, trying each split of the fields among the
    /// `...` positions until the conditions hold.
    fn assign(
        &self,
        record: &[u8],
        fields: &Fields,
        bound: &mut [Bound; MAX_SLOTS],
        slot: usize,
        field: usize,
    ) -> bool {
        let n = fields.len();
        if slot == self.ellipsis.len() {
            return field == n && self.conditions_hold(record, fields, bound);
        }
        if !self.ellipsis[slot] {
            return field < n && {
                bound[slot] = Bound::Field(field);
                self.assign(record, fields, bound, slot + 1, field + 1)
            };
        }
        let after = &self.ellipsis[slot + 1..];
        let needed = after.iter().filter(|e| !**e).count();
        let Some(spare) = n.checked_sub(field + needed) else {
            return false;
        };
        if !after.contains(&true) {
            // The last `...`: it takes exactly what the positions after it leave.
            return self.assign(record, fields, bound, slot + 1, field + spare);
        }
        (0..=spare).any(|take| self.assign(record, fields, bound, slot + 1, field + take))
    }

    fn conditions_hold(&self, record: &[u8], fields: &Fields, bound: &[Bound; MAX_SLOTS]) -> bool {
        self.conds.iter().all(|cond| {
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
