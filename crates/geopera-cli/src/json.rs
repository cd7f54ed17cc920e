//! Printing answers as indented JSON without reordering or rounding anything.
//!
//! Why not parse into `serde_json::Value` and pretty-print: without the `preserve_order`
//! feature a `Value` sorts object members, and turning that feature on in this crate would
//! switch it on for every crate built in the same workspace (features unify), changing the
//! SDK's behaviour. A `Value` also rounds numbers beyond `f64`/`u64`. So the raw answer is
//! checked once with a full parse that keeps nothing, then re-indented token by token: member
//! order, number spelling and string escapes stay exactly as the server sent them.

use serde::de::IgnoredAny;

/// Indents a JSON document with two spaces, keeping every token as written. `None` when the
/// text is not one valid JSON value.
pub(crate) fn reindent(text: &str) -> Option<String> {
    serde_json::from_str::<IgnoredAny>(text).ok()?;
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut depth = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push('"');
                let mut escaped = false;
                for s in chars.by_ref() {
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
            c => out.push(c),
        }
    }
    Some(out)
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// A compact JSON document on one line (for NDJSON), keeping every token as written.
pub(crate) fn compact(text: &str) -> Option<String> {
    serde_json::from_str::<IgnoredAny>(text).ok()?;
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '"' {
            out.push('"');
            let mut escaped = false;
            for s in chars.by_ref() {
                out.push(s);
                if escaped {
                    escaped = false;
                } else if s == '\\' {
                    escaped = true;
                } else if s == '"' {
                    break;
                }
            }
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    Some(out)
}

/// A `Value` as indented JSON; used for values this program built itself.
pub(crate) fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_member_order_numbers_and_escapes() {
        let raw = r#"{"z":1,"a":[1.0,2e-5,123456789012345678901234567890],"s":"a\"b,{c}: \u00fc Zürich","e":{},"l":[ ]}"#;
        let expected = "{\n  \"z\": 1,\n  \"a\": [\n    1.0,\n    2e-5,\n    123456789012345678901234567890\n  ],\n  \"s\": \"a\\\"b,{c}: \\u00fc Zürich\",\n  \"e\": {},\n  \"l\": []\n}";
        assert_eq!(reindent(raw).as_deref(), Some(expected));
    }

    #[test]
    fn rejects_invalid_and_compacts() {
        assert_eq!(reindent("{\"a\":"), None);
        assert_eq!(reindent("null").as_deref(), Some("null"));
        assert_eq!(
            compact("{ \"a\" : [ 1 , \"x y\" ] }").as_deref(),
            Some("{\"a\":[1,\"x y\"]}")
        );
    }
}
