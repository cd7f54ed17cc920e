//! `--output yaml`, written here rather than by a YAML library.
//!
//! A serializer takes numbers as `i64`, `u64` or `f64`, so an integer beyond 64 bits or a
//! decimal with more digits than `f64` holds would be printed rounded, and a plain scalar of
//! our own spelling cannot be handed to one. The answer's shape is small (JSON's six kinds of
//! value), so it is laid out here in the block style a YAML library writes: members in the
//! server's order, sequences inside a mapping at the mapping's indentation, and every number
//! with the digits the server wrote, as a plain scalar. Not every JSON number is a YAML
//! number as written: YAML 1.1 (PyYAML's `safe_load`, among others) reads `1e-7` and `1E3`
//! as strings, so an exponent is spelled the way both YAML 1.1 and 1.2 read a float
//! (`1.0e-7`, `1.0E+3`; see [`number`]). Integers and plain decimals are as the server wrote
//! them.
//!
//! Strings are quoted whenever a plain scalar could be read as something else (a number, a
//! boolean in YAML 1.1 or 1.2, null, a date) or could not be read back at all, so any YAML
//! reader gets the server's string.

use std::fmt::Write as _;

use crate::ordered::Ordered;

/// Keys longer than this are written as explicit keys (`? key`): YAML limits an implicit key
/// to 1024 characters, and YAML libraries write the explicit form from 128 on.
const MAX_IMPLICIT_KEY_CHARS: usize = 128;

/// The answer as YAML, without a final line break.
pub(crate) fn yaml(answer: &Ordered) -> String {
    let mut out = String::new();
    match answer {
        Ordered::Object(members) if !members.is_empty() => mapping(&mut out, members, 0),
        Ordered::Array(items) if !items.is_empty() => sequence(&mut out, items, 0),
        scalar => self::scalar(&mut out, scalar, 0),
    }
    out
}

/// The members of a non-empty object, the first at the current position, each other on a
/// line of its own at `indent`.
fn mapping(out: &mut String, members: &[(String, Ordered)], indent: usize) {
    for (i, (key, value)) in members.iter().enumerate() {
        crate::stop_if_interrupted();
        if i > 0 {
            newline(out, indent);
        }
        let mut written = String::new();
        string(&mut written, key, indent, true);
        if written.chars().count() > MAX_IMPLICIT_KEY_CHARS {
            out.push_str("? ");
            out.push_str(&written);
            newline(out, indent);
            out.push(':');
            // After an explicit key a sequence is indented like any other block.
            member_value(out, value, indent, indent + 2);
        } else {
            out.push_str(&written);
            out.push(':');
            member_value(out, value, indent, indent);
        }
    }
}

/// The value of a member whose key starts at `indent`, written after its colon; a sequence
/// starts at `sequence_indent`.
fn member_value(out: &mut String, value: &Ordered, indent: usize, sequence_indent: usize) {
    match value {
        Ordered::Object(members) if !members.is_empty() => {
            newline(out, indent + 2);
            mapping(out, members, indent + 2);
        }
        Ordered::Array(items) if !items.is_empty() => {
            newline(out, sequence_indent);
            sequence(out, items, sequence_indent);
        }
        scalar => {
            out.push(' ');
            self::scalar(out, scalar, indent);
        }
    }
}

/// The items of a non-empty array, the first at the current position, each other on a line
/// of its own at `indent`.
fn sequence(out: &mut String, items: &[Ordered], indent: usize) {
    for (i, item) in items.iter().enumerate() {
        crate::stop_if_interrupted();
        if i > 0 {
            newline(out, indent);
        }
        out.push_str("- ");
        match item {
            Ordered::Object(members) if !members.is_empty() => {
                mapping(out, members, indent + 2);
            }
            Ordered::Array(items) if !items.is_empty() => sequence(out, items, indent + 2),
            scalar => self::scalar(out, scalar, indent),
        }
    }
}

/// A scalar, or an empty array or object, of a node whose parent starts at `indent`.
fn scalar(out: &mut String, value: &Ordered, indent: usize) {
    match value {
        Ordered::Null => out.push_str("null"),
        Ordered::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Ordered::Number(token) => number(out, token),
        Ordered::String(s) => string(out, s, indent, false),
        Ordered::Array(_) => out.push_str("[]"),
        Ordered::Object(_) => out.push_str("{}"),
    }
}

/// A JSON number with an exponent, spelled so that YAML 1.1 reads a float too: its float
/// needs a `.` in the mantissa and a signed exponent, where YAML 1.2 and JSON need neither.
/// So `.0` goes before an exponent whose mantissa has no `.`, and `+` after an `e` without a
/// sign (`1e-7` is `1.0e-7`, `1.5e10` is `1.5e+10`); every digit stays, as the reader's
/// rounding is its own choice. Any other number is written as it is.
fn number(out: &mut String, token: &str) {
    let Some(at) = token.find(['e', 'E']) else {
        out.push_str(token);
        return;
    };
    // `e` and `E` are ASCII, so both splits fall between characters.
    let (mantissa, exponent) = token.split_at(at);
    let (marker, power) = exponent.split_at(1);
    out.push_str(mantissa);
    if !mantissa.contains('.') {
        out.push_str(".0");
    }
    out.push_str(marker);
    if !power.starts_with(['+', '-']) {
        out.push('+');
    }
    out.push_str(power);
}

fn newline(out: &mut String, indent: usize) {
    out.push('\n');
    for _ in 0..indent {
        out.push(' ');
    }
}

/// Whether `c` is written as an escape (`\u202e`, the same string, as `-o json` writes it):
/// every character that steers a terminal ([`crate::paint::steers`]), so that a server's
/// string can neither send an escape sequence nor reorder what is shown around it, and the
/// characters YAML allows only escaped.
fn escaped(c: char) -> bool {
    crate::paint::steers(c) || matches!(c, '\u{feff}' | '\u{fffe}' | '\u{ffff}')
}

/// A string, plain when that reads back as the same string, else quoted: a literal block
/// (`|`) for text of several lines (not for a key), single quotes when nothing needs an
/// escape, double quotes with escapes otherwise. `indent` is where its parent node starts.
fn string(out: &mut String, s: &str, indent: usize, key: bool) {
    if s.chars().any(|c| escaped(c) && c != '\n') {
        double_quoted(out, s);
    } else if s.contains('\n') {
        if key || !literal_fits(s) {
            double_quoted(out, s);
        } else {
            literal(out, s, indent);
        }
    } else if plain_fits(s) {
        out.push_str(s);
    } else {
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
    }
}

/// Whether a one-line string without escapes reads back as itself unquoted, in YAML 1.1
/// (`yes`, `on`, dates, `1_000`, `1:20`) and 1.2 alike. Deliberately narrow: it starts with a
/// letter, `_` or `/` (or `-` and a letter), is no word that reads as a boolean or null, and
/// holds nothing that ends a plain scalar early (`: `, ` #`, a final `:`, an edge space or
/// tab).
fn plain_fits(s: &str) -> bool {
    let mut chars = s.chars();
    let starts_well = match chars.next() {
        Some('-') => chars.next().is_some_and(char::is_alphabetic),
        Some(c) => c.is_alphabetic() || c == '_' || c == '/',
        None => false,
    };
    const WORDS: &[&str] = &["null", "true", "false", "yes", "no", "on", "off", "y", "n"];
    starts_well
        && !WORDS.iter().any(|word| s.eq_ignore_ascii_case(word))
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.contains('\t')
        && !s.ends_with([':', ' '])
}

/// Whether a string of several lines is written as a literal block: one that starts with a
/// space or a line break would need an indentation indicator, and one that ends in more
/// than one line break would lose them to the trimmed end of the output.
fn literal_fits(s: &str) -> bool {
    !s.starts_with([' ', '\n']) && !s.ends_with("\n\n")
}

/// `|` (keeping one final line break) or `|-` (none), then each line two spaces deeper than
/// the parent node.
fn literal(out: &mut String, s: &str, indent: usize) {
    let (body, chomp) = match s.strip_suffix('\n') {
        Some(body) => (body, "|"),
        None => (s, "|-"),
    };
    out.push_str(chomp);
    for line in body.split('\n') {
        if line.is_empty() {
            out.push('\n');
        } else {
            newline(out, indent + 2);
            out.push_str(line);
        }
    }
}

/// Double quotes, with the escapes JSON uses (`\"`, `\\`, `\n`, `\r`, `\t`, else `\u00XX`),
/// which YAML reads the same way.
fn double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if escaped(c) => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[path = "yaml_tests.rs"]
mod tests;
