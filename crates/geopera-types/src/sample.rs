//! Deterministic sample values for shapes.
//!
//! [`sample`] builds a JSON value that satisfies a [`Shape`]: every declared field is filled,
//! numbers respect their bounds, strings their lengths, enums pick a listed value and simple
//! patterns (alternations, character classes, literals) are honoured. The same shape and seed
//! always give the same value, so a server built on it answers byte-identical bodies across
//! runs. Recursive schemas are cut off after a few levels (optional members dropped, arrays
//! left at their minimum length).
//!
//! ```
//! use geopera_types::sample::sample;
//! use geopera_types::shape::{Bounds, Shape};
//!
//! static PERCENT: Shape = Shape::Integer(Bounds {
//!     minimum: Some(0.0),
//!     maximum: Some(100.0),
//!     exclusive_minimum: None,
//!     exclusive_maximum: None,
//! });
//! let value = sample(&PERCENT, 7);
//! assert_eq!(value, sample(&PERCENT, 7));
//! assert!((0..=100).contains(&value.as_i64().unwrap_or(-1)));
//! ```

use serde_json::{Map, Number, Value};

use crate::shape::{Bounds, Shape, StringRule};

/// Nesting depth after which only required members and minimal arrays are produced.
const SHALLOW_AFTER: usize = 4;
/// Nesting depth after which references are no longer followed at all.
const STOP_AFTER: usize = 12;

/// Returns a deterministic value, derived from `seed`, that satisfies `shape`.
pub fn sample(shape: &Shape, seed: u64) -> Value {
    let mut sampler = Sampler {
        state: seed ^ 0x6a09_e667_f3bc_c908,
    };
    sampler.value(shape, None, 0)
}

struct Sampler {
    state: u64,
}

impl Sampler {
    /// SplitMix64: tiny, fast and good enough for sample data.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next() % bound
        }
    }

    fn value(&mut self, shape: &Shape, name: Option<&str>, depth: usize) -> Value {
        match shape {
            Shape::Any => Value::Object(Map::new()),
            Shape::Null => Value::Null,
            Shape::Boolean => Value::Bool(self.next() & 1 == 0),
            Shape::Integer(bounds) => Value::from(self.integer(bounds)),
            Shape::Number(bounds) => {
                let number = self.number(bounds);
                Number::from_f64(number).map_or(Value::from(0), Value::Number)
            }
            Shape::String(rule) => Value::String(self.string(rule, name)),
            Shape::Enum(choices) => match choices.len() {
                0 => Value::Null,
                len => {
                    let index = self.below(len as u64) as usize;
                    choices
                        .get(index)
                        .map_or(Value::Null, |choice| Value::String((*choice).to_owned()))
                }
            },
            Shape::Array(rule) => {
                let min = rule.min_items.unwrap_or(0);
                let wanted = if depth >= SHALLOW_AFTER {
                    min
                } else {
                    min.max(1)
                };
                let count = rule.max_items.map_or(wanted, |max| wanted.min(max)).min(8);
                Value::Array(
                    (0..count)
                        .map(|_| self.value(rule.items, name, depth + 1))
                        .collect(),
                )
            }
            Shape::Tuple(positions) => Value::Array(
                positions
                    .iter()
                    .map(|position| self.value(position, name, depth + 1))
                    .collect(),
            ),
            Shape::Object(rule) => {
                let mut members = Map::new();
                for field in rule.fields {
                    if !field.required && depth >= SHALLOW_AFTER {
                        continue;
                    }
                    let member = self.value(&field.shape, Some(field.name), depth + 1);
                    members.insert(field.name.to_owned(), member);
                }
                Value::Object(members)
            }
            Shape::Map(member) => {
                let mut members = Map::new();
                if depth < SHALLOW_AFTER {
                    members.insert("key".to_owned(), self.value(member, None, depth + 1));
                }
                Value::Object(members)
            }
            Shape::AnyOf(alternatives) => {
                let has_null = alternatives
                    .iter()
                    .any(|alternative| matches!(alternative.resolve(), Shape::Null));
                let preferred = alternatives
                    .iter()
                    .find(|alternative| !matches!(alternative.resolve(), Shape::Null));
                match preferred {
                    Some(_) if has_null && depth >= SHALLOW_AFTER => Value::Null,
                    Some(alternative) => self.value(alternative, name, depth),
                    None => Value::Null,
                }
            }
            Shape::Ref(schema) => {
                if depth >= STOP_AFTER {
                    minimal(&schema.shape)
                } else {
                    self.value(&schema.shape, name, depth + 1)
                }
            }
        }
    }

    fn integer(&mut self, bounds: &Bounds) -> i64 {
        let low = match (bounds.minimum, bounds.exclusive_minimum) {
            (Some(min), Some(ex)) => min.ceil().max(ex.floor() + 1.0),
            (Some(min), None) => min.ceil(),
            (None, Some(ex)) => ex.floor() + 1.0,
            (None, None) => 0.0,
        };
        let high = match (bounds.maximum, bounds.exclusive_maximum) {
            (Some(max), Some(ex)) => max.floor().min(ex.ceil() - 1.0),
            (Some(max), None) => max.floor(),
            (None, Some(ex)) => ex.ceil() - 1.0,
            (None, None) => low + 100.0,
        };
        let low = low.clamp(-1e15, 1e15) as i64;
        let high = high.clamp(-1e15, 1e15) as i64;
        if high <= low {
            return low;
        }
        let span = (high - low).min(1000) as u64 + 1;
        low + self.below(span) as i64
    }

    fn number(&mut self, bounds: &Bounds) -> f64 {
        let low = bounds
            .minimum
            .or(bounds.exclusive_minimum.map(|ex| ex + 0.5))
            .unwrap_or(0.0);
        let high = bounds
            .maximum
            .or(bounds.exclusive_maximum.map(|ex| ex - 0.5))
            .unwrap_or(low + 100.0);
        if high <= low {
            return low;
        }
        let fraction = self.below(1000) as f64 / 1000.0;
        let candidate = ((low + (high - low) * fraction) * 100.0).round() / 100.0;
        candidate.clamp(low, high)
    }

    fn string(&mut self, rule: &StringRule, name: Option<&str>) -> String {
        let mut text = if let Some(pattern) = rule.pattern {
            expand_pattern(pattern)
        } else if rule.format == Some("date-time") || name.is_some_and(is_time_name) {
            let day = self.below(28) + 1;
            let hour = self.below(24);
            format!("2024-06-{day:02}T{hour:02}:00:00Z")
        } else if rule.format == Some("date") {
            format!("2024-06-{:02}", self.below(28) + 1)
        } else if name.is_some_and(|name| name == "url" || name.ends_with("_url")) {
            format!("https://example.com/{:08x}", self.next() as u32)
        } else if name.is_some_and(|name| name.contains("email")) {
            format!("user{}@example.com", self.below(1000))
        } else if name.is_some_and(|name| name == "id" || name.ends_with("_id")) {
            format!("{:016x}", self.next())
        } else {
            format!("{}-{}", name.unwrap_or("sample"), self.below(10_000))
        };
        let min = rule.min_length.unwrap_or(0) as usize;
        while text.chars().count() < min {
            text.push('x');
        }
        if let Some(max) = rule.max_length {
            text = text.chars().take(max as usize).collect();
        }
        text
    }
}

fn is_time_name(name: &str) -> bool {
    name.ends_with("_at") || name.ends_with("At")
}

/// The smallest value of a shape, used where recursion is cut off.
fn minimal(shape: &Shape) -> Value {
    match shape.resolve() {
        Shape::Object(_) | Shape::Map(_) | Shape::Any => Value::Object(Map::new()),
        Shape::Array(_) | Shape::Tuple(_) => Value::Array(Vec::new()),
        Shape::String(_) => Value::String(String::new()),
        Shape::Boolean => Value::Bool(false),
        Shape::Integer(_) | Shape::Number(_) => Value::from(0),
        Shape::Enum(choices) => choices
            .first()
            .map_or(Value::Null, |choice| Value::String((*choice).to_owned())),
        Shape::Null | Shape::AnyOf(_) | Shape::Ref(_) => Value::Null,
    }
}

/// Writes one string matched by a simple regular expression: the first branch of every
/// alternation, the first member of every class, one repetition of `+`, none of `*` and `?`.
/// Good enough for the contract's patterns (`^(up|down)$`, `^(cst|pm)_[A-Za-z0-9_]+$`).
fn expand_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    expand(&chars, &mut 0, &mut out, 0);
    out
}

fn expand(chars: &[char], pos: &mut usize, out: &mut String, depth: usize) {
    while let Some(&c) = chars.get(*pos) {
        let start = out.len();
        match c {
            '^' | '$' => {
                *pos += 1;
                continue;
            }
            ')' => return,
            '|' => {
                // Skip the remaining branches of this group.
                let mut level = 0usize;
                while let Some(&c) = chars.get(*pos) {
                    match c {
                        '\\' => *pos += 1,
                        '(' => level += 1,
                        ')' if level == 0 => return,
                        ')' => level -= 1,
                        _ => {}
                    }
                    *pos += 1;
                }
                return;
            }
            '(' => {
                *pos += 1;
                if chars.get(*pos) == Some(&'?') {
                    // Non-capturing group marker `(?:`.
                    *pos += 2;
                }
                if depth < 16 {
                    expand(chars, pos, out, depth + 1);
                }
                *pos += 1;
            }
            '[' => {
                *pos += 1;
                let mut first: Option<char> = None;
                let negated = chars.get(*pos) == Some(&'^');
                if negated {
                    *pos += 1;
                }
                while let Some(&c) = chars.get(*pos) {
                    *pos += 1;
                    if c == ']' && first.is_some() {
                        break;
                    }
                    if first.is_none() {
                        first = Some(if c == '\\' {
                            let escaped = chars.get(*pos).copied().unwrap_or('a');
                            *pos += 1;
                            class_char(escaped)
                        } else {
                            c
                        });
                    }
                }
                out.push(if negated { 'a' } else { first.unwrap_or('a') });
            }
            '\\' => {
                *pos += 1;
                let escaped = chars.get(*pos).copied().unwrap_or('a');
                *pos += 1;
                out.push(class_char(escaped));
            }
            '.' => {
                *pos += 1;
                out.push('a');
            }
            other => {
                *pos += 1;
                out.push(other);
            }
        }
        // Quantifier applying to what was just written.
        match chars.get(*pos) {
            Some('*') | Some('?') => {
                out.truncate(start);
                *pos += 1;
            }
            Some('+') => *pos += 1,
            Some('{') => {
                let mut spec = String::new();
                *pos += 1;
                while let Some(&c) = chars.get(*pos) {
                    *pos += 1;
                    if c == '}' {
                        break;
                    }
                    spec.push(c);
                }
                let times: usize = spec
                    .split(',')
                    .next()
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(1);
                let piece = out[start..].to_owned();
                out.truncate(start);
                for _ in 0..times.min(64) {
                    out.push_str(&piece);
                }
            }
            _ => {}
        }
    }
}

fn class_char(escaped: char) -> char {
    match escaped {
        'd' => '0',
        'w' => 'a',
        's' => ' ',
        other => other,
    }
}

#[cfg(test)]
#[path = "sample_tests.rs"]
mod tests;
