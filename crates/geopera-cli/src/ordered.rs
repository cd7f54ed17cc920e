//! A JSON value that keeps object members in the order the server sent them.
//!
//! Tables take their columns from member order and YAML should read like the JSON, so both
//! are built from this type, which also keeps every number as written and names repeated keys
//! (a `serde_json::Value` keeps member order too, with `preserve_order`, but neither of those).
//!
//! Numbers are kept as the server spelled them: a `serde_json::Number` rounds an integer
//! beyond 64 bits, or a decimal with more digits than `f64` holds, and refuses one beyond
//! `f64` (`1e400`), all of which `-o json` prints exactly. So the parse reads a copy of the
//! text with every number written as `0` (padded with spaces, so positions stay), and each
//! number it visits takes its token from the text, in the order [`crate::json::number_spans`]
//! found them.

use std::fmt;

use std::cell::Cell;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A key that an object of the answer gave more than once, at `at` (a JSON Pointer to the
/// object, empty for the top). Only its last value is kept, where its first one was.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Repeated {
    pub(crate) key: String,
    pub(crate) at: String,
}

/// A parsed JSON value with ordered objects.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ordered {
    Null,
    Bool(bool),
    /// The number token as written, `1.50` and `2e-5` included.
    Number(String),
    String(String),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl Ordered {
    /// Parses one JSON document, and lists the keys an object of it repeats.
    ///
    /// A key given twice keeps its last value, at the place of its first, as jq and
    /// serde_json read it (`-o json` prints the answer as it came). Printed twice, the YAML
    /// would not be YAML and the table would show two rows for one member; the caller names
    /// each repeated key, so that no value is dropped without a word.
    pub(crate) fn parse(text: &str) -> Result<(Self, Vec<Repeated>), serde_json::Error> {
        let readable = crate::json::lone_surrogates_replaced(text);
        let text: &str = &readable;
        let numbers = crate::json::number_spans(text);
        let mut zeroed = text.as_bytes().to_vec();
        for span in &numbers {
            if let Some(token) = zeroed.get_mut(span.clone()) {
                token.fill(b' ');
                if let Some(first) = token.first_mut() {
                    *first = b'0';
                }
            }
        }
        let walk = Walk {
            text,
            numbers,
            next_number: Cell::new(0),
        };
        let mut deserializer = serde_json::Deserializer::from_slice(&zeroed);
        let mut value = Seed(&walk).deserialize(&mut deserializer)?;
        deserializer.end()?;
        let mut repeated = Vec::new();
        value.last_wins(&mut String::new(), &mut repeated);
        Ok((value, repeated))
    }

    /// Keeps the last value of every repeated key in this value and all inside it, noting
    /// each key in `repeated`; `pointer` is where this value is.
    fn last_wins(&mut self, pointer: &mut String, repeated: &mut Vec<Repeated>) {
        use std::fmt::Write as _;
        crate::stop_if_interrupted();
        let outer = pointer.len();
        match self {
            Ordered::Array(items) => {
                for (index, item) in items.iter_mut().enumerate() {
                    let _ = write!(pointer, "/{index}");
                    item.last_wins(pointer, repeated);
                    pointer.truncate(outer);
                }
            }
            Ordered::Object(members) => {
                drop_repeats(members, pointer, repeated);
                for (key, value) in members {
                    pointer.push('/');
                    pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                    value.last_wins(pointer, repeated);
                    pointer.truncate(outer);
                }
            }
            _ => {}
        }
    }

    /// The member `key` of an object.
    pub(crate) fn get(&self, key: &str) -> Option<&Ordered> {
        match self {
            Ordered::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether this is a string, number, boolean or null: something that fits in a cell.
    pub(crate) fn is_scalar(&self) -> bool {
        !matches!(self, Ordered::Array(_) | Ordered::Object(_))
    }

    /// The value as a table cell: strings without quotes, null as empty, the rest as JSON.
    pub(crate) fn cell(&self) -> String {
        match self {
            Ordered::Null => String::new(),
            Ordered::Bool(b) => b.to_string(),
            Ordered::Number(n) | Ordered::String(n) => n.clone(),
            other => serde_json::to_string(other).unwrap_or_default(),
        }
    }
}

/// As JSON only: a number goes out through `RawValue`, which only serde_json's serializer
/// writes as it is.
impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Ordered::Null => serializer.serialize_unit(),
            Ordered::Bool(b) => serializer.serialize_bool(*b),
            Ordered::Number(n) => serde_json::value::RawValue::from_string(n.clone())
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
            Ordered::String(s) => serializer.serialize_str(s),
            Ordered::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Ordered::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

/// Leaves one member per key, with the key's last value at the place of its first, noting
/// the repeated keys in the order they first came. A sort of the positions by key finds them
/// in `n log n`: an object of many members costs no `n²` comparisons.
fn drop_repeats(members: &mut Vec<(String, Ordered)>, at: &str, repeated: &mut Vec<Repeated>) {
    if members.len() < 2 {
        return;
    }
    let mut by_key: Vec<usize> = (0..members.len()).collect();
    // Stable: the positions of one key stay in their order.
    by_key.sort_by(|&a, &b| members[a].0.cmp(&members[b].0));
    let mut dropped = vec![false; members.len()];
    // Each repeated key's first and last position.
    let mut ends = Vec::new();
    for run in by_key.chunk_by(|&a, &b| members[a].0 == members[b].0) {
        if let (Some(&first), Some(&last)) = (run.first(), run.last()) {
            if first != last {
                run.iter().skip(1).for_each(|&later| dropped[later] = true);
                ends.push((first, last));
            }
        }
    }
    if ends.is_empty() {
        return;
    }
    ends.sort_unstable();
    for &(first, last) in &ends {
        members[first].1 = std::mem::replace(&mut members[last].1, Ordered::Null);
        repeated.push(Repeated {
            key: members[first].0.clone(),
            at: at.to_owned(),
        });
    }
    let mut position = 0;
    members.retain(|_| {
        let keep = !dropped[position];
        position += 1;
        keep
    });
}

/// What the parse of one document shares: the text, where its numbers are, and how many
/// were visited.
struct Walk<'t> {
    text: &'t str,
    numbers: Vec<std::ops::Range<usize>>,
    next_number: Cell<usize>,
}

impl Walk<'_> {
    /// The next number's token as the text has it.
    fn number(&self) -> Ordered {
        let index = self.next_number.get();
        self.next_number.set(index + 1);
        let token = self
            .numbers
            .get(index)
            .and_then(|span| self.text.get(span.clone()))
            // Only if the scan and the parse ever disagreed: the `0` the parse read.
            .unwrap_or("0");
        Ordered::Number(token.to_owned())
    }
}

struct Seed<'w, 't>(&'w Walk<'t>);

impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
    type Value = Ordered;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Ordered, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_> {
    type Value = Ordered;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Ordered, E> {
        Ok(Ordered::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Ordered, E> {
        Ok(Ordered::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Ordered, E> {
        Ok(self.0.number())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Ordered, E> {
        Ok(self.0.number())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Ordered, E> {
        Ok(Ordered::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Ordered, E> {
        Ok(Ordered::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Seed(self.0))? {
            crate::stop_if_interrupted();
            items.push(item);
        }
        Ok(Ordered::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Seed(self.0))?;
            crate::stop_if_interrupted();
            members.push((key, value));
        }
        Ok(Ordered::Object(members))
    }
}

#[cfg(test)]
#[path = "ordered_tests.rs"]
mod tests;
