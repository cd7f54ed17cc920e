//! Printing answers as indented JSON without reordering or rounding anything, and reading
//! request bodies without silently changing them ([`parse_body`]).
//!
//! Why not parse into `serde_json::Value` and pretty-print: a `Value` rounds numbers beyond
//! `f64`/`u64` and keeps only the last of a repeated key (member order it keeps, since this
//! crate turns on `preserve_order` for request bodies). So the raw answer is checked once
//! with a full parse that keeps nothing, then re-indented token by token: member
//! order, number spelling and string escapes stay exactly as the server sent them (only raw
//! DEL and C1 control characters and bidirectional formatting characters become `\u` escapes
//! of the same string; see [`indent`]).

use serde::de::IgnoredAny;

/// How deep arrays and objects may nest: serde_json's own limit, which the parses behind
/// `-o table`, `-o yaml` and `--all` meet (it reads 127 levels and refuses the 128th). Every
/// other way of printing refuses the same answers, checked by [`too_deep`] before any work:
/// indenting writes the depth on every line (quadratic in it), and jq's parser recurses once
/// per level (a stack overflow, not an error).
pub(crate) const DEPTH_LIMIT: usize = 128;

/// Whether `text` nests arrays and objects [`DEPTH_LIMIT`] levels deep or more; brackets
/// inside strings do not count. One pass, which stops at the first level too many, whether or
/// not the text is JSON.
pub(crate) fn too_deep(text: &str) -> bool {
    let mut depth = 0usize;
    for (_, byte) in outside_strings(text) {
        match byte {
            b'[' | b'{' => {
                depth += 1;
                if depth >= DEPTH_LIMIT {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The bytes of `text` outside its string literals, with their positions: what the scans for
/// nesting and for numbers look at, since brackets and digits inside strings are text. Bytes,
/// not chars: the ASCII bytes looked for never occur inside a multi-byte character.
fn outside_strings(text: &str) -> impl Iterator<Item = (usize, u8)> + '_ {
    let mut in_string = false;
    let mut escaped = false;
    // Ctrl-C is looked at on every byte (one relaxed load): the scans run on the command's
    // one thread, where the signal is not heard otherwise, and a huge answer takes seconds.
    text.bytes().enumerate().filter(move |&(_, byte)| {
        crate::stop_if_interrupted();
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            return false;
        }
        in_string = byte == b'"';
        !in_string
    })
}

/// Checks that `text` is one JSON value, in one pass that keeps nothing (and, unlike a parse
/// into a value, does not limit its depth: see [`too_deep`]).
pub(crate) fn check(text: &str) -> Result<(), serde_json::Error> {
    let check = || serde_json::from_str::<IgnoredAny>(text).map(drop);
    if text.len() < CHECKED_ALONE {
        return check();
    }
    // The parse cannot be asked to look for Ctrl-C as it goes (a visitor that did would have
    // to read every number, refusing those beyond `f64` that are printed as written), and a
    // huge answer takes it seconds.
    crate::interruptible(check)
}

/// The longest text [`check`] reads on the calling thread: the moment it takes is too short
/// for a Ctrl-C to wait on.
const CHECKED_ALONE: usize = 1 << 20;

/// Why a text cannot be printed as JSON.
#[derive(Debug)]
pub(crate) enum Unfit {
    /// It is not one JSON value.
    NotJson(serde_json::Error),
    /// It nests [`DEPTH_LIMIT`] levels deep or more.
    TooDeep,
}

/// One JSON value within [`DEPTH_LIMIT`], checked once: what the printers take, so that a
/// huge answer is parsed and measured once however many steps it passes through.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checked<'a>(&'a str);

impl<'a> Checked<'a> {
    /// Checks `text`: first the full parse, which reads any depth, so that a text that is
    /// not JSON is named as such whatever its depth; then the depth.
    pub(crate) fn new(text: &'a str) -> Result<Self, Unfit> {
        check(text).map_err(Unfit::NotJson)?;
        if too_deep(text) {
            return Err(Unfit::TooDeep);
        }
        Ok(Checked(text))
    }

    /// The text as it was checked.
    pub(crate) fn text(self) -> &'a str {
        self.0
    }

    /// Indents the document with two spaces, keeping every token as written, coloured for a
    /// terminal when `colour`: member names, strings, numbers, booleans and null each in
    /// their style. Raw DEL and C1 control characters inside strings (valid JSON, unlike raw
    /// C0 ones) and bidirectional formatting characters are written as `\u` escapes, the
    /// same string, so that a terminal never takes them for the start of an escape sequence
    /// or reorders the text around them ([`crate::paint::steers`]).
    #[cfg(test)]
    pub(crate) fn indent(self, colour: bool) -> String {
        let mut whole = String::new();
        let written: Result<(), std::convert::Infallible> = self.indent_into(colour, |piece| {
            whole.push_str(piece);
            Ok(())
        });
        match written {
            Ok(()) => whole,
            Err(never) => match never {},
        }
    }

    /// [`indent`](Self::indent), handed to `write` a piece at a time as it is laid out: the
    /// indentation writes the depth on every line, so a document nested deep with many short
    /// members comes out over a hundred times its size (gigabytes for an answer of 64 MiB),
    /// which must never be held whole.
    pub(crate) fn indent_into<E>(
        self,
        colour: bool,
        mut write: impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        use crate::paint;

        /// How much is laid out before it is handed on.
        const PIECE: usize = 1 << 20;

        let text = self.0;
        let mut out = String::with_capacity(PIECE.min(text.len() + text.len() / 4) + 256);
        let mut depth = 0usize;
        let mut chars = text.chars().peekable();
        let mut token = String::new();
        while let Some(c) = chars.next() {
            crate::stop_if_interrupted();
            if out.len() >= PIECE {
                write(&out)?;
                out.clear();
            }
            match c {
                '"' => {
                    token.clear();
                    copy_string(&mut chars, &mut token);
                    while chars.peek().is_some_and(|n| n.is_ascii_whitespace()) {
                        chars.next();
                    }
                    let style = if chars.peek() == Some(&':') {
                        paint::KEY
                    } else {
                        paint::STRING
                    };
                    paint::push(&mut out, style, &token, colour);
                }
                '{' | '[' => {
                    let close = if c == '{' { '}' } else { ']' };
                    while chars.peek().is_some_and(|n| n.is_ascii_whitespace()) {
                        chars.next();
                    }
                    if chars.peek() == Some(&close) {
                        chars.next();
                        out.push(c);
                        out.push(close);
                    } else {
                        depth += 1;
                        out.push(c);
                        newline(&mut out, depth);
                    }
                }
                '}' | ']' => {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                    out.push(c);
                }
                ',' => {
                    out.push(',');
                    newline(&mut out, depth);
                }
                ':' => out.push_str(": "),
                c if c.is_ascii_whitespace() => {}
                c => {
                    // A number or a literal: everything up to the next separator.
                    token.clear();
                    token.push(c);
                    while let Some(&n) = chars.peek() {
                        if matches!(n, ',' | ']' | '}' | ':') || n.is_ascii_whitespace() {
                            break;
                        }
                        token.push(n);
                        chars.next();
                    }
                    let style = match token.as_str() {
                        "true" | "false" => paint::BOOLEAN,
                        "null" => paint::NULL,
                        _ => paint::NUMBER,
                    };
                    paint::push(&mut out, style, &token, colour);
                }
            }
        }
        write(&out)
    }

    /// The document on one line (for NDJSON), keeping every token as written (control
    /// characters in strings escaped, as in [`Checked::indent`]).
    pub(crate) fn compact(self) -> String {
        let text = self.0;
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            crate::stop_if_interrupted();
            if c == '"' {
                copy_string(&mut chars, &mut out);
            } else if !c.is_ascii_whitespace() {
                out.push(c);
            }
        }
        out
    }
}

/// [`Checked::compact`] of `text`, or `None` when it is not one JSON value or nests too deep.
pub(crate) fn compact(text: &str) -> Option<String> {
    Checked::new(text).ok().map(Checked::compact)
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Copies a string token whose opening quote was just read, through its closing quote, with
/// control characters escaped (see [`indent`]).
fn copy_string(chars: &mut impl Iterator<Item = char>, out: &mut String) {
    out.push('"');
    let mut escaped = false;
    for s in chars.by_ref() {
        if crate::paint::steers(s) {
            push_escaped(out, s);
            continue;
        }
        out.push(s);
        if escaped {
            escaped = false;
        } else if s == '\\' {
            escaped = true;
        } else if s == '"' {
            break;
        }
    }
}

/// A character that steers the terminal as the JSON escape `\uXXXX`: inside a string the same
/// text, and never an instruction to the terminal.
fn push_escaped(out: &mut String, c: char) {
    use std::fmt::Write as _;
    let _ = write!(out, "\\u{:04x}", u32::from(c));
}

/// Server text printed as it came (NDJSON lines, a jq result, a non-JSON answer) with every
/// character that steers the terminal but the line break written as a JSON escape, for the
/// reason above.
pub(crate) fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| crate::paint::steers(c) && c != '\n') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if crate::paint::steers(c) && c != '\n' {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A `Value` as indented JSON; used for values this program built itself.
pub(crate) fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned())
}

/// `text` with each `\u` escape of a lone UTF-16 surrogate written as `\ufffd`, as
/// [`geopera_types::json::lone_surrogates_replaced`] does, for the parses that build a tree of
/// the answer (`--all`, `-o table`, `-o yaml`, `--jq`, the id `--wait` looks for). The check
/// every answer passes skips such escapes, so `-o json` prints the answer as it came, while
/// every reading of it into strings would fail. Offsets into the text stay true.
pub(crate) fn lone_surrogates_replaced(text: &str) -> std::borrow::Cow<'_, str> {
    match geopera_types::json::lone_surrogates_replaced(text.as_bytes()) {
        std::borrow::Cow::Borrowed(_) => std::borrow::Cow::Borrowed(text),
        // ASCII written over ASCII: still UTF-8.
        std::borrow::Cow::Owned(fixed) => String::from_utf8(fixed)
            .map_or(std::borrow::Cow::Borrowed(text), std::borrow::Cow::Owned),
    }
}

/// An answer as a `Value` to look things up in (an id to wait for, an error's items), or
/// `null` when it is no JSON; lone surrogates read as [`lone_surrogates_replaced`] says.
pub(crate) fn tree_of(content: &[u8]) -> serde_json::Value {
    std::str::from_utf8(content)
        .ok()
        .and_then(|text| serde_json::from_str(&lone_surrogates_replaced(text)).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// A request body the user wrote (`op`'s body, a leaf's `--json`) as a `Value`, refused where
/// the server would read something else than the user wrote: a key given twice (a `Value`
/// keeps only the last), an integer beyond 64 bits (it would be rounded to a float, where the
/// API keeps integers whole), or a number that is not zero but reads as zero. The message
/// names what and where (a JSON Pointer, `/` for the top).
///
/// A decimal with more digits than a 64-bit float holds is not refused: it is sent as the
/// nearest float, as the official CLI sends it (it reads bodies into Python floats).
pub(crate) fn parse_body(text: &str) -> Result<serde_json::Value, String> {
    parse_exact(text, "the body", "sent")
}

/// [`parse_body`] for any JSON the program must not misread (the credentials file too), its
/// messages naming `subject` ("the body", a file) and what is done with it (`use`: "sent",
/// "read").
pub(crate) fn parse_exact(
    text: &str,
    subject: &str,
    usage: &str,
) -> Result<serde_json::Value, String> {
    use serde::de::DeserializeSeed as _;
    let numbers = number_tokens(text);
    let walk = BodyWalk {
        numbers: &numbers,
        next_number: std::cell::Cell::new(0),
        problem: std::cell::RefCell::new(None),
        subject,
        usage,
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = BodySeed {
        walk: &walk,
        pointer: String::new(),
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    parsed.map_err(|e| walk.problem.take().unwrap_or_else(|| e.to_string()))
}

/// The number tokens of `text` in the order they appear, strings skipped. A parse visits
/// numbers in the same order, so the `n`-th number it visits was written as the `n`-th token.
fn number_tokens(text: &str) -> Vec<&str> {
    number_spans(text)
        .into_iter()
        .filter_map(|span| text.get(span))
        .collect()
}

/// Where the number tokens of `text` are (see [`number_tokens`]). Only ASCII bytes are
/// taken, so both ends of each are character boundaries.
pub(crate) fn number_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    // The token being read: where it starts and its last byte so far.
    let mut token: Option<(usize, usize)> = None;
    for (at, byte) in outside_strings(text) {
        let continues = matches!(token, Some((_, last)) if last + 1 == at)
            && matches!(byte, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E');
        if continues {
            token = token.map(|(start, _)| (start, at));
            continue;
        }
        spans.extend(token.take().map(|(start, last)| start..last + 1));
        if byte == b'-' || byte.is_ascii_digit() {
            token = Some((at, at));
        }
    }
    spans.extend(token.map(|(start, last)| start..last + 1));
    spans
}

/// Why the number written as `token` would not be sent as written, if it would not.
pub(crate) fn inexact(token: &str) -> Option<&'static str> {
    if !token.contains(['.', 'e', 'E']) {
        let fits = token.parse::<i64>().is_ok() || token.parse::<u64>().is_ok();
        return (!fits).then_some("beyond 64-bit integers");
    }
    let value = token.parse::<f64>().ok()?;
    let mantissa = token.split(['e', 'E']).next().unwrap_or_default();
    if value == 0.0 && mantissa.bytes().any(|b| matches!(b, b'1'..=b'9')) {
        Some("too small to be told from 0")
    } else if value.is_infinite() {
        Some("too large for a 64-bit float")
    } else {
        None
    }
}

/// What the walk of one body shares: the number tokens, how many were visited, and the first
/// problem found, in words for the user.
struct BodyWalk<'t> {
    numbers: &'t [&'t str],
    next_number: std::cell::Cell<usize>,
    problem: std::cell::RefCell<Option<String>>,
    /// What is read, and what is done with it, for the messages.
    subject: &'t str,
    usage: &'t str,
}

impl BodyWalk<'_> {
    fn refuse<E: serde::de::Error>(&self, message: String) -> E {
        let error = E::custom(&message);
        self.problem.replace(Some(message));
        error
    }

    fn number<E: serde::de::Error>(
        &self,
        pointer: &str,
        value: impl Into<serde_json::Value>,
    ) -> Result<serde_json::Value, E> {
        let index = self.next_number.get();
        self.next_number.set(index + 1);
        let token = self.numbers.get(index).copied().unwrap_or_default();
        match inexact(token) {
            Some(why) => Err(self.refuse(format!(
                "the number {token} at {} cannot be {} exactly ({why})",
                shown_pointer(pointer),
                self.usage
            ))),
            None => Ok(value.into()),
        }
    }
}

fn shown_pointer(pointer: &str) -> &str {
    if pointer.is_empty() {
        "/"
    } else {
        pointer
    }
}

/// One value of the body at `pointer`.
struct BodySeed<'w, 't> {
    walk: &'w BodyWalk<'t>,
    pointer: String,
}

impl BodySeed<'_, '_> {
    fn child(&self, step: &str) -> Self {
        BodySeed {
            walk: self.walk,
            pointer: format!(
                "{}/{}",
                self.pointer,
                step.replace('~', "~0").replace('/', "~1")
            ),
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for BodySeed<'_, '_> {
    type Value = serde_json::Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for BodySeed<'_, '_> {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.walk.number(&self.pointer, v)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.walk.number(&self.pointer, v)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        let value = serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into);
        self.walk.number(&self.pointer, value)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(&items.len().to_string()))? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                let quoted = serde_json::to_string(&key).unwrap_or_default();
                return Err(self.walk.refuse(format!(
                    "{} repeats the key {} at {}",
                    self.walk.subject,
                    crate::paint::inert(&quoted),
                    shown_pointer(&self.pointer)
                )));
            }
            let value = map.next_value_seed(self.child(&key))?;
            members.insert(key, value);
        }
        Ok(serde_json::Value::Object(members))
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
